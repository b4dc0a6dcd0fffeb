"""The header space: every frame a match expression can tell apart, as integer fields.

A match expression reads a frame only through its parsed metadata
(docs/packet-metadata.md), and each primitive tests that metadata against
constants: an equality, a range, a prefix, a bit mask. So the frames fall
into four *families*, and within a family every primitive is exactly a set
of boxes over a few integer fields:

| family  | frames                              | fields                                  |
| ------- | ----------------------------------- | --------------------------------------- |
| `runt`  | shorter than an Ethernet header     | `len`                                   |
| `other` | Ethernet, not a valid IPv4 or IPv6  | `len`, MACs, VLAN, `etype`              |
| `ipv4`  | a valid IPv4 header                 | `len`, MACs, VLAN, the IP and L4 fields |
| `ipv6`  | a valid IPv6 header                 | the same, with 128-bit addresses        |

The VLAN fields are `vlan` (1: tagged), `tpid` (the outer tag's TPID, as an
index into VLAN_TPIDS) and `vid` (its VLAN id); the L4 fields are `l4ok`
(META_L4_OK), the ports, the TCP flags and the ICMP type and code. A field
that the metadata gates behind a flag (ports behind `l4ok` and a TCP/UDP
protocol, the TCP flags behind protocol 6, ...) is only ever tested together
with that flag, so its value elsewhere changes nothing: witness.py builds a
real frame for any point of a box.

`to_dnf(expr)` gives, per family, the exact set of frames the expression
accepts, as a DNF (cubes.py).
"""

from __future__ import annotations

import ipaddress
from typing import Callable

from chainc.match.names import VLAN_TPIDS
from chainc.match.nodes import (BOTH, DST, SRC, And, EtherCast, EtherHost, EtherProto,
                                FieldTest, Host, IpMulticast, IpProto, Length, MatchExpr, Net,
                                Not, Or, Port, Proto, Vlan)

from .cubes import DNF, TRUE, Intervals, dnf_and, dnf_not, dnf_or, iv_and, iv_values, simplify

RUNT, OTHER, IPV4, IPV6 = "runt", "other", "ipv4", "ipv6"
FAMILIES = (RUNT, OTHER, IPV4, IPV6)
IP_FAMILIES = (IPV4, IPV6)

#: The longest frame the `len` field ranges over (the metadata's pkt_len is 32 bits).
MAX_LEN = 0xFFFFFFFF
_ETHER = {"len": MAX_LEN, "ethsrc": (1 << 48) - 1, "ethdst": (1 << 48) - 1,
          "vlan": 1, "tpid": len(VLAN_TPIDS) - 1, "vid": 4095}
_L4 = {"proto": 255, "l4ok": 1, "tcpflags": 255, "icmptype": 255, "icmpcode": 255,
       "sport": 65535, "dport": 65535}

#: Per family: field -> largest value. The order is the order witness.py fills them in.
TOPS: dict[str, dict[str, int]] = {
    RUNT: {"len": 13},
    OTHER: {**_ETHER, "etype": 0xFFFF},
    IPV4: {**_ETHER, **_L4, "src": (1 << 32) - 1, "dst": (1 << 32) - 1},
    IPV6: {**_ETHER, **_L4, "src": (1 << 128) - 1, "dst": (1 << 128) - 1},
}

#: The IP protocols whose header the parser reads (META_L4_OK), per family.
L4_PROTOS = {IPV4: (1, 6, 17), IPV6: (6, 17, 58)}
ICMP_PROTO = {IPV4: 1, IPV6: 58}

Space = dict[str, DNF]  # family -> the frames of that family, as a DNF


def one(v: int) -> Intervals:
    return ((v, v),)


def to_dnf(expr: MatchExpr | None) -> Space:
    """The frames `expr` accepts, per family (None, the `*` arm, accepts all).

    Raises cubes.TooComplex when a normal form grows too large.
    """
    return {fam: TRUE if expr is None else _dnf(expr, fam) for fam in FAMILIES}


def _dnf(e: MatchExpr, fam: str) -> DNF:
    tops = TOPS[fam]
    if isinstance(e, And):
        out = TRUE
        for item in e.items:
            out = dnf_and(out, _dnf(item, fam), tops)
            if not out:
                break
        return out
    if isinstance(e, Or):
        out = []
        for item in e.items:
            out = dnf_or(out, _dnf(item, fam), tops)
            if out == TRUE:
                break
        return out
    if isinstance(e, Not):
        return dnf_not(_dnf(e.item, fam), tops)
    prim = _PRIMITIVES.get(type(e))
    if prim is None:
        raise TypeError(f"not a match expression node: {e!r}")
    return simplify(prim(e, fam), tops)


def _cube(**fields: Intervals) -> DNF:
    return [dict(fields)]


def _proto(e: Proto, fam: str) -> DNF:
    if e.name in ("ip", "ip6"):
        return TRUE if fam == (IPV4 if e.name == "ip" else IPV6) else []
    if e.name in ("arp", "rarp"):
        return _cube(etype=one(0x0806 if e.name == "arp" else 0x8035)) if fam == OTHER else []
    families, number = {"tcp": (IP_FAMILIES, 6), "udp": (IP_FAMILIES, 17),
                        "sctp": (IP_FAMILIES, 132), "icmp": ((IPV4,), 1),
                        "igmp": ((IPV4,), 2), "icmp6": ((IPV6,), 58)}[e.name]
    return _cube(proto=one(number)) if fam in families else []


def _ether_proto(e: EtherProto, fam: str) -> DNF:
    if fam == RUNT:
        return []
    if e.value in VLAN_TPIDS:  # the outer tag's TPID
        return _cube(vlan=one(1), tpid=one(VLAN_TPIDS.index(e.value)))
    if fam == OTHER:
        return _cube(etype=one(e.value))
    return TRUE if e.value == (0x0800 if fam == IPV4 else 0x86DD) else []


def _ip_proto(e: IpProto, fam: str) -> DNF:
    wanted = {4: (IPV4,), 6: (IPV6,), None: IP_FAMILIES}[e.family]
    return _cube(proto=one(e.value)) if fam in wanted else []


def _direction(direction: str, src: str, dst: str, values: Intervals) -> DNF:
    if direction == SRC:
        return [{src: values}]
    if direction == DST:
        return [{dst: values}]
    if direction == BOTH:
        return [{src: values, dst: values}]
    return [{src: values}, {dst: values}]


def _network(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Intervals:
    return ((int(net.network_address), int(net.broadcast_address)),)


def _addr_family(version: int) -> str:
    return IPV4 if version == 4 else IPV6


def _host(e: Host, fam: str) -> DNF:
    if fam != _addr_family(e.addr.version):
        return []
    return _direction(e.direction, "src", "dst", one(int(e.addr)))


def _net(e: Net, fam: str) -> DNF:
    if fam != _addr_family(e.network.version):
        return []
    return _direction(e.direction, "src", "dst", _network(e.network))


def _ether_host(e: EtherHost, fam: str) -> DNF:
    if fam == RUNT:
        return []
    return _direction(e.direction, "ethsrc", "ethdst", one(int.from_bytes(e.mac, "big")))


def _ether_cast(e: EtherCast, fam: str) -> DNF:
    if fam == RUNT:
        return []
    if e.kind == "broadcast":
        return _cube(ethdst=one((1 << 48) - 1))
    # The group bit: the lowest bit of the first byte sent, bit 40 of the number.
    return _cube(ethdst=tuple((b << 40, (b << 40) | ((1 << 40) - 1)) for b in range(1, 256, 2)))


def _ip_multicast(e: IpMulticast, fam: str) -> DNF:
    if fam != _addr_family(e.family):
        return []
    net = ipaddress.ip_network("224.0.0.0/4" if e.family == 4 else "ff00::/8")
    return _cube(dst=_network(net))


def _vlan(e: Vlan, fam: str) -> DNF:
    if fam == RUNT:
        return []
    if e.vid is None:
        return _cube(vlan=one(1))
    return _cube(vlan=one(1), vid=one(e.vid))


def _port(e: Port, fam: str) -> DNF:
    if fam not in IP_FAMILIES:
        return []
    protos = iv_values({"tcp": (6,), "udp": (17,), None: (6, 17)}[e.l4])
    base = {"l4ok": one(1), "proto": protos}
    return [dict(base, **c) for c in _direction(e.direction, "sport", "dport", ((e.lo, e.hi),))]


def _length(e: Length, fam: str) -> DNF:
    top = TOPS[fam]["len"]
    span = ((0, e.value),) if e.op == "less" else ((e.value, MAX_LEN),)
    values = iv_and(span, ((0, top),))
    return _cube(len=values) if values else []


_RELOPS: dict[str, Callable[[int, int], bool]] = {
    "==": int.__eq__, "!=": int.__ne__, "<": int.__lt__, "<=": int.__le__,
    ">": int.__gt__, ">=": int.__ge__,
}


def _field_test(e: FieldTest, fam: str) -> DNF:
    families, proto, name = {
        "tcpflags": (IP_FAMILIES, 6, "tcpflags"),
        "icmptype": ((IPV4,), 1, "icmptype"), "icmpcode": ((IPV4,), 1, "icmpcode"),
        "icmp6type": ((IPV6,), 58, "icmptype"), "icmp6code": ((IPV6,), 58, "icmpcode"),
    }[e.field]
    if fam not in families:
        return []
    mask = 0xFF if e.mask is None else e.mask
    test = _RELOPS[e.op]
    values = iv_values(x for x in range(256) if test(x & mask, e.value))
    if not values:
        return []
    return _cube(l4ok=one(1), proto=one(proto), **{name: values})


_PRIMITIVES: dict[type, Callable[[MatchExpr, str], DNF]] = {
    Proto: _proto, EtherProto: _ether_proto, IpProto: _ip_proto, Host: _host, Net: _net,
    EtherHost: _ether_host, EtherCast: _ether_cast, IpMulticast: _ip_multicast, Vlan: _vlan,
    Port: _port, Length: _length, FieldTest: _field_test,
}
