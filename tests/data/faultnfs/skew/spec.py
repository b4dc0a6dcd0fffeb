"""Skew: native and reference bodies that disagree on purpose, for `chainc verify`'s tests."""

from chainc.nfs.spec import NativeBody, NfSpec, ParamSpec, StateKind
from chainc.values import INT

SPEC = NfSpec(
    name="Skew",
    doc="Natively pass every frame; the reference drops frames of length 3 mod 5 (test use only).",
    params=(ParamSpec("after", INT, 0, "The reference drops only after this many frames."),),
    outputs=("out",),
    state=StateKind.GLOBAL,
    cycles=1,
    drop_reasons=("skewed",),
    description="The native body passes everything. The reference body drops a frame whose "
                "length is 3 mod 5 once it has seen `after` frames, so a difference shows on "
                "that frame, alone (after: 0) or only after others (after > 0).",
    example="wan -> Skew() -> lan",
    native=NativeBody(process="skew_process", state=None),
)
