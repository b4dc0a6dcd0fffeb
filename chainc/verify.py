"""`chainc verify`: run a chain natively and in the simulator over the same pcaps, and compare.

Theory of operation. Both engines take packets from the input ports in one
schedule (ports round-robin in declaration order, bursts of 32, each packet
run to completion), so the packets leaving each port must be the same bytes
in the same order, and every NF's counters the same. When they are not, the
culprit is the first input packet of that schedule after which the two
differ. The binary's `--max-packets N` receives exactly the first N packets
of the schedule when one core receives, so a binary search over N (about
log2(total) short runs) finds it; a crash or a sanitizer report is a
difference too, so the same search isolates the packet that causes it. That
packet is then run alone through both engines to show the path each gave it
(from the per-NF counters of a one-packet run). If alone it behaves the same
in both, the difference needs state that earlier packets built, and the
reproducer is the whole prefix.

On a chain placed on several cores, packets that reach one port along paths
through different cores may interleave differently: each port's packets are
then compared as a multiset.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainc.ir.graph import ChainGraph, NodeKind
from chainc.pcapfile import PcapPacket, read_pcap, write_pcap
from chainc.sim import BURST, simulate

if TYPE_CHECKING:
    from chainc.nfs.registry import Registry

Frames = dict[str, list[PcapPacket]]


class VerifyError(Exception):
    """Verification cannot run (missing inputs, a binary that does not start)."""


@dataclass
class Outcome:
    """One engine's run: packets per output port, comparable counters, failure if any."""

    outputs: dict[str, list[bytes]]
    counters: dict[str, Any]
    failure: str | None = None  # the native binary's exit status and first report line


@dataclass
class Difference:
    inputs_used: int  # the difference shows after this many input packets of the schedule
    culprit: tuple[str, int]  # (input port, index in its pcap)
    frame: bytes
    port: str | None  # the output port where packets differ (None: only counters differ)
    index: int
    native_frame: bytes | None
    sim_frame: bytes | None
    native_failure: str | None
    counter_diff: list[str]
    native_path: str
    sim_path: str
    repro: dict[str, Path] = field(default_factory=dict)
    alone: bool = True  # the culprit alone reproduces the difference


@dataclass
class Report:
    packets_in: dict[str, int]
    packets_out: dict[str, int]
    difference: Difference | None


def schedule(frames: Frames, ports: list[str]) -> list[tuple[str, int]]:
    """The order both engines take input packets in: round-robin bursts, ports in order."""
    order: list[tuple[str, int]] = []
    cursor = {p: 0 for p in ports}
    while any(cursor[p] < len(frames.get(p, ())) for p in ports):
        for p in ports:
            n = min(BURST, len(frames.get(p, ())) - cursor[p])
            order += [(p, cursor[p] + i) for i in range(n)]
            cursor[p] += n
    return order


def _comparable(stats: dict[str, Any]) -> dict[str, Any]:
    """Counters both engines keep, per NF: in, out per port, non-zero drops, own counters."""
    out = {}
    for node in stats["nodes"]:
        if node["type"] in ("port-in", "port-out", "drop"):
            continue
        drops = {k: v for k, v in node["drops"].items() if v}
        out[node["id"]] = {"in": node["in"], "out": dict(node["out"]), "drops": drops,
                           "counters": dict(node.get("counters") or {})}
    return out


def path_of(graph: ChainGraph, stats: dict[str, Any]) -> str:
    """The nodes a one-packet run visited, in order, with the output or drop reason taken."""
    by_id = {n["id"]: n for n in stats["nodes"]}
    hops = []
    for node in graph.topological_order():
        st = by_id.get(node.id)
        if st is None or not st.get("in"):
            continue
        took = [p for p, v in st.get("out", {}).items() if v]
        dropped = [r for r, v in st.get("drops", {}).items() if v]
        label = node.id
        if node.kind is NodeKind.NF and took and tuple(node.outputs) != ("out",):
            label += f" [{', '.join(took)}]"
        if dropped:
            label += f" (dropped: {', '.join(dropped)})"
        hops.append(label)
    return " -> ".join(hops) or "(nowhere)"


class Verifier:
    """Runs one chain's binary and its simulation over input frames and compares them."""

    def __init__(self, graph: ChainGraph, registry: "Registry", binary: Path | None, workdir: Path,
                 timeout: float = 120.0):
        """Raises VerifyError for a chain whose input is received on several cores (the
        binary may then be given later, so a chain is refused before it is built)."""
        from chainc.backends.dpdk.model import build_model

        self.graph, self.registry, self.binary = graph, registry, binary
        self.workdir, self.timeout = workdir, timeout
        self.in_ports = input_ports(graph)
        self.out_ports = sorted({n.port for n in graph.nodes(NodeKind.PORT_OUT)})
        model = build_model(graph)
        if sum(s.replicas for s in model.stages if s.rx_ports) > 1:
            raise VerifyError("verify needs every input port received on one core, but this "
                              "chain receives on several; drop the @core or @replicas hints "
                              "that spread its input")
        self.ordered = len(model.stages) == 1 and model.stages[0].replicas == 1
        self.runs = 0

    # -- the two engines -------------------------------------------------------------------

    def native(self, frames: Frames, max_packets: int = 0) -> Outcome:
        from chainc.backends.dpdk import runner
        from chainc.backends.dpdk.sanitize import first_report

        self.runs += 1
        run_dir = self.workdir / f"run{self.runs}"
        run_dir.mkdir(parents=True)
        inputs = {}
        for port in self.in_ports:
            inputs[port] = str(run_dir / f"in-{port}.pcap")
            write_pcap(inputs[port], frames.get(port, []))
        outputs = {p: str(run_dir / f"out-{p}.pcap") for p in self.out_ports}
        stats_path = run_dir / "stats.json"
        opts = runner.RunOptions(inputs=inputs, outputs=outputs, stats_json=str(stats_path),
                                 quiet=True, max_packets=max_packets)
        try:
            proc = runner.run(self.binary, self.graph, opts, capture=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return Outcome({}, {}, f"the binary did not finish within {self.timeout:g} s")
        except runner.RunError as exc:
            raise VerifyError(str(exc)) from None
        if proc.returncode == 1 and not stats_path.exists():
            raise VerifyError(f"the binary did not start:\n{proc.stderr.strip()}")
        if proc.returncode != 0 or not stats_path.exists():
            report = first_report(proc.stderr) or (proc.stderr.strip().splitlines() or [""])[-1]
            return Outcome({}, {}, f"the binary exited with status {proc.returncode}: {report}")
        stats = json.loads(stats_path.read_text())
        outs = {p: [pkt.data for pkt in read_pcap(f)] if os.path.exists(f) else []
                for p, f in outputs.items()}
        return Outcome(outs, {"stats": stats, "nodes": _comparable(stats)})

    def sim(self, frames: Frames) -> Outcome:
        result = simulate(self.graph, {p: [(pkt.ts_ns, pkt.data) for pkt in frames.get(p, [])]
                                       for p in self.in_ports}, self.registry)
        outs = {p: result.outputs.get(p, []) for p in self.out_ports}
        return Outcome(outs, {"stats": result.stats, "nodes": _comparable(result.stats)})

    # -- comparing ----------------------------------------------------------------------------

    def first_mismatch(self, native: Outcome, sim: Outcome) -> tuple[str, int, bytes | None, bytes | None] | None:
        for port in self.out_ports:
            got, want = native.outputs.get(port, []), sim.outputs.get(port, [])
            if not self.ordered:
                extra = collections.Counter(got)
                extra.subtract(want)
                if any(extra.values()):
                    missing = [f for f in want if extra[f] < 0]
                    surplus = [f for f in got if extra[f] > 0]
                    return (port, 0, surplus[0] if surplus else None, missing[0] if missing else None)
                continue
            for i in range(max(len(got), len(want))):
                g = got[i] if i < len(got) else None
                w = want[i] if i < len(want) else None
                if g != w:
                    return port, i, g, w
        return None

    def differs(self, native: Outcome, sim: Outcome) -> bool:
        return (native.failure is not None or self.first_mismatch(native, sim) is not None
                or native.counters["nodes"] != sim.counters["nodes"])

    # -- the search ---------------------------------------------------------------------------

    def verify(self, frames: Frames, repro_dir: Path, stem: str) -> Report:
        order = schedule(frames, self.in_ports)
        packets_in = {p: len(frames.get(p, [])) for p in self.in_ports}
        native, sim = self.native(frames), self.sim(frames)
        packets_out = {p: len(sim.outputs.get(p, [])) for p in self.out_ports}
        if not self.differs(native, sim):
            return Report(packets_in, packets_out, None)
        # Smallest prefix of the schedule that differs: prefix `hi` differs, `lo` does not.
        lo, hi = 0, len(order)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            prefix = _prefix(frames, order[:mid])
            if self.differs(self.native(prefix, max_packets=mid), self.sim(prefix)):
                hi = mid
            else:
                lo = mid
        prefix = _prefix(frames, order[:hi])
        native, sim = self.native(prefix, max_packets=hi), self.sim(prefix)
        port, index = order[hi - 1]
        culprit = frames[port][index]
        alone = {port: [culprit]}
        native1, sim1 = self.native(alone), self.sim(alone)
        reproduces = self.differs(native1, sim1)
        diff = _difference(self, hi, (port, index), culprit.data, native, sim, native1, sim1)
        diff.alone = reproduces
        diff.repro = _write_repro(repro_dir, stem, alone if reproduces else prefix)
        return Report(packets_in, packets_out, diff)


def _prefix(frames: Frames, order: list[tuple[str, int]]) -> Frames:
    out: Frames = {p: [] for p in frames}
    for port, i in order:
        out[port].append(frames[port][i])
    return out


def _counter_diff(native: Outcome, sim: Outcome) -> list[str]:
    if native.failure is not None:
        return []
    lines = []
    a, b = native.counters["nodes"], sim.counters["nodes"]
    for nid in sorted(set(a) | set(b)):
        if a.get(nid) != b.get(nid):
            lines.append(f"{nid}: native {json.dumps(a.get(nid))}, sim {json.dumps(b.get(nid))}")
    return lines


def _difference(v: Verifier, used: int, culprit: tuple[str, int], frame: bytes, native: Outcome,
                sim: Outcome, native1: Outcome, sim1: Outcome) -> Difference:
    mismatch = v.first_mismatch(native, sim) if native.failure is None else None
    port, index, nf, sf = mismatch if mismatch else (None, 0, None, None)
    native_path = (native1.failure if native1.failure is not None
                   else path_of(v.graph, native1.counters["stats"]))
    return Difference(used, culprit, frame, port, index, nf, sf, native.failure,
                      _counter_diff(native, sim), native_path,
                      path_of(v.graph, sim1.counters["stats"]))


def _write_repro(repro_dir: Path, stem: str, frames: Frames) -> dict[str, Path]:
    repro_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for port, pkts in frames.items():
        if pkts:
            out[port] = repro_dir / f"{stem}-repro-{port}.pcap"
            write_pcap(str(out[port]), pkts)
    return out


def input_ports(graph: ChainGraph) -> list[str]:
    """Ports that receive packets, in declaration order (the schedule's order)."""
    receiving = {n.port for n in graph.nodes(NodeKind.PORT_IN)}
    return [p for p in graph.ports() if p in receiving]


def load_inputs(graph: ChainGraph, given: dict[str, str]) -> Frames:
    """Every input port's frames: from `given` (port -> pcap), else the port's default pcap."""
    from chainc.sim import default_files

    in_files, _ = default_files(graph)
    base = os.path.dirname(os.path.abspath(graph.source_path)) if graph.source_path else "."
    files = {p: os.path.join(base, f) for p, f in in_files.items()}
    files.update(given)
    ports = input_ports(graph)
    unknown = sorted(set(given) - set(ports))
    if unknown:
        raise VerifyError(f"this chain has no input port {', '.join(repr(u) for u in unknown)} "
                          f"(input ports: {', '.join(ports) or 'none'})")
    missing = [p for p in ports if p not in files]
    if missing:
        raise VerifyError(f"no packets for input port {', '.join(repr(m) for m in missing)}: "
                          f"give --in {missing[0]}=FILE")
    return {p: read_pcap(files[p]) for p in ports}
