"""Small header spaces for checking the rule analyses by brute force.

A *space* is a list of frames that holds a representative of every class
of frames the atoms below can tell apart: for each field, a value inside
and outside every constant the atoms use, and every combination of them.
Over such a space, "no frame of the space does X" means "no frame at all
does X", so a brute-force answer is the exact answer the analyses must give.

Each atom is evaluated once per frame with the match evaluator; an
expression built from atoms is then a bit set over the frames (Python ints).
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass

from hypothesis import strategies as st
from scapy.all import ARP, ICMP, IP, TCP, UDP, IPv6, Raw
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest

from chainc.match import evaluate, parse_match
from chainc.packet import Packet

V4 = ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.9.9.9")  # atoms: .1, .2 and 10.0.0.0/30
V6 = ("2001:db8::1", "2001:db8::2", "2001:db8::ff")     # atoms: ::1 and 2001:db8::/126
SPORTS = (1, 2, 3, 9)
DPORTS = (1, 2, 3, 9)

#: Atoms a Firewall rule may use, and the ones only a Classifier may (VLAN, length).
IP_ATOMS = (
    "ip", "ip6", "arp", "tcp", "udp", "icmp", "icmp6", "proto 47", "ether proto 0x88cc",
    "port 1", "src port 2", "dst portrange 2-3", "tcp src port 1", "udp dst port 3",
    "host 10.0.0.1", "src net 10.0.0.0/30", "dst host 10.0.0.2",
    "host 2001:db8::1", "src net 2001:db8::/126",
    "tcp[tcpflags] & tcp-ack != 0", "icmp[icmptype] == 8", "icmp6[icmp6type] == 128",
)
L2_ATOMS = ("vlan", "vlan 10", "less 100")


def _l4_variants(v6: bool) -> list:
    out = []
    for sport, dport in itertools.product(SPORTS, DPORTS):
        out += [TCP(sport=sport, dport=dport, flags=f) for f in ("S", "SA")]
        out.append(UDP(sport=sport, dport=dport))
    if v6:
        out += [ICMPv6EchoRequest(), ICMPv6EchoReply()]
    else:
        out += [ICMP(type=8), ICMP(type=0)]
    return out


def build_frames(vlans: tuple, lengths: tuple) -> list[bytes]:
    """Every combination of the representatives; `vlans` holds (TPID, VLAN id) or None,
    `lengths` the frame lengths to pad to (0: as built)."""
    bodies = [(0x0806, bytes(ARP(psrc="10.0.0.1", pdst="10.0.0.2"))),
              (0x88CC, b"\x02\x07\x04" + b"\x00" * 40),   # LLDP
              (0x0800, b"\x44" + b"\x00" * 39)]             # IPv4 EtherType, malformed header
    for v6, addrs in ((False, V4), (True, V6)):
        etype = 0x86DD if v6 else 0x0800
        for src, dst in itertools.product(addrs, addrs):
            ip = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst)
            bodies += [(etype, bytes(ip / l4)) for l4 in _l4_variants(v6)]
            # No L4 header: a truncated TCP header, protocols without one (GRE, IP in IP,
            # ICMP's number under IPv6).
            for nh in (6, 47, 4) + ((1,) if v6 else ()):
                bare = IPv6(src=src, dst=dst, nh=nh) if v6 else IP(src=src, dst=dst, proto=nh)
                bodies.append((etype, bytes(bare / Raw(b"\x00" * 4))))
    macs = bytes.fromhex("020000000002" "020000000001")
    frames = [b"\x00" * 10]  # a runt
    for tag in vlans:
        head = macs if tag is None else macs + struct.pack("!HH", *tag)
        for (etype, body), length in itertools.product(bodies, lengths):
            frame = head + struct.pack("!H", etype) + body
            frames.append(frame + b"\x00" * max(0, length - len(frame)))
    return frames


@dataclass
class Space:
    frames: list[bytes]
    packets: list[Packet]
    atoms: dict[str, int]  # atom text -> bit set of the frames it matches

    @property
    def all(self) -> int:
        return (1 << len(self.frames)) - 1

    def bits(self, tree) -> int:
        """The frames an expression tree (see `trees`) matches."""
        if isinstance(tree, str):
            return self.atoms[tree]
        if tree[0] == "not":
            return self.all & ~self.bits(tree[1])
        left, right = self.bits(tree[1]), self.bits(tree[2])
        return left & right if tree[0] == "and" else left | right

    def frame(self, bits: int) -> bytes:
        """The lowest frame of a bit set."""
        return self.frames[(bits & -bits).bit_length() - 1]


def make_space(atoms: tuple[str, ...], vlans: tuple, lengths: tuple) -> Space:
    frames = build_frames(vlans, lengths)
    packets = [Packet(f) for f in frames]
    exprs = {atom: parse_match(atom) for atom in atoms}
    return Space(frames, packets, {atom: matching(packets, lambda p, e=e: evaluate(e, p))
                                   for atom, e in exprs.items()})


def matching(packets: list[Packet], test) -> int:
    """The bit set of the packets `test` accepts."""
    return sum(1 << i for i, p in enumerate(packets) if test(p))


def text(tree) -> str:
    if isinstance(tree, str):
        return tree
    if tree[0] == "not":
        return f"not ({text(tree[1])})"
    return f"({text(tree[1])}) {tree[0]} ({text(tree[2])})"


def trees(atoms: tuple[str, ...]):
    """Expression trees over atoms: an atom, ("not", t), ("and"|"or", t, t)."""
    return st.recursive(
        st.sampled_from(atoms),
        lambda inner: st.one_of(st.tuples(st.just("not"), inner),
                                st.tuples(st.sampled_from(["and", "or"]), inner, inner)),
        max_leaves=4)
