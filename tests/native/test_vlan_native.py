"""VlanPush / VlanPop built natively and run over pcaps through net_pcap vdevs.

One binary holds every case (one input port per path, all fed the same
frames): push, QinQ push, pop, pop dropping untagged frames, push then pop,
and a Classifier after a push and after a pop, which only classifies right
if the body re-parsed the metadata. A last path pushes 33 tags onto every
frame: DPDK's 128 bytes of headroom hold 32, so the 33rd push drops the frame
(`no-headroom`), the one place where the native body and `chainc sim` differ.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from scapy.all import IP, TCP, UDP, Dot1AD, Dot1Q, Ether, IPv6

from chainc.nfs.registry import Registry
from chainc.pcapfile import read_pcap
from chainc.sim import simulate

from .chains import chain_from_text, mixed_frames, read_frames, write_frames

pytestmark = pytest.mark.dpdk

ROOT = Path(__file__).resolve().parents[2]
INPUTS = ("a", "b", "c", "d", "e", "f")
OUTPUTS = ("pushed", "pushed_other", "qinq", "popped", "popped_untag", "popped_only", "roundtrip", "deep")
DEEP = 33

CHAIN = """
port a = pcap("a.pcap")
port b = pcap("b.pcap")
port c = pcap("c.pcap")
port d = pcap("d.pcap")
port e = pcap("e.pcap")
port f = pcap("f.pcap")
""" + "".join(f'port {p} = pcap(out: "{p}.pcap")\n' for p in OUTPUTS) + """
nf push = VlanPush(vid: 100, pcp: 5, dei: true)
nf seen = Classifier {
    tagged : "vlan 100"
    other  : *
}
nf outer = VlanPush(vid: 300, pcp: 1, tpid: "802.1ad")
nf pop = VlanPop()
nf bare = Classifier {
    untagged : "not vlan"
    tagged   : *
}
nf pop_only = VlanPop(untagged: drop)
nf there = VlanPush(vid: 4094)
nf back = VlanPop()

a -> push -> seen
seen.tagged -> pushed
seen.other -> pushed_other
b -> outer -> qinq
c -> pop -> bare
bare.untagged -> popped
bare.tagged -> popped_untag
d -> pop_only -> popped_only
e -> there -> back -> roundtrip
f -> """ + " -> ".join(["VlanPush(vid: 1)"] * DEEP) + """ -> deep
"""
NAMED = ("push", "seen", "outer", "pop", "bare", "pop_only", "there", "back")


def frames() -> list[bytes]:
    out = mixed_frames(400, seed=5)
    out += [rec.data for rec in read_pcap(str(ROOT / "examples" / "traffic" / "malformed.pcap"))]
    eth = Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b")
    out += [
        bytes(eth / Dot1AD(vlan=30) / Dot1Q(vlan=7) / IP(dst="10.0.0.1") / UDP(dport=53) / b"q"),
        bytes(eth / Dot1Q(vlan=100) / Dot1Q(vlan=200) / IPv6() / TCP(dport=443)),
        bytes(Ether(type=0x9100) / Dot1Q(vlan=5) / IP() / TCP()),
        bytes(eth / Dot1Q(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) / Dot1Q(vlan=4) / IP() / UDP()),
        bytes(eth / Dot1Q(vlan=9) / (b"\x00" * 1496)),  # 1514 bytes: 1518 after a push
        bytes(range(14)), bytes(range(17)), bytes(range(18)),
    ]
    return out


@pytest.fixture(scope="module")
def result(tmp_path_factory, build_cache):
    import json

    from chainc.backends.dpdk import build as dpdk_build
    from chainc.backends.dpdk import runner

    tmp = tmp_path_factory.mktemp("vlan")
    graph = chain_from_text(tmp, CHAIN, "vlans")
    sent = frames()
    write_frames(tmp / "a.pcap", sent)
    for name in INPUTS[1:]:
        shutil.copy(tmp / "a.pcap", tmp / f"{name}.pcap")
    built = dpdk_build.build(graph, cache_dir=build_cache)
    outputs = {p: tmp / f"out-{p}.pcap" for p in OUTPUTS}
    opts = runner.RunOptions(inputs={k: str(tmp / f"{k}.pcap") for k in INPUTS},
                             outputs={k: str(v) for k, v in outputs.items()},
                             stats_json=str(tmp / "stats.json"), quiet=True)
    proc = runner.run(built.binary, graph, opts, capture=True)
    assert proc.returncode == 0, f"binary failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    stats = json.loads((tmp / "stats.json").read_text())
    got = {p: read_frames(outputs[p]) for p in OUTPUTS}
    sim = simulate(graph, {k: sent for k in INPUTS}, Registry.load())
    return sent, got, stats, sim


def _node(stats, node_id):
    return next(n for n in stats["nodes"] if n["id"] == node_id)


def test_native_vlan_bodies_leave_what_sim_leaves(result):
    sent, got, stats, sim = result
    for port in OUTPUTS:
        if port == "deep":
            continue
        want = sim.outputs.get(port, [])
        assert len(got[port]) == len(want), f"{port}: native {len(got[port])}, sim {len(want)}"
        for i, (g, w) in enumerate(zip(got[port], want)):
            assert g == w, f"{port}: packet {i} differs"
    for node_id in NAMED:
        native, simulated = _node(stats, node_id), _node(sim.stats, node_id)
        assert native["in"] == simulated["in"] and native["out"] == simulated["out"], node_id
        assert ({k: v for k, v in native["drops"].items() if v}
                == {k: v for k, v in simulated["drops"].items() if v}), node_id
    assert stats["mempool"]["in_use"] == 0
    assert sum(p["rx"] for p in stats["ports"]) == len(INPUTS) * len(sent)


def test_push_adds_one_outer_tag_and_later_nfs_see_it(result):
    sent, got, stats, sim = result
    whole = [f for f in sent if len(f) >= 14]
    assert got["pushed_other"] == []  # every pushed frame matches "vlan 100": meta was re-parsed
    assert got["pushed"] == [f[:12] + b"\x81\x00\xb0\x64" + f[12:] for f in whole]
    assert got["qinq"] == [f[:12] + b"\x88\xa8\x21\x2c" + f[12:] for f in whole]
    assert _node(stats, "push")["drops"]["runt"] == len(sent) - len(whole)
    for frame in got["pushed"][:200]:
        pkt = Ether(frame)
        assert pkt[Dot1Q].vlan == 100 and pkt[Dot1Q].prio == 5 and pkt[Dot1Q].dei == 1


def test_pop_removes_the_outermost_tag_and_later_nfs_see_it(result):
    sent, got, stats, sim = result
    tpids = (b"\x81\x00", b"\x88\xa8", b"\x91\x00")
    want = []
    for f in sent:
        if len(f) < 14 or (f[12:14] in tpids and len(f) < 18):
            continue
        want.append(f[:12] + f[16:] if f[12:14] in tpids else f)
    assert got["popped"] + got["popped_untag"] != []
    # `bare` splits by what the re-parsed metadata says; together they are all popped frames.
    assert sorted(got["popped"] + got["popped_untag"]) == sorted(want)
    for frame in got["popped"]:
        assert frame[12:14] not in tpids
    for frame in got["popped_untag"]:
        assert frame[12:14] in tpids  # was QinQ: the inner tag is now outermost
    tagged = [f[:12] + f[16:] for f in sent if f[12:14] in tpids and len(f) >= 18]
    assert got["popped_only"] == tagged
    assert _node(stats, "pop_only")["drops"]["untagged"] == sum(
        1 for f in sent if len(f) >= 14 and f[12:14] not in tpids)


def test_push_then_pop_gives_back_the_frame(result):
    sent, got, stats, sim = result
    assert got["roundtrip"] == [f for f in sent if len(f) >= 14]


def test_the_headroom_holds_32_tags(result):
    sent, got, stats, sim = result
    whole = sum(1 for f in sent if len(f) >= 14)
    assert got["deep"] == []
    pushes = [n for n in stats["nodes"] if n["type"] == "VlanPush" and n["id"] not in NAMED]
    assert len(pushes) == DEEP
    assert [sum(n["out"].values()) for n in pushes] == [whole] * (DEEP - 1) + [0]
    assert pushes[-1]["drops"]["no-headroom"] == whole
    assert len(sim.outputs["deep"]) == whole  # chainc sim has no headroom limit
