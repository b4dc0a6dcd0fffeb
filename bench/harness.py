"""What the NF benchmarks share: build chains once, run them in alternating
rounds on one lcore over a pcap replayed forever (net_pcap infinite_rx) into
net_null, and summarise each as median Mpps and an NF's cycles per packet.

Every benchmark measures its chains next to `forward` (rx -> tx, bursts go
port to port) and `counter` (rx -> Counter() -> tx: headers parsed, one NF
call per packet, statistics), in the same run, so results are ratios that a
noisy machine does not distort.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from chainc.backends.dpdk import build as dpdk_build  # noqa: E402
from chainc.backends.dpdk import runner  # noqa: E402
from chainc.driver import load_chain  # noqa: E402
from chainc.passes.profile import run_mpps  # noqa: E402
from chainc.stats import cycles_per_packet  # noqa: E402

FORWARD_CHAIN = HERE / "chains" / "forward.chain"

COUNTER_CHAIN = """\
# Benchmark: one trivial NF.
port rx = pcap("in.pcap")
port tx = null()

rx -> Counter() -> tx
"""


@dataclass
class Built:
    binary: Path
    graph: object


@dataclass
class Runs:
    """One chain's runs over one traffic file."""

    mpps: list[float] = field(default_factory=list)
    stats: list[dict] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.mpps) if self.mpps else 0.0

    def cycles(self, node_id: str) -> float | None:
        """The median cycles per packet the binary measured for one NF."""
        values = [cycles_per_packet(n) for s in self.stats for n in s["nodes"]
                  if n["id"] == node_id and n.get("cycle_samples")]
        return statistics.median(values) if values else None

    def node(self, node_id: str) -> dict:
        """The NF's statistics in the last run."""
        return next(n for n in self.stats[-1]["nodes"] if n["id"] == node_id)


def write_chain(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.chain"
    path.write_text(text)
    return path


def build_all(chains: dict[str, Path]) -> dict[str, Built]:
    """Build every chain (cached by content), forward and counter first if given."""
    built = {}
    for name, path in chains.items():
        graph = load_chain(str(path)).graph
        built[name] = Built(dpdk_build.build(graph).binary, graph)
    return built


def _replay(built: Built, pcap: Path, core: int, tmp: Path, **limit) -> dict:
    """Replay a pcap from memory until `limit` (duration= or max_packets=); the statistics.
    The runner gives the EAL the memory that keeping the whole pcap in mbufs takes."""
    stats_path = tmp / "stats.json"
    opts = runner.RunOptions(inputs={"rx": str(pcap)}, infinite=True, stats_json=str(stats_path),
                             quiet=True, first_core=core, **limit)
    proc = runner.run(built.binary, built.graph, opts, capture=True)
    if proc.returncode != 0:
        raise RuntimeError(f"chainc run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(stats_path.read_text())


def run_once(built: Built, pcap: Path, seconds: float, core: int, tmp: Path) -> tuple[float, dict]:
    """One run of `seconds`: Mpps received and the binary's statistics."""
    stats = _replay(built, pcap, core, tmp, duration=seconds)
    return run_mpps(stats), stats


def one_pass(built: Built, pcap: Path, packets: int, core: int, tmp: Path) -> dict:
    """The binary's statistics after exactly one pass over a pcap of `packets` frames
    (replayed from memory like the timed runs, so rx costs the same)."""
    return _replay(built, pcap, core, tmp, max_packets=packets)


def peak_rss_kib(built: Built, pcap: Path, packets: int, core: int) -> int:
    """The peak resident memory (KiB) of one pass over a pcap of `packets` frames,
    run as a child of its own.

    DPDK hands out never-touched memory without clearing it, so only the pages
    an NF's tables really use count: compare two table sizes over one file."""
    opts = runner.RunOptions(inputs={"rx": str(pcap)}, infinite=True, max_packets=packets, quiet=True,
                             first_core=core)
    prefix = f"chainc-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(runner.command(built.binary, built.graph, opts, prefix),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    for d in runner.runtime_dirs(prefix):
        shutil.rmtree(d, ignore_errors=True)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"run failed ({os.waitstatus_to_exitcode(status)}):\n{err[-2000:]}")
    return usage.ru_maxrss


def alternate(built: dict[str, Built], pcap: Path, rounds: int, seconds: float, core: int,
              tmp: Path) -> dict[str, Runs]:
    """Each round runs every chain once, so slow drifts of the machine hit all alike."""
    runs = {name: Runs() for name in built}
    for _ in range(rounds):
        for name, b in built.items():
            mpps, stats = run_once(b, pcap, seconds, core, tmp)
            runs[name].mpps.append(mpps)
            runs[name].stats.append(stats)
    return runs


def print_table(header: list[str], rows: list[list], note: str) -> None:
    """Right-aligned columns; floats with 2 decimals, ratios (column names with '/') with 3."""
    cells = []
    for row in rows:
        line = []
        for h, v in zip(header, row):
            if isinstance(v, float):
                v = f"{v:.3f}" if "/" in h else f"{v:.2f}" if v < 1000 else f"{v:.0f}"
            line.append("-" if v is None else str(v))
        cells.append(line)
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
    for line in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))))
    print(note)
