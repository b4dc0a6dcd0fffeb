"""Benchmark: the NAT translating 10,000 and 1,000,000 flows, and its memory per mapping.

    python3 bench/bench_nat.py [--flows 10000,1000000] [--seconds 3] [--rounds 3] [--core 1]

Builds three chains and runs them in alternating rounds on the same lcore,
over benchmark traffic (bench/traffic.py) replayed forever from a net_pcap
vdev into net_null:

  forward  bench/chains/forward.chain   rx -> tx (no per-packet work)
  counter  rx -> Counter() -> tx: the cost of any one-NF chain
  nat      rx -> NAT(16 external addresses, ports 1024..65535, 2^20 mappings)
           -> tx: every packet enters on `inside`; the first pass over the
           file creates one mapping per flow, later passes translate with them

for each flow count, with 64-byte UDP frames and IMIX (64/594/1518 bytes,
TCP and UDP). Every flow has its own inside address, so with 1,000,000
flows every packet looks up a different mapping (a cache miss per packet:
the worst case). It prints Mpps, the NAT's ratio to forward and to counter,
and the NAT's cycles per packet as the binary measures them.

Memory per mapping is measured, not computed: the peak resident memory of
the NAT binary with 2^20 mappings filled by the 1,000,000-flow file, less
that of the same chain with a 1,024-mapping table over the same file, over
the difference in mappings. DPDK hands out never-touched memory without
clearing it, so only the pages that mappings use count.
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

TABLE = 1 << 20
SMALL_TABLE = 1024
EXTERNAL = ", ".join(f"198.51.100.{i}" for i in range(1, 17))  # 16 x 64,512 ports >= 2^20


def nat_chain(table_size: int) -> str:
    return f"""\
# Benchmark: source NAT of every packet (written by bench/bench_nat.py).
port rx = pcap("in.pcap")
port tx = null()

nf nat = NAT(external: [{EXTERNAL}], ports: 1024..65535, table_size: {table_size})
rx -> nat.inside
nat.outside -> tx
nat.inside -> tx
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flows", default="10000,1000000", help="comma-separated flow counts")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of one run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per cell")
    ap.add_argument("--core", type=int, default=1, help="the lcore every chain runs on")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    flow_counts = [int(f) for f in args.flows.split(",")]

    results = []
    memory = None
    with tempfile.TemporaryDirectory(prefix="chainc-bench-nat-") as d:
        tmp = Path(d)
        built = harness.build_all({
            "forward": harness.FORWARD_CHAIN,
            "counter": harness.write_chain(tmp, "counter", harness.COUNTER_CHAIN),
            "nat": harness.write_chain(tmp, "nat", nat_chain(TABLE))})
        for flows in flow_counts:
            print(f"writing traffic with {flows:,} flows ...", file=sys.stderr)
            pcaps = {"udp64": traffic.write_udp64(tmp / f"udp64-{flows}.pcap", flows=flows,
                                                  per_flow=max(1, 20000 // flows)),
                     "imix": traffic.write_imix(tmp / f"imix-{flows}.pcap", flows=flows,
                                                packets=max(flows, 24000))}
            for tname, pcap in pcaps.items():
                runs = harness.alternate(built, pcap.path, args.rounds, args.seconds, args.core, tmp)
                drops = {k: v for k, v in runs["nat"].node("nat")["drops"].items() if v}
                assert not drops, drops
                fwd, cnt, nat = (runs[name].median for name in ("forward", "counter", "nat"))
                results.append({"flows": flows, "traffic": tname, "forward_mpps": fwd, "counter_mpps": cnt,
                                "nat_mpps": nat, "ratio": nat / fwd if fwd else 0.0,
                                "ratio_to_counter": nat / cnt if cnt else 0.0,
                                "nat_cycles_per_packet": runs["nat"].cycles("nat"),
                                "runs": {name: r.mpps for name, r in runs.items()}})
                print(f"  {flows:>9,} {tname:6} forward {fwd:6.2f}  counter {cnt:6.2f}  nat {nat:6.2f} Mpps",
                      file=sys.stderr)
            if flows >= TABLE * 9 // 10:
                small = harness.build_all({"small": harness.write_chain(tmp, "small", nat_chain(SMALL_TABLE))})
                full = harness.peak_rss_kib(built["nat"], pcaps["udp64"].path, pcaps["udp64"].packets,
                                            args.core)
                empty = harness.peak_rss_kib(small["small"], pcaps["udp64"].path, pcaps["udp64"].packets,
                                            args.core)
                memory = (full - empty) * 1024 / (min(flows, TABLE) - SMALL_TABLE)

    harness.print_table(
        ["flows", "traffic", "forward", "counter", "nat", "nat/fwd", "nat/counter", "nat cyc/pkt"],
        [[f"{r['flows']:,}", r["traffic"], r["forward_mpps"], r["counter_mpps"], r["nat_mpps"], r["ratio"],
          r["ratio_to_counter"], r["nat_cycles_per_packet"]] for r in results],
        f"(Mpps, medians of {args.rounds} alternating runs of {args.seconds:g} s on lcore {args.core}; "
        f"NAT with 16 external addresses and a table of {TABLE:,} mappings)")
    if memory is not None:
        print(f"memory per mapping: {memory:.0f} bytes (peak resident memory with {TABLE:,} mappings "
              f"in use, less that with {SMALL_TABLE:,})")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": results, "bytes_per_mapping": memory}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
