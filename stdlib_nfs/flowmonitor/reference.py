"""FlowMonitor reference body: written from the spec's description and
docs/flowmonitor.md, not from native.pxd."""

from __future__ import annotations

import os
import socket
from collections import OrderedDict
from dataclasses import dataclass

from chainc.nfs.reference import ReferenceNf
from chainc.packet import META_CT_EV_RETRANS, META_L3_IPV4, META_L3_IPV6, META_L4_OK, Packet
from chainc.sim import SimError

from .records import Record, csv_header, format_record, top_table

FIN, RST = 0x01, 0x04


@dataclass
class Flow:
    key: tuple  # (family, proto, src, dst, sport, dport)
    first: int = 0  # start of the current record; 0: no packet since the last export
    last: int = 0
    packets: int = 0
    bytes: int = 0
    flags: int = 0
    retrans: int = 0
    total_packets: int = 0
    total_bytes: int = 0


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        p = node.params
        self.idle = p["idle_timeout"].nanoseconds
        self.active = p["active_timeout"].nanoseconds
        self.size = p["table_size"]
        self.top = p["top"]
        self.csv = p["format"] == "csv"
        self.flows: OrderedDict[tuple, Flow] = OrderedDict()  # in order of last packet
        self.recording: OrderedDict[tuple, Flow] = OrderedDict()  # in order of record start
        self.finals: list[tuple[int, int, Record]] = []  # (-total bytes, order, record) of ended flows
        self.order = 0
        self.counters = {"flows": 0, "exported": 0, "untracked": 0, "not_ip": 0, "export_lost": 0}
        try:
            os.makedirs(os.path.dirname(os.path.abspath(p["export"])), exist_ok=True)
            self.out = open(p["export"], "w", encoding="ascii", newline="")
        except OSError as exc:
            raise SimError(f"FlowMonitor '{node.id}': cannot open the export file {p['export']}: "
                           f"{exc.strerror}") from None
        if self.csv:
            self.out.write(csv_header())

    # -- records ---------------------------------------------------------------------

    def _export(self, flow: Flow, reason: str, final: bool) -> None:
        """Write the flow's current record (if it has packets); forget the flow if final."""
        if flow.packets:
            rec = Record(flow.key, flow.first, flow.last, flow.packets, flow.bytes, flow.flags,
                         flow.retrans, reason)
            try:
                self.out.write(format_record(rec, self.csv))
            except OSError as exc:
                raise SimError(f"FlowMonitor '{self.node.id}': cannot write the export file "
                               f"{self.params['export']}: {exc.strerror}") from None
            self.counters["exported"] += 1
            self.recording.pop(flow.key, None)
            flow.first, flow.packets, flow.bytes, flow.flags, flow.retrans = 0, 0, 0, 0, 0
        if final:
            del self.flows[flow.key]
            self.recording.pop(flow.key, None)
            if flow.total_packets:
                total = Record(flow.key, 0, 0, flow.total_packets, flow.total_bytes, 0, 0, reason)
                self.finals.append((-flow.total_bytes, self.order, total))
                self.order += 1

    def _next_deadline(self) -> tuple[int, Flow, bool] | None:
        """The earliest deadline at the head of the two queues: (time, flow, idle?)."""
        best = None
        if self.flows:
            head = next(iter(self.flows.values()))
            best = (head.last + self.idle, head, True)
        if self.recording:
            head = next(iter(self.recording.values()))
            due = head.first + self.active
            if best is None or due < best[0]:
                best = (due, head, False)
        return best

    def _expire_one(self, now: int) -> bool:
        due = self._next_deadline()
        if due is None or due[0] > now:
            return False
        _, flow, idle = due
        self._export(flow, "idle" if idle else "active", final=idle)
        return True

    # -- packets -------------------------------------------------------------------

    def process(self, pkt: Packet, in_port: int) -> int:
        now = pkt.now_ns
        for _ in range(2):
            if not self._expire_one(now):
                break
        m = pkt.meta
        if not m.flags & (META_L3_IPV4 | META_L3_IPV6):
            self.counters["not_ip"] += 1
            return 0
        key = _key(m)
        flow = self.flows.get(key)
        if flow is not None and flow.last + self.idle <= now:
            self._export(flow, "idle", final=True)
            flow = None
        if flow is not None and flow.first and flow.first + self.active <= now:
            self._export(flow, "active", final=False)
        if flow is None:
            if len(self.flows) >= self.size:
                head = next(iter(self.flows.values()))
                if head.last + self.idle > now:
                    self.counters["untracked"] += 1
                    return 0
                self._export(head, "idle", final=True)
            flow = Flow(key)
            self.counters["flows"] += 1
        self.flows[key] = flow
        self.flows.move_to_end(key)
        if not flow.first:
            flow.first = now
            self.recording[key] = flow
        flow.last = now
        flow.packets += 1
        flow.bytes += m.ip_len
        flow.total_packets += 1
        flow.total_bytes += m.ip_len
        if m.ct_events & META_CT_EV_RETRANS:
            flow.retrans += 1
        if m.ip_proto == 6 and m.flags & META_L4_OK:
            flow.flags |= m.tcp_flags
            if m.tcp_flags & (FIN | RST):
                self._export(flow, "end", final=True)
        return 0

    def finish(self) -> None:
        for flow in list(self.flows.values()):
            self._export(flow, "exit", final=True)
        try:
            self.out.close()
        except OSError as exc:
            raise SimError(f"FlowMonitor '{self.node.id}': cannot write the export file "
                           f"{self.params['export']}: {exc.strerror}") from None
        if self.top:
            best = [rec for _, _, rec in sorted(self.finals)[:self.top]]
            print(top_table(self.node.id, self.top, best), end="")


def _key(m) -> tuple:
    if m.flags & META_L3_IPV4:
        src = socket.inet_ntop(socket.AF_INET, m.ip4_src.to_bytes(4, "big"))
        dst = socket.inet_ntop(socket.AF_INET, m.ip4_dst.to_bytes(4, "big"))
        family = 4
    else:
        src = socket.inet_ntop(socket.AF_INET6, ((m.ip6_src_hi << 64) | m.ip6_src_lo).to_bytes(16, "big"))
        dst = socket.inet_ntop(socket.AF_INET6, ((m.ip6_dst_hi << 64) | m.ip6_dst_lo).to_bytes(16, "big"))
        family = 6
    proto = m.ip_proto
    sport = dport = 0
    if m.flags & META_L4_OK:
        if proto in (6, 17):
            sport, dport = m.sport, m.dport
        else:  # ICMP / ICMPv6: type and code in the destination port, as NetFlow does
            dport = m.icmp_type * 256 + m.icmp_code
    return (family, proto, src, dst, sport, dport)
