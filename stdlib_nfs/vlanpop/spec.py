"""VlanPop: remove the outermost VLAN tag."""

from __future__ import annotations

from chainc.nfs.spec import NfSpec, ParamSpec, StateKind
from chainc.values import Enum

SPEC = NfSpec(
    name="VlanPop",
    doc="Pop the outermost VLAN tag (802.1Q or 802.1ad) from every tagged frame.",
    params=(
        ParamSpec("untagged", Enum("pass", "drop"), "pass",
                  "What to do with a frame that has no tag: pass it unchanged or drop it."),
    ),
    inputs=("in",),
    outputs=("out",),
    state=StateKind.NONE,
    reads=("eth.type", "vlan"),
    writes=("eth.type", "vlan"),
    cycles=30,
    drop_reasons=("untagged",),
    description=(
        "A frame whose EtherType is 0x8100 (802.1Q) or 0x88a8 (802.1ad) loses those 4 "
        "bytes: the MAC addresses move up and the inner EtherType (or inner tag) becomes "
        "the frame's. The packet metadata's offsets move with it. A frame without a tag "
        "passes unchanged, or with `untagged: drop` is dropped (`untagged`). Only one tag "
        "is removed; chain two VlanPops for QinQ."
    ),
    example="trunk -> VlanPop() -> lan",
    native=None,
)
