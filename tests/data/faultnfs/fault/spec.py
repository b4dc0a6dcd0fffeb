"""Fault: a deliberately broken native body, for the sanitizer and verify tests."""

from chainc.nfs.spec import NativeBody, NfSpec, ParamSpec, StateKind
from chainc.values import Enum

KINDS = ("overread", "shift")

SPEC = NfSpec(
    name="Fault",
    doc="Pass every frame; the native body has the bug `kind` names (test use only).",
    params=(ParamSpec("kind", Enum(*KINDS), "overread", "overread: read byte 60 of every "
                      "frame, even a shorter one; shift: shift 1 left by the frame's last byte"),),
    outputs=("out",),
    state=StateKind.NONE,
    cycles=5,
    description="Outputs are right in both bodies; the native one also reads out of bounds "
                "(overread) or shifts past the width of an int (shift) on some frames.",
    example="wan -> Fault(kind: overread) -> lan",
    native=NativeBody(process="fault_process", state="fault_state", counters=("seen",),
                      process_args=lambda node: [str(KINDS.index(node.params["kind"]))]),
)
