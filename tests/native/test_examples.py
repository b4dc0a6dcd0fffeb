"""Every example chain whose NFs all have native bodies is built, run over the
sample traffic, and leaves the same packets as `chainc sim`."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainc.backends.dpdk.model import build_model
from chainc.driver import load_chain
from chainc.ir.graph import NodeKind
from chainc.nfs.registry import Registry
from chainc.pcapfile import read_pcap
from chainc.sim import default_files, simulate

from .chains import read_frames

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _native_examples() -> list[Path]:
    out = []
    for path in sorted(EXAMPLES.glob("*.chain")):
        graph = load_chain(str(path)).graph
        if all(n.spec is not None and n.spec.native is not None for n in graph.nodes(NodeKind.NF)):
            out.append(path)
    return out


def test_the_quickstart_is_among_the_native_examples():
    assert EXAMPLES / "quickstart.chain" in _native_examples()


@pytest.mark.parametrize("path", _native_examples(), ids=lambda p: p.stem)
def test_example_runs_natively_like_sim(path, native):
    graph = load_chain(str(path)).graph
    in_files, out_files = default_files(graph)
    assert in_files, f"{path.name} declares no input pcap"
    inputs = {port: Path(f) for port, f in in_files.items()}
    run = native(graph, inputs, sorted(out_files))
    # With capture times: the binary's NFs see them too (its packet clock).
    frames = {port: [(p.ts_ns, p.data) for p in read_pcap(str(f))] for port, f in inputs.items()}
    sim = simulate(graph, frames, Registry.load())
    # Stages on several cores merge their packets into a port in the order they
    # reach it, which may interleave differently from the simulator's; the
    # packets themselves must be the same.
    several_cores = len(build_model(graph).stages) > 1
    for port in sorted(out_files):
        got, want = read_frames(run.outputs[port]), sim.outputs.get(port, [])
        if several_cores:
            got, want = sorted(got), sorted(want)
        assert got == want, f"{path.name}: port {port} differs"
    assert sum(len(v) for v in frames.values()) == sum(p["rx"] for p in run.stats["ports"])
    assert run.stats["mempool"]["in_use"] == 0
