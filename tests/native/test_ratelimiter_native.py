"""RateLimiter natively: policer, srTCM and per-flow trTCM over a timestamped capture
color exactly the packets `chainc sim` colors (the packet clock makes time the same)."""

from __future__ import annotations

import pytest

from chainc.nfs.registry import Registry
from chainc.pcapfile import PcapPacket, write_pcap
from chainc.sim import simulate

from .chains import chain_from_text, mixed_frames, read_frames

CHAIN = '''
port wan = pcap("in.pcap")
port lan = pcap(out: "lan.pcap")
port yel = pcap(out: "yellow.pcap")
port red = pcap(out: "red.pcap")
nf pol = RateLimiter(rate: 10Mbps, burst: 8KiB)
nf sr = RateLimiter(rate: 5Mbps, mode: srtcm, burst: 4KiB, excess_burst: 16KiB)
nf tr = RateLimiter(rate: 3kpps, mode: trtcm, peak_rate: 6kpps, burst: 4, per_flow: true, flows: FLOWS)
wan -> pol -> sr
sr.green -> tr
sr.yellow -> yel
sr.red -> red
tr.green -> lan
tr.yellow -> yel
tr.red -> drop
'''
PORTS = ["lan", "yel", "red"]
T0 = 1_700_000_000_000_000_000


@pytest.mark.parametrize("flows", [8, 3])  # 3: fewer than rte_hash's smallest table
def test_native_colors_equal_sim(tmp_path, native, flows):
    graph = chain_from_text(tmp_path, CHAIN.replace("FLOWS", str(flows)), f"meters{flows}")
    # ~10,000 packets/s of mixed sizes: well over every rate; odd nanoseconds
    # check that both sides see the capture time at the same resolution.
    timed = [(T0 + i * 100_000 + (i % 7) * 3, f) for i, f in enumerate(mixed_frames(3000, seed=5))]
    write_pcap(str(tmp_path / "in.pcap"), [PcapPacket(t, f) for t, f in timed])

    run = native(graph, {"wan": tmp_path / "in.pcap"}, PORTS)
    sim = simulate(graph, {"wan": timed}, Registry.load())

    for port in PORTS:
        assert read_frames(run.outputs[port]) == sim.outputs[port], port
    mine = {n["id"]: (n["in"], n["out"], n["drops"], n["counters"]) for n in run.stats["nodes"]}
    for node in sim.stats["nodes"]:
        if node["type"] == "RateLimiter":
            assert mine[node["id"]] == (node["in"], node["out"], node["drops"], node["counters"])
    by_id = {n["id"]: n for n in run.stats["nodes"]}
    # Every meter had work to do: something exceeded, something passed, flows were evicted.
    assert by_id["pol"]["drops"]["exceeded"] > 0 and by_id["pol"]["out"]["out"] > 0
    assert all(by_id["sr"]["out"][c] > 0 for c in ("green", "yellow", "red"))
    assert by_id["tr"]["counters"]["flows_evicted"] > 0 and by_id["tr"]["out"]["yellow"] > 0
    assert run.stats["mempool"]["in_use"] == 0


def test_tsc_clock_polices_real_time(tmp_path, native):
    """With the CPU clock the capture's timestamps are ignored: 3,000 packets read in
    a few milliseconds are far over 1 Mbit/s, so only about the burst passes."""
    graph = chain_from_text(tmp_path, '''
port wan = pcap("in.pcap")
port lan = pcap(out: "lan.pcap")
wan -> RateLimiter(rate: 1Mbps, burst: 4KiB) -> lan
''', "tsc")
    frames = mixed_frames(3000, seed=6)
    write_pcap(str(tmp_path / "in.pcap"), [PcapPacket(T0 + i * 10**9, f) for i, f in enumerate(frames)])
    run = native(graph, {"wan": tmp_path / "in.pcap"}, ["lan"], clock="tsc")
    passed = sum(len(f) for f in read_frames(run.outputs["lan"]))
    elapsed = run.stats["elapsed_s"]
    assert 0 < passed <= 4096 + 1_000_000 / 8 * (elapsed + 0.01)
    # With the packet clock (one packet a second) every packet would have passed.
    assert len(read_frames(run.outputs["lan"])) < len(frames)
