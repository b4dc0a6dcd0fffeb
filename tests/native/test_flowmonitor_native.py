"""FlowMonitor natively: the binary's export files (JSON lines and CSV), written by
its exporter thread and its exit hook, equal byte for byte the files `chainc sim`
writes, and so do the heavy hitters printed at exit, behind a ConnTrack whose
retransmission events the records count."""

from __future__ import annotations

import contextlib
import io
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
CHAIN = '''
port wan = pcap("in.pcap")
port lan = pcap(out: "lan.pcap")
nf ct = ConnTrack()
nf fm = FlowMonitor(export: "out/flows.jsonl", idle_timeout: 15s, active_timeout: 1m, top: 5)
nf small = FlowMonitor(export: "flows.csv", format: csv, idle_timeout: 2s, table_size: 4)
wan -> ct
ct.new -> fm
ct.established -> fm
ct.invalid -> fm
fm -> small -> lan
'''
EXPORTS = ("out/flows.jsonl", "flows.csv")


def _traffic() -> list[tuple[int, bytes]]:
    sc = Script()
    workout(sc)
    for i in range(30):  # long-lived flows that cross the active timeout
        udp(sc, ("10.1.5.1", 7000 + i % 2), ("192.0.2.77", 5004), data=bytes(100 + i))
        sc.wait(5 * SECOND)
    for f in mixed_frames(300, seed=9):
        sc.add(f)
    for p in read_pcap(str(ROOT / "examples" / "traffic" / "malformed.pcap")):
        sc.add(p.data)
    return sc.frames


@pytest.fixture(scope="module")
def runs(tmp_path_factory, build_cache):
    from chainc.backends.dpdk import build as dpdk_build
    from chainc.backends.dpdk import runner

    where = tmp_path_factory.mktemp("flowmonitor")
    (where / "fm.chain").write_text(CHAIN)
    graph = load_chain(str(where / "fm.chain")).graph
    frames = _traffic()
    write_pcap(str(where / "in.pcap"), [PcapPacket(ts, f) for ts, f in frames])
    result = dpdk_build.build(graph, cache_dir=build_cache)
    opts = runner.RunOptions(stats_json=str(where / "stats.json"), quiet=True)
    proc = runner.run(result.binary, graph, opts, capture=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    native = {name: (where / name).read_bytes() for name in EXPORTS}
    stats = json.loads((where / "stats.json").read_text())
    lan = read_frames(where / "lan.pcap")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        sim = simulate(graph, {"wan": frames}, Registry.load())
    simulated = {name: (where / name).read_bytes() for name in EXPORTS}
    return dict(native=native, sim=simulated, stats=stats, sim_result=sim, lan=lan, frames=frames,
                stdout=proc.stdout, sim_stdout=printed.getvalue(), c_source=result.c_source,
                binary=result.binary, graph=graph, where=where)


def test_export_files_equal_sim_byte_for_byte(runs):
    for name in EXPORTS:
        assert runs["native"][name] == runs["sim"][name], name
    assert runs["lan"] == [f for _, f in runs["frames"]]  # every packet passes unchanged


def test_heavy_hitters_and_counters_equal_sim(runs):
    assert runs["stdout"] == runs["sim_stdout"]
    assert runs["stdout"].startswith("FlowMonitor fm: the 5 largest flows by bytes\n")
    assert len(runs["stdout"].splitlines()) == 7
    by_id = {n["id"]: n for n in runs["stats"]["nodes"]}
    for node in runs["sim_result"].stats["nodes"]:
        assert by_id[node["id"]]["counters"] == node["counters"], node["id"]


def test_records_cover_every_reason_and_the_retransmissions(runs):
    records = [json.loads(line) for line in runs["native"]["out/flows.jsonl"].splitlines()]
    assert {r["reason"] for r in records} == {"idle", "active", "end", "exit"}
    assert sum(r["retrans"] for r in records) > 0
    assert any(":" in r["src"] for r in records)
    rows = runs["native"]["flows.csv"].decode().splitlines()
    assert rows[0].startswith("start_ns,end_ns,src,dst") and len(rows) > 50
    small = next(n for n in runs["stats"]["nodes"] if n["id"] == "small")
    assert small["counters"]["untracked"] > 0 and small["counters"]["export_lost"] == 0


def test_an_export_file_that_cannot_be_opened_stops_the_binary_cleanly(runs, tmp_path):
    import subprocess

    from chainc.backends.dpdk import runner

    (tmp_path / "blocker").write_text("")  # the export's directory would have to be this file
    opts = runner.RunOptions(quiet=True)
    cmd = runner.command(runs["binary"], runs["graph"], opts, f"chainc-fm-{tmp_path.name}")
    cmd = [str(tmp_path / "blocker") if arg == str(runs["where"]) else arg for arg in cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "FlowMonitor 'fm': cannot open the export file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_packet_path_calls_no_python_api(runs):
    from .packet_path import packet_path

    reachable, offenders = packet_path(runs["c_source"])
    assert any("flowmonitor_export" in f for f in reachable)
    assert not offenders
