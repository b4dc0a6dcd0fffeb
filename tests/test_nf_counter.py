"""Counter reference body: packets in, the same packets out, counts kept."""

from scapy.all import IP, TCP, Ether, Raw

from nfhelpers import make_node, packet, reference


def test_counts_packets_and_bytes_and_forwards_unchanged():
    body = reference(make_node("Counter"))
    frames = [bytes(Ether() / IP(dst="10.0.0.1") / TCP(dport=80) / Raw(b"x" * n)) for n in (0, 10, 1000)]
    for f in frames:
        pkt = packet(f)
        assert body.process(pkt, 0) == 0
        assert bytes(pkt.data) == f
    assert body.counters == {"packets": 3, "bytes": sum(len(f) for f in frames)}


def test_counters_match_the_native_counter_names():
    node = make_node("Counter")
    body = reference(node)
    assert tuple(body.counters) == node.spec.native.counters


def test_counts_runts_and_garbage_too():
    body = reference(make_node("Counter"))
    for f in (b"", b"\x01", b"\xff" * 13):
        assert body.process(packet(f), 0) == 0
    assert body.counters == {"packets": 3, "bytes": 14}


def test_instances_count_separately():
    a, b = reference(make_node("Counter", node_id="a")), reference(make_node("Counter", node_id="b"))
    a.process(packet(b"\0" * 60), 0)
    assert a.counters["packets"] == 1 and b.counters["packets"] == 0
