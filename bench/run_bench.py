"""Benchmark: chainc's generated binaries against a hand-written C DPDK program.

One invocation builds everything, then runs the baseline and chainc in
alternating rounds on the same lcore, over the same net_pcap (infinite_rx) ->
net_null vdevs, and prints the median Mpps of each and their ratio:

    python3 bench/run_bench.py [--seconds 3] [--rounds 5] [--core 1]

Work compared:
  forward   baseline `fwd` (rx burst -> tx burst)  vs  bench/chains/forward.chain
  classify  baseline `classify` (3 classes, count, MAC swap)
            vs  bench/chains/classify.chain (Classifier(3 outputs) -> Counter -> MacSwap)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import harness, traffic  # noqa: E402
from bench.baseline.build import build_baseline, run_baseline  # noqa: E402

WORK = {"forward": ("fwd", harness.FORWARD_CHAIN),
        "classify": ("classify", HERE / "chains" / "classify.chain")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of one run")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds per cell")
    ap.add_argument("--core", type=int, default=1, help="the lcore both programs run on")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="chainc-bench-") as d:
        tmp = Path(d)
        pcaps = traffic.generate(tmp / "traffic")
        baseline = build_baseline(tmp / "baseline")
        built = harness.build_all({name: chain for name, (_, chain) in WORK.items()})

        results = []
        for tname, pcap in pcaps.items():
            for work, (mode, _) in WORK.items():
                base, ours = [], []
                for _ in range(args.rounds):
                    base.append(run_baseline(baseline, pcap.path, args.seconds, mode,
                                             lcore=args.core)["mpps"])
                    ours.append(harness.run_once(built[work], pcap.path, args.seconds, args.core, tmp)[0])
                b, c = statistics.median(base), statistics.median(ours)
                results.append({"traffic": tname, "work": work, "baseline_mpps": b,
                                "chainc_mpps": c, "ratio": c / b if b else 0.0,
                                "baseline_runs": base, "chainc_runs": ours})
                print(f"  {tname:6} {work:9} baseline {b:6.2f} Mpps  chainc {c:6.2f} Mpps  "
                      f"ratio {c / b if b else 0:.3f}", file=sys.stderr)

    print(f"{'traffic':8} {'work':9} {'baseline Mpps':>14} {'chainc Mpps':>12} {'ratio':>7}")
    for r in results:
        print(f"{r['traffic']:8} {r['work']:9} {r['baseline_mpps']:14.2f} {r['chainc_mpps']:12.2f} "
              f"{r['ratio']:7.3f}")
    print(f"(medians of {args.rounds} alternating runs of {args.seconds:g} s on lcore {args.core})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
