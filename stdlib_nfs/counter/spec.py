"""Counter: count packets and bytes, pass every packet on."""

from chainc.nfs.spec import NativeBody, NfSpec, StateKind

SPEC = NfSpec(
    name="Counter",
    doc="Count the packets and bytes that pass through; forward every packet unchanged.",
    params=(),
    inputs=("in",),
    outputs=("out",),
    state=StateKind.NONE,
    reads=(),
    writes=(),
    cycles=8,
    side_effects=True,
    drop_reasons=(),
    description=(
        "Adds 1 to `packets` and the frame's length (all segments, without the "
        "Ethernet FCS) to `bytes` for every packet, then sends it to `out`. The counts "
        "are the NF's statistics: printed at exit, on the stats interval, and in the "
        "JSON stats. Its only state is these counters; each replica keeps its own and "
        "reports add them up, so a Counter never limits replication."
    ),
    example="wan -> Counter() -> lan",
    native=NativeBody(process="counter_process", state="counter_state", init="counter_init",
                      counters=("packets", "bytes")),
)
