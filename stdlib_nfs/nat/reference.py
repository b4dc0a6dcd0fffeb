"""NAT reference body, written from the spec's description (not from native.pxd).

Plain dictionaries: inside endpoint -> mapping, external endpoint -> mapping,
and a deque of free ports per external address and protocol. Finding the
mapping that expired first is a scan over all mappings: slow, but plainly
what the description says.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from chainc.nfs.reference import ReferenceNf
from chainc.packet import (META_ETH_OK, META_FRAG, META_L3_IPV4, META_L4_OK, META_VLAN_LIMIT,
                           META_VLAN_TRUNC)

from .spec import parse_forward

INSIDE, OUTSIDE = 0, 1  # inputs and outputs alike
(NO_MAPPING, PORTS_EXHAUSTED, TABLE_FULL, NOT_IPV4, UNSUPPORTED, FRAGMENT,
 MALFORMED) = (-1, -2, -3, -4, -5, -6, -7)  # drop_reasons, in order

TCP, UDP, ICMP = 6, 17, 1
SYN, FIN, RST = 0x02, 0x01, 0x04
ECHO_REPLY, ECHO_REQUEST = 0, 8


@dataclass
class Mapping:
    proto: int
    inside_addr: int
    inside_port: int
    ext_index: int
    ext_port: int
    static: bool = False
    last_ns: int = 0
    used: int = 0  # order of last use: ties between equal expiry times
    syn_inside: bool = False
    syn_outside: bool = False
    closing: bool = False

    def established(self) -> bool:
        return self.syn_inside and self.syn_outside and not self.closing


def ones_sum(*words: int) -> int:
    total = sum(words)
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def adjust(checksum: int, old: list[int], new: list[int]) -> int:
    """RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m') over every changed 16-bit word."""
    return ~ones_sum(~checksum & 0xFFFF, *(~w & 0xFFFF for w in old), *new) & 0xFFFF


def words32(value: int) -> list[int]:
    return [value >> 16, value & 0xFFFF]


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        self.external = [int(a) for a in self.params["external"]]
        lo, hi = self.params["ports"].lo, self.params["ports"].hi
        self.table_size = self.params["table_size"]
        self.timeouts = {"tcp-est": self.params["tcp_timeout"].nanoseconds,
                         "tcp": self.params["tcp_transitory_timeout"].nanoseconds,
                         UDP: self.params["udp_timeout"].nanoseconds,
                         ICMP: self.params["icmp_timeout"].nanoseconds}
        self.by_inside: dict[tuple[int, int, int], Mapping] = {}
        self.by_external: dict[tuple[int, int, int], Mapping] = {}
        reserved = set()
        for text in self.params["forwards"]:
            name, ext_port, addr, port = parse_forward(text)
            proto = TCP if name == "tcp" else UDP
            m = Mapping(proto, int(addr), port, 0, ext_port, static=True)
            self.by_inside[(proto, int(addr), port)] = m
            self.by_external[(proto, 0, ext_port)] = m
            reserved.add((proto, ext_port))
        self.free = {(i, proto): deque(p for p in range(lo, hi + 1) if i or (proto, p) not in reserved)
                     for i in range(len(self.external)) for proto in (TCP, UDP, ICMP)}
        self.dynamic = 0
        self.clock = 0
        self.uses = 0
        self.counters = {"created": 0, "expired": 0, "mappings": 0}

    # -- expiry -------------------------------------------------------------------

    def timeout(self, m: Mapping) -> int:
        if m.proto == TCP:
            return self.timeouts["tcp-est" if m.established() else "tcp"]
        return self.timeouts[m.proto]

    def expired(self, m: Mapping, now: int) -> bool:
        return not m.static and now - m.last_ns >= self.timeout(m)

    def remove(self, m: Mapping) -> None:
        del self.by_inside[(m.proto, m.inside_addr, m.inside_port)]
        del self.by_external[(m.proto, m.ext_index, m.ext_port)]
        self.free[(m.ext_index, m.proto)].append(m.ext_port)
        self.dynamic -= 1
        self.counters["expired"] += 1
        self.counters["mappings"] = self.dynamic

    def remove_first_expired(self, now: int, ext_index: int | None = None, proto: int | None = None) -> bool:
        """Remove the mapping that expired first (of one address and protocol if given)."""
        candidates = [m for m in self.by_inside.values() if self.expired(m, now)
                      and (ext_index is None or (m.ext_index, m.proto) == (ext_index, proto))]
        if not candidates:
            return False
        self.remove(min(candidates, key=lambda m: (m.last_ns + self.timeout(m), m.used)))
        return True

    def use(self, m: Mapping, now: int, flags: int, from_inside: bool) -> None:
        if m.static:
            return
        if m.proto == TCP:
            if flags & SYN:
                if m.closing:
                    m.syn_inside = m.syn_outside = m.closing = False
                if from_inside:
                    m.syn_inside = True
                else:
                    m.syn_outside = True
            if flags & (FIN | RST):
                m.closing = True
        m.last_ns = now
        self.uses += 1
        m.used = self.uses

    # -- packets ------------------------------------------------------------------

    def process(self, pkt, in_port):
        meta = pkt.meta
        if not meta.flags & META_L3_IPV4:
            readable = meta.flags & META_ETH_OK and not meta.flags & (META_VLAN_TRUNC | META_VLAN_LIMIT)
            return NOT_IPV4 if readable and meta.ethertype != 0x0800 else MALFORMED
        if meta.flags & META_FRAG:
            return FRAGMENT
        proto = meta.ip_proto
        if proto not in (TCP, UDP, ICMP):
            return UNSUPPORTED
        if not meta.flags & META_L4_OK:
            return MALFORMED
        if proto == ICMP:
            if meta.payload_off - meta.l4_off < 8:
                return MALFORMED
            if meta.icmp_type != (ECHO_REQUEST if in_port == INSIDE else ECHO_REPLY):
                return UNSUPPORTED
        self.clock = max(self.clock, pkt.now_ns)
        now = self.clock
        if in_port == INSIDE:
            return self.outbound(pkt, proto, now)
        return self.inbound(pkt, proto, now)

    def outbound(self, pkt, proto: int, now: int) -> int:
        meta = pkt.meta
        port = meta.icmp_id if proto == ICMP else meta.sport
        key = (proto, meta.ip4_src, port)
        m = self.by_inside.get(key)
        if m is not None and self.expired(m, now):
            self.remove(m)
            m = None
        if m is None:
            ext_index = meta.ip4_src % len(self.external)
            if self.dynamic == self.table_size and not self.remove_first_expired(now):
                return TABLE_FULL
            if not self.free[(ext_index, proto)] and not self.remove_first_expired(now, ext_index, proto):
                return PORTS_EXHAUSTED
            m = Mapping(proto, meta.ip4_src, port, ext_index, self.free[(ext_index, proto)].popleft())
            self.by_inside[key] = m
            self.by_external[(proto, ext_index, m.ext_port)] = m
            self.dynamic += 1
            self.counters["created"] += 1
            self.counters["mappings"] = self.dynamic
        self.use(m, now, meta.tcp_flags, from_inside=True)
        self.rewrite(pkt, proto, source=True, addr=self.external[m.ext_index], port=m.ext_port)
        return OUTSIDE

    def inbound(self, pkt, proto: int, now: int) -> int:
        meta = pkt.meta
        if meta.ip4_dst not in self.external:
            return NO_MAPPING
        port = meta.icmp_id if proto == ICMP else meta.dport
        m = self.by_external.get((proto, self.external.index(meta.ip4_dst), port))
        if m is not None and self.expired(m, now):
            self.remove(m)
            m = None
        if m is None:
            return NO_MAPPING
        self.use(m, now, meta.tcp_flags, from_inside=False)
        self.rewrite(pkt, proto, source=False, addr=m.inside_addr, port=m.inside_port)
        return INSIDE

    # -- header rewriting ---------------------------------------------------------

    def rewrite(self, pkt, proto: int, source: bool, addr: int, port: int) -> None:
        data, meta = pkt.data, pkt.meta
        l3, l4 = meta.l3_off, meta.l4_off
        addr_at = l3 + (12 if source else 16)
        old_addr = int.from_bytes(data[addr_at:addr_at + 4], "big")
        port_at = l4 + (4 if proto == ICMP else 0 if source else 2)
        old_port = int.from_bytes(data[port_at:port_at + 2], "big")
        data[addr_at:addr_at + 4] = addr.to_bytes(4, "big")
        data[port_at:port_at + 2] = port.to_bytes(2, "big")

        def fix(at: int, old: list[int], new: list[int], udp: bool = False) -> None:
            checksum = int.from_bytes(data[at:at + 2], "big")
            if udp and checksum == 0:
                return  # no checksum
            checksum = adjust(checksum, old, new)
            if udp and checksum == 0:
                checksum = 0xFFFF
            data[at:at + 2] = checksum.to_bytes(2, "big")

        fix(l3 + 10, words32(old_addr), words32(addr))
        if proto == TCP:
            fix(l4 + 16, words32(old_addr) + [old_port], words32(addr) + [port])
        elif proto == UDP:
            fix(l4 + 6, words32(old_addr) + [old_port], words32(addr) + [port], udp=True)
        else:  # the ICMP checksum covers no pseudo-header: only the identifier
            fix(l4 + 2, [old_port], [port])
        pkt.reparse()
