"""Drop reference body."""

from scapy.all import IP, UDP, Ether

from nfhelpers import make_node, packet, reference


def test_drops_everything_under_the_reason_dropped():
    node = make_node("Drop")
    body = reference(node)
    assert node.outputs == ()
    # No reason of its own: -1 falls through to the framework's "dropped", so
    # the stats never hold two reasons of that name.
    assert node.spec.drop_reasons == ()
    for f in (bytes(Ether() / IP() / UDP()), b"", b"\x00" * 9000):
        assert body.process(packet(f), 0) == -1


def test_drop_in_a_chain_is_counted_as_dropped():
    from chainc.sim import _drop_reasons, _reason
    node = make_node("Drop")
    assert _reason(node, -1) == "dropped"
    assert _drop_reasons(node) == ("dropped", "bad-output")
