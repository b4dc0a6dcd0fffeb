"""Runtime behaviour of a native binary: two cores, stopping, bad start-up input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from chainc.backends.dpdk import build as dpdk_build
from chainc.backends.dpdk import runner
from chainc.backends.dpdk.model import build_model
from chainc.nfs.registry import Registry
from chainc.sim import simulate

from .chains import chain_from_text, mixed_frames, read_frames, write_frames

TWO_CORES = '''
port wan = pcap("in.pcap")
port lan = pcap(out: "lan.pcap")
port dns = pcap(out: "dns.pcap")
nf cls = Classifier {
    dns  : "udp port 53"
    rest : *
}
nf count = Counter() @core(1)
nf swap = MacSwap() @core(1)
wan -> cls
cls.rest -> count -> swap -> lan
cls.dns -> dns
'''

PASS = '''
port wan = pcap("in.pcap")
port lan = pcap(out: "lan.pcap")
wan -> Counter() -> lan
'''


def test_two_stages_on_two_cores_connected_by_a_ring(tmp_path, native):
    graph = chain_from_text(tmp_path, TWO_CORES, "two")
    model = build_model(graph)
    assert [s.core for s in model.stages] == [0, 1]
    assert len(model.rings) == 1
    frames = mixed_frames(2000, seed=11)
    run = native(graph, {"wan": write_frames(tmp_path / "in.pcap", frames)}, ["lan", "dns"])
    sim = simulate(graph, {"wan": frames}, Registry.load())
    for port in ("lan", "dns"):
        assert read_frames(run.outputs[port]) == sim.outputs.get(port, [])
    cores = {n["id"]: n["core"] for n in run.stats["nodes"]}
    assert cores["cls"] == 0 and cores["count"] == 1 and cores["swap"] == 1
    count_in = next(n["in"] for n in run.stats["nodes"] if n["id"] == "count")
    assert count_in > 0 and run.stats["rings"][0]["enqueued"] == count_in
    assert run.stats["mempool"]["in_use"] == 0


def test_max_packets_is_exact(tmp_path, native):
    graph = chain_from_text(tmp_path, PASS, "maxp")
    frames = mixed_frames(300)
    run = native(graph, {"wan": write_frames(tmp_path / "in.pcap", frames)}, ["lan"], max_packets=77)
    assert len(read_frames(run.outputs["lan"])) == 77
    assert run.stats["ports"][0]["rx"] == 77


def test_duration_stops_an_endless_replay(tmp_path, native, build_cache):
    graph = chain_from_text(tmp_path, PASS, "dur")
    frames = mixed_frames(100)
    dpdk_build.build(graph, cache_dir=build_cache)  # so that only the run is timed
    start = time.monotonic()
    run = native(graph, {"wan": write_frames(tmp_path / "in.pcap", frames)}, ["lan"],
                 infinite=True, duration=1.0)
    assert time.monotonic() - start < 20
    assert run.stats["ports"][0]["rx"] > len(frames)  # it did replay
    assert run.stats["mempool"]["in_use"] == 0


@pytest.mark.parametrize("text", [PASS, TWO_CORES], ids=["one-core", "two-cores"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly(tmp_path, build_cache, sig, text):
    # Two cores: packets in the ring between the stages still reach the output.
    graph = chain_from_text(tmp_path, text, "sig" if text == PASS else "two")
    binary = dpdk_build.build(graph, cache_dir=build_cache).binary
    pcap_in = write_frames(tmp_path / "in.pcap", mixed_frames(200))
    out, stats = tmp_path / "lan.pcap", tmp_path / "stats.json"
    prefix = f"chainc-test-{os.getpid()}-{sig}"
    opts = runner.RunOptions(inputs={"wan": str(pcap_in)}, outputs={"lan": str(out)},
                             infinite=True, stats_json=str(stats), quiet=True)
    cmd = runner.command(binary, graph, opts, prefix)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not out.exists() or out.stat().st_size < 100_000:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no traffic within 30 s"
            time.sleep(0.05)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for d in runner.runtime_dirs(prefix):
            subprocess.run(["rm", "-rf", str(d)])
    assert proc.returncode == 0, stderr
    report = json.loads(stats.read_text())
    written = read_frames(out)  # the pcap is complete and readable
    assert len(written) == report["ports"][1]["tx"] > 0
    assert report["mempool"]["in_use"] == 0


def test_a_tx_queue_that_stays_full_drops_and_counts(tmp_path, build_cache):
    """A net_ring port nobody reads takes 1023 packets, then stays full: the rest are
    dropped and counted, freed at once, and the run ends as usual."""
    graph = chain_from_text(tmp_path, PASS, "sig")
    binary = dpdk_build.build(graph, cache_dir=build_cache).binary
    frames = mixed_frames(3000)
    stats = tmp_path / "stats.json"
    opts = runner.RunOptions(inputs={"wan": str(write_frames(tmp_path / "in.pcap", frames))},
                             stats_json=str(stats), quiet=True)
    prefix = f"chainc-test-{os.getpid()}-txfull"
    cmd = runner.command(binary, graph, opts, prefix) + ["--port", "lan=net_ring_lan"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    finally:
        for d in runner.runtime_dirs(prefix):
            subprocess.run(["rm", "-rf", str(d)])
    report = json.loads(stats.read_text())
    wan, lan = report["ports"]
    assert wan["rx"] == len(frames)
    assert lan["tx"] == 1023 and lan["tx_dropped"] == len(frames) - 1023
    # Only the packets the ring still holds are out of the pool (the binary says so
    # and exits 3); every dropped one was freed.
    assert report["mempool"]["in_use"] == lan["tx"], proc.stderr
    assert "1023 mbuf(s) still in use" in proc.stderr


def test_missing_input_file_is_a_clear_error(tmp_path, build_cache):
    graph = chain_from_text(tmp_path, PASS, "missing")
    binary = dpdk_build.build(graph, cache_dir=build_cache).binary
    opts = runner.RunOptions(inputs={"wan": str(tmp_path / "nope.pcap")},
                             outputs={"lan": str(tmp_path / "o.pcap")})
    proc = runner.run(binary, graph, opts, capture=True, timeout=120)
    assert proc.returncode == 1
    assert "nope.pcap" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_port_override_is_rejected(tmp_path, build_cache):
    graph = chain_from_text(tmp_path, PASS, "unknown")
    binary = dpdk_build.build(graph, cache_dir=build_cache).binary
    proc = subprocess.run([str(binary), "--no-huge", "--no-pci", "-l", "0", "--no-shconf",
                           "--file-prefix", f"chainc-test-{os.getpid()}-u", "--",
                           "--port", "wna=net_null0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "no port 'wna'" in proc.stderr and "wan" in proc.stderr


def test_too_few_lcores_is_explained(tmp_path, build_cache):
    graph = chain_from_text(tmp_path, TWO_CORES, "fewcores")
    binary = dpdk_build.build(graph, cache_dir=build_cache).binary
    prefix = f"chainc-test-{os.getpid()}-l"
    pcap_in = write_frames(tmp_path / "in.pcap", mixed_frames(10))
    try:
        proc = subprocess.run(
            [str(binary), "--no-huge", "--no-pci", "-l", "0", "--no-shconf", "--file-prefix", prefix,
             "--log-level=warning", "--", "--port", f"wan=net_pcap_wan,rx_pcap={pcap_in}",
             "--port", f"lan=net_pcap_lan,tx_pcap={tmp_path / 'a.pcap'}",
             "--port", f"dns=net_pcap_dns,tx_pcap={tmp_path / 'b.pcap'}"],
            capture_output=True, text=True, timeout=120)
    finally:
        for d in runner.runtime_dirs(prefix):
            subprocess.run(["rm", "-rf", str(d)])
    assert proc.returncode == 1
    assert "2 stages" in proc.stderr and "-l 0-1" in proc.stderr
