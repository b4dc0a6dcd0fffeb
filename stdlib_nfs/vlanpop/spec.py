"""VlanPop: remove the outermost VLAN tag."""

from __future__ import annotations

from chainc.nfs.spec import NativeBody, NfSpec, ParamSpec, StateKind
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
    drop_reasons=("untagged", "runt"),
    description=(
        "A frame whose EtherType is a VLAN TPID (0x8100 802.1Q, 0x88a8 802.1ad, or "
        "0x9100, the TPIDs the packet metadata knows) loses that 4-byte tag: the 12 MAC "
        "bytes move 4 bytes up and the frame starts 4 bytes later (nothing is copied "
        "or allocated), so the inner EtherType (or inner tag) becomes the frame's. The "
        "packet metadata is parsed again, so later NFs see the new offsets. Only the "
        "outermost tag is removed: chain two VlanPops to strip QinQ. The frame is not "
        "padded back to 60 bytes.\n\n"
        "A frame without a tag passes unchanged, or with `untagged: drop` is dropped "
        "(`untagged`). A frame shorter than 14 bytes, or whose tag is cut short (a TPID "
        "and fewer than 4 bytes after it), is dropped (`runt`)."
    ),
    example="trunk -> VlanPop() -> lan",
    native=NativeBody(process="vlanpop_process", state=None,
                      process_args=lambda node: ["1" if node.params["untagged"] == "drop" else "0"]),
)
