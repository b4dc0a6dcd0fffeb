"""VlanPush and VlanPop reference bodies."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.all import IP, TCP, UDP, Dot1AD, Dot1Q, Ether, IPv6

from chainc.packet import META_L3_IPV4, META_L3_IPV6, META_L4_OK, META_VLAN_LIMIT, parse_meta
from chainc.pcapfile import read_pcap

from nfhelpers import make_node, packet, reference, stdlib

ROOT = Path(__file__).resolve().parent.parent
PUSH_RUNT = -(1 + stdlib().get("VlanPush").drop_reasons.index("runt"))
POP_UNTAGGED = -(1 + stdlib().get("VlanPop").drop_reasons.index("untagged"))
POP_RUNT = -(1 + stdlib().get("VlanPop").drop_reasons.index("runt"))

A, B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def push(**params):
    return reference(make_node("VlanPush", params))


def pop(**params):
    return reference(make_node("VlanPop", params))


def run(body, frame):
    pkt = packet(frame)
    return body.process(pkt, 0), pkt


def frames():
    return [
        Ether(src=A, dst=B) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80) / b"data",
        Ether(src=A, dst=B) / IPv6(dst="2001:db8::1") / UDP(sport=5, dport=53) / b"q",
        Ether(src=A, dst=B) / Dot1Q(vlan=7) / IP(dst="10.0.0.2") / UDP(dport=53),
        Ether(src=A, dst=B) / Dot1AD(vlan=30) / Dot1Q(vlan=7) / IP() / UDP(),
        Ether(src=A, dst=B, type=0x88CC) / (b"\x02" * 30),
    ]


@pytest.mark.parametrize("params, tpid, tci", [
    ({"vid": 100}, 0x8100, 100),
    ({"vid": 4094, "pcp": 7, "dei": True}, 0x8100, 0xFFFE),
    ({"vid": 0, "pcp": 5}, 0x8100, 0xA000),
    ({"vid": 300, "tpid": "802.1ad", "pcp": 1}, 0x88A8, 0x212C),
])
def test_push_inserts_the_tag_after_the_macs(params, tpid, tci):
    body = push(**params)
    for frame in frames():
        raw = bytes(frame)
        result, pkt = run(body, raw)
        assert result == 0
        tag = tpid.to_bytes(2, "big") + tci.to_bytes(2, "big")
        assert bytes(pkt.data) == raw[:12] + tag + raw[12:]
        # The metadata was parsed again: the new tag is the outermost.
        before = parse_meta(raw)
        m = pkt.meta
        assert (m.vlan_tpid, m.vlan_outer, m.vlan_count) == (tpid, tci, before.vlan_count + 1)
        assert m.l3_off == before.l3_off + 4
        assert m.l4_off == (before.l4_off + 4 if before.l4_off else 0)
        assert m.flags == before.flags and m.pkt_len == before.pkt_len + 4
        assert m.ip4_dst == before.ip4_dst and m.dport == before.dport


def test_push_onto_four_tags_makes_a_frame_the_parser_stops_at():
    frame = Ether() / Dot1Q() / Dot1Q() / Dot1Q() / Dot1Q() / IP() / UDP()
    result, pkt = run(push(vid=9), bytes(frame))
    assert result == 0
    assert pkt.meta.flags & META_VLAN_LIMIT and not pkt.meta.flags & META_L3_IPV4


@pytest.mark.parametrize("size", [0, 1, 6, 12, 13])
def test_push_drops_runts(size):
    frame = bytes(range(size))
    result, pkt = run(push(vid=5), frame)
    assert result == PUSH_RUNT and bytes(pkt.data) == frame


def test_push_onto_a_bare_ethernet_header():
    result, pkt = run(push(vid=5), bytes(range(14)))
    assert result == 0 and bytes(pkt.data) == bytes(range(12)) + b"\x81\x00\x00\x05" + bytes([12, 13])


def test_pop_removes_the_outermost_tag():
    body = pop()
    inner = Ether(src=A, dst=B) / IP(dst="10.0.0.2") / UDP(dport=53) / b"x"
    for tpid in (0x8100, 0x88A8, 0x9100):
        tagged = Ether(src=A, dst=B, type=tpid) / Dot1Q(vlan=7) / IP(dst="10.0.0.2") / UDP(dport=53) / b"x"
        assert bytes(tagged)[12:14] == tpid.to_bytes(2, "big")
        result, pkt = run(body, bytes(tagged))
        assert result == 0 and bytes(pkt.data) == bytes(inner)
    tagged = Ether(src=A, dst=B) / Dot1Q(vlan=7) / IP(dst="10.0.0.2") / UDP(dport=53) / b"x"
    result, pkt = run(body, bytes(tagged))
    assert bytes(pkt.data) == bytes(inner)
    assert pkt.meta == parse_meta(bytes(inner))
    assert pkt.meta.flags & META_L3_IPV4 and pkt.meta.flags & META_L4_OK and pkt.meta.l3_off == 14


def test_pop_of_qinq_leaves_the_inner_tag_and_two_pops_leave_none():
    qinq = bytes(Ether(src=A, dst=B) / Dot1AD(vlan=30) / Dot1Q(vlan=7) / IPv6() / UDP())
    result, pkt = run(pop(), qinq)
    assert result == 0 and pkt.meta.vlan_count == 1 and pkt.meta.vlan_outer == 7
    assert pkt.meta.vlan_tpid == 0x8100
    assert pop().process(pkt, 0) == 0
    assert pkt.meta.vlan_count == 0 and pkt.meta.flags & META_L3_IPV6
    assert bytes(pkt.data) == qinq[:12] + qinq[20:]


def test_pop_untagged_passes_or_drops():
    frame = bytes(frames()[0])
    result, pkt = run(pop(), frame)
    assert result == 0 and bytes(pkt.data) == frame
    result, pkt = run(pop(untagged="drop"), frame)
    assert result == POP_UNTAGGED and bytes(pkt.data) == frame


@pytest.mark.parametrize("frame", [b"", b"\x01" * 6, bytes(13),
                                   bytes(12) + b"\x81\x00", bytes(12) + b"\x81\x00\x00\x07",
                                   bytes(12) + b"\x88\xa8\x00\x07\x08"])
def test_pop_drops_runts_and_cut_tags(frame):
    for body in (pop(), pop(untagged="drop")):
        result, pkt = run(body, frame)
        assert result == POP_RUNT and bytes(pkt.data) == frame


def test_push_then_pop_is_the_identity():
    for params in ({"vid": 1}, {"vid": 4000, "pcp": 6, "dei": True, "tpid": "802.1ad"}):
        for frame in frames():
            raw = bytes(frame)
            pkt = packet(raw)
            assert push(**params).process(pkt, 0) == 0
            assert pop().process(pkt, 0) == 0
            assert bytes(pkt.data) == raw and pkt.meta == parse_meta(raw)


def test_every_sample_and_malformed_frame_survives_push_and_pop():
    traffic = ROOT / "examples" / "traffic"
    records = read_pcap(str(traffic / "malformed.pcap")) + read_pcap(str(traffic / "sample.pcap"))[:2000]
    pusher, popper = push(vid=42), pop()
    for rec in records:
        result, pkt = run(pusher, rec.data)
        assert result == (0 if len(rec.data) >= 14 else PUSH_RUNT)
        if result == 0:
            assert popper.process(pkt, 0) == 0 and bytes(pkt.data) == rec.data
        result, pkt = run(popper, rec.data)
        assert result in (0, POP_RUNT)
        assert pkt.meta == parse_meta(bytes(pkt.data))
