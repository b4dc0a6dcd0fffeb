"""Drop reference body."""

from scapy.all import IP, UDP, Ether

from nfhelpers import make_node, packet, reference


def test_drops_everything_with_its_first_reason():
    node = make_node("Drop")
    body = reference(node)
    assert node.outputs == ()
    for f in (bytes(Ether() / IP() / UDP()), b"", b"\x00" * 9000):
        result = body.process(packet(f), 0)
        assert result == -1
        assert node.spec.drop_reasons[-result - 1] == "dropped"
