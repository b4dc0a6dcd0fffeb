"""CtStamp (tests only): write a packet's connection-tracking metadata into its MAC bytes."""

from chainc.nfs.spec import NativeBody, NfSpec, StateKind

SPEC = NfSpec(
    name="CtStamp",
    doc="Overwrite the 12 MAC bytes with ct_state, ct_events, ct_tcp_state, ct_dir, ct_id.",
    inputs=("in",),
    outputs=("out",),
    state=StateKind.NONE,
    writes=("eth.dst", "eth.src"),
    cycles=5,
    description=(
        "Bytes 0..3: ct_state, ct_events, ct_tcp_state, ct_dir; bytes 4..7: ct_id, big-endian; "
        "bytes 8..11: zero. Frames shorter than 12 bytes pass unchanged. A test probe: comparing "
        "the output of `chainc sim` and of the binary compares the metadata of both."
    ),
    example="wan -> ConnTrack() -> CtStamp() -> lan",
    native=NativeBody(process="ctstamp_process"),
)
