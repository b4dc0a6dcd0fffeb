"""SizeFilter: pass frames whose length lies within [min, max]; drop the rest."""

from chainc.nfs.spec import NativeBody, NfSpec, ParamSpec, StateKind
from chainc.values import INT


def validate(node, reporter):
    lo, hi = node.params["min"], node.params["max"]
    if not 0 <= lo <= hi:
        reporter.error(f"need 0 <= min <= max, got min {lo} and max {hi}",
                       node.param_spans.get("min", node.span))


SPEC = NfSpec(
    name="SizeFilter",
    doc="Pass frames whose length is within [min, max] bytes; drop the others.",
    params=(
        ParamSpec("min", INT, 60, "Shortest frame passed, in bytes."),
        ParamSpec("max", INT, 1514, "Longest frame passed, in bytes."),
    ),
    inputs=("in",),
    outputs=("out",),
    state=StateKind.NONE,
    cycles=5,
    drop_reasons=("too-short", "too-long"),
    description="Compares the frame length with `min` and `max`; counts the frames passed.",
    example="wan -> SizeFilter(min: 64) -> lan",
    validate=validate,
    native=NativeBody(
        process="sizefilter_process",
        state="sizefilter_state",
        init="sizefilter_init",
        # Parameters reach the body as C literals, so the C compiler specialises it.
        process_args=lambda node: [str(node.params["min"]), str(node.params["max"])],
        counters=("passed",),
    ),
)
