"""`chainc top`: a per-NF table of packet and drop rates that refreshes while the binary runs.

The binary rewrites its `--stats-json` file every `--stats-interval`; each
refresh reads it again. Rates are taken between the last two different
snapshots (by their `elapsed_s`), so they hold steady when top refreshes
faster than the binary writes; the first snapshot gives the average over
the run so far. A file that is missing or broken is shown as such and
retried: the binary may not have written it yet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from chainc.viz import describe
from chainc.viz.dot import cycles_line
from chainc.viz.statsfile import NodeStats, Snapshot, StatsError, load_stats

SORTS = ("order", "in", "drops", "cycles")
HIDDEN = ("port-in", "port-out", "drop")  # the table is of NFs; ports are summed below it


@dataclass
class Rates:
    packets_in: dict[str, float] = field(default_factory=dict)
    drops: dict[str, float] = field(default_factory=dict)


def rates_between(before: Snapshot | None, after: Snapshot) -> Rates | None:
    """Per-node packets in and drops per second between two snapshots (None: no time base)."""
    if before is not None and before.elapsed_s is not None and after.elapsed_s is not None \
            and after.elapsed_s > before.elapsed_s:
        seconds = after.elapsed_s - before.elapsed_s
        old = before.nodes
    elif after.elapsed_s:
        seconds, old = after.elapsed_s, {}
    else:
        return None
    rates = Rates()
    for node_id, s in after.nodes.items():
        prev = old.get(node_id)
        rates.packets_in[node_id] = max(0, s.packets_in - (prev.packets_in if prev else 0)) / seconds
        rates.drops[node_id] = max(0, s.dropped - (prev.dropped if prev else 0)) / seconds
    return rates


def _sort_key(sort: str, rates: Rates | None):
    def key(s: NodeStats):
        if sort == "in":
            return -(rates.packets_in.get(s.id, 0.0) if rates else s.packets_in)
        if sort == "drops":
            return -(rates.drops.get(s.id, 0.0) if rates else s.dropped)
        return -(s.cycles_per_packet or 0.0)
    return key


def _table(header: list[str], rows: list[list[str]], left: set[int]) -> list[str]:
    """Columns aligned: those in `left` to the left, the numbers to the right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]


def _per_second(table: dict[str, float] | None, node_id: str) -> str:
    return describe.fmt_rate(table.get(node_id, 0.0)) if table is not None else "-"


def render_frame(snapshot: Snapshot, rates: Rates | None, sort: str = "order") -> str:
    """One screen: the NF table, then the ports."""
    nodes = [s for s in snapshot.nodes.values() if s.type not in HIDDEN]
    if sort != "order":
        nodes.sort(key=_sort_key(sort, rates))
    rows = []
    for s in nodes:
        reasons = describe.count_pairs(s.drops) or "-"
        rows.append([s.id, s.type, "-" if s.core is None else str(s.core),
                     _per_second(rates.packets_in if rates else None, s.id),
                     describe.fmt_count(s.packets_in),
                     _per_second(rates.drops if rates else None, s.id), describe.fmt_count(s.dropped),
                     cycles_line(s.cycles_per_packet).split()[0], reasons])
    lines = _table(["nf", "type", "core", "in/s", "in", "drops/s", "drops", "cyc/pkt", "drop reasons"],
                   rows, left={0, 1, 8})
    if snapshot.ports:
        lines.append("")
        lines += _table(["port", "rx", "tx", "tx-dropped"],
                        [[str(p.get("name", "?"))] + [describe.fmt_count(int(p.get(k, 0) or 0))
                                                     for k in ("rx", "tx", "tx_dropped")]
                         for p in snapshot.ports], left={0})
    return "\n".join(lines)


class TopView:
    """The state of one `chainc top`: the statistics file and the last snapshots read."""

    def __init__(self, path: str, sort: str = "order"):
        self.path = path
        self.sort = sort
        self.current: Snapshot | None = None
        self.rates: Rates | None = None

    def refresh(self) -> tuple[str, bool]:
        """Read the file again; the screen to show and whether the file could be read."""
        try:
            snapshot = load_stats(self.path)
        except StatsError as exc:
            head = f"waiting for statistics: {exc}"
            if self.current is None:
                return head, False
            return head + "\n\n" + render_frame(self.current, self.rates, self.sort), False
        if self.current is None or snapshot.elapsed_s != self.current.elapsed_s:
            self.rates = rates_between(self.current, snapshot)
        self.current = snapshot
        head = f"chain {snapshot.chain or '?'}"
        if snapshot.elapsed_s is not None:
            head += f", run time {snapshot.elapsed_s:.{1 if snapshot.elapsed_s >= 1 else 3}f} s"
        head += f", read {time.strftime('%H:%M:%S')}"
        return head + "\n\n" + render_frame(snapshot, self.rates, self.sort), True
