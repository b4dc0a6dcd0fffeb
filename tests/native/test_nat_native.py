"""NAT built natively (rte_hash, port tables) and run over pcaps, against `chainc sim`.

One binary holds two NATs, so one build and one run cover both:
  big    random TCP/UDP/ICMP flows of many hosts in both directions, port
         forwards, then malformed and unrelated frames on both sides: every
         packet equals sim's, every translated checksum verifies with scapy,
         every reply comes back to its inside host exactly as its peer sent it,
         and the ports are those the spec's queues predict;
  small  four ports and six mappings with short timeouts, fed a scripted
         story of exhaustion, a full table and expiry, with packet times from
         the capture: what leaves, and why the rest is dropped, is written out
         by hand.
"""

from __future__ import annotations

import ipaddress
import json
import random
from pathlib import Path

import pytest

from chainc.backends.dpdk import build as dpdk_build
from chainc.backends.dpdk import runner
from chainc.nfs.registry import Registry
from chainc.pcapfile import PcapPacket, read_pcap, write_pcap
from chainc.sim import simulate

from nat_traffic import Flow, checksums_ok, inbound, outbound

from .chains import chain_from_text, mixed_frames, read_frames

pytestmark = pytest.mark.dpdk

ROOT = Path(__file__).resolve().parents[2]
POOL = ("203.0.113.7", "203.0.113.8")
EXT = "198.18.0.1"  # the small NAT's address
T0 = 1_700_000_000 * 10**9
SECOND = 10**9
OUT_PORTS = ("wan1", "lan1", "wan2", "lan2")

CHAIN = f'''
port in1 = pcap("in1.pcap")
port in2 = pcap("in2.pcap")
port wan1 = pcap(out: "wan1.pcap")
port lan1 = pcap(out: "lan1.pcap")
port wan2 = pcap(out: "wan2.pcap")
port lan2 = pcap(out: "lan2.pcap")

nf side1 = Classifier {{
    outside : "dst net 203.0.113.0/24"
    inside  : *
}}
nf side2 = Classifier {{
    outside : "dst host {EXT}"
    inside  : *
}}
nf big = NAT(external: [{", ".join(POOL)}], ports: 1024..65535,
             forwards: ["tcp 8080 -> 10.1.0.5:80", "udp 5353 -> 10.1.0.6"])
nf small = NAT(external: {EXT}, ports: 30000..30003, table_size: 6, udp_timeout: 2s,
               icmp_timeout: 1s, tcp_transitory_timeout: 3s, tcp_timeout: 10s)

in1 -> side1
side1.inside -> big.inside
side1.outside -> big.outside
big.outside -> wan1
big.inside -> lan1
in2 -> side2
side2.inside -> small.inside
side2.outside -> small.outside
small.outside -> wan2
small.inside -> lan2
'''


# -- traffic for `big` ------------------------------------------------------------------


def random_flow(rnd: random.Random) -> Flow:
    return Flow(rnd.choice(["tcp", "tcp", "udp", "udp", "icmp"]),
                f"10.1.{rnd.randrange(4)}.{rnd.randrange(1, 255)}",
                rnd.choice([rnd.randrange(1, 65536), 1024, 40000]),
                rnd.choice(["198.51.100.1", "192.0.2.77", f"198.18.{rnd.randrange(256)}.9"]),
                rnd.choice([53, 80, 443, rnd.randrange(1, 65536)]),
                vlan=rnd.choice([0, 0, 0, 42]), options=rnd.random() < 0.1,
                zero_udp_checksum=rnd.random() < 0.2)


class PortModel:
    """The spec's port queues with nothing expiring: per address and protocol,
    the ports in ascending order, less the forwards'."""

    RESERVED = {("tcp", 0, 8080), ("udp", 0, 5353)}

    def __init__(self):
        self.next: dict[tuple[str, int], int] = {}
        self.mapped: dict[tuple[str, str, int], tuple[str, int]] = {}

    def external(self, flow: Flow) -> tuple[str, int]:
        key = (flow.proto, flow.inside, flow.port)
        if key not in self.mapped:
            index = int(ipaddress.IPv4Address(flow.inside)) % len(POOL)
            port = self.next.get((flow.proto, index), 1024)
            while (flow.proto, index, port) in self.RESERVED:
                port += 1
            self.next[(flow.proto, index)] = port + 1
            self.mapped[key] = (POOL[index], port)
        return self.mapped[key]


def big_traffic(rnd: random.Random, events: int) -> tuple[list[bytes], dict[str, list[bytes]]]:
    """Frames for in1, and the frames wan1 and lan1 must start with."""
    flows = [random_flow(rnd) for _ in range(300)]
    model = PortModel()
    frames: list[bytes] = []
    want: dict[str, list[bytes]] = {"wan1": [], "lan1": []}
    web, dns = Flow("tcp", "10.1.0.5", 80, "192.0.2.1", 33333), Flow("udp", "10.1.0.6", 5353, "192.0.2.2", 53)
    for i in range(events):
        payload = bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 7, 100])))
        flags = rnd.choice(["S", "SA", "A", "PA", "FA", "R"])
        roll = rnd.random()
        if roll < 0.04:  # to a forward, and its answer
            flow, ext_port = (web, 8080) if rnd.random() < 0.5 else (dns, 5353)
            frames.append(inbound(flow, POOL[0], ext_port, flags, i, payload))
            want["lan1"].append(inbound(flow, flow.inside, flow.port, flags, i, payload))
            frames.append(outbound(flow, flags=flags, ident=i, payload=payload))
            want["wan1"].append(outbound(flow, POOL[0], ext_port, flags, i, payload))
        elif roll < 0.08:  # to an external port nobody has
            frames.append(inbound(random_flow(rnd), POOL[1], 1, flags, i, payload))
        else:
            flow = rnd.choice(flows)
            mapped = (flow.proto, flow.inside, flow.port) in model.mapped
            if mapped and roll < 0.5:
                addr, port = model.external(flow)
                frames.append(inbound(flow, addr, port, flags, i, payload))
                want["lan1"].append(inbound(flow, flow.inside, flow.port, flags, i, payload))
            else:
                addr, port = model.external(flow)
                frames.append(outbound(flow, flags=flags, ident=i, payload=payload))
                want["wan1"].append(outbound(flow, addr, port, flags, i, payload))
    # Then frames of every kind, broken ones included, on both sides.
    frames += [p.data for p in read_pcap(str(ROOT / "examples" / "traffic" / "malformed.pcap"))]
    frames += mixed_frames(300, seed=5)
    return frames, want


# -- the scripted story for `small` ---------------------------------------------------------


def udp(host: int) -> Flow:
    return Flow("udp", f"10.2.0.{host}", 5000 + host, "198.51.100.1", 53)


def tcp(host: int) -> Flow:
    return Flow("tcp", f"10.2.0.{host}", 6000 + host, "198.51.100.1", 443)


def icmp(host: int) -> Flow:
    return Flow("icmp", f"10.2.0.{host}", 700 + host, "198.51.100.1", 0)


# (seconds, flow, from outside?, TCP flags, external port, drop reason or None): an
# outbound packet leaves from the port, a reply to the port reaches the flow's host.
STORY = [
    (0.0, udp(1), False, "", 30000, None),
    (0.0, udp(2), False, "", 30001, None),
    (0.0, udp(3), False, "", 30002, None),
    (0.0, udp(4), False, "", 30003, None),
    (0.1, udp(5), False, "", 0, "ports-exhausted"),      # four ports, all in use
    (0.2, tcp(1), False, "S", 30000, None),              # TCP and ICMP have their own
    (0.5, icmp(1), False, "", 30000, None),
    (1.0, udp(2), True, "", 30001, None),                # a reply refreshes udp(2)
    (1.4, icmp(1), True, "", 30000, None),               # refreshes icmp(1) until 2.4 s
    (2.0, udp(5), False, "", 30000, None),               # udp(1) expired at 2.0 s: first to go
    (2.0, udp(5), True, "", 30000, None),
    (2.05, udp(6), False, "", 30002, None),              # table full; udp(3) and udp(4) expired
                                                         # at 2.0 s, udp(3) was used first
    (2.1, tcp(2), False, "S", 30001, None),              # full again: udp(4) makes room
    (2.2, tcp(3), False, "S", 0, "table-full"),          # none has expired
    (2.6, tcp(3), False, "S", 30002, None),              # icmp(1) expired at 2.4 s
    (2.7, icmp(1), True, "", 30000, "no-mapping"),
    (3.0, tcp(1), True, "SA", 30000, None),              # established: 10 s timeout
    (9.0, tcp(1), False, "A", 30000, None),              # idle 6 s > 3 s: still there
    (9.1, tcp(1), True, "FA", 30000, None),              # closing: 3 s timeout again
    (12.2, tcp(1), False, "A", 30003, None),             # expired at 12.1 s: a new mapping,
                                                         # the queue's next port
    (12.3, tcp(1), True, "A", 30003, None),
    (12.3, tcp(2), True, "A", 30001, "no-mapping"),      # SYN at 2.1 s unanswered: gone at 5.1 s
    (8.0, tcp(1), False, "A", 30003, None),              # stamped in the past: counts at 12.3 s,
    (15.2, tcp(1), True, "A", 30003, None),              # so the mapping lasts until 15.3 s
]


def small_traffic() -> tuple[list[tuple[int, bytes]], dict[str, list[bytes]], dict[str, int]]:
    frames, drops = [], {}
    want: dict[str, list[bytes]] = {"wan2": [], "lan2": []}
    for i, (t, flow, from_outside, flags, port, drop) in enumerate(STORY):
        ts = T0 + int(t * SECOND)
        flags = flags or "A"  # TCP flags; UDP and ICMP have none
        if from_outside:
            frames.append((ts, inbound(flow, EXT, port, flags, i)))
            if drop is None:
                want["lan2"].append(inbound(flow, flow.inside, flow.port, flags, i))
        else:
            frames.append((ts, outbound(flow, flags=flags, ident=i)))
            if drop is None:
                want["wan2"].append(outbound(flow, EXT, port, flags, i))
        if drop is not None:
            drops[drop] = drops.get(drop, 0) + 1
    return frames, want, drops


# -- one build, one run -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def nat_run(tmp_path_factory, build_cache):
    tmp = tmp_path_factory.mktemp("nat")
    graph = chain_from_text(tmp, CHAIN, "nats")
    big_frames, big_want = big_traffic(random.Random(55), 2500)
    small_frames, small_want, small_drops = small_traffic()
    inputs = {"in1": [(T0 + i * 1000, f) for i, f in enumerate(big_frames)], "in2": small_frames}
    for port, frames in inputs.items():
        write_pcap(str(tmp / f"{port}.pcap"), [PcapPacket(ts, f) for ts, f in frames])
    built = dpdk_build.build(graph, cache_dir=build_cache)
    binary = built.binary
    outputs = {p: tmp / f"out-{p}.pcap" for p in OUT_PORTS}
    opts = runner.RunOptions(inputs={p: str(tmp / f"{p}.pcap") for p in inputs},
                             outputs={p: str(f) for p, f in outputs.items()},
                             stats_json=str(tmp / "stats.json"), quiet=True)
    proc = runner.run(binary, graph, opts, capture=True, timeout=180)
    assert proc.returncode == 0, f"binary failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return {
        "got": {p: read_frames(f) for p, f in outputs.items()},
        "stats": json.loads((tmp / "stats.json").read_text()),
        "sim": simulate(graph, inputs, Registry.load()),
        "want": {**big_want, **small_want},
        "small_drops": small_drops,
        "c_source": built.c_source,
    }


def _nat_stats(stats: dict) -> dict:
    return {n["id"]: (n["in"], n["out"], {k: v for k, v in n["drops"].items() if v}, n["counters"])
            for n in stats["nodes"] if n["type"] == "NAT"}


def test_native_equals_sim_packet_by_packet(nat_run):
    got, sim = nat_run["got"], nat_run["sim"]
    for port in OUT_PORTS:
        want = sim.outputs[port]
        assert len(got[port]) == len(want), f"{port}: native {len(got[port])}, sim {len(want)}"
        for i, (g, w) in enumerate(zip(got[port], want)):
            assert g == w, f"{port}: packet {i} differs"
    assert _nat_stats(nat_run["stats"]) == _nat_stats(sim.stats)
    assert nat_run["stats"]["mempool"]["in_use"] == 0


def test_random_flows_are_translated_and_restored_exactly(nat_run):
    got, want = nat_run["got"], nat_run["want"]
    for port in ("wan1", "lan1"):
        assert len(want[port]) > 500
        assert got[port][:len(want[port])] == want[port], port
    for frame in got["wan1"] + got["lan1"]:
        assert checksums_ok(frame)
    big = next(n for n in nat_run["stats"]["nodes"] if n["id"] == "big")
    drops = {k for k, v in big["drops"].items() if v}
    assert {"no-mapping", "not-ipv4", "fragment", "malformed", "unsupported-protocol"} <= drops
    assert "ports-exhausted" not in drops and "table-full" not in drops


def test_exhaustion_full_table_and_expiry_as_scripted(nat_run):
    got, want = nat_run["got"], nat_run["want"]
    assert got["wan2"] == want["wan2"]
    assert got["lan2"] == want["lan2"]
    small = next(n for n in nat_run["stats"]["nodes"] if n["id"] == "small")
    assert {k: v for k, v in small["drops"].items() if v} == nat_run["small_drops"]
    assert small["counters"] == {"created": 11, "expired": 6, "mappings": 5}


def test_the_nat_calls_no_python_api(nat_run):
    """Everything nat_process reaches is plain C (test_generated_code checks the stages)."""
    from .test_generated_code import PLAIN_C_HELPERS, PY_API, _function_bodies, _reachable

    bodies = _function_bodies(nat_run["c_source"].read_text())
    root = next(name for name in bodies if name.endswith("_nat_nat_process"))
    reachable = _reachable(bodies, root)
    assert any("nat_outbound" in f for f in reachable) and any("nat_remove" in f for f in reachable)
    offenders = {f: sorted(set(PY_API.findall(bodies[f])) - PLAIN_C_HELPERS) for f in reachable}
    assert not {f: c for f, c in offenders.items() if c}
