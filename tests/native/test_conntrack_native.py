"""ConnTrack natively: the binary sorts packets onto new/established/invalid and
writes the same connection metadata as `chainc sim`, packet by packet (a CtStamp
probe after each output copies the ct_* fields into the frame), including a
table small enough to fill and expire, and malformed frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainc.driver import load_chain
from chainc.nfs.registry import Registry
from chainc.pcapfile import PcapPacket, read_pcap, write_pcap
from chainc.sim import simulate
from ct_traffic import SECOND, Script, udp, workout

from .chains import mixed_frames, read_frames

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "data" / "probes" / "ctstamp"
CHAIN = '''
port a = pcap("a.pcap")
port b = pcap("b.pcap")
port new = pcap(out: "new.pcap")
port est = pcap(out: "est.pcap")
port inv = pcap(out: "inv.pcap")
nf ct = ConnTrack()
nf small = ConnTrack(table_size: 5, udp_timeout: 2s, strict: false)
nf s_new = CtStamp()
nf s_est = CtStamp()
nf s_inv = CtStamp()
a -> ct
b -> small
ct.new -> s_new
ct.established -> s_est
ct.invalid -> s_inv
small.new -> s_new
small.established -> s_est
small.invalid -> s_inv
s_new -> new
s_est -> est
s_inv -> inv
'''
PORTS = ["new", "est", "inv"]


def _traffic_a() -> list[tuple[int, bytes]]:
    sc = Script()
    workout(sc)
    for f in mixed_frames(300, seed=3):
        sc.add(f)
    for p in read_pcap(str(ROOT / "examples" / "traffic" / "malformed.pcap")):
        sc.add(p.data)
    return sc.frames


def _traffic_b() -> list[tuple[int, bytes]]:
    """More UDP flows than the small table holds, some answered, with pauses that
    let them expire; a mid-stream TCP segment the loose table picks up."""
    sc = Script(step=SECOND // 4)
    for i in range(40):
        c, s = (f"10.2.0.{i % 9 + 1}", 6000 + i % 7), ("192.0.2.53", 53)
        udp(sc, c, s)
        if i % 3 == 0:
            udp(sc, s, c)
        if i % 10 == 9:
            sc.wait(3 * SECOND)
    workout(sc, flows=3)
    return sc.frames


@pytest.fixture(scope="module")
def runs(tmp_path_factory, build_cache):
    from chainc.backends.dpdk import build as dpdk_build
    from chainc.backends.dpdk import runner

    where = tmp_path_factory.mktemp("conntrack")
    (where / "ct.chain").write_text(CHAIN)
    graph = load_chain(str(where / "ct.chain"), nf_paths=[str(PROBE)]).graph
    inputs = {"a": _traffic_a(), "b": _traffic_b()}
    for port, frames in inputs.items():
        write_pcap(str(where / f"{port}.pcap"), [PcapPacket(ts, f) for ts, f in frames])
    result = dpdk_build.build(graph, cache_dir=build_cache)
    opts = runner.RunOptions(stats_json=str(where / "stats.json"), quiet=True)
    proc = runner.run(result.binary, graph, opts, capture=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return dict(where=where, stats=json.loads((where / "stats.json").read_text()), inputs=inputs,
                sim=simulate(graph, inputs, Registry.load([str(PROBE)])), c_source=result.c_source)


def test_packet_path_calls_no_python_api(runs):
    from .packet_path import packet_path

    reachable, offenders = packet_path(runs["c_source"])
    assert any("conntrack_tcp" in f for f in reachable) and any("conntrack_related" in f for f in reachable)
    assert not offenders


def test_native_equals_sim_packet_by_packet(runs):
    where, stats, sim = runs["where"], runs["stats"], runs["sim"]
    for port in PORTS:
        got = read_frames(where / f"{port}.pcap")
        assert got == sim.outputs[port], f"port {port} differs"
    by_id = {n["id"]: n for n in stats["nodes"]}
    for node in sim.stats["nodes"]:
        mine = by_id[node["id"]]
        assert (mine["in"], mine["out"], mine["drops"], mine["counters"]) == \
               (node["in"], node["out"], node["drops"], node["counters"]), node["id"]
    assert stats["mempool"]["in_use"] == 0


def test_every_verdict_and_event_occurs(runs):
    """The traffic exercises what the comparison above is worth: every output, every
    event, RELATED, a full table, expiry."""
    stats, sim, inputs = runs["stats"], runs["sim"], runs["inputs"]
    stamps = [f[:12] for port in PORTS for f in sim.outputs[port] if len(f) >= 12]
    states = {s[0] for s in stamps}
    events = 0
    for s in stamps:
        events |= s[1]
    assert states == {1, 2, 3, 4}  # new, established, related, invalid
    assert events == 0x1F
    by_id = {n["id"]: n for n in stats["nodes"]}
    small = by_id["small"]
    assert small["drops"]["table-full"] > 0 and small["counters"]["expired"] > 0
    ct = by_id["ct"]
    assert ct["counters"]["retransmissions"] > 0 and ct["counters"]["closed"] > 0
    assert ct["in"] == len(inputs["a"])
