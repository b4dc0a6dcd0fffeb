"""MacSwap reference body."""

from scapy.all import IP, TCP, Ether

from nfhelpers import make_node, packet, reference

A, B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def test_swaps_source_and_destination():
    body = reference(make_node("MacSwap"))
    frame = Ether(src=A, dst=B) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80)
    pkt = packet(frame)
    assert body.process(pkt, 0) == 0
    out = Ether(bytes(pkt.data))
    assert (out.src, out.dst) == (B, A)
    assert bytes(pkt.data)[12:] == bytes(frame)[12:]  # nothing else changes


def test_swapping_twice_is_the_identity():
    body = reference(make_node("MacSwap"))
    frame = bytes(Ether(src=A, dst=B) / IP())
    pkt = packet(frame)
    body.process(pkt, 0)
    body.process(pkt, 0)
    assert bytes(pkt.data) == frame


def test_exactly_fourteen_bytes_is_enough():
    body = reference(make_node("MacSwap"))
    pkt = packet(bytes(range(14)))
    assert body.process(pkt, 0) == 0
    assert bytes(pkt.data) == bytes(range(6, 12)) + bytes(range(6)) + bytes([12, 13])


def test_runt_frames_are_dropped_unchanged():
    node = make_node("MacSwap")
    body = reference(node)
    for frame in (b"", b"\x01" * 6, bytes(range(13))):
        pkt = packet(frame)
        result = body.process(pkt, 0)
        assert result == -1 and node.spec.drop_reasons[0] == "runt"
        assert bytes(pkt.data) == frame
