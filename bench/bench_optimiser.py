"""Benchmark the optimiser: scaling with replicas, predictions against measurements,
and the gain of each pass.

    python3 bench/bench_optimiser.py [--seconds 2] [--rounds 3] [--only scaling,predict,passes]
    python3 bench/bench_optimiser.py --calibrate     the framework costs of the cost model

Every run replays a capture forever (net_pcap infinite_rx) into net_null
for --seconds, and measures packets received per second. Cells compared
with each other run in alternating rounds, so a slow drift of the machine
hits them alike; medians are reported. One-core cells run on the last of
the cores: the first takes the machine's interrupts and housekeeping.

The capture is examples/traffic/sample.pcap repeated --copies times (8:
97,472 frames). A replicated plan replays one file per queue, split by the
plan's RSS key; replaying the 12,184 frames of the sample alone, each
replica's share stayed in the caches while one core's whole file did not,
and two replicas measured 3.5x one core. With the larger capture neither
fits, as on a real link.

scaling   examples/stateful_firewall.chain (ConnTrack: per-flow state, symmetric
          RSS) on 1 core and replicated on 2 cores, over the sample capture.
predict   every example chain that builds natively: the plan's predicted Mpps
          (from the NFs' hints, and from a profile measured on one core) next to
          the measured Mpps, on 1 core and on the default cores.
passes    the same chain with and without fusion, classification merging,
          parse-once and dead-NF elimination, on one core; where a pass changes
          nothing in an example, a small chain of bench/chains/ shows it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import harness  # noqa: E402
from chainc.backends.dpdk import build as dpdk_build  # noqa: E402
from chainc.backends.dpdk import runner  # noqa: E402
from chainc.backends.dpdk.codegen import CodegenError  # noqa: E402
from chainc.driver import load_chain  # noqa: E402
from chainc.ir.graph import NodeKind  # noqa: E402
from chainc.passes import Depth, PlanOptions, default_cores, optimise  # noqa: E402
from chainc.passes.profile import from_runs, run_mpps  # noqa: E402
from chainc.pcapfile import PcapPacket, read_pcap, write_pcap  # noqa: E402

EXAMPLES = HERE.parent / "examples"
SAMPLE = EXAMPLES / "traffic" / "sample.pcap"


@dataclass
class Replay:
    """The capture every cell replays."""
    path: Path = SAMPLE
    packets: int = 0


REPLAY = Replay()


def write_replay(tmp: Path, copies: int) -> Replay:
    """The sample capture `copies` times over, each copy after the previous one in time."""
    packets = read_pcap(SAMPLE)
    span = packets[-1].ts_ns - packets[0].ts_ns + 1000
    path = tmp / "replay.pcap"
    n = write_pcap(path, [PcapPacket(p.ts_ns + k * span, p.data) for k in range(copies) for p in packets])
    return Replay(path, n)


PASS_CHAINS = {"merge-classifiers": HERE / "chains" / "nested.chain",
               "parse-once": HERE / "chains" / "l2.chain"}


@dataclass
class Cell:
    name: str
    graph: object
    plan: object
    binary: Path
    inputs: dict[str, str]


def make_cell(name: str, path: Path, cores: tuple[int, ...], disabled: frozenset[str] = frozenset(),
              profile=None) -> Cell:
    graph = load_chain(str(path)).graph
    plan = optimise(graph, PlanOptions(cores, profile, disabled))
    binary = dpdk_build.build(graph, plan=plan).binary
    receiving = [n.port for n in graph.nodes(NodeKind.PORT_IN)]
    return Cell(name, graph, plan, binary, {p: str(REPLAY.path) for p in receiving})


def run_cell(cell: Cell, seconds: float, tmp: Path) -> tuple[float, dict]:
    stats_path = tmp / "stats.json"
    devices = {p: f"net_null_{p}" for p in cell.graph.ports() if p not in cell.inputs}
    opts = runner.RunOptions(inputs=cell.inputs, devices=devices, infinite=True, duration=seconds,
                             stats_json=str(stats_path), quiet=True, cpus=cell.plan.used_cpus)
    proc = runner.run(cell.binary, cell.graph, opts, capture=True, plan=cell.plan)
    if proc.returncode != 0:
        raise RuntimeError(f"{cell.name}: run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    stats = json.loads(stats_path.read_text())
    return run_mpps(stats), stats


def alternate_runs(cells: list[Cell], rounds: int, seconds: float, tmp: Path) -> dict[str, list[dict]]:
    """Each round runs every cell once; each cell's runs' statistics. Every binary
    runs once unmeasured first: the first run of a fresh binary was 7-21% slower
    than the later ones (page cache, first faults) in 3 of 3 cases."""
    out: dict[str, list[dict]] = {c.name: [] for c in cells}
    for binary in {c.binary: c for c in cells}.values():
        run_cell(binary, seconds, tmp)
    for _ in range(rounds):
        for c in cells:
            out[c.name].append(run_cell(c, seconds, tmp)[1])
    return out


def rates(runs: dict[str, list[dict]]) -> dict[str, list[float]]:
    """Each cell's Mpps, run by run."""
    return {name: [run_mpps(s) for s in cell_runs] for name, cell_runs in runs.items()}


def alternate(cells: list[Cell], rounds: int, seconds: float, tmp: Path) -> dict[str, list[float]]:
    """Each cell's Mpps in `rounds` alternating runs."""
    return rates(alternate_runs(cells, rounds, seconds, tmp))


def native_examples() -> list[Path]:
    found = []
    for path in sorted(EXAMPLES.glob("*.chain")):
        graph = load_chain(str(path)).graph
        if all(n.spec is not None and n.spec.native is not None for n in graph.nodes(NodeKind.NF)):
            found.append(path)
    return found


def scaling(args, tmp: Path) -> None:
    chain = EXAMPLES / "stateful_firewall.chain"
    cells = [make_cell("1 core", chain, (args.cores[-1],)), make_cell("2 cores", chain, args.cores[:2])]
    mpps = alternate(cells, args.rounds, args.seconds, tmp)
    one, two = statistics.median(mpps["1 core"]), statistics.median(mpps["2 cores"])
    print(f"\nscaling: {chain.name} (ConnTrack, per-flow state), "
          f"plan on 2 cores: {[st.cores for st in cells[1].plan.stages]}")
    harness.print_table(["plan", "Mpps", "runs", "x/1 core"],
                        [["1 core", one, " ".join(f"{v:.2f}" for v in mpps["1 core"]), 1.0],
                         ["2 cores replicated", two, " ".join(f"{v:.2f}" for v in mpps["2 cores"]),
                          two / one if one else 0.0]],
                        f"(medians of {args.rounds} alternating runs of {args.seconds:g} s; target 1.8x)")


def predict(args, tmp: Path) -> None:
    rows = []
    for path in native_examples():
        if args.chains and path.stem not in args.chains:
            continue
        try:
            one = make_cell("one", path, (args.cores[-1],))
            many = make_cell("many", path, args.cores)
        except CodegenError as exc:
            print(f"  {path.name}: skipped: {exc}", file=sys.stderr)
            continue
        # Single runs spread by 15-30% here, within a run too, so the profile is
        # measured like `chainc profile --runs`: the median of several one-core
        # runs, taken in the same rounds as the measured cells so that the
        # machine's drift hits both alike.
        profiling = Cell("profile", one.graph, one.plan, one.binary, one.inputs)
        runs = alternate_runs([profiling, one, many], args.rounds, args.seconds, tmp)
        profile = from_runs(runs["profile"])
        mpps = rates(runs)
        for cell in (one, many):
            profiled = optimise(cell.graph, PlanOptions(cell.plan.used_cpus, profile))
            measured = statistics.median(mpps[cell.name])
            rows.append([path.stem, len(cell.plan.used_cpus), len(cell.plan.stages),
                         cell.plan.predicted_mpps, profiled.predicted_mpps, measured,
                         cell.plan.predicted_mpps / measured, profiled.predicted_mpps / measured])
    print("\npredict: the plan's prediction next to the measurement")
    harness.print_table(["chain", "cores", "stages", "hints Mpps", "profile Mpps", "measured Mpps",
                         "hints/measured", "profile/measured"], rows,
                        f"(measured: medians of {args.rounds} alternating runs of {args.seconds:g} s; "
                        f"the profile: the median of {args.rounds} more one-core runs in the same rounds)")


def passes(args, tmp: Path) -> None:
    rows = []
    core = (args.cores[-1],)
    checks = [(p, "fuse-stages") for p in native_examples()]
    checks += [(p, "eliminate-dead-nfs") for p in native_examples()]
    checks += [(p, "parse-once") for p in native_examples()] + [(PASS_CHAINS["parse-once"], "parse-once")]
    checks += [(p, "merge-classifiers") for p in native_examples()]
    checks += [(PASS_CHAINS["merge-classifiers"], "merge-classifiers")]
    for path, name in checks:
        if args.chains and path.stem not in args.chains:
            continue
        graph = load_chain(str(path)).graph
        with_it = optimise(graph, PlanOptions(core))
        without = optimise(graph, PlanOptions(core, disabled=frozenset({name})))
        if _same(with_it, without):
            continue  # the pass changes nothing in this chain
        try:
            cells = [make_cell("with", path, core), make_cell("without", path, core, frozenset({name}))]
        except CodegenError as exc:
            print(f"  {path.name}: skipped: {exc}", file=sys.stderr)
            continue
        mpps = alternate(cells, args.rounds, args.seconds, tmp)
        w, wo = statistics.median(mpps["with"]), statistics.median(mpps["without"])
        rows.append([name, path.stem, w, wo, w / wo if wo else 0.0,
                     " ".join(f"{v:.2f}" for v in mpps["with"]), " ".join(f"{v:.2f}" for v in mpps["without"])])
    print("\npasses: one core, each pass on and off (only chains it changes)")
    harness.print_table(["pass", "chain", "with Mpps", "without Mpps", "with/without", "runs with",
                         "runs without"], rows,
                        f"(medians of {args.rounds} alternating runs of {args.seconds:g} s)")


def _same(a, b) -> bool:
    """Plans that compile to the same code (a port without a parse depth parses everything)."""
    def depths(p):
        return {port: p.parse_depth.get(port, Depth.L4) for port in p.graph.ports()}

    return ([s.nodes for s in a.stages] == [s.nodes for s in b.stages]
            and depths(a) == depths(b) and len(a.rings) == len(b.rings)
            and sorted(a.graph.g.nodes) == sorted(b.graph.g.nodes))


def calibrate(args, tmp: Path) -> None:
    """Cycles per packet of minimal chains: what the framework costs are fitted to."""
    chains = {
        "forward (rx -> tx)": harness.FORWARD_CHAIN,
        "Counter (no parse)": HERE / "chains" / "counter.chain",
        "Counter, MacSwap (L2)": PASS_CHAINS["parse-once"],
    }
    cells = [make_cell(name, path, (args.cores[-1],)) for name, path in chains.items()]
    mpps = alternate(cells, args.rounds, args.seconds, tmp)
    rows = []
    for c in cells:
        stats = run_cell(c, args.seconds, tmp)[1]
        hz = stats["tsc_hz"]
        m = statistics.median(mpps[c.name])
        nf = sum(n["cycles"] / n["cycle_samples"] * n["in"] for n in stats["nodes"]
                 if n.get("cycle_samples")) / max(1, sum(p["rx"] for p in stats["ports"]))
        rows.append([c.name, m, hz / (m * 1e6), nf, c.plan.stages[0].cycles])
    harness.print_table(["chain", "Mpps", "cycles per pkt", "NF cycles per pkt", "model cycles per pkt"], rows,
                        "(cycles at the TSC rate; the model's framework constants are in "
                        "chainc/passes/cost.py)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0, help="length of one run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per cell")
    ap.add_argument("--only", default="scaling,predict,passes", help="comma-separated parts to run")
    ap.add_argument("--calibrate", action="store_true", help="measure the framework costs instead")
    ap.add_argument("--chains", default="", help="predict, passes: only these chains (comma-separated names)")
    ap.add_argument("--copies", type=int, default=8, help="the sample capture repeated this many times")
    args = ap.parse_args(argv)
    args.cores = default_cores()
    args.chains = [c for c in args.chains.split(",") if c]
    if len(args.cores) < 2:
        print("this benchmark needs two cores", file=sys.stderr)
        return 1
    global REPLAY
    with tempfile.TemporaryDirectory(prefix="chainc-bench-opt-") as d:
        tmp = Path(d)
        REPLAY = write_replay(tmp, args.copies)
        print(f"replaying {REPLAY.packets:,} frames ({args.copies} x {SAMPLE.name})", file=sys.stderr)
        if args.calibrate:
            calibrate(args, tmp)
            return 0
        parts = {"scaling": scaling, "predict": predict, "passes": passes}
        for name in args.only.split(","):
            parts[name.strip()](args, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
