"""The reference simulator over small hand-built graphs (no parser involved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scapy.all import IP, TCP, UDP, Ether

from chainc.diagnostics import CompileError
from chainc.ir.graph import ChainGraph, NfNode, NodeKind, PortBinding
from chainc.nfs.registry import Registry
from chainc.pcapfile import PcapPacket, read_pcap, write_pcap
from chainc.sim import SimError, default_files, run_sim, simulate
from chainc.source import SourceFile

from nfhelpers import make_node

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def reg():
    return Registry.load([DATA / "simnfs", DATA / "nfs"])


SRC = SourceFile("t.chain", "# a test chain\n")
SPAN = SRC.span(0, 1)


class G:
    """A tiny builder: ports and NFs by name, edges as 'a.out -> b.in'."""

    def __init__(self, reg, name="t"):
        self.reg = reg
        self.g = ChainGraph(name, "t.chain")

    def port_in(self, name):
        self.g.add(NfNode(f"{name}/rx", NodeKind.PORT_IN, SPAN, port=name, inputs=(), outputs=("out",)))
        return self

    def port_out(self, name):
        self.g.add(NfNode(f"{name}/tx", NodeKind.PORT_OUT, SPAN, port=name, inputs=("in",), outputs=()))
        return self

    def drop(self, node_id="drop"):
        self.g.add(NfNode(node_id, NodeKind.DROP, SPAN, inputs=("in",), outputs=()))
        return self

    def nf(self, node_id, type_name, **params):
        node = make_node(self.reg.get(type_name), params, node_id=node_id)
        self.g.add(node)
        return self

    def edge(self, src, out, dst, inp="in"):
        self.g.connect(src, out, dst, inp)
        return self


def udp(i, size=0):
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(dst="10.0.0.1")
                 / UDP(sport=1000 + i, dport=53) / (b"z" * size))


def node_stats(stats, node_id):
    return next(n for n in stats["nodes"] if n["id"] == node_id)


def test_straight_line_chain(reg):
    b = (G(reg).port_in("wan").port_out("lan").nf("c", "Counter").nf("m", "MacSwap")
         .edge("wan/rx", "out", "c").edge("c", "out", "m").edge("m", "out", "lan/tx"))
    frames = [udp(i) for i in range(3)] + [b"\x01" * 10]  # the last is a runt
    res = simulate(b.g, {"wan": frames}, reg)
    swapped = [f[6:12] + f[0:6] + f[12:] for f in frames[:3]]
    assert res.outputs == {"wan": [], "lan": swapped}
    assert res.drops == {("m", "runt"): 1}
    s = res.stats
    assert s["chain"] == "t"
    assert [n["id"] for n in s["nodes"]] == ["wan/rx", "c", "m", "lan/tx"]
    c = node_stats(s, "c")
    assert c == {"id": "c", "type": "Counter", "core": 0, "in": 4, "out": {"out": 4},
                 "drops": {"dropped": 0, "bad-output": 0}, "emitted": 0, "cycles": 0,
                 "cycle_samples": 0, "counters": {"packets": 4, "bytes": sum(map(len, frames))}}
    m = node_stats(s, "m")
    assert m["in"] == 4 and m["out"] == {"out": 3} and m["drops"]["runt"] == 1
    assert node_stats(s, "wan/rx")["type"] == "port-in" and node_stats(s, "wan/rx")["in"] == 4
    assert node_stats(s, "lan/tx")["in"] == 3
    assert s["ports"] == [{"name": "wan", "rx": 4, "tx": 0, "tx_dropped": 0},
                          {"name": "lan", "rx": 0, "tx": 3, "tx_dropped": 0}]
    json.dumps(s)  # the stats are plain JSON


def test_branches_drop_sink_and_drop_reasons(reg):
    b = (G(reg).port_in("in0").port_out("even").drop("sink").nf("p", "Parity")
         .edge("in0/rx", "out", "p").edge("p", "even", "even/tx").edge("p", "odd", "sink"))
    frames = [b"\x00" * 60, b"\x00" * 61, b"", b"\x00" * 62]
    res = simulate(b.g, {"in0": frames}, reg)
    assert res.outputs["even"] == [frames[0], frames[3]]
    assert res.drops == {("p", "empty"): 1, ("sink", "dropped"): 1}
    p = node_stats(res.stats, "p")
    assert p["out"] == {"even": 2, "odd": 1} and p["drops"] == {"empty": 1, "dropped": 0, "bad-output": 0}
    sink = node_stats(res.stats, "sink")
    assert sink["type"] == "drop" and sink["in"] == 1


def test_merge_with_input_port_index_and_finish(reg):
    """Two ports into the two inputs of one NF; `in_port` is the input's index."""
    b = (G(reg).port_in("a").port_in("b").port_out("out").nf("t", "Tagger")
         .edge("a/rx", "out", "t", "a").edge("b/rx", "out", "t", "b").edge("t", "out", "out/tx"))
    res = simulate(b.g, {"a": [b"A"], "b": [b"B"]}, reg)
    assert res.outputs["out"] == [b"A\x00", b"B\x01"]
    assert res.instances["t"].finished
    assert node_stats(res.stats, "t")["counters"] == {"tagged": 2}


def test_round_robin_bursts_of_32_in_port_declaration_order(reg):
    b = (G(reg).port_in("a").port_in("b").port_out("out").nf("t", "Tagger")
         .edge("a/rx", "out", "t", "a").edge("b/rx", "out", "t", "b").edge("t", "out", "out/tx"))
    a = [bytes([1, i]) for i in range(70)]
    bb = [bytes([2, i]) for i in range(5)]
    res = simulate(b.g, {"b": bb, "a": a}, reg)  # dict order does not matter
    order = [(f[0], f[1]) for f in res.outputs["out"]]
    expected = ([(1, i) for i in range(32)] + [(2, i) for i in range(5)]
                + [(1, i) for i in range(32, 64)] + [(1, i) for i in range(64, 70)])
    assert order == expected


def test_bad_output_index_and_unlisted_drop_are_counted(reg):
    b = (G(reg).port_in("i").port_out("o").nf("x", "BadOut")
         .edge("i/rx", "out", "x").edge("x", "out", "o/tx"))
    res = simulate(b.g, {"i": [b"a", b"bb", b"ccc"]}, reg)
    assert res.outputs["o"] == [b"ccc"]
    assert node_stats(res.stats, "x")["drops"] == {"one": 0, "dropped": 1, "bad-output": 1}


def test_nf_without_reference_body_is_a_clear_error(reg):
    b = (G(reg).port_in("i").port_out("o").nf("x", "SpecsOnly")
         .edge("i/rx", "out", "x").edge("x", "out", "o/tx"))
    with pytest.raises(CompileError) as err:
        simulate(b.g, {"i": [udp(0)]}, reg)
    (diag,) = err.value.diagnostics
    assert diag.message == "NF 'SpecsOnly' has no reference body yet; `chainc sim` cannot run it"
    assert diag.span is not None


def test_unknown_input_port(reg):
    b = G(reg).port_in("i").port_out("o").edge("i/rx", "out", "o/tx")
    with pytest.raises(SimError, match="no input port named 'x'"):
        simulate(b.g, {"x": [b"1"]}, reg)
    assert simulate(b.g, {}, reg).outputs == {"i": [], "o": []}


def test_user_nf_from_nf_path(reg):
    b = (G(reg).port_in("i").port_out("o").nf("f", "SizeFilter", min=64)
         .edge("i/rx", "out", "f").edge("f", "out", "o/tx"))
    res = simulate(b.g, {"i": [b"\0" * 60, b"\0" * 64, b"\0" * 2000]}, reg)
    assert res.outputs["o"] == [b"\0" * 64]
    f = node_stats(res.stats, "f")
    assert f["drops"] == {"too-short": 1, "too-long": 1, "dropped": 0, "bad-output": 0}
    assert f["counters"] == {"passed": 1}


def test_run_sim_reads_and_writes_pcaps_keeping_timestamps(reg, tmp_path):
    b = (G(reg).port_in("wan").port_out("lan").nf("m", "MacSwap")
         .edge("wan/rx", "out", "m").edge("m", "out", "lan/tx"))
    src = tmp_path / "in.pcap"
    frames = [udp(i, i) for i in range(40)]
    write_pcap(src, [PcapPacket(1_000_000_000 * i + 7, f) for i, f in enumerate(frames)])
    stats = run_sim(b.g, {"wan": str(src)}, {"lan": str(tmp_path / "out.pcap")}, reg)
    out = read_pcap(tmp_path / "out.pcap")
    assert [p.ts_ns for p in out] == [1_000_000_000 * i + 7 for i in range(40)]
    assert [p.data for p in out] == [f[6:12] + f[0:6] + f[12:] for f in frames]
    assert stats["ports"][0] == {"name": "wan", "rx": 40, "tx": 0, "tx_dropped": 0}


def test_default_files_from_port_bindings(reg):
    g = ChainGraph("t")
    g.port_bindings = {"wan": PortBinding("pcap", {"in": "traffic/wan.pcap"}),
                       "lan": PortBinding("pcap", {"out": "lan.pcap"}),
                       "x": PortBinding("null", {})}
    assert default_files(g) == ({"wan": "traffic/wan.pcap"}, {"lan": "lan.pcap"})


def test_classifier_chain(reg):
    """wan -> Classifier{web, dns} (no default) -> ports; other traffic: no-match."""
    from chainc.values import Block, BlockEntry
    arms = Block((BlockEntry("web", "tcp dst port 80"), BlockEntry("dns", "udp dst port 53")))
    b = (G(reg).port_in("wan").port_out("web").port_out("dns").nf("cls", "Classifier", arms=arms)
         .edge("wan/rx", "out", "cls").edge("cls", "web", "web/tx").edge("cls", "dns", "dns/tx"))
    web = bytes(Ether() / IP(dst="10.0.0.1") / TCP(dport=80))
    dns = udp(1)
    ssh = bytes(Ether() / IP(dst="10.0.0.1") / TCP(dport=22))
    res = simulate(b.g, {"wan": [web, ssh, dns, web]}, reg)
    assert res.outputs["web"] == [web, web] and res.outputs["dns"] == [dns]
    assert res.drops == {("cls", "no-match"): 1}
    assert node_stats(res.stats, "cls")["out"] == {"web": 2, "dns": 1}
