"""LoadBalancer natively: the same packets, counters and affinity files as `chainc sim`;
a backend added across a restart moves no remembered flow and about 1/N of the new ones.

One binary serves every case: a Tee gives two LoadBalancers (3 and 4 backends)
the same IPv4 traffic, and a third balances IPv6."""

from __future__ import annotations

import random
import shutil

import pytest
from scapy.all import ICMP, IP, TCP, UDP, Ether, IPv6

from chainc.nfs.registry import Registry
from chainc.sim import simulate

from .chains import chain_from_text, mixed_frames, read_frames, write_frames

CHAIN = '''
port wan = pcap("in.pcap")
port p3 = pcap(out: "p3.pcap")
port p4 = pcap(out: "p4.pcap")
port p6 = pcap(out: "p6.pcap")
nf cls = Classifier {
    v6 : "ip6"
    v4 : *
}
nf t = Tee()
nf lb3 = LoadBalancer(vip: 10.0.0.100, backends: [10.0.1.1, 10.0.1.2, 10.0.1.3], table_size: 10007,
                      flows: 64, timeout: 100us, affinity: "a.aff")
nf lb4 = LoadBalancer(vip: 10.0.0.100, backends: [10.0.1.1, 10.0.1.2, 10.0.1.3, 10.0.1.4],
                      table_size: 10007, affinity: "b.aff")
nf lb6 = LoadBalancer(vip: 2001:db8::100, backends: [2001:db8:1::1, 2001:db8:1::2, 2001:db8:1::3],
                      port: 443, down: [2001:db8:1::3])
wan -> cls
cls.v4 -> t -> lb3 -> p3
t.copy -> lb4 -> p4
cls.v6 -> lb6 -> p6
'''
PORTS = ["p3", "p4", "p6"]
VIP = "10.0.0.100"


def client_frames(sports, rnd) -> list[bytes]:
    frames = []
    for sport in sports:
        src = f"192.0.2.{sport % 200 + 1}"
        kind = rnd.randrange(6)
        if kind == 0:
            f = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=VIP) / UDP(sport=sport, dport=53) / b"q"
        elif kind == 1:
            f = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=f"10.0.1.{sport % 3 + 1}", dst=src) / TCP(sport=80, dport=sport)  # reply
        elif kind == 2:
            f = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(src=f"2001:db8:9::{sport:x}", dst="2001:db8::100") / TCP(sport=sport, dport=443)
        elif kind == 3:
            f = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=VIP) / ICMP(id=sport)
        else:
            f = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=VIP) / TCP(sport=sport, dport=80, flags="PA") / b"GET /"
        frames.append(bytes(f))
    return frames


@pytest.fixture(scope="module")
def traffic():
    rnd = random.Random(5)
    first = client_frames(range(20000, 20600), rnd) + mixed_frames(300, seed=3)
    rnd.shuffle(first)
    second = client_frames(range(20000, 20300), random.Random(5)) + client_frames(range(30000, 30300), rnd)
    return first, second


def run_both(tmp_path, native, frames):
    """Native run, then `chainc sim` on the same files; the affinity files each wrote."""
    graph = chain_from_text(tmp_path, CHAIN, "lb")
    before = {n: (tmp_path / n).read_bytes() for n in ("a.aff", "b.aff") if (tmp_path / n).exists()}
    run = native(graph, {"wan": write_frames(tmp_path / "in.pcap", frames)}, PORTS)
    native_files = {n: (tmp_path / n).read_text() for n in ("a.aff", "b.aff")}
    for name in ("a.aff", "b.aff"):  # the simulator starts from the same files
        if name in before:
            (tmp_path / name).write_bytes(before[name])
        else:
            (tmp_path / name).unlink()
    stamped = [(i * 1000, f) for i, f in enumerate(frames)]
    sim = simulate(graph, {"wan": stamped}, Registry.load())
    sim_files = {n: (tmp_path / n).read_text() for n in ("a.aff", "b.aff")}
    return run, sim, native_files, sim_files


def destinations(frames: list[bytes]) -> dict[tuple, str]:
    out = {}
    for f in frames:
        if len(f) < 54:  # runts and truncated frames of the mixed traffic
            continue
        p = Ether(f)
        if p.haslayer(IP) and p[IP].src.startswith("192.0.2.") and p.haslayer(TCP):
            out[(p[IP].src, p[TCP].sport)] = p[IP].dst
    return out


def test_native_equals_sim_and_a_restart_keeps_remembered_flows(tmp_path, native, traffic):
    first, second = traffic
    run, sim, native_files, sim_files = run_both(tmp_path, native, first)
    for port in PORTS:
        assert read_frames(run.outputs[port]) == sim.outputs[port], f"{port} differs"
    by_id = {n["id"]: n for n in run.stats["nodes"]}
    for node in sim.stats["nodes"]:
        if node["type"] == "LoadBalancer":
            assert by_id[node["id"]]["counters"] == node["counters"], node["id"]
            assert by_id[node["id"]]["drops"] == node["drops"]
    assert native_files == sim_files
    lb3 = by_id["lb3"]["counters"]
    assert lb3["expired"] > 100  # the small, short-lived table was exercised
    assert by_id["lb6"]["counters"]["balanced"] > 0 and "2001:db8:1::3" not in str(read_frames(run.outputs["p6"]))

    # Same flows through 3 and 4 backends: about a quarter move.
    three, four = destinations(read_frames(run.outputs["p3"])), destinations(read_frames(run.outputs["p4"]))
    moved = sum(three[k] != four[k] for k in three)
    assert len(three) > 150 and moved <= 1.3 * len(three) / 4

    # Restart: the 4-backend instance starts from what the 3-backend one remembered.
    shutil.copyfile(tmp_path / "a.aff", tmp_path / "b.aff")
    saved = len((tmp_path / "a.aff").read_text().splitlines()) - 1
    remembered = {(l.split()[1], int(l.split()[2])): l.split()[4]
                  for l in (tmp_path / "a.aff").read_text().splitlines()[1:] if l.split()[0] == "6"}
    run2, sim2, native_files2, sim_files2 = run_both(tmp_path, native, second)
    for port in PORTS:
        assert read_frames(run2.outputs[port]) == sim2.outputs[port], f"{port} differs after the restart"
    assert native_files2 == sim_files2
    after = destinations(read_frames(run2.outputs["p4"]))
    kept = [k for k in after if k in remembered]
    assert kept and all(after[k] == remembered[k] for k in kept)
    restored = {n["id"]: n for n in run2.stats["nodes"]}["lb4"]["counters"]["restored"]
    assert restored == saved
    assert run2.stats["mempool"]["in_use"] == 0
