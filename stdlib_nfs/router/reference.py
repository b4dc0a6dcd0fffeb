"""Router reference body, written from docs/router.md (not from native.pxd).

The table is a dict per prefix length, tried from the longest length down:
slow, but plainly a longest-prefix match.
"""

from __future__ import annotations

from pathlib import Path

from chainc.nfs.reference import ReferenceNf
from chainc.packet import (META_ETH_OK, META_L3_IPV4, META_L3_IPV6, META_VLAN_LIMIT,
                           META_VLAN_TRUNC)

from .routes import parse_route_file
from .spec import outputs

NO_ROUTE, TTL_EXPIRED, NOT_IP, MALFORMED = -1, -2, -3, -4  # drop_reasons, in order

ETHERTYPE_IPV4, ETHERTYPE_IPV6 = 0x0800, 0x86DD


def ones_complement_add(a: int, b: int) -> int:
    """16-bit one's complement addition (end-around carry)."""
    total = a + b
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def update_checksum(checksum: int, old_word: int, new_word: int) -> int:
    """RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')."""
    total = ones_complement_add(~checksum & 0xFFFF, ~old_word & 0xFFFF)
    total = ones_complement_add(total, new_word)
    return ~total & 0xFFFF


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        table, errors = parse_route_file(Path(self.params["routes"]).read_text(encoding="utf-8"))
        assert not errors, errors  # validate has reported them already
        out_ports = outputs(self.params)
        default_src = self.params.get("mac")
        # version -> prefix length -> network number (the prefix's leading bits) -> action
        self.by_length: dict[int, dict[int, dict[int, tuple[int, bytes | None, bytes | None]]]] = {
            4: {}, 6: {}}
        for route in table.routes:
            src = table.port_macs.get(route.port)
            if src is None and default_src is not None:
                src = default_src.octets
            net = route.prefix
            bits = net.max_prefixlen
            key = int(net.network_address) >> (bits - net.prefixlen)
            self.by_length[net.version].setdefault(net.prefixlen, {})[key] = (
                out_ports.index(route.port), route.mac, src)
        self.lengths = {v: sorted(t, reverse=True) for v, t in self.by_length.items()}
        expired = self.params.get("expired")
        self.expired_out = out_ports.index(expired) if expired in out_ports else None
        self.counters = {"routed_ipv4": 0, "routed_ipv6": 0, "ttl_expired": 0}

    def lookup(self, version: int, address: int):
        """The action of the longest prefix holding `address`, or None."""
        bits = 32 if version == 4 else 128
        for length in self.lengths[version]:
            action = self.by_length[version][length].get(address >> (bits - length))
            if action is not None:
                return action
        return None

    def process(self, pkt, in_port):
        meta = pkt.meta
        data = pkt.data
        l3 = meta.l3_off
        if meta.flags & META_L3_IPV4:
            version, ttl_at = 4, l3 + 8
            address = int.from_bytes(data[l3 + 16:l3 + 20], "big")
        elif meta.flags & META_L3_IPV6:
            version, ttl_at = 6, l3 + 7
            address = int.from_bytes(data[l3 + 24:l3 + 40], "big")
        else:
            readable = meta.flags & META_ETH_OK and not meta.flags & (META_VLAN_TRUNC | META_VLAN_LIMIT)
            if readable and meta.ethertype not in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
                return NOT_IP
            return MALFORMED

        decrement = self.params["decrement_ttl"]
        if decrement and data[ttl_at] <= 1:
            self.counters["ttl_expired"] += 1
            return self.expired_out if self.expired_out is not None else TTL_EXPIRED
        action = self.lookup(version, address)
        if action is None:
            return NO_ROUTE
        if decrement:
            if version == 4:
                old_word = int.from_bytes(data[ttl_at:ttl_at + 2], "big")  # TTL, protocol
                checksum = int.from_bytes(data[l3 + 10:l3 + 12], "big")
                data[ttl_at] -= 1
                new_word = int.from_bytes(data[ttl_at:ttl_at + 2], "big")
                data[l3 + 10:l3 + 12] = update_checksum(checksum, old_word, new_word).to_bytes(2, "big")
            else:
                data[ttl_at] -= 1
            meta.ip_ttl = data[ttl_at]
        port, dst, src = action
        if dst is not None:
            data[0:6] = dst
        if src is not None:
            data[6:12] = src
        self.counters["routed_ipv4" if version == 4 else "routed_ipv6"] += 1
        return port
