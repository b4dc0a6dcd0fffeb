"""Router built natively (rte_lpm / rte_lpm6) and run over pcaps through net_pcap vdevs.

One binary holds three Routers, so one build covers them all:
  r1  a fixed table with via/neighbor/port lines and an `expired` output, fed
      valid IPv4/IPv6 TCP/UDP/ICMP frames: every output frame is checked
      (TTL, MACs, IPv4 header and L4 checksums verified by scapy);
  r2  a random table of IPv4 and IPv6 routes without TTL decrement, fed
      addresses in, at the edges of and just outside its prefixes: each
      packet's port must be the longest match computed with `ipaddress`;
  r3  the fixed table without `expired`, fed malformed and truncated frames.
Everything is also compared, byte for byte and counter for counter, with
`chainc sim`.
"""

from __future__ import annotations

import ipaddress
import random
import re
import struct
from pathlib import Path

import pytest
from scapy.all import ICMP, IP, TCP, UDP, Dot1Q, Ether, IPv6, IPv6ExtHdrDestOpt, ICMPv6EchoRequest, Raw

from chainc.nfs.registry import Registry
from chainc.pcapfile import read_pcap
from chainc.sim import simulate

from .chains import chain_from_text, mixed_frames, read_frames, write_frames

pytestmark = pytest.mark.dpdk

ROOT = Path(__file__).resolve().parents[2]

FIXED = """\
10.0.0.0/8                              lan    02:00:00:00:01:01
10.9.0.0/16         via 10.255.0.1      core
10.9.8.0/24                             lan    02:00:00:00:01:08
192.0.2.0/24                            dmz
0.0.0.0/0           via 203.0.113.1     wan
2001:db8::/32                           lan    02:00:00:00:01:66
2001:db8:5::/48     via 2001:db8:ff::1  core
::/0                via 2001:db8:ff::2  wan
neighbor 10.255.0.1     02:00:00:00:0c:01
neighbor 203.0.113.1    02:00:00:00:0e:01
neighbor 2001:db8:ff::1 02:00:00:00:0c:06
neighbor 2001:db8:ff::2 02:00:00:00:0e:06
port lan  02:00:5e:00:00:01
port wan  02:00:5e:00:00:02
"""
FIXED_PORTS = ("lan", "core", "dmz", "wan")
# What the fixed table does, written out by hand: (network, port, new dst MAC or None).
FIXED_EXPECT = [
    ("10.9.8.0/24", "lan", "02:00:00:00:01:08"),
    ("10.9.0.0/16", "core", "02:00:00:00:0c:01"),
    ("10.0.0.0/8", "lan", "02:00:00:00:01:01"),
    ("192.0.2.0/24", "dmz", None),
    ("0.0.0.0/0", "wan", "02:00:00:00:0e:01"),
    ("2001:db8:5::/48", "core", "02:00:00:00:0c:06"),
    ("2001:db8::/32", "lan", "02:00:00:00:01:66"),
    ("::/0", "wan", "02:00:00:00:0e:06"),
]
PORT_SRC = {"lan": "02:00:5e:00:00:01", "wan": "02:00:5e:00:00:02"}
SRC, DST = "02:00:00:00:99:99", "02:00:00:00:aa:aa"
RANDOM_PORTS = ("p0", "p1", "p2", "p3")


def chain_text() -> str:
    outs = FIXED_PORTS + ("slow",) + RANDOM_PORTS
    lines = ['port in1 = pcap("in1.pcap")', 'port in2 = pcap("in2.pcap")', 'port in3 = pcap("in3.pcap")']
    lines += [f'port {p} = pcap(out: "{p}.pcap")' for p in outs]
    lines += [f'port m_{p} = pcap(out: "m_{p}.pcap")' for p in FIXED_PORTS]
    lines += ['nf r1 = Router(routes: "fixed.routes", expired: "slow")',
              'nf r2 = Router(routes: "random.routes", decrement_ttl: false)',
              'nf r3 = Router(routes: "fixed.routes")',
              "in1 -> r1", "in2 -> r2", "in3 -> r3", "r1.slow -> slow"]
    lines += [f"r1.{p} -> {p}" for p in FIXED_PORTS]
    lines += [f"r2.{p} -> {p}" for p in RANDOM_PORTS]
    lines += [f"r3.{p} -> m_{p}" for p in FIXED_PORTS]
    return "\n".join(lines) + "\n"


def valid_frames(rnd: random.Random, n: int) -> list[bytes]:
    """Valid frames to all of the fixed table's routes; the payload numbers each one."""
    v4 = ["10.9.8.1", "10.9.200.3", "10.1.2.3", "10.255.255.255", "192.0.2.9", "8.8.8.8", "203.0.113.5"]
    v6 = ["2001:db8:5::1", "2001:db8:5:ffff::2", "2001:db8:1::1", "2001:db9::1", "fe80::1"]
    out = []
    for i in range(n):
        mark = f"#{i:05d}".encode() + b"." * rnd.choice([0, 10, 200, 1300])
        ttl = rnd.choice([0, 1, 2, 3, 64, 128, 255, rnd.randrange(256)])
        eth = Ether(src=SRC, dst=DST)
        if rnd.random() < 0.1:
            eth = eth / Dot1Q(vlan=rnd.randrange(1, 4095))
        if rnd.random() < 0.6:
            ip = IP(src="198.51.100.7", dst=rnd.choice(v4), ttl=ttl, id=rnd.randrange(65536),
                    tos=rnd.randrange(256), flags=rnd.choice(["", "DF"]))
            if rnd.random() < 0.1:
                ip.options = [b"\x94\x04\x00\x00"]
            l4 = rnd.choice([TCP(sport=rnd.randrange(65536), dport=80, flags="PA"),
                             UDP(sport=rnd.randrange(65536), dport=53), ICMP(id=i)])
        else:
            ip = IPv6(src="2001:db8:9::1", dst=rnd.choice(v6), hlim=ttl, tc=rnd.randrange(256))
            if rnd.random() < 0.1:
                ip = ip / IPv6ExtHdrDestOpt()
            l4 = rnd.choice([TCP(sport=rnd.randrange(65536), dport=443), UDP(dport=53),
                             ICMPv6EchoRequest(id=i)])
        out.append(bytes(eth / ip / l4 / Raw(mark)))
    return out


def malformed_frames() -> list[bytes]:
    frames = [rec.data for rec in read_pcap(str(ROOT / "examples" / "traffic" / "malformed.pcap"))]
    frames += mixed_frames(300, seed=11)  # including truncated ones
    rnd = random.Random(3)
    for frame in valid_frames(rnd, 60):
        frames.append(frame[:rnd.randrange(1, len(frame))])
    return frames


def random_table(rnd: random.Random, n4: int, n6: int) -> dict:
    nets: dict = {}
    while len(nets) < n4:
        base = rnd.choice([0x0A000000, 0xC6120000, rnd.getrandbits(32)])
        length = rnd.choice([0, 1, 8, 16, 20, 24, 25, 27, 30, 32, rnd.randrange(33)])
        addr = (base | rnd.getrandbits(16)) & ~((1 << (32 - length)) - 1) & 0xFFFFFFFF
        nets.setdefault(ipaddress.IPv4Network((addr, length)), rnd.choice(RANDOM_PORTS))
    total = n4 + n6
    while len(nets) < total:
        base = rnd.choice([0x20010DB8 << 96, 0xFD00 << 112, rnd.getrandbits(128)])
        length = rnd.choice([0, 2, 16, 32, 44, 48, 56, 64, 72, 96, 120, 128, rnd.randrange(129)])
        addr = (base | (rnd.getrandbits(40) << rnd.choice([0, 48, 80]))) & ((1 << 128) - 1)
        addr &= ~((1 << (128 - length)) - 1)
        nets.setdefault(ipaddress.IPv6Network((addr, length)), rnd.choice(RANDOM_PORTS))
    return nets


def longest_match(nets: dict, address) -> str | None:
    """The port of the longest prefix in `nets` (ipaddress networks) holding `address`."""
    index = _by_length(id(nets), nets)
    bits = address.max_prefixlen
    value = int(address)
    for length in index[address.version]:
        port = index[address.version][length].get(value >> (bits - length))
        if port is not None:
            assert nets[ipaddress.ip_network((address, length), strict=False)] == port
            return port
    return None


_INDEX: dict = {}


def _by_length(key, nets):
    if key not in _INDEX:
        index: dict = {4: {}, 6: {}}
        for net, port in nets.items():
            index[net.version].setdefault(net.prefixlen, {})[
                int(net.network_address) >> (net.max_prefixlen - net.prefixlen)] = port
        _INDEX[key] = {v: dict(sorted(t.items(), reverse=True)) for v, t in index.items()}
    return _INDEX[key]


def udp_frame(address, ttl: int, mark: bytes) -> bytes:
    """Ethernet / IPv4 or IPv6 / UDP to `address`, packed by hand (scapy is slow for thousands)."""
    udp = struct.pack("!HHHH", 1, 2, 8 + len(mark), 0) + mark
    if address.version == 4:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, ttl, 17, 0,
                             bytes([198, 51, 100, 7]), address.packed)
        total = sum(struct.unpack("!10H", header))
        while total > 0xFFFF:
            total = (total & 0xFFFF) + (total >> 16)
        header = header[:10] + struct.pack("!H", ~total & 0xFFFF) + header[12:]
        return MAC_HEADER + b"\x08\x00" + header + udp
    header = struct.pack("!IHBB16s16s", 6 << 28, len(udp), 17, ttl,
                         ipaddress.IPv6Address("2001:db8:9::1").packed, address.packed)
    return MAC_HEADER + b"\x86\xdd" + header + udp


MAC_HEADER = bytes.fromhex("0200000000aa" "020000009999")


def random_destinations(rnd: random.Random, nets: dict, n: int) -> list:
    pool = list(nets)
    out = []
    for _ in range(n):
        net = rnd.choice(pool)
        pick = rnd.choice([0, net.num_addresses - 1, net.num_addresses, -1,
                           rnd.randrange(net.num_addresses)])
        out.append(type(net.network_address)((int(net.network_address) + pick)
                                             % (1 << net.max_prefixlen)))
    return out


def mark_of(frame: bytes) -> bytes:
    """The number a test frame carries at the end of its payload."""
    found = re.search(rb"#\d{5}\.*\Z", frame)
    assert found, frame.hex()
    return found.group()[:6]


def _comparable(stats: dict) -> dict:
    return {n["id"]: (n["in"], dict(n["out"]), {k: v for k, v in n["drops"].items() if v},
                      dict(n.get("counters") or {}))
            for n in stats["nodes"] if n["type"] == "Router"}


def _checksums_valid(frame: bytes) -> None:
    """Every checksum scapy knows in the frame is what scapy computes afresh."""
    sent = Ether(frame)
    fresh = Ether(frame)
    layers = [layer for layer in (IP, TCP, UDP, ICMP, ICMPv6EchoRequest) if layer in sent]
    for layer in layers:
        field = "cksum" if layer is ICMPv6EchoRequest else "chksum"
        delattr(fresh[layer], field)
    fresh = Ether(bytes(fresh))
    for layer in layers:
        field = "cksum" if layer is ICMPv6EchoRequest else "chksum"
        assert getattr(sent[layer], field) == getattr(fresh[layer], field), \
            f"{layer.__name__} checksum of {sent.summary()}"


@pytest.fixture(scope="module")
def traffic():
    rnd = random.Random(2024)
    nets = random_table(rnd, 1500, 1500)
    return {
        "valid": valid_frames(rnd, 800),
        "nets": nets,
        "destinations": random_destinations(rnd, nets, 4000),
        "malformed": malformed_frames(),
    }


@pytest.fixture(scope="module")
def routed(traffic, tmp_path_factory, build_cache):
    """Build once, run once: (graph, native run, sim result, inputs)."""
    from chainc.backends.dpdk import build as dpdk_build
    from chainc.backends.dpdk import runner
    import json

    tmp = tmp_path_factory.mktemp("router")
    (tmp / "fixed.routes").write_text(FIXED)
    (tmp / "random.routes").write_text("".join(f"{net} {port}\n" for net, port in traffic["nets"].items()))
    graph = chain_from_text(tmp, chain_text(), "routers")
    in2 = []
    for i, address in enumerate(traffic["destinations"]):
        in2.append(udp_frame(address, i % 3, f"#{i:05d}".encode()))
    inputs = {"in1": traffic["valid"], "in2": in2, "in3": traffic["malformed"]}
    for name, frames in inputs.items():
        write_frames(tmp / f"{name}.pcap", frames)

    result = dpdk_build.build(graph, cache_dir=build_cache)
    out_ports = [p for p in graph.ports() if not p.startswith("in")]
    outputs = {p: tmp / f"out-{p}.pcap" for p in out_ports}
    opts = runner.RunOptions(inputs={k: str(tmp / f"{k}.pcap") for k in inputs},
                             outputs={k: str(v) for k, v in outputs.items()},
                             stats_json=str(tmp / "stats.json"), quiet=True, memory_mb=1024)
    proc = runner.run(result.binary, graph, opts, capture=True)
    assert proc.returncode == 0, f"binary failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    stats = json.loads((tmp / "stats.json").read_text())
    got = {p: read_frames(outputs[p]) for p in out_ports}
    sim = simulate(graph, inputs, Registry.load())
    return graph, got, stats, sim, inputs


def test_native_routers_leave_what_sim_leaves(routed):
    graph, got, stats, sim, inputs = routed
    for port, frames in got.items():
        want = sim.outputs.get(port, [])
        assert len(frames) == len(want), f"{port}: native {len(frames)}, sim {len(want)}"
        for i, (g, w) in enumerate(zip(frames, want)):
            assert g == w, f"{port}: packet {i} differs"
    assert _comparable(stats) == _comparable(sim.stats)
    assert stats["mempool"]["in_use"] == 0
    assert sum(p["rx"] for p in stats["ports"]) == sum(len(v) for v in inputs.values())


def test_every_routed_frame_is_right(routed):
    """r1: port, MACs, TTL - 1, and every checksum valid, per frame, from the table by hand."""
    graph, got, stats, sim, inputs = routed
    by_mark = {}
    for frame in inputs["in1"]:
        by_mark[mark_of(frame)] = frame
    seen = 0
    for port in FIXED_PORTS + ("slow",):
        for frame in got[port]:
            out = Ether(frame)
            before = Ether(by_mark[mark_of(frame)])
            l3 = IP if IP in before else IPv6
            dst = before[l3].dst
            ttl = before[l3].ttl if l3 is IP else before[l3].hlim
            seen += 1
            if port == "slow":
                assert ttl <= 1 and frame == bytes(before)
                continue
            net, want_port, mac = next(e for e in FIXED_EXPECT
                                       if ipaddress.ip_address(dst) in ipaddress.ip_network(e[0]))
            assert (port, ttl > 1) == (want_port, True), dst
            assert out.dst == (mac or DST) and out.src == PORT_SRC.get(port, SRC)
            assert (out[l3].ttl if l3 is IP else out[l3].hlim) == ttl - 1
            assert bytes(out.payload) != bytes(before.payload) and len(frame) == len(bytes(before))
            _checksums_valid(frame)
    assert seen == len(inputs["in1"])
    r1 = next(n for n in stats["nodes"] if n["id"] == "r1")
    assert r1["counters"]["ttl_expired"] == len(got["slow"]) > 0
    assert r1["counters"]["routed_ipv4"] > 0 and r1["counters"]["routed_ipv6"] > 0


def test_random_tables_match_python_longest_prefix(routed, traffic):
    """r2: every destination leaves on the longest match's port (or is dropped: no route)."""
    graph, got, stats, sim, inputs = routed
    where = {}
    for port in RANDOM_PORTS:
        for frame in got[port]:
            mark = mark_of(frame)
            assert mark not in where
            where[mark] = port
            assert frame == inputs["in2"][int(mark[1:])]  # no TTL decrement, no MAC to rewrite
    misses = 0
    for i, address in enumerate(traffic["destinations"]):
        want = longest_match(traffic["nets"], address)
        assert where.get(f"#{i:05d}".encode()) == want, (i, address)
        misses += want is None
    r2 = next(n for n in stats["nodes"] if n["id"] == "r2")
    assert r2["drops"].get("no-route", 0) == misses
    assert r2["counters"]["ttl_expired"] == 0


def test_malformed_frames_are_dropped_with_a_reason(routed):
    graph, got, stats, sim, inputs = routed
    r3 = next(n for n in stats["nodes"] if n["id"] == "r3")
    assert r3["in"] == len(inputs["in3"])
    for reason in ("malformed", "not-ip", "ttl-expired"):
        assert r3["drops"].get(reason, 0) > 0, reason
    assert r3["drops"].get("dropped", 0) == r3["drops"].get("bad-output", 0) == 0
    assert sum(len(got[f"m_{p}"]) for p in FIXED_PORTS) == sum(r3["out"].values()) > 0
