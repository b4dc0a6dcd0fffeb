"""Hypothesis strategies for match expressions: trees (in canonical shape, so
that printing then parsing gives back an equal tree) and raw text.

Values come from the same pools as the packet generators, so a good share of
generated expressions match generated packets.
"""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from chainc.match import (And, EtherCast, EtherHost, EtherProto, FieldTest, Host, IpMulticast,
                          IpProto, Length, MatchExpr, Net, Not, Or, Port, Proto, Vlan)
from chainc.match.names import PORT_NAMES, TCP_FLAG_NAMES
from chainc.match.nodes import DIRECTIONS, PROTO_KEYWORDS, RELOPS

from .packets import IP4S, IP6S, MACS, PORTS, VLAN_IDS, mac_bytes

NETS = ["10.0.0.0/8", "10.0.0.0/24", "0.0.0.0/0", "192.168.0.0/16", "192.168.1.128/25",
        "10.0.0.2/31", "10.0.0.1/32", "224.0.0.0/4", "2001:db8::/32", "2001:db8::/64", "::/0",
        "2001:db8::/127", "2001:db8::8000:0:0:0/65", "fe80::/10", "2001:db8::1/128"]

dirs = st.sampled_from(DIRECTIONS)
ports = st.one_of(st.sampled_from(PORTS), st.integers(0, 0xFFFF))
byte = st.one_of(st.sampled_from([0, 1, 2, 0x12, 0x10, 8, 0, 128, 255]), st.integers(0, 255))


@st.composite
def port_test(draw) -> Port:
    lo = draw(ports)
    hi = lo if draw(st.booleans()) else draw(st.integers(lo, 0xFFFF))
    return Port(draw(dirs), draw(st.sampled_from([None, "tcp", "udp"])), lo, hi)


leaves = st.one_of(
    st.sampled_from(PROTO_KEYWORDS).map(Proto),
    st.sampled_from([0x0800, 0x86DD, 0x0806, 0x8035, 0x8100, 0x88A8, 0x9100, 0x1234, 0])
    .map(EtherProto),
    st.builds(IpProto, st.sampled_from([None, 4, 6]),
              st.one_of(st.sampled_from([0, 1, 6, 17, 44, 47, 50, 51, 58, 59, 60, 132]),
                        st.integers(0, 255))),
    st.builds(Host, dirs, st.sampled_from(IP4S + IP6S).map(ipaddress.ip_address)),
    st.builds(Net, dirs, st.sampled_from(NETS).map(ipaddress.ip_network)),
    st.builds(EtherHost, dirs, st.sampled_from(MACS).map(mac_bytes)),
    st.sampled_from(["broadcast", "multicast"]).map(EtherCast),
    st.sampled_from([4, 6]).map(IpMulticast),
    st.builds(Vlan, st.one_of(st.none(), st.sampled_from(VLAN_IDS), st.integers(0, 4095))),
    port_test(),
    st.builds(Length, st.sampled_from(["less", "greater"]),
              st.sampled_from([0, 14, 54, 60, 64, 100, 1500, 0xFFFFFFFF])),
    st.builds(FieldTest, st.sampled_from(["tcpflags", "icmptype", "icmpcode", "icmp6type",
                                          "icmp6code"]),
              st.one_of(st.none(), byte), st.sampled_from(RELOPS), byte),
)


def _and(items: list[MatchExpr]) -> MatchExpr:
    flat: list[MatchExpr] = []
    for i in items:
        flat.extend(i.items if isinstance(i, And) else [i])
    return And(tuple(flat))


def _or(items: list[MatchExpr]) -> MatchExpr:
    flat: list[MatchExpr] = []
    for i in items:
        flat.extend(i.items if isinstance(i, Or) else [i])
    return Or(tuple(flat))


match_exprs = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map(_and),
        st.lists(inner, min_size=2, max_size=4).map(_or),
        inner.map(Not),
    ),
    max_leaves=10,
)

# -- text -------------------------------------------------------------------------

VOCABULARY = [
    "ip", "ip6", "tcp", "udp", "icmp", "icmp6", "arp", "ether", "vlan", "host", "net", "port",
    "portrange", "proto", "src", "dst", "and", "or", "not", "&&", "||", "!", "(", ")", "mask",
    "less", "greater", "broadcast", "multicast", "tcp[tcpflags]", "icmp[icmptype]", "&", "|",
    "==", "!=", "=", "<", ">=", "[", "]", "tcp-syn", "tcp-ack", "icmp-echo", "10.0.0.1",
    "10.0.0.0/8", "10.1", "2001:db8::1", "2001:db8::/32", "02:00:00:00:00:01", "80", "443",
    "65536", "1-1024", "80-", "0x800", "\\ip", "http", "htp", "domain", "0", "4095", "4096",
    "255.255.0.0", "010", "foo", "gateway", "tcp[13]", "icmp6[icmp6type]", "udp[0]", "*", "\"",
] + list(PORT_NAMES)[:5] + list(TCP_FLAG_NAMES)[:3]


@st.composite
def match_text(draw) -> str:
    words = draw(st.lists(st.sampled_from(VOCABULARY), min_size=0, max_size=12))
    seps = draw(st.lists(st.sampled_from([" ", " ", "", "  ", "\t"]), min_size=len(words),
                         max_size=len(words)))
    return "".join(w + s for w, s in zip(words, seps))
