"""Optimised plans run natively on two cores and deliver the packets of the one-core build.

The replicated run receives on two queues: `chainc run`'s software RSS
splits the capture over two rx_pcap files with the plan's symmetric key, as
a NIC would (backends/dpdk/rss.py). ConnTrack keeps per-flow state and must
see both directions of a connection on one replica, so a wrong key would
show as connections judged invalid. The pipelined run (replication and
fusion off) carries packets between stages on the two cores over rings.
Order is compared flow by flow: between flows, two cores interleave as they
please.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from chainc.backends.dpdk import build as dpdk_build
from chainc.backends.dpdk import runner
from chainc.driver import load_chain
from chainc.packet import META_L3_IPV4, META_L3_IPV6, META_L4_OK, parse_meta
from chainc.passes import PlanOptions, optimise
from chainc.pcapfile import read_pcap, write_pcap

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CHAIN = EXAMPLES / "stateful_firewall.chain"
OUTPUTS = ("wan", "lan")


def _icmp_error(frame: bytes) -> bool:
    """ICMP errors quote another connection: RSS hashes their outer header, so they may
    reach a replica that does not track the connection (docs/optimiser.md)."""
    m = parse_meta(frame)
    return bool(m.flags & META_L4_OK) and (
        (m.ip_proto == 1 and m.icmp_type in (3, 4, 5, 11, 12))
        or (m.ip_proto == 58 and m.icmp_type < 128))


@pytest.fixture(scope="module")
def traffic(tmp_path_factory) -> Path:
    packets = [p for p in read_pcap(str(EXAMPLES / "traffic" / "sample.pcap")) if not _icmp_error(p.data)]
    path = tmp_path_factory.mktemp("opt") / "in.pcap"
    write_pcap(str(path), packets)
    return path


def _flow(frame: bytes) -> tuple:
    m = parse_meta(frame)
    if m.flags & META_L3_IPV4:
        ends = sorted([(m.ip4_src, m.sport), (m.ip4_dst, m.dport)])
    elif m.flags & META_L3_IPV6:
        ends = sorted([(m.ip6_src_hi, m.ip6_src_lo, m.sport), (m.ip6_dst_hi, m.ip6_dst_lo, m.dport)])
    else:
        return ("other",)
    return (m.ip_proto, *ends)


def by_flow(frames: list[bytes]) -> dict[tuple, list[bytes]]:
    out: dict[tuple, list[bytes]] = defaultdict(list)
    for f in frames:
        out[_flow(f)].append(f)
    return dict(out)


def run_plan(graph, plan, traffic: Path, build_cache: Path, tmp: Path) -> tuple[dict, dict]:
    built = dpdk_build.build(graph, cache_dir=build_cache, plan=plan)
    outputs = {p: str(tmp / f"{p}.pcap") for p in OUTPUTS}
    stats_path = tmp / "stats.json"
    opts = runner.RunOptions(inputs={"capture": str(traffic)}, outputs=outputs,
                             stats_json=str(stats_path), quiet=True, cpus=plan.used_cpus)
    proc = runner.run(built.binary, graph, opts, capture=True, timeout=180, plan=plan)
    assert proc.returncode == 0, proc.stderr
    frames = {p: [x.data for x in read_pcap(path)] for p, path in outputs.items()}
    return frames, json.loads(stats_path.read_text())


@pytest.fixture(scope="module")
def one_core(traffic, build_cache, tmp_path_factory):
    graph = load_chain(str(CHAIN)).graph
    plan = optimise(graph, PlanOptions((0,)))
    return run_plan(graph, plan, traffic, build_cache, tmp_path_factory.mktemp("one"))


def _same_packets(got: dict, want: dict) -> None:
    for port in OUTPUTS:
        assert sorted(got[port]) == sorted(want[port]), f"port {port}: other packets"
        assert by_flow(got[port]) == by_flow(want[port]), f"port {port}: a flow's order changed"
    assert sum(len(v) for v in want.values()) > 5000


def test_a_replicated_stage_on_two_rx_queues_delivers_the_one_core_packets(
        traffic, build_cache, tmp_path, one_core):
    graph = load_chain(str(CHAIN)).graph
    plan = optimise(graph, PlanOptions((0, 1)))
    assert [st.cores for st in plan.stages] == [[0, 1]] and plan.rss["capture"].symmetric
    frames, stats = run_plan(graph, plan, traffic, build_cache, tmp_path)
    _same_packets(frames, one_core[0])
    fw = next(n for n in stats["nodes"] if n["id"] == "fw")
    assert fw["cores"] == [0, 1] and sum(fw["per_core"]) == fw["in"]
    assert min(fw["per_core"]) > fw["in"] // 4  # both replicas worked
    assert fw["out"] == next(n for n in one_core[1]["nodes"] if n["id"] == "fw")["out"]
    assert stats["mempool"]["in_use"] == 0


def test_a_pipeline_over_a_ring_delivers_the_one_core_packets(traffic, build_cache, tmp_path, one_core):
    graph = load_chain(str(CHAIN)).graph
    # A ring crossing costs more than ConnTrack saves here, so the cost model keeps this
    # chain on one core: without fusion and replication its stages spread over both.
    plan = optimise(graph, PlanOptions((0, 1), disabled=frozenset({"replicate-stages", "fuse-stages"})))
    assert {c for st in plan.stages for c in st.cores} == {0, 1} and plan.rings and not plan.rss
    assert any(plan.stages[r.src_stage].cores != plan.stages[r.dst_stage].cores for r in plan.rings)
    frames, stats = run_plan(graph, plan, traffic, build_cache, tmp_path)
    _same_packets(frames, one_core[0])
    assert sum(r["enqueued"] for r in stats["rings"]) > 0
    assert {n["core"] for n in stats["nodes"] if n["type"] != "port-out"} >= {0, 1}


def test_headers_parsed_only_to_ip_give_the_packets_of_sim(build_cache, tmp_path):
    """vlan_router's NFs read no TCP/UDP header: its port is parsed to L3 only."""
    from chainc.nfs.registry import Registry
    from chainc.passes import Depth
    from chainc.sim import default_files, simulate

    graph = load_chain(str(EXAMPLES / "vlan_router.chain")).graph
    plan = optimise(graph, PlanOptions((0,)))
    assert plan.parse_depth == {"trunk": Depth.L3}
    built = dpdk_build.build(graph, cache_dir=build_cache, plan=plan)
    in_files, out_files = default_files(graph)
    outputs = {p: str(tmp_path / f"{p}.pcap") for p in out_files}
    opts = runner.RunOptions(inputs=in_files, outputs=outputs, quiet=True, cpus=plan.used_cpus)
    proc = runner.run(built.binary, graph, opts, capture=True, timeout=180, plan=plan)
    assert proc.returncode == 0, proc.stderr
    frames = {p: [x.data for x in read_pcap(f)] for p, f in in_files.items()}
    sim = simulate(graph, frames, Registry.load()).outputs
    for port, path in outputs.items():
        assert [x.data for x in read_pcap(path)] == sim.get(port, []), port


def test_profile_then_plan_with_it_from_the_command_line(tmp_path, build_cache):
    import os
    import subprocess
    import sys

    env = dict(os.environ, CHAINC_CACHE=str(build_cache))
    quickstart = EXAMPLES / "quickstart.chain"
    out = tmp_path / "qs.profile"

    def chainc(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "chainc", *args], capture_output=True,
                              text=True, env=env, timeout=600)

    made = chainc("profile", str(quickstart), "--in", f"wan={EXAMPLES / 'traffic' / 'sample.pcap'}",
                  "-o", str(out), "--seconds", "0.5", "--runs", "3")
    assert made.returncode == 0, made.stderr
    profile = json.loads(out.read_text())
    assert profile["packets"] > 0 and profile["tsc_hz"] > 0
    assert len(profile["runs_mpps"]) == 3 and sorted(profile["runs_mpps"])[1] == pytest.approx(profile["mpps"])
    assert "the median of 3 runs" in made.stdout
    assert set(profile["nodes"]) == {"cls", "Counter#1", "MacSwap#1", "Counter#2"}
    shares = {k: v["in"] / profile["packets"] for k, v in profile["nodes"].items()}
    assert shares["cls"] == 1.0 and 0.2 < shares["Counter#1"] < 0.5  # the capture's web share
    planned = chainc("plan", str(quickstart), "--cores", "0", "--profile", str(out))
    assert planned.returncode == 0, planned.stderr
    assert f"cost from the profile {out}" in planned.stdout


def test_without_fusion_stages_share_one_core_over_rings(build_cache, tmp_path):
    """Every NF a stage of its own, all on one core: a stage takes input only while the
    rings after it have room, so the core never waits on itself."""
    from chainc.nfs.registry import Registry
    from chainc.sim import default_files, simulate

    graph = load_chain(str(EXAMPLES / "quickstart.chain")).graph
    plan = optimise(graph, PlanOptions((0,), disabled=frozenset({"fuse-stages"})))
    assert len(plan.stages) == 4 and {c for st in plan.stages for c in st.cores} == {0}
    built = dpdk_build.build(graph, cache_dir=build_cache, plan=plan)
    in_files, _ = default_files(graph)
    out = tmp_path / "lan.pcap"
    stats_path = tmp_path / "stats.json"
    opts = runner.RunOptions(inputs=in_files, outputs={"lan": str(out)}, stats_json=str(stats_path),
                             quiet=True, cpus=plan.used_cpus)
    proc = runner.run(built.binary, graph, opts, capture=True, timeout=180, plan=plan)
    assert proc.returncode == 0, proc.stderr
    frames = {p: [x.data for x in read_pcap(f)] for p, f in in_files.items()}
    want = simulate(graph, frames, Registry.load()).outputs["lan"]
    got = [x.data for x in read_pcap(str(out))]
    assert sorted(got) == sorted(want) and by_flow(got) == by_flow(want)
    assert sum(r["enqueued"] for r in json.loads(stats_path.read_text())["rings"]) > len(want)
