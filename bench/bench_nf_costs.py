"""Benchmark: what each simple NF costs per packet, next to its spec's cost hint.

    python3 bench/bench_nf_costs.py [--seconds 2] [--rounds 3] [--core 1] [--only Tee,Sampler]

One chain per NF configuration below, `rx -> NF -> tx` (every output to tx),
run in alternating rounds on one lcore (bench/harness.py) over 64-byte UDP
flows replayed forever from net_pcap into net_null, next to `forward` and
`counter` in the same run. For each it prints the median Mpps, the ratio to
forward and to counter, the NF's cycles per packet as the binary measures
them (the rdtsc pair around the call, its own cost subtracted) and the
`cycles` hint of its spec, the number the optimiser plans with. The NFs with
tables of their own (Firewall, Router, NAT, ConnTrack...) have their own
benchmarks, with realistic tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import harness, traffic  # noqa: E402
from chainc.nfs.registry import Registry  # noqa: E402

# name -> (NF type, the NF expression, its output ports)
CONFIGS = {
    "MacSwap": ("MacSwap", "MacSwap()", ["out"]),
    "VlanPush": ("VlanPush", "VlanPush(vid: 100)", ["out"]),
    "VlanPop": ("VlanPop", "VlanPop()", ["out"]),
    "Tee": ("Tee", "Tee()", ["out", "copy"]),
    "Tee-snap64": ("Tee", "Tee(snaplen: 64)", ["out", "copy"]),
    "Sampler-1in100": ("Sampler", "Sampler(every: 100)", ["out", "sample"]),
    "Sampler-p0.01": ("Sampler", "Sampler(probability: 0.01)", ["out", "sample"]),
    "RateLimiter-policer": ("RateLimiter", "RateLimiter(rate: 5Mpps, burst: 64)", ["out"]),
    "RateLimiter-trtcm": ("RateLimiter", "RateLimiter(rate: 2Gbps, mode: trtcm, peak_rate: 3Gbps)",
                          ["green", "yellow", "red"]),
    "RateLimiter-per-flow": ("RateLimiter", "RateLimiter(rate: 10kpps, burst: 64, per_flow: true)", ["out"]),
}


def chain_text(expr: str, outputs: list[str]) -> str:
    wiring = "".join(f"x.{o} -> tx\n" for o in outputs)
    return f"""\
# Benchmark: one NF (written by bench/bench_nf_costs.py).
port rx = pcap("in.pcap")
port tx = null()

nf x = {expr}
rx -> x
{wiring}"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0, help="length of one run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    ap.add_argument("--core", type=int, default=1, help="the lcore every chain runs on")
    ap.add_argument("--only", default="", help="comma-separated configuration names")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    configs = {k: v for k, v in CONFIGS.items() if not args.only or k in args.only.split(",")}
    registry = Registry.load()

    with tempfile.TemporaryDirectory(prefix="chainc-bench-nfs-") as d:
        tmp = Path(d)
        pcap = traffic.write_udp64(tmp / "udp64.pcap")
        chains = {"forward": harness.FORWARD_CHAIN,
                  "counter": harness.write_chain(tmp, "counter", harness.COUNTER_CHAIN)}
        for name, (_, expr, outputs) in configs.items():
            chains[name] = harness.write_chain(tmp, name.replace("-", "_").replace(".", "_"),
                                               chain_text(expr, outputs))
        built = harness.build_all(chains)
        runs = harness.alternate(built, pcap.path, args.rounds, args.seconds, args.core, tmp)

    fwd, cnt = runs["forward"].median, runs["counter"].median
    results = []
    for name, (nf_type, _, _) in configs.items():
        r = runs[name]
        results.append({"nf": name, "mpps": r.median, "ratio": r.median / fwd if fwd else 0.0,
                        "ratio_to_counter": r.median / cnt if cnt else 0.0, "cycles": r.cycles("x"),
                        "hint": registry.get(nf_type).cycles, "runs": r.mpps})
    harness.print_table(
        ["nf", "Mpps", "nf/forward", "nf/counter", "cyc/pkt", "spec hint"],
        [["forward", fwd, 1.0, None, None, None], ["counter", cnt, cnt / fwd if fwd else 0.0, 1.0,
                                                   runs["counter"].cycles("Counter#1"), None]]
        + [[r["nf"], r["mpps"], r["ratio"], r["ratio_to_counter"], r["cycles"], r["hint"]] for r in results],
        f"(64-byte UDP, medians of {args.rounds} alternating runs of {args.seconds:g} s on lcore {args.core})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
