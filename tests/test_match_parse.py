"""Match expressions: parsing, validation, errors with offsets, canonical printing."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chainc.match import (And, EtherCast, EtherHost, EtherProto, FieldTest, Host,  # noqa: E402
                          IpMulticast, IpProto, Length, MatchSyntaxError, Net, Not, Or, Port,
                          Proto, Vlan, match_fields, parse_match)
from chainc.match.nodes import BOTH, DST, EITHER, SRC  # noqa: E402
from native_meta.exprs import match_exprs, match_text  # noqa: E402

A = ipaddress.ip_address
N = ipaddress.ip_network


@pytest.mark.parametrize("text, tree", [
    ("ip", Proto("ip")),
    ("IP6", Proto("ip6")),
    ("tcp dst port 80", Port(DST, "tcp", 80, 80)),
    ("port http", Port(EITHER, None, 80, 80)),
    ("udp src portrange 1024-65535", Port(SRC, "udp", 1024, 65535)),
    ("host 10.0.0.1", Host(EITHER, A("10.0.0.1"))),
    ("ip src host 10.0.0.1", Host(SRC, A("10.0.0.1"))),
    ("src 10.0.0.1", Host(SRC, A("10.0.0.1"))),
    ("ip6 dst host 2001:db8::1", Host(DST, A("2001:db8::1"))),
    ("src and dst host ::1", Host(BOTH, A("::1"))),
    ("src or dst net 10.0.0.0/8", Net(EITHER, N("10.0.0.0/8"))),
    ("net 10", Net(EITHER, N("10.0.0.0/8"))),
    ("net 172.16", Net(EITHER, N("172.16.0.0/16"))),
    ("dst net 192.168.1", Net(DST, N("192.168.1.0/24"))),
    ("net 10/8", Net(EITHER, N("10.0.0.0/8"))),
    ("net 10.1.0.0 mask 255.255.0.0", Net(EITHER, N("10.1.0.0/16"))),
    ("net 2001:db8::/32", Net(EITHER, N("2001:db8::/32"))),
    ("ether src 02:00:00:00:00:01", EtherHost(SRC, bytes([2, 0, 0, 0, 0, 1]))),
    ("ether host 02-00-00-00-00-01", EtherHost(EITHER, bytes([2, 0, 0, 0, 0, 1]))),
    ("ether dst host 0200.0000.0001", EtherHost(DST, bytes([2, 0, 0, 0, 0, 1]))),
    ("ether proto \\ip", EtherProto(0x0800)),
    ("ether proto arp", EtherProto(0x0806)),
    ("ether proto 0x88a8", EtherProto(0x88A8)),
    ("ip proto \\tcp", IpProto(4, 6)),
    ("ip6 proto 58", IpProto(6, 58)),
    ("proto udp", IpProto(None, 17)),
    ("broadcast", EtherCast("broadcast")),
    ("ether multicast", EtherCast("multicast")),
    ("ip multicast", IpMulticast(4)),
    ("vlan", Vlan(None)),
    ("vlan 100", Vlan(100)),
    ("less 64", Length("less", 64)),
    ("greater 0x5dc", Length("greater", 1500)),
    ("tcp[tcpflags] & tcp-syn != 0", FieldTest("tcpflags", 2, "!=", 0)),
    ("tcp[13] & (tcp-syn|tcp-ack) = tcp-syn", FieldTest("tcpflags", 0x12, "==", 2)),
    ("tcp[tcpflags] == tcp-syn|tcp-ack", FieldTest("tcpflags", None, "==", 0x12)),
    ("icmp[icmptype] != icmp-echo", FieldTest("icmptype", None, "!=", 8)),
    ("icmp6[icmp6type] >= 128", FieldTest("icmp6type", None, ">=", 128)),
])
def test_primitives(text, tree):
    assert parse_match(text) == tree


def test_connectives_follow_pcap_precedence():
    tcp, udp, icmp = Proto("tcp"), Proto("udp"), Proto("icmp")
    # and/or: equal precedence, left to right; not binds tightest
    assert parse_match("tcp or udp and icmp") == And((Or((tcp, udp)), icmp))
    assert parse_match("tcp and udp or icmp") == Or((And((tcp, udp)), icmp))
    assert parse_match("tcp and (udp or icmp)") == And((tcp, Or((udp, icmp))))
    assert parse_match("not tcp and udp") == And((Not(tcp), udp))
    assert parse_match("! tcp || !(udp && icmp)") == Or((Not(tcp), Not(And((udp, icmp)))))
    assert parse_match("tcp and (udp and icmp)") == And((tcp, udp, icmp))
    assert parse_match("((tcp))") == tcp
    assert parse_match("not not tcp") == Not(Not(tcp))


def test_bare_values_inherit_qualifiers():
    same = [
        ("host 10.0.0.1 or 10.0.0.2", "host 10.0.0.1 or host 10.0.0.2"),
        ("port 80 or 443", "port 80 or port 443"),
        ("tcp dst port 80 or 443 or https", "tcp dst port 80 or tcp dst port 443 or tcp dst port 443"),
        ("host 10.0.0.1 and not 10.0.0.2", "host 10.0.0.1 and not host 10.0.0.2"),
        ("src net 10/8 or (192.168/16 and tcp)", "src net 10/8 or (src net 192.168/16 and tcp)"),
        ("ip proto 6 or 17", "ip proto 6 or ip proto 17"),
        ("ether src 02:00:00:00:00:01 or 02:00:00:00:00:02",
         "ether src 02:00:00:00:00:01 or ether src 02:00:00:00:00:02"),
        ("port 80 and (81 or 82)", "port 80 and (port 81 or port 82)"),
    ]
    for short, long in same:
        assert parse_match(short) == parse_match(long), short
    with pytest.raises(MatchSyntaxError, match="needs a qualifier"):
        parse_match("port 80 or tcp or 443")  # 'tcp' ends the inheritance


def test_canonical_printing():
    cases = {
        "tcp and port 80 or port 443": "(tcp and port 80) or port 443",
        "ip host 10.0.0.1": "host 10.0.0.1",
        "portrange 80-80": "port 80",
        "port http || port https": "port 80 or port 443",
        "ether proto \\arp": "ether proto 0x0806",
        "broadcast": "ether broadcast",
        "!(tcp && udp)": "not (tcp and udp)",
        "src or dst host ::1": "host ::1",
        "src and dst net 10.0.0.0 mask 255.0.0.0": "src and dst net 10.0.0.0/8",
        "tcp[13] & 18 = 2": "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
    }
    for text, canonical in cases.items():
        assert str(parse_match(text)) == canonical


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(match_exprs)
def test_printing_then_parsing_is_the_identity(expr):
    text = str(expr)
    again = parse_match(text)
    assert again == expr, text
    assert str(again) == text


@settings(max_examples=1000, deadline=None)
@given(match_text())
def test_any_text_parses_or_raises_a_located_error(text):
    try:
        expr = parse_match(text)
    except MatchSyntaxError as exc:
        assert 0 <= exc.start <= exc.end <= len(text), (text, exc)
        assert exc.message and "\n" not in exc.message
        return
    assert parse_match(str(expr)) == expr


@pytest.mark.parametrize("text, message, at, hint", [
    ("", "empty match expression", "", "tcp dst port 80"),
    ("port htp", "expected a port number or name after 'port', got 'htp'", "htp", "did you mean 'http'?"),
    ("tcp dst port 80 or htpps", "got 'htpps'", "htpps", "did you mean 'https'?"),
    ("port 65536", "port 65536 is out of range (0..65535)", "65536", None),
    ("port 80-90", "expected a port number or name", "80-90", "portrange 80-90"),
    ("portrange 90-80", "the port range 90-80 is empty", "90-80", "80-90"),
    ("portrange 1-70000", "port 70000 is out of range", "1-70000", None),
    ("vlan 4096", "VLAN id 4096 is out of range (0..4095)", "4096", None),
    ("vlan x", "expected a VLAN id", "x", None),
    ("net 10.0.0.1/8", "'10.0.0.1/8' has host bits set: the network is 10.0.0.0/8", "10.0.0.1/8",
     "write 'net 10.0.0.0/8', or 'host 10.0.0.1' for the one address"),
    ("net 10.0.0.1 mask 255.0.0.0", "has host bits set: the network is 10.0.0.0/8",
     "10.0.0.1 mask 255.0.0.0", None),
    ("net 10.0.0.0 mask 255.0.255.0", "not contiguous", "255.0.255.0", None),
    ("net 10.0.0.0/33", "prefix length '33' is out of range (0..32)", "10.0.0.0/33", None),
    ("ip6 net 10.0.0.0/8", "'ip6 net' needs an IPv6 prefix", "10.0.0.0/8", None),
    ("ip host 2001:db8::1", "'ip' needs an IPv4 address, got the IPv6 address", "2001:db8::1",
     "ip6 host 2001:db8::1"),
    ("host 02:00:00:00:00:01", "got the MAC address", "02:00:00:00:00:01", "ether host"),
    ("host example.com", "expected an IPv4 or IPv6 address", "example.com", "not resolved"),
    ("ether host 10.0.0.1", "expected a MAC address", "10.0.0.1", None),
    ("ip proto 256", "protocol number 256 is out of range (0..255)", "256", None),
    ("ip proto tpc", "expected a protocol number or name", "tpc", "did you mean 'tcp'?"),
    ("ether proto 0x10000", "EtherType 65536 is out of range", "0x10000", None),
    ("tcp src 80", "'tcp src' needs 'port' or 'portrange' after it", "tcp src", None),
    ("tcp host 10.0.0.1", "'tcp host' is not supported", "tcp host", "tcp and host"),
    ("src proto 6", "'src' and 'dst' cannot qualify 'proto'", "src proto", None),
    ("tpc", "unknown primitive 'tpc'", "tpc", "did you mean 'tcp'?"),
    ("tcp and udpp", "unknown primitive 'udpp'", "udpp", "did you mean 'udp'?"),
    ("10.0.0.1", "needs a qualifier", "10.0.0.1", "host 10.0.0.1"),
    ("80", "needs a qualifier", "80", "port 80"),
    ("http", "needs a qualifier", "http", "port http"),
    ("tcp and", "expected a primitive after 'and'", "", None),
    ("and tcp", "expected a primitive before 'and'", "and", None),
    ("tcp udp", "expected 'and' or 'or' before 'udp'", "udp", None),
    ("(tcp", "missing ')'", "(", None),
    ("tcp)", "unmatched ')'", ")", None),
    ("()", "empty parentheses", "()", None),
    ("tcp # comment", "unexpected character '#'", "#", None),
    ("port 010", "leading zero", "010", "8 for what tcpdump reads"),
    ("net 010", "leading zero", "010", None),
    ("host 10.0.0.01", "expected an IPv4 or IPv6 address", "10.0.0.01", None),
    ("less", "expected a length in bytes after 'less'", "less", None),
    ("gateway 10.0.0.1", "'gateway' is not supported", "gateway", None),
    ("ip broadcast", "needs the network's netmask", "ip broadcast", None),
    ("ether", "expected 'host', 'src', 'dst', 'proto', 'broadcast' or 'multicast' after 'ether'",
     "ether", None),
    ("tcp[tcpflags] & tcp-syn|tcp-ack != 0", "put the flags in parentheses", "|", "(a|b)"),
    ("tcp[tcpflag] != 0", "'tcp[tcpflag]' is not supported", "tcp[tcpflag]",
     "did you mean 'tcpflags'?"),
    ("udp[0] == 1", "'udp[...]' is not supported", "udp[0]", None),
    ("tcp[tcpflags] & tcp-sin != 0", "expected a number or TCP flag", "tcp-sin",
     "did you mean 'tcp-syn'?"),
    ("tcp[tcpflags] 2", "expected a comparison", "2", None),
    ("icmp[icmptype] == 256", "256 does not fit", "256", None),
])
def test_errors_say_what_and_where(text, message, at, hint):
    with pytest.raises(MatchSyntaxError) as info:
        parse_match(text)
    err = info.value
    assert message in err.message
    assert text[err.start:err.end] == at
    if hint is None:
        assert err.hint is None or err.hint
    else:
        assert err.hint is not None and hint in err.hint


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(MatchSyntaxError, match="nested too deeply"):
        parse_match("(" * 500 + "tcp" + ")" * 500)
    with pytest.raises(MatchSyntaxError, match="nested too deeply"):
        parse_match("not " * 500 + "tcp")
    parse_match("(" * 50 + "tcp" + ")" * 50)
    wide = " or ".join(f"port {p}" for p in range(5000))
    assert len(parse_match(wide).items) == 5000


def test_spans_point_at_the_text():
    text = "tcp dst port 80 or host 10.0.0.1"
    expr = parse_match(text)
    port, host = expr.items
    assert text[port.span[0]:port.span[1]] == "tcp dst port 80"
    assert text[host.span[0]:host.span[1]] == "host 10.0.0.1"
    assert expr.span == (0, len(text))


def test_match_fields():
    assert match_fields(parse_match("tcp dst port 80")) == {
        "eth.type", "ip.proto", "ip6.nxt", "tcp.dport"}
    assert match_fields(parse_match("src host 10.0.0.1 or dst net 2001:db8::/32")) == {
        "eth.type", "ip.src", "ip6.dst"}
    assert match_fields(parse_match("ether src 02:00:00:00:00:01 and not broadcast")) == {
        "eth.src", "eth.dst"}
    assert match_fields(parse_match("vlan 10 and less 100")) == {"vlan.id", "frame.len"}
    assert match_fields(parse_match("tcp[tcpflags] & tcp-syn != 0")) >= {"tcp.flags"}
    assert match_fields(parse_match("port 53")) >= {"tcp.sport", "tcp.dport", "udp.sport",
                                                     "udp.dport"}


def test_documented_field_names_cover_match_fields():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "packet-metadata.md").read_text()
    names = set()
    for text in ["ether host 02:00:00:00:00:01 and vlan 1 and ether proto 0x8100",
                 "host 10.0.0.1 and host ::1 and tcp port 1 and udp port 2 and less 1",
                 "tcp[tcpflags] == 0 and icmp[icmptype] == 0 and icmp[icmpcode] == 0",
                 "icmp6[icmp6type] == 0 and icmp6[icmp6code] == 0 and proto 1"]:
        names |= match_fields(parse_match(text))
    for name in names:
        assert f"`{name}`" in doc or f"`{name.rsplit('.', 1)[0]}.sport` / `{name}`" in doc, name


def test_expressions_pickle_and_hash():
    import pickle

    from chainc.match import evaluate
    from chainc.packet import Packet
    expr = parse_match("tcp port 80 or host 10.0.0.1")
    evaluate(expr, Packet(b""))  # caches a compiled closure on the tree
    assert pickle.loads(pickle.dumps(expr)) == expr
    assert hash(expr) == hash(parse_match(str(expr)))
