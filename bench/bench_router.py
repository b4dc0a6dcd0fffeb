"""Benchmark: the Router with a large random route table, against the empty chain.

    python3 bench/bench_router.py [--routes 100000] [--routes6 2000] [--seconds 3] [--rounds 3] [--core 1]

Builds three chains and runs them in alternating rounds on the same lcore,
each over the benchmark traffic (bench/traffic.py) replayed forever from a
net_pcap vdev into net_null:

  forward  bench/chains/forward.chain   rx -> tx (bursts go port to port:
           no header parsing, no per-packet work at all)
  counter  rx -> Counter() -> tx: the cost of any one-NF chain (headers
           parsed once, one NF call, per-packet dispatch and tx buffering)
  router   rx -> Router(routes: R) -> tx, R holding --routes random IPv4
           routes (a tenth of them inside 198.18.0.0/16, the traffic's
           destinations, at depths 17..32 so lookups reach rte_lpm's second
           level), --routes6 random IPv6 routes, a default route, next-hop
           MACs on every route and a MAC per port: every packet is looked
           up, has its TTL decremented and checksum updated, and both MACs
           rewritten.

It prints the median Mpps of each, the router's ratio to forward and to
counter (what the Router itself costs), and the Router's cycles per packet
as the binary measures them, per traffic file.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import harness, traffic  # noqa: E402

PORTS = ("p0", "p1", "p2", "p3")

ROUTER_CHAIN = """\
# Benchmark: a Router with a large random table (written by bench/bench_router.py).
port rx = pcap("in.pcap")
port tx = null()

nf r = Router(routes: "routes.txt")
rx -> r
""" + "".join(f"r.{p} -> tx\n" for p in PORTS)


def route_file(n4: int, n6: int, seed: int = 1) -> str:
    rnd = random.Random(seed)
    nets: dict = {}

    def add(net) -> None:
        if net not in nets:
            mac = "02:00:00:%02x:%02x:%02x" % (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
            nets[net] = f"{net} {rnd.choice(PORTS)} {mac}"

    inside = ipaddress.IPv4Network("198.18.0.0/16")
    while len(nets) < n4 // 10:
        length = rnd.randrange(17, 33)
        addr = int(inside.network_address) | rnd.getrandbits(16)
        add(ipaddress.IPv4Network((addr & ~((1 << (32 - length)) - 1) & 0xFFFFFFFF, length)))
    while len(nets) < n4 - 1:
        length = rnd.choice([8, 12, 16, 20, 22, 24, 24, 24, 26, 28, 32])
        addr = rnd.getrandbits(32) & ~((1 << (32 - length)) - 1) & 0xFFFFFFFF
        add(ipaddress.IPv4Network((addr, length)))
    add(ipaddress.IPv4Network("0.0.0.0/0"))
    while len(nets) < n4 + n6:
        length = rnd.choice([32, 40, 48, 48, 56, 64, 128])
        addr = (0x2001 << 112 | rnd.getrandbits(112)) & ~((1 << (128 - length)) - 1)
        add(ipaddress.IPv6Network((addr, length)))
    ports = "".join(f"port {p} 02:00:5e:00:00:0{i + 1}\n" for i, p in enumerate(PORTS))
    return "\n".join(nets.values()) + "\n" + ports


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--routes", type=int, default=100000, help="IPv4 routes in the table")
    ap.add_argument("--routes6", type=int, default=2000, help="IPv6 routes in the table")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of one run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per cell")
    ap.add_argument("--core", type=int, default=1, help="the lcore both chains run on")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="chainc-bench-router-") as d:
        tmp = Path(d)
        pcaps = traffic.generate(tmp / "traffic")
        (tmp / "routes.txt").write_text(route_file(args.routes, args.routes6))
        built = harness.build_all({
            "forward": harness.FORWARD_CHAIN,
            "counter": harness.write_chain(tmp, "counter", harness.COUNTER_CHAIN),
            "router": harness.write_chain(tmp, "router", ROUTER_CHAIN)})

        results = []
        for tname, pcap in pcaps.items():
            runs = harness.alternate(built, pcap.path, args.rounds, args.seconds, args.core, tmp)
            assert sum(runs["router"].node("r")["drops"].values()) == 0, runs["router"].node("r")["drops"]
            fwd, cnt, rt = (runs[name].median for name in ("forward", "counter", "router"))
            results.append({"traffic": tname, "forward_mpps": fwd, "counter_mpps": cnt, "router_mpps": rt,
                            "ratio": rt / fwd if fwd else 0.0, "ratio_to_counter": rt / cnt if cnt else 0.0,
                            "router_cycles_per_packet": runs["router"].cycles("r"),
                            "runs": {name: r.mpps for name, r in runs.items()}})
            print(f"  {tname:6} forward {fwd:6.2f}  counter {cnt:6.2f}  router {rt:6.2f} Mpps",
                  file=sys.stderr)

    harness.print_table(
        ["traffic", "forward", "counter", "router", "router/fwd", "router/counter", "router cyc/pkt"],
        [[r["traffic"], r["forward_mpps"], r["counter_mpps"], r["router_mpps"], r["ratio"],
          r["ratio_to_counter"], r["router_cycles_per_packet"]] for r in results],
        f"(Mpps, medians of {args.rounds} alternating runs of {args.seconds:g} s on lcore {args.core}; "
        f"{args.routes} IPv4 + {args.routes6} IPv6 routes)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
