"""Sanitized binaries (`--sanitize`): a bug in an NF is a failed run, and every
example chain survives the malformed-packet corpus with no sanitizer report,
every packet accounted for and every mbuf back in its pool."""

from __future__ import annotations

from pathlib import Path

import pytest
from malformed import corpus, eth, ipv4, udp4

from chainc.backends.dpdk import build as dpdk_build
from chainc.backends.dpdk import runner
from chainc.backends.dpdk.sanitize import EXIT_CODE, first_report
from chainc.driver import load_chain
from chainc.ir.graph import ChainGraph, NodeKind
from chainc.nfs.registry import Registry
from chainc.pcapfile import PcapPacket
from chainc.verify import Verifier, input_ports

from .chains import write_frames
from .faulty import FAULT_NFS, faulty_chain
from .test_examples import _native_examples


@pytest.fixture(scope="module")
def faulty(tmp_path_factory, build_cache):
    """One sanitized binary with both faults, shared by the tests below."""
    where = tmp_path_factory.mktemp("faulty")
    (where / "faulty.chain").write_text(faulty_chain())
    graph = load_chain(str(where / "faulty.chain"), nf_paths=[str(FAULT_NFS)]).graph
    return graph, dpdk_build.build(graph, cache_dir=build_cache, sanitize=True).binary


def _run(graph: ChainGraph, binary: Path, tmp_path: Path, frames: list[bytes]):
    pcap = write_frames(tmp_path / "in.pcap", frames)
    opts = runner.RunOptions(inputs={"wan": str(pcap)}, outputs={"lan": str(tmp_path / "lan.pcap")},
                             quiet=True)
    return runner.run(binary, graph, opts, capture=True, timeout=120)


def test_a_read_past_the_frame_is_reported_and_fails_the_run(faulty, tmp_path):
    graph, binary = faulty
    long = eth(0x0800, ipv4(6, bytes(80)))
    proc = _run(graph, binary, tmp_path, [long] * 5 + [long[:42]] + [long] * 5)
    assert proc.returncode == EXIT_CODE, proc.stderr
    assert "AddressSanitizer: use-after-poison" in first_report(proc.stderr)
    assert "fault_process" in proc.stderr


def test_undefined_behaviour_is_reported_and_fails_the_run(faulty, tmp_path):
    graph, binary = faulty
    frame = eth(0x0800, ipv4(17, udp4(b"\xc8", sport=1, dport=9)))  # last byte 200: 1 << 200
    proc = _run(graph, binary, tmp_path, [frame])
    assert proc.returncode == EXIT_CODE, proc.stderr
    assert "shift exponent 200" in first_report(proc.stderr)


def test_a_clean_run_of_the_sanitized_binary_exits_0(faulty, tmp_path):
    graph, binary = faulty
    frame = eth(0x0800, ipv4(17, udp4(b"\x07", sport=1, dport=9)))
    proc = _run(graph, binary, tmp_path, [frame, eth(0x0800, ipv4(6, bytes(80)))] * 40)
    assert proc.returncode == 0, proc.stderr
    assert first_report(proc.stderr) is None


# ---------------------------------------------------------------- every example over the corpus


def conservation_errors(graph: ChainGraph, stats: dict) -> list[str]:
    """Every way the counters can fail to add up; empty when each packet is accounted for.

    Per NF: in = sum(out) + drops - emitted (copies it made). Per edge: what an
    NF or port receives is what its predecessors sent it. Per port: tx and
    tx-dropped add up to what reached it. Overall: received + emitted = sent +
    dropped.
    """
    errors = []
    nodes = {n["id"]: n for n in stats["nodes"]}
    for n in stats["nodes"]:
        accounted = sum(n["out"].values()) + sum(n["drops"].values()) - n.get("emitted", 0)
        if n["type"] not in ("port-in", "port-out", "drop") and n["in"] != accounted:
            errors.append(f"{n['id']}: in {n['in']} but out + drops - emitted = {accounted}")
        if n["drops"].get("bad-output"):
            errors.append(f"{n['id']}: {n['drops']['bad-output']} packet(s) to an output it lacks")
    for node in graph.nodes():
        if node.kind is NodeKind.PORT_IN:
            continue
        sent = sum(nodes[e.src]["out"].get(e.out_port, 0) for e in graph.in_edges(node.id))
        if nodes[node.id]["in"] != sent:
            errors.append(f"{node.id}: received {nodes[node.id]['in']}, predecessors sent {sent}")
    ports = stats["ports"]
    received = sum(p["rx"] for p in ports) + sum(n.get("emitted", 0) for n in stats["nodes"])
    left = (sum(p["tx"] + p["tx_dropped"] for p in ports)
            + sum(sum(n["drops"].values()) for n in stats["nodes"] if n["type"] != "drop")
            + sum(n["in"] for n in stats["nodes"] if n["type"] == "drop"))
    if received != left:
        errors.append(f"received {received} (with copies) but sent or dropped {left}")
    if stats.get("internal_drops"):
        errors.append(f"{stats['internal_drops']} internal drop(s)")
    return errors


@pytest.fixture(scope="module")
def corpus_frames() -> list[PcapPacket]:
    return [PcapPacket(i * 1000, c.frame, c.orig_len) for i, c in enumerate(corpus())]


@pytest.mark.parametrize("path", _native_examples(), ids=lambda p: p.stem)
def test_example_survives_the_corpus_sanitized(path, corpus_frames, build_cache, tmp_path):
    graph = load_chain(str(path)).graph
    binary = dpdk_build.build(graph, cache_dir=build_cache, sanitize=True).binary
    verifier = Verifier(graph, Registry.load(), binary, tmp_path)
    frames = {port: corpus_frames for port in input_ports(graph)}
    native, sim = verifier.native(frames), verifier.sim(frames)
    if verifier.differs(native, sim):  # a report, a crash or a difference: isolate the packet
        diff = verifier.verify(frames, tmp_path, graph.name).difference
        pytest.fail(f"{path.name}: packet {diff.culprit}: {diff.native_failure or ''}"
                    f" native {diff.native_path} / sim {diff.sim_path}; {diff.counter_diff}")
    stats = native.counters["stats"]
    assert conservation_errors(graph, stats) == []
    assert all(p["rx"] == len(corpus_frames) for p in stats["ports"] if p["name"] in frames)
    assert stats["mempool"]["in_use"] == 0
