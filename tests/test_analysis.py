"""Static checks of Classifier arms and Firewall rules (chainc.analysis), against brute force.

Random arm lists and rule files over the atoms of analysis_space.py are
checked by the analyses and, independently, by evaluating every frame of a
small header space that holds a representative of every class of frames
the atoms tell apart: the two must agree exactly, and every example frame
must take the path its warning claims when run through the match evaluator
or the Firewall's reference tests.
"""

from __future__ import annotations

import functools
import importlib
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.all import ICMP, IP, SCTP, TCP, UDP, Dot1Q, Ether, IPv6, IPv6ExtHdrDestOpt, Raw

from chainc.analysis import classifier, firewall
from chainc.analysis.cubes import cube_has
from chainc.analysis.space import IPV4, IPV6, OTHER, RUNT, to_dnf
from chainc.analysis.witness import realize
from chainc.match import evaluate, parse_match
from chainc.packet import META_ETH_OK, META_L3_IPV4, META_L3_IPV6, META_L4_OK, Packet

from analysis_space import IP_ATOMS, L2_ATOMS, make_space, matching, text, trees

rules_mod = importlib.import_module("chainc.stdlib_nfs.firewall.rules")
reference = importlib.import_module("chainc.stdlib_nfs.firewall.reference")
REPO = Path(__file__).resolve().parent.parent
CLASSBENCH = REPO.parent / "shared" / "data" / "classbench" / "acl1_2572.rules"

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.lru_cache(maxsize=None)
def classifier_space():
    return make_space(IP_ATOMS + L2_ATOMS, (None, (0x8100, 10), (0x88A8, 20)), (0, 150))


@functools.lru_cache(maxsize=None)
def firewall_space():
    return make_space(IP_ATOMS, (None,), (0,))


# -- the header space is exact ----------------------------------------------------------

EXTRA_ATOMS = ("ether broadcast", "ether multicast", "ether src 02:00:00:00:00:01", "greater 120",
               "ip multicast", "ip6 multicast", "icmp[icmpcode] != 0", "sctp", "igmp",
               "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn", "ip6 proto 43", "ether proto 0x88a8",
               "ip6 proto 0", "arp or rarp", "vlan 20", "proto 58", "ether proto 0x8100")


@functools.lru_cache(maxsize=None)
def extra_frames() -> list[bytes]:
    """Frames with what the small spaces lack: group and broadcast MACs, multicast
    addresses, SCTP, IGMP, ICMP codes, an IPv6 extension chain past the parser's limit."""
    bcast = Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff")
    mcast = Ether(src="02:00:00:00:00:03", dst="01:00:5e:00:00:01")
    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    chain = IPv6ExtHdrDestOpt(nh=60)
    for _ in range(7):
        chain = chain / IPv6ExtHdrDestOpt(nh=60 if _ < 6 else 43)
    frames = [bcast / IP(dst="224.0.0.1") / UDP(dport=5353), mcast / IPv6(dst="ff02::1") / UDP(),
              e / IP() / ICMP(type=3, code=1), e / IP() / SCTP(), e / IP(proto=2) / Raw(b"\0" * 8),
              e / IPv6(nh=60) / chain / Raw(b"\0" * 8), e / Dot1Q(vlan=20) / IP() / TCP(flags="S"),
              Ether(src=e.src, dst=e.dst, type=0x88A8) / Dot1Q(vlan=5) / IP(),
              e / IPv6(nh=0) / Raw(b"\0" * 8), e / IP(proto=58) / Raw(b"\0" * 8)]
    return [bytes(f) for f in frames] + [bytes(f) + b"\0" * 80 for f in frames]


def point_of(pkt: Packet) -> tuple[str, dict[str, int]]:
    """The family and the field values of a parsed frame (space.py's fields)."""
    m, d = pkt.meta, bytes(pkt.data)
    if not m.flags & META_ETH_OK:
        return RUNT, {"len": m.pkt_len}
    tpids = (0x8100, 0x88A8, 0x9100)
    p = {"len": m.pkt_len, "ethdst": int.from_bytes(d[0:6], "big"),
         "ethsrc": int.from_bytes(d[6:12], "big"), "vlan": int(m.vlan_count > 0),
         "tpid": tpids.index(m.vlan_tpid) if m.vlan_count else 0, "vid": m.vlan_outer & 0xFFF}
    if m.flags & (META_L3_IPV4 | META_L3_IPV6):
        v6 = bool(m.flags & META_L3_IPV6)
        p.update(proto=m.ip_proto, l4ok=int(bool(m.flags & META_L4_OK)), tcpflags=m.tcp_flags,
                 icmptype=m.icmp_type, icmpcode=m.icmp_code, sport=m.sport, dport=m.dport,
                 src=(m.ip6_src_hi << 64 | m.ip6_src_lo) if v6 else m.ip4_src,
                 dst=(m.ip6_dst_hi << 64 | m.ip6_dst_lo) if v6 else m.ip4_dst)
        return (IPV6 if v6 else IPV4), p
    p["etype"] = m.ethertype
    return OTHER, p


@SETTINGS
@given(trees(IP_ATOMS + L2_ATOMS + EXTRA_ATOMS))
def test_expressions_become_exactly_the_frames_they_match(tree):
    expr = parse_match(text(tree))
    space = to_dnf(expr)
    for frame in classifier_space().frames[::7] + extra_frames():
        pkt = Packet(frame)
        fam, point = point_of(pkt)
        assert any(cube_has(c, point) for c in space[fam]) == evaluate(expr, pkt), frame.hex()
    # Every box yields a real frame that the expression matches, or none at all.
    for fam, cubes in space.items():
        for c in cubes:
            w = realize(fam, c)
            if w is not None:
                pkt = Packet(w.frame())
                assert point_of(pkt)[0] == fam and evaluate(expr, pkt), w.describe()


@pytest.mark.parametrize("expr", ["tcp and udp", "tcp port 80 and less 40", "ip and ip6",
                                  "vlan 10 and vlan 20", "arp and port 1"])
def test_contradictions_have_no_frame(expr):
    assert all(realize(fam, c) is None for fam, cubes in to_dnf(parse_match(expr)).items()
               for c in cubes)


# -- Classifier arms ----------------------------------------------------------------------


def brute_arms(space, bits: list[int], wildcard: bool) -> dict:
    """What the arms do over the space: never-first arms with their takers; overlaps."""
    taken, first, out = 0, [], {"never": {}, "overlap": set()}
    for b in bits:
        first.append(b & ~taken)
        taken |= b
    for j, b in enumerate(bits):
        if not first[j]:
            out["never"][j] = {i for i in range(j) if first[i] & b}
        elif not (wildcard and j == len(bits) - 1):
            earlier = tuple(i for i in range(j) if first[i] & b and bits[i] & ~b)
            if earlier:
                out["overlap"].add((j, earlier))
    return out


@SETTINGS
@given(st.lists(trees(IP_ATOMS + L2_ATOMS), min_size=1, max_size=4), st.booleans())
def test_arms_against_brute_force(arm_trees, wildcard):
    space = classifier_space()
    exprs = [parse_match(text(t)) for t in arm_trees] + ([None] if wildcard else [])
    bits = [space.bits(t) for t in arm_trees] + ([space.all] if wildcard else [])
    expected = brute_arms(space, bits, wildcard)
    found = classifier.check_arms(exprs)
    never = {w.arm: set(w.others) for w in found if w.kind in ("empty", "shadowed")}
    assert never == expected["never"]
    assert {w.arm for w in found if w.kind == "empty"} == {j for j in never if not bits[j]}
    assert {(w.arm, w.others) for w in found if w.kind == "overlap"} == expected["overlap"]
    for w in found:
        if w.witness is not None:
            pkt = Packet(w.witness.frame())
            assert exprs[w.arm] is None or evaluate(exprs[w.arm], pkt)
            assert classifier.first_arm(exprs, pkt) == w.goes_to
            assert evaluate(exprs[w.goes_to], pkt) if exprs[w.goes_to] is not None else True


def test_arm_examples_read_as_packets():
    exprs = [parse_match(e) for e in ("tcp port 22", "net 10.0.0.0/8", "tcp dst port 22",
                                      "vlan 10 and tcp port 22 and less 57")]
    found = {w.arm: w for w in classifier.check_arms(exprs)}
    assert found[1].kind == "overlap" and found[1].goes_to == 0
    assert found[1].witness.describe() == "IPv4 TCP 10.0.0.1:22 -> 192.0.2.2:80 [S]"
    assert found[2].kind == "shadowed" and found[2].others == (0,)
    assert found[3].kind == "empty"  # a tagged TCP frame takes 58 bytes at least


# -- Firewall rules ------------------------------------------------------------------------


def brute_rules(bits: list[int], actions: list[str], default: str) -> dict[int, str]:
    """The kind of warning each rule must get, by first match over the space's frames."""
    taken, first = 0, []
    for b in bits:
        first.append(b & ~taken)
        taken |= b
    kinds: dict[int, str] = {}
    removed: set[int] = set()
    for j in reversed(range(len(bits))):
        if not first[j]:
            if not bits[j]:
                kinds[j] = "empty"
            elif any(first[i] & bits[j] and actions[i] != actions[j] for i in range(j)):
                kinds[j] = "shadowed"
                continue
            else:
                kinds[j] = "covered"
            removed.add(j)
            continue
        rest, changes = first[j], False
        for k in range(j + 1, len(bits)):
            if k in removed:
                continue
            if rest & bits[k] and actions[k] != actions[j]:
                changes = True
            rest &= ~bits[k]
        if not changes and not (rest and default != actions[j]):
            kinds[j] = "unneeded"
    return kinds


def check_against(rules, fmt: str, bits: list[int], default: str) -> None:
    tests = [(reference.classbench_test if fmt == "classbench" else reference.chainc_test)(r)
             for r in rules]
    actions = [r.action + r.port for r in rules]
    report = firewall.check_rules(rules, fmt, default)
    assert report.unchecked == 0
    assert {w.rule: w.kind for w in report.warnings} == brute_rules(bits, actions, default)
    dead = {w.rule for w in report.warnings if w.kind in ("covered", "empty")}
    for w in report.warnings:
        firewall.verify(w, rules, tests, default, {i for i in dead if i > w.rule})


ACTIONS = ("allow", "deny", "to x")


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(ACTIONS), trees(IP_ATOMS)), min_size=1, max_size=6),
       st.sampled_from(["allow", "deny"]))
def test_chainc_rules_against_brute_force(drafts, default):
    space = firewall_space()
    rules, errors = rules_mod.parse_chainc("".join(f"{a} {text(t)}\n" for a, t in drafts))
    assert not errors
    check_against(rules, "chainc", [space.bits(t) for _, t in drafts], default)


CB_NETS = {4: ("10.0.0.1/32", "10.0.0.0/30", "0.0.0.0/0"),
           6: ("2001:db8::1/128", "2001:db8::/126", "::/0")}
CB_PORTS = ("0 : 65535", "1 : 1", "1 : 2", "2 : 3")
CB_PROTOS = ("0x06/0xFF", "0x11/0xFF", "0x00/0x00", "0x01/0xFF", "0x04/0xFC")


@st.composite
def classbench_lines(draw) -> str:
    v = draw(st.sampled_from([4, 6]))
    nets = st.sampled_from(CB_NETS[v])
    ports = st.sampled_from(CB_PORTS)
    return (f"@{draw(nets)}\t{draw(nets)}\t{draw(ports)}\t{draw(ports)}\t"
            f"{draw(st.sampled_from(CB_PROTOS))}\n")


@settings(SETTINGS, max_examples=40)
@given(st.lists(classbench_lines(), min_size=1, max_size=8), st.sampled_from(["allow", "deny"]))
def test_classbench_rules_against_brute_force(lines, default):
    space = firewall_space()
    rules, errors = rules_mod.parse_classbench("".join(lines))
    assert not errors
    bits = [matching(space.packets, test) for test in map(reference.classbench_test, rules)]
    check_against(rules, "classbench", bits, default)


def test_copies_are_reported_once_and_unneeded_rules_with_their_fallback():
    rules, _ = rules_mod.parse_chainc("allow tcp port 22\n"        # 0: needed (default deny)
                                      "allow tcp port 22\n"        # 1: a copy: covered by 0
                                      "deny udp\n"                 # 2: the default denies it anyway
                                      "to x icmp\n"
                                      "allow tcp dst port 22\n"    # 4: covered by 0
                                      "deny udp port 53\n")        # 5: covered by 2
    report = firewall.check_rules(rules, "chainc", "deny")
    assert {w.rule: (w.kind, w.other) for w in report.warnings} == {
        1: ("covered", 0), 2: ("unneeded", None), 4: ("covered", 0), 5: ("covered", 2)}
    assert report.warnings[1].witness.describe().startswith("IPv4 UDP")


def test_the_shared_classbench_set_is_checked_in_seconds():
    if not CLASSBENCH.is_file():
        pytest.skip(f"the shared ClassBench rule set is not here: {CLASSBENCH}")
    rules, errors = rules_mod.parse_classbench(CLASSBENCH.read_text())
    assert not errors
    report = firewall.check_rules(rules, "classbench", "deny")
    kinds = [w.kind for w in report.warnings]
    # Its filters carry no action (all allow) and repeat each other once the flags column,
    # which the Firewall does not match, is set aside.
    assert (kinds.count("covered"), kinds.count("unneeded"), report.unchecked) == (948, 1608, 0)
    tests = [reference.classbench_test(r) for r in rules]
    dead = {w.rule for w in report.warnings if w.kind == "covered"}
    for w in random.Random(1).sample(report.warnings, 40):
        firewall.verify(w, rules, tests, "deny", {i for i in dead if i > w.rule})


def test_a_rule_file_shows_ten_warnings_then_a_count(tmp_path):
    from nfhelpers import make_node, validate

    path = tmp_path / "copies.acl"
    path.write_text("allow tcp port 22\n" * 14)
    diags = validate(make_node("Firewall", {"rules": str(path)}, node_id="fw")).diagnostics
    assert [d.severity.value for d in diags] == ["warning"] * 11
    assert [d.span.line for d in diags[:10]] == list(range(2, 12))
    assert diags[-1].message == "3 more rules never decide a packet or change nothing (3 redundant)"


def test_an_example_that_does_not_take_its_path_is_a_bug(monkeypatch):
    from chainc.analysis.witness import Witness, WitnessMismatch

    monkeypatch.setattr(Witness, "frame", lambda self: b"\x00" * 10)  # a runt: matches nothing
    with pytest.raises(WitnessMismatch):
        classifier.check_arms([parse_match("tcp"), parse_match("tcp port 80")])
