"""Firewall: rule files, the reference body, and the ACL compiler checked against the reference.

The native tests (test_nf_firewall_native.py, native/test_firewall.py) reuse
the rule and packet generators defined here.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, IPOption_Router_Alert, IPv6,
                       IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, Raw)
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NS

from chainc.analysis import cubes
from chainc.match import evaluate

from nfhelpers import make_node, packet, reference, stdlib, validate

REPO = Path(__file__).resolve().parent.parent
CLASSBENCH = REPO.parent / "shared" / "data" / "classbench" / "acl1_2572.rules"

FIREWALL = stdlib().get("Firewall")


def fw_module(name: str):
    """A module of the Firewall's folder (loaded as a private package by the registry)."""
    return importlib.import_module(FIREWALL.validate.__module__.rsplit(".", 1)[0] + "." + name)


acl = fw_module("acl")
rules_mod = fw_module("rules")
spec_mod = importlib.import_module(FIREWALL.validate.__module__)


def classbench_file() -> Path:
    if not CLASSBENCH.is_file():
        if os.environ.get("CI") or os.environ.get("CHAINC_REQUIRE_DPDK") == "1":
            pytest.fail(f"the shared ClassBench rule set is missing: {CLASSBENCH}")
        pytest.skip(f"the shared ClassBench rule set is not here: {CLASSBENCH}")
    return CLASSBENCH


def firewall(tmp_path: Path, text: str, name: str = "fw.acl", **params):
    path = tmp_path / name
    path.write_text(text)
    return make_node("Firewall", {"rules": str(path), **params}, node_id="fw")


def run(node, frames) -> list[int]:
    body = reference(node)
    return [body.process(packet(f), 0) for f in frames]


# -- packets --------------------------------------------------------------------------

E = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
SSH = bytes(E / IP(src="10.1.2.3", dst="192.0.2.10") / TCP(sport=40000, dport=22, flags="S"))
SSH_EXT = bytes(E / IP(src="198.51.100.7", dst="192.0.2.10") / TCP(sport=40001, dport=22, flags="S"))
WEB = bytes(E / IP(src="10.1.2.3", dst="192.0.2.10") / TCP(sport=40002, dport=80, flags="PA") / b"GET /")
DNS = bytes(E / IP(src="10.1.2.3", dst="192.0.2.53") / UDP(sport=5353, dport=53) / b"q")
PING = bytes(E / IP(src="10.1.2.3", dst="192.0.2.1") / ICMP(type=8))
WEB6 = bytes(E / IPv6(src="2001:db8:a::1", dst="2001:db8::80") / TCP(sport=40003, dport=443))
PING6 = bytes(E / IPv6(src="2001:db8:a::1", dst="2001:db8::1") / ICMPv6EchoRequest())
ARP_REQ = bytes(E / ARP(psrc="10.1.2.3", pdst="10.1.2.1"))
LLDP = bytes(Ether(dst="01:80:c2:00:00:0e", type=0x88CC) / (b"\x02\x07\x04" + b"\x00" * 40))
BAD_IHL = bytearray(bytes(E / IP(src="10.1.2.3", dst="192.0.2.10") / TCP(dport=22)))
BAD_IHL[14] = 0x44  # IHL 4: META_L3_BAD
BAD_IHL = bytes(BAD_IHL)
FRAG_FIRST = bytes(E / IP(src="10.1.2.3", dst="192.0.2.10", flags="MF", frag=0) / TCP(dport=22))
FRAG_LATER = bytes(E / IP(src="10.1.2.3", dst="192.0.2.10", proto=6, frag=185) / Raw(b"x" * 40))
OPTIONS = bytes(E / IP(src="10.1.2.3", dst="192.0.2.10", options=[IPOption_Router_Alert()]) / TCP(dport=22))
TRUNC_TCP = bytes(E / IP(src="10.1.2.3", dst="192.0.2.10", proto=6) / Raw(b"\x9c\x40\x00\x16" + b"\x00" * 6))
V6_HBH = bytes(E / IPv6(src="2001:db8:a::1", dst="2001:db8::80") / IPv6ExtHdrHopByHop() / TCP(dport=22))
V6_FRAG_LATER = bytes(E / IPv6(src="2001:db8:a::1", dst="2001:db8::80") /
                      IPv6ExtHdrFragment(offset=100, nh=6) / Raw(b"y" * 32))
VLAN_SSH = bytes(E / Dot1Q(vlan=10) / IP(src="10.1.2.3", dst="192.0.2.10") / TCP(dport=22))


# -- rule files ----------------------------------------------------------------------------


def test_chainc_rules_parse_with_actions_ports_and_columns(tmp_path):
    node = firewall(tmp_path, "# gateway\n"
                              "allow tcp dst port 22 and src net 10.0.0.0/8\n"
                              "to audit   tcp dst port 22   # log the rest\n"
                              "DROP udp port 53\n"
                              "to inspect tcp port 80\n"
                              "to audit icmp\n"
                              "permit *\n")
    assert node.outputs == ("out", "audit", "inspect")
    assert not validate(node).diagnostics
    rules, errors = rules_mod.parse_chainc(Path(node.params["rules"]).read_text())
    assert not errors
    assert [(r.line, r.action, r.port) for r in rules] == [
        (2, "allow", ""), (3, "output", "audit"), (4, "deny", ""), (5, "output", "inspect"),
        (6, "output", "audit"), (7, "allow", "")]
    assert rules[1].col == 12 and rules[1].match_text == "tcp dst port 22"
    assert rules[5].match is None


def test_denied_output_comes_before_the_named_ports(tmp_path):
    node = firewall(tmp_path, "to mirror tcp\ndeny udp\n", denied="output")
    assert node.outputs == ("out", "denied", "mirror")
    assert run(node, [WEB, DNS, PING]) == [2, 1, 1]


@pytest.mark.parametrize("line, col, message", [
    ("frobnicate udp", 1, "unknown action 'frobnicate'"),
    ("to", 3, "'to' needs an output port name"),
    ("to 9lives tcp", 4, "bad output port name '9lives'"),
    ("to out tcp", 4, "'to out' names a port the Firewall already has"),
    ("to denied tcp", 4, "'to denied' names a port the Firewall already has"),
    ("allow tcp dst port htp", 20, "expected a port number or name after 'port', got 'htp'"),
    ("allow  tcp and vlan 10", 16, "the Firewall does not match VLAN tags"),
    ("deny ether src 02:00:00:00:00:01", 6, "the Firewall does not match Ethernet addresses"),
    ("to x   ip and not less 64", 19, "the Firewall does not match the frame length"),
    ("allow ether proto 0x8100", 7, "the Firewall does not match VLAN tags"),
])
def test_rule_errors_point_at_the_line_and_column(tmp_path, line, col, message):
    node = firewall(tmp_path, "allow tcp\n" + line + "\n")
    errors = validate(node).errors
    assert [e.message for e in errors] == [message]
    assert errors[0].span.location() == f"{node.params['rules']}:2:{col}"
    assert errors[0].notes and "rule file named here" in errors[0].notes[0].message


def test_unsupported_primitive_hint_names_the_classifier(tmp_path):
    errors = validate(firewall(tmp_path, "allow vlan 10 and tcp\n")).errors
    assert errors[0].span.text == "vlan 10"
    assert "Classifier" in errors[0].hint


def test_a_rule_too_complex_for_the_acl_is_refused_at_its_line(tmp_path):
    ports = " or ".join(f"(src port {p} and dst port {p + 1})" for p in range(1000, 1040, 2))
    node = firewall(tmp_path, "allow tcp\ndeny not (" + ports + ")\n")
    errors = validate(node).errors
    assert len(errors) == 1 and "too complex for the ACL" in errors[0].message
    assert errors[0].span.location() == f"{node.params['rules']}:2:6"


def test_an_empty_rule_file_warns(tmp_path):
    reporter = validate(firewall(tmp_path, "# nothing yet\n"))
    assert not reporter.errors
    assert [d.message for d in reporter.diagnostics] == [
        f"rule file '{tmp_path / 'fw.acl'}' holds no rules: every packet gets the default action (deny)"]


def test_output_ports_of_an_unreadable_file_are_empty():
    assert FIREWALL.output_ports({"rules": "/nonexistent/x.acl"}) == ("out",)
    assert FIREWALL.output_ports({"rules": None, "denied": "output"}) == ("out", "denied")


CB_LINES = (
    "@10.0.0.0/8\t192.0.2.0/24\t0 : 65535\t22 : 22\t0x06/0xFF\t0x0000/0x0200\t\n"
    "@0.0.0.0/0\t192.0.2.53/32\t1024 : 65535\t53 : 53\t0x11/0xFF\n"
    "@10.1.0.0/16\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x01/0xFF\t0x0000/0x0000\n"
    "@2001:db8:a::/48\t2001:db8::/32\t0 : 65535\t400 : 500\t0x00/0x00\n"
)


def test_classbench_rules_and_semantics(tmp_path):
    node = firewall(tmp_path, CB_LINES, name="cb.rules", format="classbench")
    assert not validate(node).diagnostics and node.outputs == ("out",)
    rules, errors = rules_mod.parse_classbench(CB_LINES)
    assert not errors and [r.src.version for r in rules] == [4, 4, 4, 6]
    assert rules[0].flags == (0, 0x200) and rules[1].flags == (0, 0)
    dns_low_port = bytes(E / IP(src="10.1.2.3", dst="192.0.2.53") / UDP(sport=53, dport=53))
    assert run(node, [SSH, SSH_EXT, DNS, dns_low_port, PING, WEB6, WEB, FRAG_LATER]) == [
        0, -2, 0, -2, 0, 0, -2, -2]
    # A port range needs a TCP or UDP header; `0 : 65535` does not.
    icmp6_in_range = bytes(E / IPv6(src="2001:db8:a::1", dst="2001:db8::1") / ICMPv6EchoRequest())
    assert run(node, [icmp6_in_range]) == [-2]


def test_classbench_errors(tmp_path):
    bad = CB_LINES + "@10.0.0.0/8\t2001:db8::/32\t0 : 65535\t0 : 65535\t0x00/0x00\n"
    errors = validate(firewall(tmp_path, bad, name="cb.rules", format="classbench")).errors
    assert [e.message for e in errors] == ["the source is IPv4 but the destination IPv6"]
    assert errors[0].span.location().endswith("cb.rules:5:13")


def test_the_shared_classbench_set_loads_and_compiles():
    path = classbench_file()
    rules, errors = rules_mod.parse_classbench(path.read_text())
    assert not errors and len(rules) == 2572
    prog = acl.compile_rules(rules, "classbench", ("out",), "deny", "drop")
    with_ports = sum(1 for r in rules if (r.sport, r.dport) != ((0, 65535), (0, 65535)))
    assert not prog.errors and with_ports == 2313
    # Filters with ports only in the L4 context; the flags column is not matched.
    assert len(prog.entries[4, True]) == 2572 and len(prog.entries[4, False]) == 2572 - with_ports
    assert not prog.entries[6, True] and not prog.entries[6, False] and prog.nonip == []
    assert prog.layouts[4, True] == acl.LAYOUT_L4 and prog.layouts[4, False] == acl.LAYOUT_NOL4


# -- the reference body ------------------------------------------------------------------

EDGE = """\
allow arp
to audit tcp dst port 22 and src net 198.51.100.0/24
deny  tcp dst port 22
allow tcp dst port 80 or tcp dst port 443
allow udp port 53
to audit icmp[icmptype] == icmp-echo or icmp6[icmp6type] == icmp6-echo
deny  ether proto 0x0800 and not ip
"""


def test_first_match_wins_with_every_action(tmp_path):
    node = firewall(tmp_path, EDGE)
    assert node.outputs == ("out", "audit")
    frames = [SSH, SSH_EXT, WEB, DNS, PING, WEB6, PING6, ARP_REQ, LLDP, BAD_IHL]
    assert run(node, frames) == [-1, 1, 0, 0, 1, 0, 1, 0, -2, -1]
    assert FIREWALL.drop_reasons[:2] == ("denied", "default-deny")


def test_denied_output_and_default_allow(tmp_path):
    node = firewall(tmp_path, EDGE, default="allow", denied="output")
    assert node.outputs == ("out", "denied", "audit")
    assert run(node, [SSH, SSH_EXT, LLDP, BAD_IHL]) == [1, 2, 0, 1]
    node = firewall(tmp_path, EDGE, default="deny", denied="output")
    assert run(node, [LLDP]) == [1]


def test_counters(tmp_path):
    body = reference(firewall(tmp_path, EDGE))
    for f in (SSH, WEB, LLDP, LLDP):
        body.process(packet(f), 0)
    assert body.counters == {"matched": 2, "unmatched": 2}
    assert FIREWALL.native.counters == ("matched", "unmatched")


def test_non_ip_frames_match_only_rules_without_ip_tests(tmp_path):
    node = firewall(tmp_path, "allow ip or ip6\nto l2 not ip\nallow *\n")
    assert run(node, [ARP_REQ, LLDP, BAD_IHL, b"\x01", b"", WEB, WEB6]) == [1, 1, 1, 1, 1, 0, 0]
    node = firewall(tmp_path, "deny tcp\ndeny udp port 53 or host 10.1.2.3\nallow *\n")
    assert run(node, [ARP_REQ, BAD_IHL, b"\xff" * 13]) == [0, 0, 0]


def test_fragments_options_truncation_and_extension_headers(tmp_path):
    node = firewall(tmp_path, "to ports tcp dst port 22\nto tcp tcp\nallow *\n")
    frames = [FRAG_FIRST, FRAG_LATER, OPTIONS, TRUNC_TCP, V6_HBH, V6_FRAG_LATER, VLAN_SSH, BAD_IHL]
    # ports only where the TCP header was read: not in a later fragment or a truncated header
    assert run(node, frames) == [1, 2, 1, 2, 1, 2, 1, 0]


def test_tcp_flags_and_icmp_types(tmp_path):
    node = firewall(tmp_path, "to syn tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn\n"
                              "to echo icmp[icmptype] == icmp-echo or icmp6[icmp6type] == 128\n"
                              "allow *\n")
    reply6 = bytes(E / IPv6(src="2001:db8::1", dst="2001:db8:a::1") / ICMPv6EchoReply())
    assert run(node, [SSH, WEB, PING, PING6, reply6]) == [1, 0, 2, 2, 0]


def test_reference_refuses_a_broken_rule_file(tmp_path):
    with pytest.raises(ValueError, match="line 1"):
        reference(firewall(tmp_path, "allow tcp port\n"))


# -- the ACL compiler --------------------------------------------------------------------------


def model(prog, pkt) -> int:
    """The decision of the compiled program, the way the native body takes it."""
    code = acl.decide(prog, pkt.meta)
    if code is not None:
        return code
    for test, code, _line in prog.nonip:
        if test is True or evaluate(test, pkt):
            return code
    return prog.default_code


def compile_node(node):
    return spec_mod.compiled(node)


def test_interval_helpers():
    assert cubes.iv_and(((0, 10), (20, 30)), ((5, 25),)) == ((5, 10), (20, 25))
    assert cubes.iv_or(((0, 3),), ((4, 6), (9, 9))) == ((0, 6), (9, 9))
    assert cubes.iv_not(((0, 3), (9, 9)), 15) == ((4, 8), (10, 15))
    assert cubes.iv_values([3, 1, 2, 7]) == ((1, 3), (7, 7))
    assert acl.range_prefixes(0, 255, 8) == [(0, 0)]
    assert acl.range_prefixes(1, 6, 8) == [(1, 8), (2, 7), (4, 7), (6, 8)]
    assert acl.bit_cover(cubes.iv_values(x for x in range(256) if x & 2), 8) == ((2, 2),)
    assert acl.bit_cover(((6, 6), (17, 17)), 8) == ((6, 255), (17, 255))


@given(st.lists(st.integers(0, 255), min_size=1, max_size=40, unique=True))
def test_bit_cover_is_exact(values):
    cover = acl.bit_cover(cubes.iv_values(values), 8)
    assert {x for x in range(256) if any(x & m == v for v, m in cover)} == set(values)


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_range_prefixes_are_exact(a, b):
    lo, hi = min(a, b), max(a, b)
    prefixes = acl.range_prefixes(lo, hi, 32)
    assert len(prefixes) <= 62
    pos = lo
    for net, plen in prefixes:
        assert net == pos and net % (1 << (32 - plen)) == 0
        pos = net + (1 << (32 - plen))
    assert pos == hi + 1


def test_compiled_edge_rules_agree_with_the_reference(tmp_path):
    node = firewall(tmp_path, EDGE, denied="output")
    body, prog = reference(node), compile_node(node)
    for frame in random_frames(random.Random(3), 600) + [SSH, SSH_EXT, PING6, ARP_REQ, LLDP, BAD_IHL]:
        assert model(prog, packet(frame)) == body.process(packet(frame), 0), frame.hex()


def test_match_all_rules_shadow_what_follows(tmp_path):
    prog = compile_node(firewall(tmp_path, "deny udp\nallow ip\nallow tcp\nallow *\n"))
    # tcp is dead for IPv4
    assert [len(prog.entries[ctx]) for ctx in acl.CONTEXTS] == [2, 2, 3, 3]
    assert [(t, c) for t, c, _ in prog.nonip] == [(True, 0)]
    prog = compile_node(firewall(tmp_path, "deny not tcp port 22\nallow udp\n"))
    assert len(prog.entries[4, False]) == 1  # every packet without ports matches the first rule


def test_layouts_follow_what_the_rules_test(tmp_path):
    prog = compile_node(firewall(tmp_path, "allow tcp port 22\nto x icmp[icmptype] == 8\n"))
    assert prog.layouts[4, True] == acl.LAYOUT_FULL and prog.layouts[6, True] == acl.LAYOUT_L4
    assert [len(prog.entries[4, True][0]), len(prog.entries[6, True][0])] == [
        acl.entry_words(4, acl.LAYOUT_FULL), acl.entry_words(6, acl.LAYOUT_L4)] == [20, 24]
    assert acl.entry_words(4, acl.LAYOUT_NOL4) == 8 and acl.entry_words(6, acl.LAYOUT_NOL4) == 20


def test_generated_glue(tmp_path):
    node = firewall(tmp_path, "allow arp\ndeny tcp dst port 22\nto x icmp or icmp6\n", denied="output")
    text = FIREWALL.native.generate(node, "n7")
    assert text == FIREWALL.native.generate(node, "n7")  # deterministic
    assert "static const uint32_t n7_rules4[] = {" in text and "/* line 2 */" in text
    assert "static const uint32_t n7_rules6n[] = {" in text
    assert "cdef int n7_init(firewall_state* st) except -1:" in text
    assert "cdef inline int n7_process(firewall_state* st, rte_mbuf* m, pkt_meta* meta" in text
    assert "return firewall_classify(st, meta)" in text
    assert "meta.ethertype == 0x0806):  # line 1" in text
    assert str(tmp_path) not in text


# -- random rule sets and packets ---------------------------------------------------------------

NETS4 = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3", "192.0.2.0/24", "192.0.2.10",
         "198.51.100.0/24", "0.0.0.0/0", "10.1.2.0/31"]
NETS6 = ["2001:db8::/32", "2001:db8:a::/48", "2001:db8:a::1", "2001:db8::80", "fe80::/10", "ff02::1",
         "2001:db8:a::/127"]
PORTS = [0, 22, 53, 80, 443, 1024, 8080, 65535]


def _addr_primitive(rng: random.Random) -> str:
    net = rng.choice(NETS4 if rng.random() < 0.6 else NETS6)
    kind = "net" if "/" in net else "host"
    d = rng.choice(["src ", "dst ", "", "src or dst ", "src and dst "])
    return f"{d}{kind} {net}"


def _port_primitive(rng: random.Random) -> str:
    l4 = rng.choice(["tcp ", "udp ", ""])
    d = rng.choice(["src ", "dst ", "", "src and dst "])
    if rng.random() < 0.7:
        return f"{l4}{d}port {rng.choice(PORTS)}"
    lo = rng.choice(PORTS)
    return f"{l4}{d}portrange {lo}-{min(65535, lo + rng.choice([0, 1, 100, 1000, 40000]))}"


PRIMITIVES = [
    lambda r: r.choice(["tcp", "udp", "icmp", "icmp6", "ip", "ip6", "sctp", "igmp", "arp", "rarp"]),
    lambda r: r.choice(["ip proto 47", "ip6 proto 17", "proto 6", "proto 50", "ip proto 4"]),
    lambda r: r.choice(["ether proto 0x0800", "ether proto 0x86dd", "ether proto 0x88cc",
                        "ether proto ip6", "ip multicast", "ip6 multicast"]),
    _addr_primitive, _addr_primitive, _port_primitive, _port_primitive,
    lambda r: r.choice(["tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
                        "tcp[tcpflags] == 0", "tcp[tcpflags] > 0x10", "tcp[tcpflags] & tcp-fin = 0"]),
    lambda r: r.choice(["icmp[icmptype] == icmp-echo", "icmp[icmpcode] != 0", "icmp[icmptype] < 8",
                        "icmp6[icmp6type] == icmp6-echo", "icmp6[icmp6type] >= 128",
                        "icmp6[icmp6code] == 0"]),
]


def random_expr(rng: random.Random, depth: int = 2) -> str:
    k = rng.random()
    if depth == 0 or k < 0.45:
        return rng.choice(PRIMITIVES)(rng)
    if k < 0.6:
        return "not " + _group(random_expr(rng, depth - 1))
    op = " and " if k < 0.85 else " or "
    return op.join(_group(random_expr(rng, depth - 1)) for _ in range(rng.choice([2, 2, 3])))


def _group(text: str) -> str:
    return f"({text})" if " " in text and not text.startswith("(") else text


def random_rule_text(rng: random.Random, n: int, ports: tuple[str, ...] = ("a", "b")) -> str:
    """`n` random rules, each one the ACL can take (a few random ones are too complex for it)."""
    lines = []
    while len(lines) < n:
        action = rng.choice(["allow", "deny", "deny"] + [f"to {p}" for p in ports])
        line = f"{action} {random_expr(rng) if rng.random() < 0.97 else '*'}"
        rules, errors = rules_mod.parse_chainc(line)
        if not errors and not acl.compile_rules(rules, "chainc", ("out", "denied") + ports).errors:
            lines.append(line)
    return "\n".join(lines) + "\n"


def _pick_addr(rng: random.Random, nets: list[str]) -> str:
    net = ipaddress.ip_network(rng.choice(nets), strict=False)
    if rng.random() < 0.3:
        return str(net.network_address + rng.randrange(min(net.num_addresses, 2**32)))
    return str(net.network_address + (1 if net.num_addresses > 1 else 0))


def random_frames(rng: random.Random, n: int) -> list[bytes]:
    """Frames whose fields come from the rules' pools: IPv4/IPv6 TCP, UDP, ICMP, and odd ones."""
    frames = []
    for i in range(n):
        eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        v6 = rng.random() < 0.35
        src = _pick_addr(rng, NETS6 if v6 else NETS4)
        dst = _pick_addr(rng, NETS6 if v6 else NETS4)
        ip = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst, id=i & 0xFFFF)
        sport, dport = rng.choice(PORTS + [rng.randrange(65536)]), rng.choice(PORTS + [rng.randrange(65536)])
        k = rng.random()
        if k < 0.35:
            l4 = TCP(sport=sport, dport=dport, flags=rng.randrange(256))
        elif k < 0.6:
            l4 = UDP(sport=sport, dport=dport)
        elif k < 0.75:
            l4 = (ICMPv6EchoRequest() if rng.random() < 0.5 else ICMPv6ND_NS(tgt=dst)) if v6 else \
                ICMP(type=rng.choice([0, 3, 8, 11]), code=rng.choice([0, 1, 3]))
        elif k < 0.8:
            l4 = Raw(b"p" * 20)
            ip = ip.copy()
            if v6:
                ip.nh = rng.choice([47, 50, 132, 253])
            else:
                ip.proto = rng.choice([2, 4, 47, 50, 132, 253])
        else:
            l4 = TCP(sport=sport, dport=dport) if rng.random() < 0.5 else UDP(sport=sport, dport=dport)
        pkt = eth / ip / l4 / (b"d" * rng.choice([0, 4, 30]))
        frame = bytes(pkt)
        odd = rng.random()
        if odd < 0.04:
            frame = frame[: rng.randrange(1, len(frame))]  # truncated anywhere
        elif odd < 0.06 and not v6:
            b = bytearray(frame)
            b[14] = 0x40 | rng.choice([0, 4, 15])  # bad IHL
            frame = bytes(b)
        elif odd < 0.08:
            frame = bytes(eth / (IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(offset=rng.choice([0, 8]), m=1)
                                 / l4 if v6 else IP(src=src, dst=dst, flags="MF", frag=rng.choice([0, 10])) / l4))
        elif odd < 0.10 and v6:
            frame = bytes(eth / IPv6(src=src, dst=dst) / IPv6ExtHdrHopByHop() / l4)
        elif odd < 0.12 and not v6:
            frame = bytes(eth / IP(src=src, dst=dst, options=[IPOption_Router_Alert()]) / l4)
        elif odd < 0.15:
            frame = rng.choice([ARP_REQ, LLDP, bytes(eth / Dot1Q(vlan=5) / ip / l4), BAD_IHL, b"\x00" * 20])
        frames.append(frame)
    return frames


@pytest.mark.parametrize("seed", range(12))
def test_compiled_random_rule_sets_agree_with_the_reference(tmp_path, seed):
    rng = random.Random(seed)
    node = firewall(tmp_path, random_rule_text(rng, rng.randrange(1, 25)),
                    default=rng.choice(["allow", "deny"]), denied=rng.choice(["drop", "output"]))
    assert not validate(node).errors
    body, prog = reference(node), compile_node(node)
    for frame in random_frames(rng, 150):
        assert model(prog, packet(frame)) == body.process(packet(frame), 0), frame.hex()


@st.composite
def rule_sets(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    n = draw(st.integers(1, 12))
    return random_rule_text(rng, n), seed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule_sets(), st.sampled_from(["allow", "deny"]))
def test_hypothesis_rule_sets_agree_with_the_reference(tmp_path, rules_and_seed, default):
    text, seed = rules_and_seed
    node = firewall(tmp_path, text, name=f"h{seed}.acl", default=default, denied="output")
    body, prog = reference(node), compile_node(node)
    for frame in random_frames(random.Random(seed), 40):
        assert model(prog, packet(frame)) == body.process(packet(frame), 0), (text, frame.hex())


# -- documentation -----------------------------------------------------------------------------


def test_doc_page_describes_the_semantics():
    from chainc.nfs.docs import render_doc
    page = render_doc(FIREWALL)
    for needle in ("to PORT", "ClassBench", "rte_acl", "non-first fragment", "`allow arp`",
                   "matched", "denied: output", "native body: yes", "reference body (chainc sim): yes"):
        assert needle in page, needle
    assert (REPO / "docs" / "firewall.md").is_file()
