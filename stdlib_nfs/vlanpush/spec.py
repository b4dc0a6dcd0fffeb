"""VlanPush: insert an 802.1Q / 802.1ad tag."""

from __future__ import annotations

from chainc.nfs.spec import REQUIRED, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import check_int_range
from chainc.values import BOOL, INT, Enum


def validate(node, reporter):
    check_int_range(node, "vid", 0, 4094, reporter)
    check_int_range(node, "pcp", 0, 7, reporter)


SPEC = NfSpec(
    name="VlanPush",
    doc="Push a VLAN tag (802.1Q, or an 802.1ad service tag) onto every frame.",
    params=(
        ParamSpec("vid", INT, REQUIRED, "VLAN id, 0..4094 (0: priority tag only)."),
        ParamSpec("pcp", INT, 0, "Priority code point, 0..7."),
        ParamSpec("dei", BOOL, False, "Drop eligible indicator."),
        ParamSpec("tpid", Enum("802.1q", "802.1ad"), "802.1q",
                  "Tag protocol: 802.1q (TPID 0x8100) or 802.1ad (0x88a8, QinQ outer tag)."),
    ),
    inputs=("in",),
    outputs=("out",),
    state=StateKind.NONE,
    reads=("eth.type",),
    writes=("eth.type", "vlan"),
    cycles=30,
    drop_reasons=("runt", "no-headroom"),
    description=(
        "Inserts a 4-byte tag after the source MAC: the TPID, then PCP, DEI and VID; "
        "the frame's previous EtherType (or tag) follows it, so pushing onto a tagged "
        "frame stacks tags (QinQ). The frame grows by 4 bytes into the mbuf headroom and "
        "the packet metadata's offsets move with it. Frames shorter than 14 bytes are "
        "dropped (`runt`), as are frames without 4 bytes of headroom (`no-headroom`; "
        "does not happen with DPDK's default headroom)."
    ),
    example="lan -> VlanPush(vid: 100, pcp: 3) -> trunk",
    validate=validate,
    native=None,
)
