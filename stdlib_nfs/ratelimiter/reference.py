"""RateLimiter reference body: RFC 2697 / RFC 2698 color-blind markers in plain Python.

Written from the RFCs and the spec: a bucket refills by whole periods
(`per_period` tokens every `period` ns, the profile of meter.py), a packet of
n tokens is green if the committed bucket holds n, and so on. Per-flow meters
live in an LRU table of `flows` entries.
"""

from collections import OrderedDict

from chainc.nfs.reference import ReferenceNf
from chainc.packet import META_L3_IPV4, META_L3_IPV6, META_L4_OK

from .meter import profile

GREEN, YELLOW, RED = 0, 1, 2
EXCEEDED = -1  # policer: drop_reasons[0]
TCP, UDP = 6, 17


class SingleRate:
    """RFC 2697 srTCM: committed bucket C (depth cbs), excess bucket E (depth ebs)."""

    def __init__(self, p, now):
        self.p, self.t, self.c, self.e = p, now, p.cbs, p.ebs

    def color(self, now, size):
        p = self.p
        now = max(now, self.t)  # a clock that steps back refills nothing
        periods = (now - self.t) // p.cir_period
        self.t += periods * p.cir_period
        c = self.c + periods * p.cir_per_period
        e = self.e
        if c > p.cbs:  # C's overflow fills E
            e = min(p.ebs, e + c - p.cbs)
            c = p.cbs
        if c >= size:
            self.c, self.e = c - size, e
            return GREEN
        if e >= size:
            self.c, self.e = c, e - size
            return YELLOW
        self.c, self.e = c, e
        return RED


class TwoRate:
    """RFC 2698 trTCM: peak bucket P (pir, pbs) and committed bucket C (cir, cbs)."""

    def __init__(self, p, now):
        self.p, self.tc, self.tp, self.c, self.pk = p, now, now, p.cbs, p.pbs

    def color(self, now, size):
        p = self.p
        now = max(now, self.tc, self.tp)
        nc = (now - self.tc) // p.cir_period
        np_ = (now - self.tp) // p.pir_period
        self.tc += nc * p.cir_period
        self.tp += np_ * p.pir_period
        c = min(p.cbs, self.c + nc * p.cir_per_period)
        pk = min(p.pbs, self.pk + np_ * p.pir_per_period)
        if pk < size:
            self.c, self.pk = c, pk
            return RED
        if c < size:
            self.c, self.pk = c, pk - size
            return YELLOW
        self.c, self.pk = c - size, pk - size
        return GREEN


def flow_key(meta):
    """The 5-tuple a per-flow meter is keyed by; non-IP frames share the all-zero key."""
    if meta.flags & META_L3_IPV4:
        src, dst = meta.ip4_src, meta.ip4_dst
    elif meta.flags & META_L3_IPV6:
        src = (meta.ip6_src_hi << 64) | meta.ip6_src_lo
        dst = (meta.ip6_dst_hi << 64) | meta.ip6_dst_lo
    else:
        return (0, 0, 0, 0, 0)
    ports = (meta.sport, meta.dport) if meta.flags & META_L4_OK and meta.ip_proto in (TCP, UDP) else (0, 0)
    return (src, dst, meta.ip_proto, *ports)


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        self.profile = profile(self.params)
        self.meter_class = TwoRate if self.profile.mode == "trtcm" else SingleRate
        self.aggregate = None
        self.per_flow = self.params["per_flow"]
        self.table: OrderedDict = OrderedDict()  # key -> meter, least recently used first
        self.counters = {"green": 0, "yellow": 0, "red": 0, "flows_evicted": 0}

    def _meter(self, pkt, now):
        if not self.per_flow:
            if self.aggregate is None:
                self.aggregate = self.meter_class(self.profile, now)
            return self.aggregate
        key = flow_key(pkt.meta)
        meter = self.table.get(key)
        if meter is not None:
            self.table.move_to_end(key)
            return meter
        if len(self.table) >= self.params["flows"]:
            self.table.popitem(last=False)
            self.counters["flows_evicted"] += 1
        meter = self.table[key] = self.meter_class(self.profile, now)
        return meter

    def process(self, pkt, in_port):
        now = pkt.now_ns
        size = 1 if self.profile.packets else len(pkt.data)
        color = self._meter(pkt, now).color(now, size)
        self.counters[("green", "yellow", "red")[color]] += 1
        if self.profile.mode == "policer":
            return 0 if color == GREEN else EXCEEDED
        return color
