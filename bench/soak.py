"""Soak run: the largest native example at full rate for a long time; memory must stay flat.

    python3 bench/soak.py [--minutes 10] [--interval 10] [--chain examples/X.chain] [--csv FILE]

Builds the example chain with the most NFs among those whose NFs all have
native bodies (or --chain), replays its input pcap endlessly (net_pcap
infinite_rx) and every --interval seconds samples the binary's resident
memory (VmRSS) and the mempool's in-use mbuf count (from its --stats-json
interval reports), then prints the curve and the drift after warm-up:

    t_s   rss_mib  mbufs_in_use  rx_mpps
     10     312.4            96     1.21
    ...
    rss drift after 60 s: +0.0 MiB; mbufs in use: 96..128 (of 16383); exit 0, in use at exit 0

Flat means: RSS grows by less than 1 MiB after the first minute, the
in-use count stays bounded by what the rings, queues and caches hold, and
at exit every mbuf is back. Not part of the test suite (it takes minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"


def largest_native_example() -> Path:
    from chainc.driver import load_chain
    from chainc.ir.graph import NodeKind

    best, size = None, -1
    for path in sorted(EXAMPLES.glob("*.chain")):
        nfs = load_chain(str(path)).graph.nodes(NodeKind.NF)
        if all(n.spec is not None and n.spec.native is not None for n in nfs) and len(nfs) > size:
            best, size = path, len(nfs)
    if best is None:
        sys.exit("no example chain runs natively")
    return best


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the run (default 10)")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between samples (default 10)")
    ap.add_argument("--chain", type=Path, help="the chain to soak (default: the largest native example)")
    ap.add_argument("--csv", type=Path, help="also write the samples as CSV")
    args = ap.parse_args(argv)

    from chainc.backends.dpdk import build as dpdk_build
    from chainc.backends.dpdk import runner
    from chainc.driver import load_chain
    from chainc.sim import default_files

    chain = args.chain or largest_native_example()
    graph = load_chain(str(chain)).graph
    binary = dpdk_build.build(graph).binary
    in_files, out_files = default_files(graph)
    base = chain.resolve().parent
    seconds = args.minutes * 60
    samples = []
    with tempfile.TemporaryDirectory(prefix="chainc-soak-") as d:
        stats_path = Path(d) / "stats.json"
        # Output pcaps would fill the disk at full rate: they go to /dev/null.
        opts = runner.RunOptions(
            inputs={p: str(base / f) for p, f in in_files.items()},
            outputs={p: os.devnull for p in out_files},
            infinite=True, duration=seconds, stats_json=str(stats_path),
            stats_interval=args.interval, quiet=True)
        prefix = f"chainc-soak-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        cmd = runner.command(binary, graph, opts, prefix)
        print(f"soaking {chain.name} ({binary}) for {args.minutes:g} min, "
              f"a sample every {args.interval:g} s", flush=True)
        print(f"{'t_s':>5}  {'rss_mib':>8}  {'mbufs_in_use':>12}  {'rx_mpps':>8}", flush=True)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        t0, last_rx, last_t = time.monotonic(), 0, 0.0
        try:
            while proc.poll() is None:
                # Half an interval after each of the binary's reports, so each sample reads a fresh one.
                time.sleep(args.interval - (time.monotonic() - t0 - args.interval / 2) % args.interval)
                if proc.poll() is not None:
                    break
                if not stats_path.exists():
                    continue  # the binary's first report is not out yet
                t = time.monotonic() - t0
                rss = rss_mib(proc.pid)
                report = json.loads(stats_path.read_text())
                in_use = (report.get("mempool") or {}).get("in_use")
                rx = sum(p["rx"] for p in report.get("ports", []))
                mpps = (rx - last_rx) / (t - last_t) / 1e6 if t > last_t else 0.0
                last_rx, last_t = rx, t
                samples.append((round(t), rss, in_use, mpps))
                shown = "-" if in_use is None else str(in_use)
                print(f"{round(t):5d}  {rss:8.1f}  {shown:>12}  {mpps:8.2f}", flush=True)
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for rd in runner.runtime_dirs(prefix):
                shutil.rmtree(rd, ignore_errors=True)
        final = json.loads(stats_path.read_text()) if stats_path.exists() else {}

    if args.csv:
        args.csv.write_text("t_s,rss_mib,mbufs_in_use,rx_mpps\n" + "".join(
            f"{t},{r:.1f},{'' if u is None else u},{m:.3f}\n" for t, r, u, m in samples))
    warm = [s for s in samples if s[0] >= 60] or samples
    drift = warm[-1][1] - warm[0][1] if warm else 0.0
    uses = [s[2] for s in samples if s[2] is not None]
    pool = final.get("mempool") or {}
    print(f"rss drift after {warm[0][0] if warm else 0} s: {drift:+.1f} MiB; "
          + (f"mbufs in use: {min(uses)}..{max(uses)} (of {pool.get('size', '?')}); " if uses else "")
          + f"exit {proc.returncode}, in use at exit {pool.get('in_use', '?')}")
    if proc.returncode != 0:
        print(stderr, file=sys.stderr)
    return 0 if proc.returncode == 0 and drift < 1.0 and pool.get("in_use") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
