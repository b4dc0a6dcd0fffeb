"""Classifier: arms in order, first match wins, `*` default, no-match drops; checks at compile time."""

from __future__ import annotations

import pytest
from scapy.all import ICMP, IP, TCP, UDP, Ether, IPv6

from chainc.source import SourceFile
from chainc.values import WILDCARD, Block, BlockEntry

from nfhelpers import make_node, packet, reference, stdlib, validate


def classifier(*arms: tuple[str, object], node_id: str = "cls"):
    """A Classifier node whose arms carry spans into a .chain text, as the front end makes them."""
    lines = ["nf cls = Classifier {"]
    for key, value in arms:
        lines.append(f"    {key} : " + ("*" if value is WILDCARD else f'"{value}"'))
    lines.append("}")
    text = "\n".join(lines)
    src = SourceFile("edge.chain", text)
    entries, pos = [], 0
    for key, value in arms:
        k = text.index(f"    {key} : ", pos) + 4
        v = k + len(key) + 3
        vlen = 1 if value is WILDCARD else len(value) + 2
        entries.append(BlockEntry(key, value, src.span(k, k + len(key)), src.span(v, v + vlen)))
        pos = v + vlen
    return make_node("Classifier", {"arms": Block(tuple(entries))}, node_id=node_id, text=text,
                     param_spans={"arms": (text.index("{"), len(text))})


WEB = bytes(Ether() / IP(src="192.0.2.1", dst="10.0.0.1") / TCP(sport=40000, dport=80))
HTTPS = bytes(Ether() / IP(src="192.0.2.1", dst="10.0.0.1") / TCP(sport=40000, dport=443))
DNS = bytes(Ether() / IP(src="192.0.2.1", dst="10.0.0.53") / UDP(sport=5353, dport=53))
PING = bytes(Ether() / IP(src="192.0.2.1", dst="10.0.0.1") / ICMP())
WEB6 = bytes(Ether() / IPv6(dst="2001:db8::1") / TCP(dport=80))


def run(node, frames):
    body = reference(node)
    return [body.process(packet(f), 0) for f in frames]


def test_outputs_are_the_arm_names_in_order():
    node = classifier(("web", "tcp dst port 80"), ("dns", "udp dst port 53"), ("other", WILDCARD))
    assert node.outputs == ("web", "dns", "other")
    assert node.spec.block_param == "arms"


def test_arms_and_default():
    node = classifier(("web", "tcp dst port 80 or tcp dst port 443"), ("dns", "udp dst port 53"),
                      ("other", WILDCARD))
    assert run(node, [WEB, DNS, HTTPS, PING, WEB6]) == [0, 1, 0, 2, 0]


def test_no_default_arm_drops_with_no_match():
    node = classifier(("web", "tcp dst port 80"), ("dns", "udp dst port 53"))
    results = run(node, [WEB, PING, DNS, b"\x00" * 5])
    assert results == [0, -1, 1, -1]
    assert node.spec.drop_reasons[0] == "no-match"


def test_first_match_wins():
    node = classifier(("any_tcp", "tcp"), ("web", "tcp dst port 80"), ("rest", WILDCARD))
    assert run(node, [WEB, DNS]) == [0, 2]
    node = classifier(("web", "tcp dst port 80"), ("any_tcp", "tcp"), ("rest", WILDCARD))
    assert run(node, [WEB, HTTPS]) == [0, 1]


def test_only_a_default_arm():
    node = classifier(("all", WILDCARD))
    assert run(node, [WEB, PING, b""]) == [0, 0, 0]


def test_packets_pass_unchanged():
    node = classifier(("web", "tcp dst port 80"), ("rest", WILDCARD))
    body = reference(node)
    pkt = packet(WEB)
    body.process(pkt, 0)
    assert bytes(pkt.data) == WEB


def test_valid_arms_validate_cleanly():
    node = classifier(("web", "tcp dst port 80"), ("dns", "udp dst port 53"), ("other", WILDCARD))
    assert validate(node).diagnostics == []


def test_bad_match_expression_points_inside_the_string_literal():
    node = classifier(("web", "tcp dst port 80"), ("bad", "tcp dts port 80"), ("other", WILDCARD))
    errors = validate(node).errors
    assert len(errors) == 1
    err = errors[0]
    assert "arm 'bad'" in err.message
    literal = node.params["arms"].entries[1].value_span
    assert literal.start < err.span.start and err.span.end < literal.end  # inside the quotes
    assert err.span.line == 3
    assert "dts" in err.span.text or err.span.text in "tcp dts port 80"


def test_every_bad_arm_is_reported():
    node = classifier(("a", "tcp dst port"), ("b", "udp and and"), ("c", "tcp"))
    assert [e.message.split(":")[0] for e in validate(node).errors] == [
        "bad match expression in arm 'a'", "bad match expression in arm 'b'"]


def test_duplicate_arm_names():
    node = classifier(("web", "tcp dst port 80"), ("web", "tcp dst port 443"))
    errors = validate(node).errors
    assert [e.message for e in errors] == ["duplicate Classifier arm 'web'"]
    assert errors[0].span.line == 3 and errors[0].span.text == "web"
    assert errors[0].notes[0].span.line == 2


def test_default_arm_must_be_last():
    node = classifier(("other", WILDCARD), ("web", "tcp dst port 80"))
    errors = validate(node).errors
    assert len(errors) == 1 and "must be the last arm" in errors[0].message
    assert errors[0].span.text == "*"


def test_empty_classifier():
    node = make_node("Classifier", {"arms": Block(())})
    assert "at least one arm" in validate(node).errors[0].message


def test_wildcard_only_allowed_in_arms_block():
    spec = stdlib().get("Classifier")
    assert spec.param("arms").type.wildcard


def test_native_body_is_generated_per_instance():
    node = classifier(("web", "tcp dst port 80"), ("dns", "udp dst port 53"))
    native = node.spec.native
    assert native.pxd is None and native.state is None
    assert native.process.format(sym="n7") == "n7_process"
    code = native.generate(node, "n7")
    assert ("cdef inline int n7_process(void* st, rte_mbuf* m, pkt_meta* meta, int in_port) "
            "noexcept nogil:") in code
    assert code.index("return 0") < code.index("return 1") < code.index("return -1")
    with_default = classifier(("web", "tcp dst port 80"), ("other", WILDCARD))
    code = with_default.spec.native.generate(with_default, "n2")
    assert "return 1  # other : *" in code and "return -1" not in code


@pytest.mark.parametrize("expr", ["tcp", "udp dst port 53", "not ip6", "ip src net 10.0.0.0/8"])
def test_negation_of_an_arm_is_its_complement(expr):
    """A `*` after an arm catches exactly what the arm does not."""
    node = classifier(("hit", expr), ("miss", WILDCARD))
    from chainc.match import evaluate, parse_match
    parsed = parse_match(expr)
    for frame in (WEB, DNS, PING, WEB6, bytes(Ether() / IP(src="10.1.2.3") / UDP(dport=53))):
        expected = 0 if evaluate(parsed, packet(frame)) else 1
        assert run(node, [frame]) == [expected]
