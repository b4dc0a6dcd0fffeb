"""Profiles: what a chain measured on real traffic, for the cost model.

`chainc profile FILE --in PORT=PCAP` runs the chain on one core over the
capture, replayed for a few seconds into null devices, several times, and
writes this JSON of the run with the median rate (`build` and `plan` read it
with `--profile`):

    {"chainc_profile": 1, "chain": str, "tsc_hz": float,
     "packets": int, "seconds": float, "mpps": float,
     "overhead_cycles": float,        # per input packet, beyond the NFs' own cycles
     "runs_mpps": [float, ...],       # the rate of every run, the median one's included
     "rx": {port: packets},
     "nodes": {id: {"type": str, "in": int, "out": {port: int}, "cycles": float | null}}}

One run is not enough on a shared machine: back-to-back runs of one binary
spread by 15-30% there, so a single run may cost every NF a quarter too low.

Node ids are those of the optimised graph (`chainc plan` lists them); an NF
the profile does not name is costed from its spec's hint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainc.stats import cycles_per_packet

FORMAT = 1


class ProfileError(Exception):
    """A profile file that cannot be read; the message names the file."""


@dataclass(frozen=True)
class NodeProfile:
    packets_in: int
    out: dict[str, int]
    cycles: float | None


@dataclass
class Profile:
    chain: str
    tsc_hz: float
    packets: int
    seconds: float
    overhead_cycles: float
    rx: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, NodeProfile] = field(default_factory=dict)
    runs_mpps: list[float] = field(default_factory=list)
    path: str = ""

    @property
    def mpps(self) -> float:
        return self.packets / self.seconds / 1e6 if self.seconds else 0.0

    def node(self, node_id: str) -> NodeProfile | None:
        return self.nodes.get(node_id)

    def rx_shares(self) -> dict[str, float]:
        total = sum(self.rx.values())
        return {port: n / total for port, n in self.rx.items()} if total else {}

    def to_json(self) -> dict[str, Any]:
        return {
            "chainc_profile": FORMAT, "chain": self.chain, "tsc_hz": self.tsc_hz,
            "packets": self.packets, "seconds": round(self.seconds, 6), "mpps": round(self.mpps, 4),
            "overhead_cycles": round(self.overhead_cycles, 2),
            "runs_mpps": [round(r, 4) for r in self.runs_mpps], "rx": self.rx,
            "nodes": {k: {"in": v.packets_in, "out": v.out,
                          "cycles": None if v.cycles is None else round(v.cycles, 2)}
                      for k, v in self.nodes.items()},
        }

    def save(self, path: str) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n")


def from_stats(stats: dict[str, Any]) -> Profile:
    """A profile from the statistics of a saturated one-core run (the binary's JSON)."""
    from .cost import machine_hz

    tsc_hz = float(stats.get("tsc_hz") or machine_hz())
    packets = sum(p["rx"] for p in stats["ports"])
    seconds = stats["elapsed_s"]
    nodes: dict[str, NodeProfile] = {}
    nf_cycles = 0.0
    for n in stats["nodes"]:
        if n["type"] in ("port-in", "port-out", "drop"):
            continue
        cycles = cycles_per_packet(n) if n.get("cycle_samples") else None
        nodes[n["id"]] = NodeProfile(n["in"], dict(n["out"]), cycles)
        if cycles is not None and packets:
            nf_cycles += cycles * n["in"] / packets
    total = tsc_hz * seconds / packets if packets else 0.0
    return Profile(stats["chain"], tsc_hz, packets, seconds, max(0.0, total - nf_cycles),
                   {p["name"]: p["rx"] for p in stats["ports"] if p["rx"]}, nodes)


def run_mpps(stats: dict[str, Any]) -> float:
    """A run's received packets per second, in millions."""
    return sum(p["rx"] for p in stats["ports"]) / stats["elapsed_s"] / 1e6 if stats["elapsed_s"] else 0.0


def from_runs(runs: list[dict[str, Any]]) -> Profile:
    """The profile of the run with the median rate among `runs` (the statistics of
    saturated one-core runs), with every run's rate recorded. The median of an
    even number of runs is the slower of the middle two."""
    if not runs:
        raise ValueError("a profile needs at least one run")
    ranked = sorted(runs, key=run_mpps)
    profile = from_stats(ranked[(len(ranked) - 1) // 2])
    profile.runs_mpps = [run_mpps(r) for r in runs]
    return profile


def load(path: str) -> Profile:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ProfileError(f"{path}: not a chainc profile (bad JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("chainc_profile") != FORMAT:
        raise ProfileError(f"{path}: not a chainc profile (written by `chainc profile`)")
    try:
        nodes = {str(k): NodeProfile(int(v["in"]), {str(p): int(c) for p, c in v["out"].items()},
                                     None if v.get("cycles") is None else float(v["cycles"]))
                 for k, v in data["nodes"].items()}
        return Profile(str(data["chain"]), float(data["tsc_hz"]), int(data["packets"]),
                       float(data["seconds"]), float(data["overhead_cycles"]),
                       {str(k): int(v) for k, v in data.get("rx", {}).items()}, nodes,
                       [float(r) for r in data.get("runs_mpps", [])], path)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProfileError(f"{path}: a profile field is missing or malformed ({exc})") from None
