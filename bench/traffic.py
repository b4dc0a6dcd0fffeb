#!/usr/bin/env python3
"""Benchmark traffic: pcap files for throughput runs (generated, not committed).

    python3 bench/traffic.py OUT_DIR [--flows 4096] [--seed 1]

writes

    udp64.pcap   64-byte UDP frames over many distinct 5-tuples
    imix.pcap    IMIX-like 64/594/1518-byte frames in the ratio 7:4:1

Sizes are Ethernet frame sizes on the wire including the 4-byte FCS, as
traffic generators and RFC 2544 count them; the pcap holds frames without
the FCS (60, 590 and 1514 bytes), which is what a NIC delivers in an mbuf.

Every flow is a distinct (src ip, dst ip, proto, src port, dst port). The
destination ports are chosen so that the classifier of the baseline and of
the benchmark chains sees all its classes:

    web    tcp dst port 80 or tcp dst port 443    (IMIX only: UDP64 is all UDP)
    dns    udp dst port 53
    other  everything else

In ``udp64`` a quarter of the flows go to UDP port 53; in ``imix`` about
40% are TCP to 80/443, 20% UDP to 53 and the rest UDP to high ports.
Packets of one flow are spread through the file (flows are interleaved in a
shuffled order), and infinite-rx replay makes the file loop.

``generate(out_dir)`` is what the bench harness calls; it returns the paths
and packet counts (the DPDK baseline sizes its mbuf pool from the count).
"""
from __future__ import annotations

import argparse
import importlib.util
import random
import sys
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
_GEN_PATH = REPO / "examples" / "traffic" / "generate.py"


def _load_packet_lib():
    """The packet builders live with the sample traffic generator."""
    name = "chainc_examples_traffic_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _GEN_PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


pk = _load_packet_lib()

FCS_LEN = 4
IMIX_WIRE_SIZES = (64, 594, 1518)       # on the wire, with FCS
IMIX_WEIGHTS = (7, 4, 1)
EPOCH_US = pk.EPOCH_US

SRC_MAC = pk.mac("02:00:00:00:00:01")
DST_MAC = pk.mac("02:00:00:00:00:02")


class Flow(NamedTuple):
    src: bytes
    dst: bytes
    proto: int
    sport: int
    dport: int


class BenchPcap(NamedTuple):
    path: Path
    packets: int
    flows: int


def make_flows(n: int, rng: random.Random, mix: str, server: bytes | None = None) -> list[Flow]:
    """``n`` distinct 5-tuples from 10.0.0.0/8 clients (one per flow) to 198.18.0.0/16 servers,
    or all to one ``server`` address (a load balancer's virtual IP)."""
    flows: list[Flow] = []
    seen: set[Flow] = set()
    while len(flows) < n:
        i = len(flows)
        src = (0x0A000001 + i).to_bytes(4, "big")
        dst = server or bytes([198, 18, rng.randrange(256), rng.randrange(1, 255)])
        sport = rng.randrange(1024, 65536)
        k = rng.random()
        if mix == "udp":
            proto, dport = 17, (53 if k < 0.25 else rng.randrange(1024, 65536))
        elif k < 0.40:
            proto, dport = 6, rng.choice((80, 443))
        elif k < 0.60:
            proto, dport = 17, 53
        else:
            proto, dport = 17, rng.randrange(1024, 65536)
        f = Flow(src, dst, proto, sport, dport)
        if f not in seen:
            seen.add(f)
            flows.append(f)
    return flows


def frame(flow: Flow, size: int, seq: int, tcp_seq: int | None = None) -> bytes:
    """A valid Ethernet/IPv4/TCP-or-UDP frame of exactly ``size`` bytes (no FCS);
    a TCP segment starts at stream byte ``tcp_seq`` (default: 1 + seq * 1460)."""
    l4_hdr = 20 if flow.proto == 6 else 8
    payload_len = size - 14 - 20 - l4_hdr
    if payload_len < 0:
        raise ValueError(f"frame size {size} too small for protocol {flow.proto}")
    payload = bytes((seq + i) & 0xFF for i in range(min(payload_len, 64))) + \
        bytes(max(0, payload_len - 64))
    if flow.proto == 6:
        l4 = pk.tcp_segment(flow.src, flow.dst, flow.sport, flow.dport,
                            1 + seq * 1460 if tcp_seq is None else tcp_seq, 1,
                            pk.TCP_ACK | pk.TCP_PSH, 502, payload)
    else:
        l4 = pk.udp_datagram(flow.src, flow.dst, flow.sport, flow.dport, payload)
    ip = pk.ipv4_packet(flow.src, flow.dst, flow.proto, l4, ttl=64, ident=seq, df=True)
    f = pk.ether(DST_MAC, SRC_MAC, pk.ETH_P_IP, ip)
    assert len(f) == size, (len(f), size)
    return f


def _interleave(flows: list[Flow], per_flow: int, rng: random.Random) -> list[Flow]:
    order = list(flows) * per_flow
    rng.shuffle(order)
    return order


def write_udp64(path: Path, flows: int = 4096, per_flow: int = 2, seed: int = 1,
                server: bytes | None = None) -> BenchPcap:
    rng = random.Random(seed)
    fl = make_flows(flows, rng, "udp", server)
    recs = [pk.Record(EPOCH_US + i, frame(f, 64 - FCS_LEN, i))
            for i, f in enumerate(_interleave(fl, per_flow, rng))]
    pk.write_pcap(path, recs)
    return BenchPcap(Path(path), len(recs), len(fl))


def write_imix(path: Path, flows: int = 4096, packets: int = 12 * 1024, seed: int = 2,
               server: bytes | None = None) -> BenchPcap:
    """Sizes follow a fixed 7:4:1 pattern (shuffled within each group of 12),
    so every window of 12 packets has the exact IMIX ratio. Each TCP flow's
    segments carry its byte stream in order, without gaps (an IDS reassembles
    it); a replay's later passes look like retransmissions."""
    rng = random.Random(seed)
    fl = make_flows(flows, rng, "mixed", server)
    group = [s for s, w in zip(IMIX_WIRE_SIZES, IMIX_WEIGHTS) for _ in range(w)]
    order = _interleave(fl, -(-packets // flows), rng)[:packets]
    recs = []
    stream_at: dict[Flow, int] = {}
    for i, f in enumerate(order):
        if i % len(group) == 0:
            rng.shuffle(group)
        size = group[i % len(group)] - FCS_LEN
        at = stream_at.get(f, 1)
        stream_at[f] = at + size - 14 - 20 - 20
        recs.append(pk.Record(EPOCH_US + i, frame(f, size, i, at)))
    pk.write_pcap(path, recs)
    return BenchPcap(Path(path), len(recs), len(fl))


def generate(out_dir: Path | str, flows: int = 4096, seed: int = 1) -> dict[str, BenchPcap]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "udp64": write_udp64(out / "udp64.pcap", flows=flows, seed=seed),
        "imix": write_imix(out / "imix.pcap", flows=flows, seed=seed + 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate the benchmark pcaps.")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--flows", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    for name, b in generate(args.out_dir, args.flows, args.seed).items():
        print(f"{name}: {b.path} ({b.packets} packets, {b.flows} flows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
