"""VlanPush: insert an 802.1Q / 802.1ad tag."""

from __future__ import annotations

from chainc.nfs.spec import REQUIRED, NativeBody, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import check_int_range
from chainc.values import BOOL, INT, Enum

TPIDS = {"802.1q": 0x8100, "802.1ad": 0x88A8}


def validate(node, reporter):
    check_int_range(node, "vid", 0, 4094, reporter)
    check_int_range(node, "pcp", 0, 7, reporter)


def tag_control(params) -> int:
    """The 16-bit TCI: PCP (3 bits), DEI (1 bit), VID (12 bits)."""
    return (params["pcp"] << 13) | (int(params["dei"]) << 12) | params["vid"]


def _process_args(node):
    # TPID and TCI reach the body as literals: the tag is a constant of the instance.
    return [f"0x{TPIDS[node.params['tpid']]:04x}", f"0x{tag_control(node.params):04x}"]


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
    cycles=190,  # measured: bench/bench_nf_costs.py (the headers move 4 bytes)
    drop_reasons=("runt", "no-headroom"),
    description=(
        "Inserts a 4-byte tag after the source MAC: the TPID, then PCP, DEI and VID; "
        "the frame's previous EtherType (or tag) follows it, so pushing onto a tagged "
        "frame adds a new outermost tag (QinQ). Nothing else changes: no checksum "
        "covers the Ethernet header. The frame grows by 4 bytes into the mbuf headroom "
        "(the 12 MAC bytes move 4 bytes towards the buffer start; nothing is allocated) "
        "and the packet metadata is parsed again, so later NFs see the new tag and the "
        "shifted offsets. Frames shorter than 14 bytes are dropped (`runt`), as are "
        "frames without 4 bytes of headroom (`no-headroom`; DPDK leaves 128 bytes, so "
        "this takes dozens of tags). A frame may exceed 1514 bytes after the push; no "
        "MTU is enforced."
    ),
    example="lan -> VlanPush(vid: 100, pcp: 3) -> trunk",
    validate=validate,
    native=NativeBody(process="vlanpush_process", state=None, process_args=_process_args),
)
