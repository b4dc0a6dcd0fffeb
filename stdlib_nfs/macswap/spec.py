"""MacSwap: swap the Ethernet source and destination addresses."""

from chainc.nfs.spec import NativeBody, NfSpec, StateKind

SPEC = NfSpec(
    name="MacSwap",
    doc="Swap the Ethernet source and destination MAC addresses (reflect a frame).",
    params=(),
    inputs=("in",),
    outputs=("out",),
    state=StateKind.NONE,
    reads=("eth.src", "eth.dst"),
    writes=("eth.src", "eth.dst"),
    cycles=12,
    drop_reasons=("runt",),
    description=(
        "Exchanges bytes 0-5 (destination) and 6-11 (source) of the Ethernet header "
        "and sends the frame to `out`; nothing else changes, so no checksum or parsed "
        "offset needs updating. A frame shorter than an Ethernet header (14 bytes) "
        "is dropped with reason `runt`. With `port -> MacSwap() -> port` it turns a "
        "port into a reflector, the usual loopback for throughput tests."
    ),
    example="port eth0 = pci(\"0000:01:00.0\")\neth0 -> MacSwap() -> eth0",
    native=NativeBody(process="macswap_process", state=None),
)
