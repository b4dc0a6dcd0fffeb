"""LoadBalancer reference body: written from the spec's description, not from native.pxd."""

from __future__ import annotations

import ipaddress
from collections import OrderedDict

from chainc.nfs.reference import ReferenceNf
from chainc.packet import META_FRAG, META_L3_IPV4, META_L3_IPV6, META_L4_OK
from chainc.sim import SimError

from .maglev import flow_hash, lookup_table

OUT = 0
NO_BACKEND = -1
RECLAIM_PER_PACKET = 2
HEADER = "# LoadBalancer affinity: proto src sport dport backend last-seen-ns, oldest first\n"


def ones_add(a: int, b: int) -> int:
    s = a + b
    return (s & 0xFFFF) + (s >> 16)


def adjusted(checksum: int, old: bytes, new: bytes) -> int:
    """RFC 1624 eqn. 3 over each 16-bit word that changes: HC' = ~(~HC + ~m + m')."""
    total = ~checksum & 0xFFFF
    for i in range(0, len(old), 2):
        total = ones_add(total, ~int.from_bytes(old[i:i + 2], "big") & 0xFFFF)
        total = ones_add(total, int.from_bytes(new[i:i + 2], "big"))
    return ~total & 0xFFFF


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        p = self.params
        self.vip = p["vip"]
        self.family = self.vip.version
        self.backends = list(p["backends"])
        down = set(p.get("down") or ())
        self.up = [b not in down for b in self.backends]
        self.table = lookup_table(self.backends, self.up, p["table_size"])
        self.index = {b: i for i, b in enumerate(self.backends)}
        self.port = p["port"]
        self.capacity = p["flows"]
        self.timeout = p["timeout"].nanoseconds
        # flow key -> [backend index, last seen ns], least recently used first
        self.flows: OrderedDict[tuple, list[int]] = OrderedDict()
        self.counters = dict.fromkeys(
            ("balanced", "replies", "new_flows", "expired", "evicted", "restored", "moved"), 0)
        if p.get("affinity"):
            self._load(p["affinity"])

    # -- the affinity file

    def _load(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return
        for lineno, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                proto, src, sport, dport, backend, last = line.split()
                key = (int(proto), ipaddress.ip_address(src), int(sport), int(dport))
                backend_addr, last_ns = ipaddress.ip_address(backend), int(last)
                if not (0 <= key[0] <= 255 and 0 <= key[2] <= 65535 and 0 <= key[3] <= 65535) \
                        or key[1].version != self.family or backend_addr.version != self.family:
                    raise ValueError
            except ValueError:
                raise SimError(f"LoadBalancer '{self.node.id}': affinity file {path}: line {lineno}: "
                               f"expected PROTO SRC SPORT DPORT BACKEND LAST_SEEN_NS with "
                               f"IPv{self.family} addresses") from None
            b = self.index.get(backend_addr)
            if b is None or not self.up[b]:
                self.counters["moved"] += 1
                continue
            if key in self.flows:
                self.flows.move_to_end(key)
            elif len(self.flows) == self.capacity:
                self.flows.popitem(last=False)
                self.counters["evicted"] += 1
            self.flows[key] = [b, last_ns]
        self.counters["restored"] = len(self.flows)

    def finish(self) -> None:
        path = self.params.get("affinity")
        if not path:
            return
        lines = [f"{proto} {src} {sport} {dport} {self.backends[b]} {last}\n"
                 for (proto, src, sport, dport), (b, last) in self.flows.items()]
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(HEADER + "".join(lines))
        except OSError as exc:
            raise SimError(f"LoadBalancer '{self.node.id}': cannot write the affinity file "
                           f"{path}: {exc.strerror}") from None

    # -- packets

    def _expired(self, last: int, now: int) -> bool:
        return now > last and now - last > self.timeout

    def process(self, pkt, in_port):
        m = pkt.meta
        if not m.has(META_L3_IPV4 if self.family == 4 else META_L3_IPV6):
            return OUT
        l4_ok = m.has(META_L4_OK)
        if m.ip_dst == self.vip:
            if self.port and not (l4_ok and m.dport == self.port):
                return OUT
            return self._to_vip(pkt, l4_ok and not m.has(META_FRAG))
        b = self.index.get(m.ip_src)
        if b is None or (self.port and not (l4_ok and m.sport == self.port)):
            return OUT
        self._rewrite(pkt, dst=False, new=self.vip)
        self.counters["replies"] += 1
        return OUT

    def _to_vip(self, pkt, with_ports: bool) -> int:
        if not any(self.up):
            return NO_BACKEND
        m = pkt.meta
        now = pkt.now_ns
        for _ in range(RECLAIM_PER_PACKET):
            if not self.flows:
                break
            oldest = next(iter(self.flows.values()))
            if not self._expired(oldest[1], now):
                break
            self.flows.popitem(last=False)
            self.counters["expired"] += 1
        sport, dport = (m.sport, m.dport) if with_ports else (0, 0)
        key = (m.ip_proto, m.ip_src, sport, dport)
        choice = self.table[flow_hash(m.ip_src, m.ip_proto, sport, dport) % len(self.table)]
        entry = self.flows.get(key)
        if entry is not None and self._expired(entry[1], now):
            self.counters["expired"] += 1
            entry[0] = choice
            self.counters["new_flows"] += 1
        elif entry is None:
            if len(self.flows) == self.capacity:
                _, (_, last) = self.flows.popitem(last=False)
                self.counters["expired" if self._expired(last, now) else "evicted"] += 1
            entry = self.flows[key] = [choice, now]
            self.counters["new_flows"] += 1
        self.flows.move_to_end(key)
        entry[1] = now
        self._rewrite(pkt, dst=True, new=self.backends[entry[0]])
        self.counters["balanced"] += 1
        return OUT

    def _rewrite(self, pkt, dst: bool, new) -> None:
        m, data = pkt.meta, pkt.data
        l3 = m.l3_off
        if self.family == 4:
            at = l3 + (16 if dst else 12)
        else:
            at = l3 + (24 if dst else 8)
        size = 4 if self.family == 4 else 16
        old, new_bytes = bytes(data[at:at + size]), new.packed
        fields = []  # (offset of a checksum, is UDP)
        if self.family == 4:
            fields.append((l3 + 10, False))
        if m.has(META_L4_OK):
            l4 = m.l4_off
            if m.ip_proto == 6:
                fields.append((l4 + 16, False))
            elif m.ip_proto == 17 and (self.family == 6 or data[l4 + 6:l4 + 8] != b"\0\0"):
                fields.append((l4 + 6, True))
            elif m.ip_proto == 58 and self.family == 6:
                fields.append((l4 + 2, False))
        for off, udp in fields:
            value = adjusted(int.from_bytes(data[off:off + 2], "big"), old, new_bytes)
            if udp and value == 0:
                value = 0xFFFF
            data[off:off + 2] = value.to_bytes(2, "big")
        data[at:at + size] = new_bytes
        pkt.reparse()
