"""Drop: discard every packet."""

from chainc.nfs.spec import NativeBody, NfSpec, StateKind

SPEC = NfSpec(
    name="Drop",
    doc="Discard every packet (counted under reason 'dropped').",
    params=(),
    inputs=("in",),
    outputs=(),
    state=StateKind.NONE,
    cycles=2,
    # No reasons of its own: -1 is counted under `dropped`, the reason every NF
    # node has for drops it does not list (see docs/nf-contract.md).
    drop_reasons=(),
    description=(
        "Every packet is dropped with reason `dropped` and its mbuf freed in the "
        "burst's bulk free. It behaves like the `drop` sink but is an NF instance of "
        "its own, so its drops are counted under its own name in the stats (useful "
        "to tell apart several discard points). It has no output ports."
    ),
    example="nf blackhole = Drop()\ncls.other -> blackhole",
    native=NativeBody(process="drop_process", state=None),
)
