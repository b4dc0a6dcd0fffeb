"""FlowMonitor's record formats (docs/flowmonitor.md), for the reference body."""

from __future__ import annotations

from typing import NamedTuple

FIELDS = ("start_ns", "end_ns", "src", "dst", "proto", "sport", "dport", "packets", "bytes",
          "tcp_flags", "retrans", "reason")
PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6"}


class Record(NamedTuple):
    key: tuple  # (family, proto, src text, dst text, sport, dport)
    start: int
    end: int
    packets: int
    bytes: int
    flags: int
    retrans: int
    reason: str

    def values(self) -> tuple:
        _, proto, src, dst, sport, dport = self.key
        return (self.start, self.end, src, dst, proto, sport, dport, self.packets, self.bytes,
                self.flags, self.retrans, self.reason)


def csv_header() -> str:
    return ",".join(FIELDS) + "\n"


def format_record(rec: Record, csv: bool) -> str:
    """One JSON line (compact, fields in FIELDS order) or one CSV row."""
    values = rec.values()
    if csv:
        return ",".join(str(v) for v in values) + "\n"
    parts = [f'"{name}":"{v}"' if isinstance(v, str) else f'"{name}":{v}'
             for name, v in zip(FIELDS, values)]
    return "{" + ",".join(parts) + "}\n"


def endpoint(family: int, address: str, port: int, with_port: bool) -> str:
    shown = f"[{address}]" if family == 6 and with_port else address
    return f"{shown}:{port}" if with_port else shown


def top_table(node_id: str, n: int, records: list[Record]) -> str:
    """The heavy-hitter table printed at exit: the largest flows by bytes."""
    lines = [f"FlowMonitor {node_id}: the {n} largest flows by bytes",
             f"{'rank':>4}  {'bytes':>14}  {'packets':>10}  flow"]
    for rank, rec in enumerate(records, 1):
        family, proto, src, dst, sport, dport = rec.key
        ports = proto in (6, 17)
        flow = (f"{PROTO_NAMES.get(proto, str(proto))} {endpoint(family, src, sport, ports)} -> "
                f"{endpoint(family, dst, dport, ports)}")
        lines.append(f"{rank:>4}  {rec.bytes:>14,}  {rec.packets:>10,}  {flow}")
    return "\n".join(lines) + "\n"
