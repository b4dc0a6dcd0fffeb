"""Generate a Cython boolean expression from a match expression.

`to_cython(expr, meta="meta", data="data")` returns one expression, on one
line, over two names the generated code must have in scope:

- `meta`: a `pkt_meta*` (backends/dpdk/runtime/meta.pxd), read as
  `meta.field` (Cython dereferences struct pointers with `.`);
- `data`: a `const uint8_t*` to the frame's first byte, read only for MAC
  address tests (`data[0..11]`, always inside the 14 bytes META_ETH_OK
  guarantees).

The result is a C-level `bint` expression: no Python objects, usable under
`nogil`. No preamble is needed: IPv6 addresses are compared as the two 64-bit
halves the metadata keeps. Every constant is an integer literal computed
here from the parsed tree; no text of the user's is pasted into the code.
"""

from __future__ import annotations

import re

from chainc.match.names import VLAN_TPIDS
from chainc.match.nodes import (BOTH, DST, SRC, And, EtherCast, EtherHost, EtherProto,
                                FieldTest, Host, IpMulticast, IpProto, Length, MatchExpr, Net,
                                Not, Or, Port, Proto, Vlan)
from chainc.packet import META_ETH_OK, META_L3_IPV4, META_L3_IPV6, META_L4_OK

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_L3_IP = META_L3_IPV4 | META_L3_IPV6


def to_cython(expr: MatchExpr, meta: str = "meta", data: str = "data") -> str:
    """A Cython `bint` expression that is true when the packet matches `expr`."""
    for name in (meta, data):
        if not _IDENT.match(name):
            raise ValueError(f"not a Cython identifier: {name!r}")
    return _Gen(meta, data).emit(expr)


def _lit(n: int) -> str:
    """An integer literal C and Cython both read as unsigned where it matters."""
    if n < 10:
        return str(n)
    if n <= 0x7FFFFFFF:
        return f"0x{n:x}" if n > 0xFFFF else str(n)
    if n <= 0xFFFFFFFF:
        return f"0x{n:x}U"
    return f"0x{n:x}ULL"


def _addr4(n: int) -> str:
    """An IPv4 address or mask as a literal: 0x0a000001U."""
    return f"0x{n:08x}U"


class _Gen:
    def __init__(self, meta: str, data: str):
        self.m = meta
        self.d = data

    def emit(self, e: MatchExpr) -> str:
        method = getattr(self, "_" + type(e).__name__.lower())
        return method(e)

    # -- helpers -----------------------------------------------------------
    def flag(self, bits: int) -> str:
        return f"({self.m}.flags & 0x{bits:x}) != 0"

    def field(self, name: str) -> str:
        return f"{self.m}.{name}"

    @staticmethod
    def all(*terms: str) -> str:
        terms = tuple(t for t in terms if t)
        return terms[0] if len(terms) == 1 else "(" + " and ".join(terms) + ")"

    @staticmethod
    def any(*terms: str) -> str:
        return terms[0] if len(terms) == 1 else "(" + " or ".join(terms) + ")"

    def direction(self, direction: str, src: str, dst: str) -> str:
        if direction == SRC:
            return src
        if direction == DST:
            return dst
        if direction == BOTH:
            return self.all(src, dst)
        return self.any(src, dst)

    # -- connectives -------------------------------------------------------
    def _and(self, e: And) -> str:
        return self.all(*(self.emit(i) for i in e.items))

    def _or(self, e: Or) -> str:
        return self.any(*(self.emit(i) for i in e.items))

    def _not(self, e: Not) -> str:
        return f"(not {self.emit(e.item)})"

    # -- primitives --------------------------------------------------------
    def _proto(self, e: Proto) -> str:
        if e.name == "ip":
            return f"({self.flag(META_L3_IPV4)})"
        if e.name == "ip6":
            return f"({self.flag(META_L3_IPV6)})"
        if e.name in ("arp", "rarp"):
            etype = 0x0806 if e.name == "arp" else 0x8035
            return self.all(self.flag(META_ETH_OK), f"{self.field('ethertype')} == 0x{etype:04x}")
        family, number = {"tcp": (_L3_IP, 6), "udp": (_L3_IP, 17), "sctp": (_L3_IP, 132),
                          "icmp": (META_L3_IPV4, 1), "igmp": (META_L3_IPV4, 2),
                          "icmp6": (META_L3_IPV6, 58)}[e.name]
        return self.all(self.flag(family), f"{self.field('ip_proto')} == {number}")

    def _etherproto(self, e: EtherProto) -> str:
        if e.value in VLAN_TPIDS:
            return self.all(f"{self.field('vlan_count')} != 0",
                            f"{self.field('vlan_tpid')} == 0x{e.value:04x}")
        return self.all(self.flag(META_ETH_OK), f"{self.field('ethertype')} == 0x{e.value:04x}")

    def _ipproto(self, e: IpProto) -> str:
        family = {4: META_L3_IPV4, 6: META_L3_IPV6, None: _L3_IP}[e.family]
        return self.all(self.flag(family), f"{self.field('ip_proto')} == {e.value}")

    def addr(self, version: int, value: int, length: int, direction: str) -> str:
        """Source/destination address (or prefix of `length` bits) tests."""
        if version == 4:
            mask = (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF

            def side(which: str) -> str:
                if length == 0:
                    return ""
                field = self.field(f"ip4_{which}")
                if length == 32:
                    return f"{field} == {_addr4(value)}"
                return f"({field} & {_addr4(mask)}) == {_addr4(value)}"
            flag = META_L3_IPV4
        else:
            hi_val, lo_val = value >> 64, value & (2**64 - 1)

            def side(which: str) -> str:
                hi, lo = self.field(f"ip6_{which}_hi"), self.field(f"ip6_{which}_lo")
                terms = []
                for half, half_val, bits in ((hi, hi_val, min(length, 64)),
                                             (lo, lo_val, max(length - 64, 0))):
                    if bits == 64:
                        terms.append(f"{half} == {_lit(half_val)}")
                    elif bits:
                        mask = (2**64 - 1) ^ (2**(64 - bits) - 1)
                        terms.append(f"({half} & {_lit(mask)}) == {_lit(half_val)}")
                return self.all(*terms) if terms else ""
            flag = META_L3_IPV6
        src, dst = side("src"), side("dst")
        if not src:  # a /0 prefix: any address of the family
            return f"({self.flag(flag)})"
        return self.all(self.flag(flag), self.direction(direction, src, dst))

    def _host(self, e: Host) -> str:
        bits = 32 if e.addr.version == 4 else 128
        return self.addr(e.addr.version, int(e.addr), bits, e.direction)

    def _net(self, e: Net) -> str:
        n = e.network
        return self.addr(n.version, int(n.network_address), n.prefixlen, e.direction)

    def mac_equals(self, offset: int, mac: bytes) -> str:
        return self.all(*(f"{self.d}[{offset + i}] == 0x{b:02x}" for i, b in enumerate(mac)))

    def _etherhost(self, e: EtherHost) -> str:
        return self.all(self.flag(META_ETH_OK),
                        self.direction(e.direction, self.mac_equals(6, e.mac),
                                       self.mac_equals(0, e.mac)))

    def _ethercast(self, e: EtherCast) -> str:
        if e.kind == "broadcast":
            return self.all(self.flag(META_ETH_OK), self.mac_equals(0, b"\xff" * 6))
        return self.all(self.flag(META_ETH_OK), f"({self.d}[0] & 1) != 0")

    def _ipmulticast(self, e: IpMulticast) -> str:
        if e.family == 4:
            return self.all(self.flag(META_L3_IPV4),
                            f"({self.field('ip4_dst')} & 0xf0000000U) == 0xe0000000U")
        return self.all(self.flag(META_L3_IPV6),
                        f"({self.field('ip6_dst_hi')} >> 56) == 0xff")

    def _vlan(self, e: Vlan) -> str:
        tagged = f"{self.field('vlan_count')} != 0"
        if e.vid is None:
            return f"({tagged})"
        return self.all(tagged, f"({self.field('vlan_outer')} & 0xfff) == {e.vid}")

    def _port(self, e: Port) -> str:
        proto = self.field("ip_proto")
        which = {"tcp": f"{proto} == 6", "udp": f"{proto} == 17",
                 None: f"({proto} == 6 or {proto} == 17)"}[e.l4]

        def side(name: str) -> str:
            field = self.field(name)
            if e.lo == e.hi:
                return f"{field} == {e.lo}"
            terms = ([f"{field} >= {e.lo}"] if e.lo > 0 else []) + \
                    ([f"{field} <= {e.hi}"] if e.hi < 0xFFFF else [])
            return self.all(*terms) if terms else ""

        src, dst = side("sport"), side("dport")
        test = self.direction(e.direction, src, dst) if src else ""
        return self.all(self.flag(META_L4_OK), which, test)

    def _length(self, e: Length) -> str:
        op = "<=" if e.op == "less" else ">="
        return f"({self.field('pkt_len')} {op} {_lit(e.value)})"

    def _fieldtest(self, e: FieldTest) -> str:
        family, number, name = {
            "tcpflags": (_L3_IP, 6, "tcp_flags"),
            "icmptype": (META_L3_IPV4, 1, "icmp_type"),
            "icmpcode": (META_L3_IPV4, 1, "icmp_code"),
            "icmp6type": (META_L3_IPV6, 58, "icmp_type"),
            "icmp6code": (META_L3_IPV6, 58, "icmp_code"),
        }[e.field]
        value = self.field(name)
        if e.mask is not None:
            value = f"({value} & 0x{e.mask:02x})"
        return self.all(self.flag(META_L4_OK), self.flag(family),
                        f"{self.field('ip_proto')} == {number}", f"{value} {e.op} {e.value}")
