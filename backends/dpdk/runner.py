"""Run a built chain binary over pcap files with DPDK vdevs: no NIC, no hugepages.

This is what `chainc run` does after the build: bind every port to a net_pcap
vdev (input and output files from the command line, else the .chain file's
defaults), give the binary the lcores its plan runs on, and keep the EAL's
runtime files private to this run. An input received by a replicated stage is
split over one rx_pcap file per receive queue, as a NIC's RSS would spread it
(see rss.py).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from chainc.ir.graph import ChainGraph
from chainc.passes import Plan, pinned_plan
from chainc.pcapfile import PcapError, count_packets

from . import rss


class RunError(Exception):
    """The run cannot start; the message says why."""


@dataclass
class RunOptions:
    inputs: dict[str, str] = field(default_factory=dict)  # port -> pcap to receive
    outputs: dict[str, str] = field(default_factory=dict)  # port -> pcap to write
    infinite: bool = False  # replay inputs forever (benchmarks); needs --duration
    duration: float = 0.0
    max_packets: int = 0
    stats_json: str | None = None
    stats_interval: float = 0.0
    quiet: bool = False
    memory_mb: int | None = None  # the EAL's memory (default: enough for the inputs, see eal_memory_mb)
    first_core: int = 0
    cpus: tuple[int, ...] | None = None  # the CPUs to run on (default: first_core, first_core + 1, ...)
    devices: dict[str, str] = field(default_factory=dict)  # port -> DPDK device string (e.g. net_null0)
    eal_extra: list[str] = field(default_factory=list)
    clock: str = "auto"  # the NFs' time: "auto", "packet" (capture timestamps) or "tsc"


def _devarg_path(port: str, path: str) -> str:
    full = os.path.abspath(path)
    if any(c in full for c in ",=\n"):
        raise RunError(f"port {port}: the path {path!r} contains ',' or '=', which DPDK's "
                       "device arguments cannot carry; rename or link the file")
    return full


def pcap_files(graph: ChainGraph, opts: RunOptions) -> dict[str, tuple[str | None, str | None]]:
    """Each pcap-bound port's (input, output) file: from the command line, else the
    .chain file's binding (relative to the .chain file). Ports bound to a device
    on the command line, and ports with neither file, are left out."""
    ports = graph.ports()
    for name in list(opts.inputs) + list(opts.outputs) + list(opts.devices):
        if name not in ports:
            raise RunError(f"this chain has no port '{name}' (ports: {', '.join(ports) or 'none'})")
    base = os.path.dirname(os.path.abspath(graph.source_path)) if graph.source_path else "."
    files = {}
    for name in ports:
        if name in opts.devices:
            continue
        binding = graph.port_bindings.get(name)
        default_in = default_out = None
        if binding is not None and binding.driver == "pcap":
            default_in, default_out = binding.args.get("in"), binding.args.get("out")
        rx = opts.inputs.get(name) or (default_in and os.path.join(base, str(default_in)))
        tx = opts.outputs.get(name) or (default_out and os.path.join(base, str(default_out)))
        if rx or tx:
            files[name] = (rx or None, tx or None)
    return files


# An mbuf (2.5 KiB) may not cross a 4 KiB page without hugepages, so it takes a page.
MBUF_PAGE = 4096
# Everything but replayed frames: rings, the other mbufs of the pool, the NFs' tables.
BASE_MEMORY_MB = 512
# Mbufs of the pool besides the replayed frames: rx/tx descriptors, ring slots, caches.
OTHER_MBUFS = 20000


def replay_memory_mb(frames: int) -> int:
    """EAL memory for a run that keeps `frames` replayed frames in mbufs (infinite_rx
    holds a whole pcap), in a pool rounded up to 2^n - 1 as the binary sizes it."""
    if frames == 0:
        return BASE_MEMORY_MB
    pool = 1
    while pool < frames + OTHER_MBUFS:
        pool *= 2
    return BASE_MEMORY_MB + pool * MBUF_PAGE // 2**20


def eal_memory_mb(graph: ChainGraph, opts: RunOptions) -> int:
    """The EAL memory of a run: `opts.memory_mb` when given, else enough for the
    frames an infinite replay keeps in memory."""
    if opts.memory_mb is not None:
        return opts.memory_mb
    if not opts.infinite:
        return BASE_MEMORY_MB
    frames = 0
    for rx, _ in pcap_files(graph, opts).values():
        if rx is not None:
            try:
                st = os.stat(rx)
                frames += _frames_in(os.path.abspath(rx), st.st_size, st.st_mtime_ns)
            except (OSError, PcapError):
                pass  # the binary reports an unreadable input itself, naming the file
    return replay_memory_mb(frames)


@functools.lru_cache(maxsize=64)
def _frames_in(path: str, size: int, mtime_ns: int) -> int:
    """The frames of a pcap file, counted once per version of the file: benchmarks
    replay one file run after run."""
    return count_packets(path)


def port_overrides(graph: ChainGraph, opts: RunOptions, plan: Plan | None = None,
                   split_dir: str | None = None) -> list[str]:
    """`--port NAME=DEVICE` arguments binding pcap files given on the command line (and
    devices given as such); an input a replicated stage receives is split per queue
    into `split_dir`."""
    files = pcap_files(graph, opts)
    args = []
    for name in graph.ports():
        if name in opts.devices:
            args += ["--port", f"{name}={opts.devices[name]}"]
            continue
        if name not in files:
            continue  # not a pcap port: the binary's own default binding applies
        rx, tx = files[name]
        if tx:
            os.makedirs(os.path.dirname(os.path.abspath(tx)), exist_ok=True)
        parts = [f"net_pcap_{name}"]
        if rx:
            spread = plan.rss.get(name) if plan is not None else None
            if spread is not None and split_dir is not None:
                for path in rss.split_pcap(rx, spread.key, spread.queues, split_dir):
                    parts.append(f"rx_pcap={_devarg_path(name, path)}")
            else:
                parts.append(f"rx_pcap={_devarg_path(name, rx)}")
            if opts.infinite:
                parts.append("infinite_rx=1")
        if tx:
            parts.append(f"tx_pcap={_devarg_path(name, tx)}")
        args += ["--port", f"{name}={','.join(parts)}"]
    return args


def lcores(n_cores: int, opts: RunOptions) -> list[int]:
    """The CPUs the binary's logical cores run on."""
    if opts.cpus is not None:
        return list(opts.cpus[:n_cores])
    return list(range(opts.first_core, opts.first_core + n_cores))


def eal_args(cpus: list[int], opts: RunOptions, prefix: str, memory_mb: int) -> list[str]:
    return ["-l", ",".join(map(str, cpus)), "--no-huge", "-m", str(memory_mb), "--no-shconf",
            "--file-prefix", prefix, "--no-pci", "--no-telemetry", "--log-level=warning",
            *opts.eal_extra]


def app_args(graph: ChainGraph, opts: RunOptions, plan: Plan | None = None,
             split_dir: str | None = None) -> list[str]:
    base = os.path.dirname(os.path.abspath(graph.source_path)) if graph.source_path else "."
    args = ["--chain-dir", base, *port_overrides(graph, opts, plan, split_dir)]
    if opts.duration:
        args += ["--duration", str(opts.duration)]
    if opts.max_packets:
        args += ["--max-packets", str(opts.max_packets)]
    if opts.stats_json:
        args += ["--stats-json", opts.stats_json]
    if opts.stats_interval:
        args += ["--stats-interval", str(opts.stats_interval)]
    if opts.quiet:
        args.append("--quiet")
    if opts.clock != "auto":
        args += ["--clock", opts.clock]
    return args


def command(binary: Path, graph: ChainGraph, opts: RunOptions, prefix: str,
            plan: Plan | None = None, split_dir: str | None = None) -> list[str]:
    """The command line of a run of `binary`, built from `plan` (by default the plan
    of the chain as written)."""
    plan = plan or pinned_plan(graph)
    cpus = lcores(plan.n_cores, opts)
    if len(cpus) < plan.n_cores or max(cpus) >= (os.cpu_count() or 1):
        raise RunError(f"this chain's plan runs on {plan.n_cores} core(s), but this machine has "
                       f"{os.cpu_count()} core(s)")
    return [str(binary), *eal_args(cpus, opts, prefix, eal_memory_mb(graph, opts)), "--",
            *app_args(graph, opts, plan, split_dir)]


def runtime_dirs(prefix: str) -> list[Path]:
    """Where the EAL keeps a run's runtime files (root and non-root layouts)."""
    dirs = [Path("/var/run/dpdk") / prefix]
    if os.environ.get("XDG_RUNTIME_DIR"):
        dirs.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "dpdk" / prefix)
    dirs.append(Path("/tmp/dpdk") / prefix)
    return dirs


def run(binary: Path, graph: ChainGraph, opts: RunOptions, capture: bool = False,
        timeout: float | None = None, plan: Plan | None = None) -> subprocess.CompletedProcess:
    """Run the binary (built from `plan`, by default the chain as written) to
    completion; Ctrl-C is passed on and the run still reports.

    `timeout` (seconds) kills a run that does not finish (tests use it).
    """
    if opts.infinite and not opts.duration and not opts.max_packets:
        raise RunError("replaying inputs forever needs --duration or --max-packets")
    prefix = f"chainc-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    split_dir = tempfile.mkdtemp(prefix="chainc-rss-")
    # The child gets SIGINT from the terminal itself; ignoring it here lets the
    # child stop cleanly and print its statistics before we return.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        cmd = command(binary, graph, opts, prefix, plan, split_dir)
        return subprocess.run(cmd, capture_output=capture, text=True, timeout=timeout)
    finally:
        signal.signal(signal.SIGINT, previous)
        shutil.rmtree(split_dir, ignore_errors=True)
        for d in runtime_dirs(prefix):
            shutil.rmtree(d, ignore_errors=True)
