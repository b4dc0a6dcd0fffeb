"""The one loader of the statistics JSON that the binary (`--stats-json`) and `chainc sim` write.

The shape is documented in chainc.stats. A file that is not that shape is a
StatsError naming the file and what is wrong, never a traceback. `elapsed_s`
is absent from `chainc sim`'s statistics: then there are counts but no rates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class StatsError(Exception):
    """A statistics file that cannot be read or is not the statistics JSON."""


@dataclass(frozen=True)
class NodeStats:
    id: str
    type: str
    core: int | None
    packets_in: int
    out: dict[str, int]
    drops: dict[str, int]  # reason -> packets
    cycles: int = 0
    cycle_samples: int = 0
    counters: dict[str, int] = field(default_factory=dict)  # the NF's own (Counter: packets, bytes)
    emitted: int = 0  # packets the NF made itself (a Tee's copies), counted in `out` too

    @property
    def dropped(self) -> int:
        return sum(self.drops.values())

    @property
    def cycles_per_packet(self) -> float | None:
        return self.cycles / self.cycle_samples if self.cycle_samples else None


@dataclass(frozen=True)
class Snapshot:
    chain: str
    elapsed_s: float | None
    nodes: dict[str, NodeStats]  # in the file's order
    ports: tuple[dict[str, Any], ...] = ()

    def edge_count(self, src: str, out_port: str) -> int | None:
        """Packets that left `src` on `out_port`, or None if the file does not say."""
        node = self.nodes.get(src)
        return None if node is None else node.out.get(out_port)

    def rate(self, count: int) -> float | None:
        """The average rate of `count` packets over the run, when its length is known."""
        return count / self.elapsed_s if self.elapsed_s else None


def load_stats(path: str) -> Snapshot:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise StatsError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise StatsError(f"{path}: not a statistics file (not UTF-8 text)") from None
    return parse_stats(text, path)


def parse_stats(text: str, where: str) -> Snapshot:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StatsError(f"{where}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    return from_json(data, where)


def from_json(data: Any, where: str) -> Snapshot:
    """A Snapshot from decoded JSON; StatsError says which field is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise StatsError(f"{where}: not a statistics file (expected an object with a 'nodes' list, "
                         "as written by --stats-json)")
    nodes: dict[str, NodeStats] = {}
    for i, raw in enumerate(data["nodes"]):
        node = _node(raw, f"{where}: nodes[{i}]")
        nodes[node.id] = node
    elapsed = data.get("elapsed_s")
    if elapsed is not None and (not _number(elapsed) or elapsed < 0):
        raise StatsError(f"{where}: 'elapsed_s' must be a non-negative number")
    ports = data.get("ports", [])
    if not isinstance(ports, list) or not all(isinstance(p, dict) for p in ports):
        raise StatsError(f"{where}: 'ports' must be a list of objects")
    return Snapshot(str(data.get("chain", "")), elapsed, nodes, tuple(ports))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(raw: dict, key: str, where: str) -> int:
    value = raw.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise StatsError(f"{where}: '{key}' must be a count (a non-negative integer)")
    return value


def _counts(raw: dict, key: str, where: str) -> dict[str, int]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise StatsError(f"{where}: '{key}' must be an object of counts")
    return {str(k): _count(value, k, f"{where}.{key}") for k in value}


def _node(raw: Any, where: str) -> NodeStats:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise StatsError(f"{where}: expected an object with a string 'id'")
    where = f"{where} ({raw['id']})"
    core = raw.get("core")
    if core is not None and (not isinstance(core, int) or isinstance(core, bool)):
        raise StatsError(f"{where}: 'core' must be an integer")
    return NodeStats(
        id=raw["id"], type=str(raw.get("type", "")), core=core,
        packets_in=_count(raw, "in", where), out=_counts(raw, "out", where),
        drops=_counts(raw, "drops", where), cycles=_count(raw, "cycles", where),
        cycle_samples=_count(raw, "cycle_samples", where),
        counters=_counts(raw, "counters", where), emitted=_count(raw, "emitted", where))


def check_chain(snapshot: Snapshot, chain: str, where: str) -> None:
    """Statistics of another chain would be drawn on the wrong edges: refuse them."""
    if snapshot.chain and snapshot.chain != chain:
        raise StatsError(f"{where}: these are statistics of chain '{snapshot.chain}', "
                         f"not of '{chain}'")
