"""Chains built and run natively over net_pcap vdevs leave exactly the packets
that `chainc sim` leaves: same ports, same order, same bytes, same counters."""

from __future__ import annotations

import pytest

from chainc.nfs.registry import Registry
from chainc.sim import simulate

from .chains import chain_from_text, mixed_frames, read_frames, write_frames

HEADER = '''
port wan = pcap("in.pcap")
port lan = pcap(out: "lan.pcap")
'''

CHAINS = {
    "passthrough": HEADER + "wan -> lan\n",
    "counter-macswap": HEADER + "wan -> Counter() -> MacSwap() -> lan\n",
    "classify-branches": '''
port wan = pcap("in.pcap")
port web = pcap(out: "web.pcap")
port other = pcap(out: "other.pcap")
nf cls = Classifier {
    web  : "tcp dst port 80 or tcp dst port 443"
    dns  : "udp dst port 53"
    v6   : "ip6"
    rest : *
}
nf seen = Counter()
wan -> cls
cls.web -> seen -> MacSwap() -> web
cls.v6 -> seen
cls.dns -> drop
cls.rest -> other
''',
    "classify-no-default": HEADER + '''
nf cls = Classifier {
    tagged : "vlan 100"
    icmp   : "icmp"
}
wan -> cls
cls.tagged -> Counter() -> lan
cls.icmp -> Drop()
''',
}

OUTPUT_PORTS = {
    "passthrough": ["lan"],
    "counter-macswap": ["lan"],
    "classify-branches": ["web", "other"],
    "classify-no-default": ["lan"],
}


def _comparable(stats: dict) -> dict:
    """Counters both engines keep: packets in, out per port, drops per reason."""
    out = {}
    for node in stats["nodes"]:
        if node["type"] in ("port-in", "port-out", "drop"):
            continue
        drops = {k: v for k, v in node["drops"].items() if v}
        out[node["id"]] = (node["in"], dict(node["out"]), drops, dict(node.get("counters") or {}))
    return out


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_native_equals_sim(name, tmp_path, native):
    graph = chain_from_text(tmp_path, CHAINS[name], name.replace("-", "_"))
    frames = mixed_frames()
    pcap_in = write_frames(tmp_path / "in.pcap", frames)

    run = native(graph, {"wan": pcap_in}, OUTPUT_PORTS[name])
    sim = simulate(graph, {"wan": frames}, Registry.load())

    for port in OUTPUT_PORTS[name]:
        got = read_frames(run.outputs[port])
        want = sim.outputs.get(port, [])
        assert len(got) == len(want), f"{port}: native sent {len(got)}, sim {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert g == w, f"{port}: packet {i} differs"
    assert _comparable(run.stats) == _comparable(sim.stats)
    assert run.stats["mempool"]["in_use"] == 0
    assert sum(p["rx"] for p in run.stats["ports"]) == len(frames)


def test_every_packet_is_accounted_for(tmp_path, native):
    """Conservation per NF: in = sum(out) + sum(drops)."""
    graph = chain_from_text(tmp_path, CHAINS["classify-branches"], "conserve")
    frames = mixed_frames(400, seed=3)
    run = native(graph, {"wan": write_frames(tmp_path / "in.pcap", frames)}, ["web", "other"])
    for node in run.stats["nodes"]:
        if node["type"] in ("port-in", "port-out", "drop"):
            continue
        assert node["in"] == sum(node["out"].values()) + sum(node["drops"].values()), node["id"]
    sent = sum(p["tx"] for p in run.stats["ports"])
    to_sink = next(n for n in run.stats["nodes"] if n["type"] == "drop")["in"]
    by_nfs = sum(sum(n["drops"].values()) for n in run.stats["nodes"])
    assert to_sink > 0 and sent > 0
    assert sent + to_sink + by_nfs == len(frames)
