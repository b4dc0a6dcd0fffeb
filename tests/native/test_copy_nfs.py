"""Tee and Sampler natively: copies leave on their own ports without touching the
original, the native run equals `chainc sim`, and no mbuf is left behind."""

from __future__ import annotations

import pytest

from chainc.nfs.registry import Registry
from chainc.sim import simulate

from .chains import chain_from_text, mixed_frames, read_frames, write_frames

CHAIN = '''
port wan = pcap("in.pcap")
port lan = pcap(out: "lan.pcap")
port mirror = pcap(out: "mirror.pcap")
port samples = pcap(out: "samples.pcap")
nf t = Tee()
nf every7 = Sampler(every: 7)
nf quarter = Sampler(probability: 0.25, seed: 42, snaplen: 64)
nf short = Tee(snaplen: 20)
wan -> t -> every7 -> quarter -> short -> lan
t.copy -> MacSwap() -> mirror
every7.sample -> samples
quarter.sample -> samples
short.copy -> drop
'''
PORTS = ["lan", "mirror", "samples"]


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    return mixed_frames(700, seed=11)


@pytest.fixture
def runs(tmp_path, native, frames):
    graph = chain_from_text(tmp_path, CHAIN, "copies")
    run = native(graph, {"wan": write_frames(tmp_path / "in.pcap", frames)}, PORTS)
    sim = simulate(graph, {"wan": frames}, Registry.load())
    return run, sim


def test_native_equals_sim(runs):
    run, sim = runs
    for port in PORTS:
        got = read_frames(run.outputs[port])
        assert got == sim.outputs[port], f"{port} differs"
    by_id = {n["id"]: n for n in run.stats["nodes"]}
    for node in sim.stats["nodes"]:
        mine = by_id[node["id"]]
        assert (mine["in"], mine["out"], mine["emitted"], mine["counters"]) == \
               (node["in"], node["out"], node["emitted"], node["counters"]), node["id"]
    assert run.stats["mempool"]["in_use"] == 0


def test_copies_are_independent_of_the_original(runs, frames):
    run, _ = runs
    lan = read_frames(run.outputs["lan"])
    mirror = read_frames(run.outputs["mirror"])
    assert lan == frames  # the copy path's MacSwap did not touch the originals
    swapped = [f[6:12] + f[:6] + f[12:] for f in frames if len(f) >= 14]
    assert mirror == swapped  # MacSwap drops runts, rewrites the rest of the copies


def test_sampling_rates_and_snaplen(runs, frames):
    run, _ = runs
    by_id = {n["id"]: n for n in run.stats["nodes"]}
    assert by_id["every7"]["out"]["sample"] == len(frames) // 7
    quarter = by_id["quarter"]["out"]["sample"]
    assert 0.18 * len(frames) < quarter < 0.32 * len(frames)
    samples = read_frames(run.outputs["samples"])
    assert len(samples) == len(frames) // 7 + quarter
    # The probability sampler truncates its copies to 64 bytes; the 1-in-7 one copies whole.
    assert any(len(s) > 64 for s in samples) and sum(len(s) <= 64 for s in samples) >= quarter


def test_conservation_counts_copies(runs, frames):
    run, _ = runs
    for node in run.stats["nodes"]:
        if node["type"] in ("Tee", "Sampler"):
            assert node["in"] == len(frames)
            assert node["in"] == sum(node["out"].values()) + sum(node["drops"].values()) - node["emitted"]
    short = next(n for n in run.stats["nodes"] if n["id"] == "short")
    sink = next(n for n in run.stats["nodes"] if n["type"] == "drop")
    assert short["emitted"] == len(frames) and sink["in"] == len(frames)
