"""Evaluate a match expression over a packet, in Python.

This is the reference semantics of docs/match.md that `chainc sim` and the
reference Classifier use, and the oracle the generated Cython is tested
against. Each node is compiled once into a closure over `(meta, data)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from chainc.match.nodes import (BOTH, DST, SRC, And, EtherCast, EtherHost, EtherProto,
                                FieldTest, Host, IpMulticast, IpProto, Length, MatchExpr, Net,
                                Not, Or, Port, Proto, Vlan)
from chainc.match.names import VLAN_TPIDS
from chainc.packet import (META_ETH_OK, META_L3_IPV4, META_L3_IPV6, META_L4_OK, Meta)

if TYPE_CHECKING:
    from chainc.packet import Packet

Predicate = Callable[[Meta, bytes], bool]
META_L3_IP = META_L3_IPV4 | META_L3_IPV6


def evaluate(expr: MatchExpr, pkt: "Packet") -> bool:
    """Whether `pkt` matches `expr` (its metadata must be in step with its bytes)."""
    return compile_python(expr)(pkt.meta, pkt.data)


def compile_python(expr: MatchExpr) -> Predicate:
    """`expr` as a function of (meta, data); compiled once per expression object."""
    fn = expr.__dict__.get("_predicate")
    if fn is None:
        fn = _compile(expr)
        object.__setattr__(expr, "_predicate", fn)
    return fn


def _compile(e: MatchExpr) -> Predicate:
    rule = _RULES.get(type(e))
    if rule is None:
        raise TypeError(f"not a match expression node: {e!r}")
    return rule(e)


def _and(e: And) -> Predicate:
    parts = [_compile(i) for i in e.items]
    return lambda m, d: all(p(m, d) for p in parts)


def _or(e: Or) -> Predicate:
    parts = [_compile(i) for i in e.items]
    return lambda m, d: any(p(m, d) for p in parts)


def _not(e: Not) -> Predicate:
    inner = _compile(e.item)
    return lambda m, d: not inner(m, d)


def _proto(e: Proto) -> Predicate:
    if e.name == "ip":
        return lambda m, d: bool(m.flags & META_L3_IPV4)
    if e.name == "ip6":
        return lambda m, d: bool(m.flags & META_L3_IPV6)
    if e.name in ("arp", "rarp"):
        etype = 0x0806 if e.name == "arp" else 0x8035
        return lambda m, d: bool(m.flags & META_ETH_OK) and m.ethertype == etype
    family, number = {"tcp": (META_L3_IP, 6), "udp": (META_L3_IP, 17), "sctp": (META_L3_IP, 132),
                      "icmp": (META_L3_IPV4, 1), "igmp": (META_L3_IPV4, 2),
                      "icmp6": (META_L3_IPV6, 58)}[e.name]
    return lambda m, d: bool(m.flags & family) and m.ip_proto == number


def _ether_proto(e: EtherProto) -> Predicate:
    value = e.value
    if value in VLAN_TPIDS:  # the outermost tag's TPID: what tcpdump sees at offset 12
        return lambda m, d: m.vlan_count > 0 and m.vlan_tpid == value
    return lambda m, d: bool(m.flags & META_ETH_OK) and m.ethertype == value


def _ip_proto(e: IpProto) -> Predicate:
    family = {4: META_L3_IPV4, 6: META_L3_IPV6, None: META_L3_IP}[e.family]
    value = e.value
    return lambda m, d: bool(m.flags & family) and m.ip_proto == value


def _direction(direction: str, src: Callable[[Meta, bytes], bool],
               dst: Callable[[Meta, bytes], bool]) -> Predicate:
    if direction == SRC:
        return src
    if direction == DST:
        return dst
    if direction == BOTH:
        return lambda m, d: src(m, d) and dst(m, d)
    return lambda m, d: src(m, d) or dst(m, d)


def _addr_test(version: int, value: int, mask: int, direction: str) -> Predicate:
    """An address (or prefix: `mask`) test on IPv4 or IPv6 source/destination."""
    if version == 4:
        flag = META_L3_IPV4
        src = lambda m, d: m.ip4_src & mask == value  # noqa: E731
        dst = lambda m, d: m.ip4_dst & mask == value  # noqa: E731
    else:
        flag = META_L3_IPV6
        src = lambda m, d: ((m.ip6_src_hi << 64) | m.ip6_src_lo) & mask == value  # noqa: E731
        dst = lambda m, d: ((m.ip6_dst_hi << 64) | m.ip6_dst_lo) & mask == value  # noqa: E731
    test = _direction(direction, src, dst)
    return lambda m, d: bool(m.flags & flag) and test(m, d)


def _host(e: Host) -> Predicate:
    bits = 32 if e.addr.version == 4 else 128
    return _addr_test(e.addr.version, int(e.addr), (1 << bits) - 1, e.direction)


def _net(e: Net) -> Predicate:
    n = e.network
    return _addr_test(n.version, int(n.network_address), int(n.netmask), e.direction)


def _ether_host(e: EtherHost) -> Predicate:
    mac = bytes(e.mac)
    test = _direction(e.direction, lambda m, d: d[6:12] == mac, lambda m, d: d[0:6] == mac)
    return lambda m, d: bool(m.flags & META_ETH_OK) and test(m, d)


def _ether_cast(e: EtherCast) -> Predicate:
    if e.kind == "broadcast":
        return lambda m, d: bool(m.flags & META_ETH_OK) and d[0:6] == b"\xff" * 6
    return lambda m, d: bool(m.flags & META_ETH_OK) and bool(d[0] & 1)


def _ip_multicast(e: IpMulticast) -> Predicate:
    if e.family == 4:
        return lambda m, d: bool(m.flags & META_L3_IPV4) and m.ip4_dst >> 28 == 0xE
    return lambda m, d: bool(m.flags & META_L3_IPV6) and m.ip6_dst_hi >> 56 == 0xFF


def _vlan(e: Vlan) -> Predicate:
    if e.vid is None:
        return lambda m, d: m.vlan_count > 0
    vid = e.vid
    return lambda m, d: m.vlan_count > 0 and m.vlan_outer & 0x0FFF == vid


def _port(e: Port) -> Predicate:
    protos = {"tcp": (6,), "udp": (17,), None: (6, 17)}[e.l4]
    lo, hi = e.lo, e.hi
    test = _direction(e.direction, lambda m, d: lo <= m.sport <= hi,
                      lambda m, d: lo <= m.dport <= hi)
    return lambda m, d: bool(m.flags & META_L4_OK) and m.ip_proto in protos and test(m, d)


def _length(e: Length) -> Predicate:
    n = e.value
    if e.op == "less":
        return lambda m, d: m.pkt_len <= n
    return lambda m, d: m.pkt_len >= n


_RELOPS: dict[str, Callable[[int, int], bool]] = {
    "==": int.__eq__, "!=": int.__ne__, "<": int.__lt__, "<=": int.__le__,
    ">": int.__gt__, ">=": int.__ge__,
}


def _field_test(e: FieldTest) -> Predicate:
    family, proto, attr = {
        "tcpflags": (META_L3_IP, 6, "tcp_flags"),
        "icmptype": (META_L3_IPV4, 1, "icmp_type"),
        "icmpcode": (META_L3_IPV4, 1, "icmp_code"),
        "icmp6type": (META_L3_IPV6, 58, "icmp_type"),
        "icmp6code": (META_L3_IPV6, 58, "icmp_code"),
    }[e.field]
    mask = 0xFF if e.mask is None else e.mask
    compare, value = _RELOPS[e.op], e.value

    def test(m: Meta, d: bytes) -> bool:
        if not (m.flags & META_L4_OK and m.flags & family and m.ip_proto == proto):
            return False
        return compare(getattr(m, attr) & mask, value)
    return test


_RULES: dict[type, Callable[[MatchExpr], Predicate]] = {
    And: _and, Or: _or, Not: _not, Proto: _proto, EtherProto: _ether_proto,
    IpProto: _ip_proto, Host: _host, Net: _net, EtherHost: _ether_host,
    EtherCast: _ether_cast, IpMulticast: _ip_multicast, Vlan: _vlan, Port: _port,
    Length: _length, FieldTest: _field_test,
}
