"""IDS: the rule subset and its errors, and the reference body over TCP streams and packets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from scapy.all import IP, TCP, UDP, Ether, IPv6

from chainc.stdlib_nfs._support import dur

from nfhelpers import make_node, packet, reference, stdlib, validate

CLIENT, SERVER = "192.0.2.7", "10.0.0.80"
BLOCKED_DROP, BLOCKED_OUT = -1, 1


def ids(tmp_path, rules: str, **params):
    path = tmp_path / "t.rules"
    path.write_text(rules)
    params = {"rules": str(path), "alerts": str(tmp_path / "alerts.jsonl"), **params}
    return reference(make_node("IDS", params, node_id="ids"))


def seg(data: bytes, seq: int, flags: str = "PA", src=CLIENT, dst=SERVER, sport=40000, dport=80, ts=0):
    f = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, seq=seq, flags=flags) / data
    p = packet(f)
    p.ts_ns = ts
    return p


def alerts(tmp_path) -> list[dict]:
    path = tmp_path / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


WEB = """\
alert tcp any any -> any 80 (msg:"passwd"; content:"/etc/passwd"; sid:1;)
drop  tcp any any -> any 80 (msg:"union"; content:"union select"; nocase; sid:2;)
"""


# -- rules


def rules_module():
    """The IDS folder's rules.py, as the registry loaded it."""
    package = stdlib().get("IDS").validate.__module__.rsplit(".", 1)[0]
    return sys.modules[package + ".rules"]


def test_rule_options_parse():
    mod = rules_module()
    rules, errors = mod.parse_ids_rules(
        'alert tcp 10.0.0.0/8 any <> any 1:1024 (msg:"a \\"q\\""; content:"GET"; offset:0; depth:4; '
        'pcre:"/user=[a-z]+/i"; sid:7;)\n')
    assert not errors
    (r,) = rules
    assert r.msg == 'a "q"' and r.bidirectional and r.dport == (1, 1024)
    assert r.patterns[0].offset == 0 and r.patterns[0].depth == 4 and r.patterns[1].flags == "i"


@pytest.mark.parametrize("line, message", [
    ('alert tcp any any -> any 80 (msg:"x"; pcre:"/a(?=b)/"; sid:1;)', "lookaround"),
    ('alert tcp any any -> any 80 (msg:"x"; pcre:"/abc$/"; sid:1;)', "'$'"),
    ('alert tcp any any -> any 80 (msg:"x"; pcre:"/a*/"; sid:1;)', "empty string"),
    ('alert tcp any any -> any 80 (msg:"x"; pcre:"/a/R"; sid:1;)', "flag"),
    ('alert tcp any any -> any 80 (msg:"x"; pcre:"/a/"; depth:3; sid:1;)', "follow a content"),
    ('alert tcp any any -> any 80 (msg:"x"; content:"abc"; depth:2; sid:1;)', "shorter"),
    ('alert tcp any any -> any 80 (msg:"x"; pcre:"/a{1,100000}/"; sid:1;)', "Hyperscan"),
])
def test_a_bad_rule_is_reported_at_its_line(tmp_path, line, message):
    path = tmp_path / "bad.rules"
    path.write_text("# comment\nalert tcp any any -> any 80 (msg:\"ok\"; content:\"x\"; sid:9;)\n" + line + "\n")
    reporter = validate(make_node("IDS", {"rules": str(path)}))
    errors = [d for d in reporter.diagnostics if d.severity.name == "ERROR"]
    assert errors and message in errors[0].message
    assert errors[0].span.line == 3


def test_chainc_check_names_the_rule_files_line(tmp_path):
    (tmp_path / "web.rules").write_text(
        'alert tcp any any -> any 80 (msg:"ok"; content:"GET"; sid:1;)\n'
        'alert tcp any any -> any 80 (msg:"bad"; conten:"x"; sid:2;)\n')
    chain = tmp_path / "c.chain"
    chain.write_text('port wan = pcap("in.pcap")\nport lan = pcap(out: "o.pcap")\n'
                     'wan -> IDS(rules: "web.rules") -> lan\n')
    proc = subprocess.run([sys.executable, "-m", "chainc", "check", str(chain)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "web.rules:2:" in proc.stderr and "unsupported rule option 'conten'" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- streams


def test_a_signature_split_over_two_segments_is_found(tmp_path):
    nf = ids(tmp_path, WEB)
    assert nf.process(seg(b"", 999, "S"), 0) == 0
    assert nf.process(seg(b"GET /etc/pa", 1000), 0) == 0
    nf.alert_file.flush()
    assert alerts(tmp_path) == []
    assert nf.process(seg(b"sswd HTTP/1.0", 1011, ts=5_000_000_123), 0) == 0
    nf.finish()
    (a,) = alerts(tmp_path)
    assert a == {"time": "1970-01-01T00:00:05.000000Z", "sid": 1, "msg": "passwd", "action": "alert",
                 "proto": "tcp", "src": CLIENT, "sport": 40000, "dst": SERVER, "dport": 80,
                 "blocked": False}


def test_retransmissions_are_not_fed_twice_and_a_rule_fires_once(tmp_path):
    nf = ids(tmp_path, WEB)
    nf.process(seg(b"/etc/pas", 1000), 0)
    nf.process(seg(b"/etc/pas", 1000), 0)  # a retransmission: the stream stays "/etc/pas"
    nf.process(seg(b"swd", 1008), 0)
    nf.process(seg(b"/etc/passwd", 1011), 0)  # the rule fired already on this stream
    nf.finish()
    assert [a["sid"] for a in alerts(tmp_path)] == [1]
    assert nf.counters["gaps"] == 0


def test_a_gap_restarts_the_stream(tmp_path):
    nf = ids(tmp_path, WEB)
    nf.process(seg(b"/etc/pa", 1000), 0)
    nf.process(seg(b"sswd", 1100), 0)  # bytes 1007..1099 never came
    nf.finish()
    assert alerts(tmp_path) == [] and nf.counters["gaps"] == 1


def test_offset_and_depth_count_from_the_start_of_the_stream(tmp_path):
    rules = 'alert tcp any any -> any 80 (msg:"m"; content:"GET"; offset:0; depth:3; sid:1;)\n'
    nf = ids(tmp_path, rules)
    nf.process(seg(b"G", 1000, sport=1), 0)
    nf.process(seg(b"ET /", 1001, sport=1), 0)  # starts at 0: found across segments
    nf.process(seg(b"xGET", 1000, sport=2), 0)  # starts at 1: outside depth
    nf.finish()
    assert [a["sport"] for a in alerts(tmp_path)] == [1]


def test_ips_blocks_the_connection_both_ways(tmp_path):
    nf = ids(tmp_path, WEB, mode="ips")
    assert nf.process(seg(b"id=1 UNION SELECT pw", 1000), 0) == BLOCKED_DROP
    assert nf.process(seg(b"more", 1020), 0) == BLOCKED_DROP
    reply = seg(b"HTTP/1.0 200", 5000, src=SERVER, dst=CLIENT, sport=80, dport=40000)
    assert nf.process(reply, 0) == BLOCKED_DROP
    assert nf.process(seg(b"hello", 1, sport=40001), 0) == 0  # another connection
    nf.finish()
    (a,) = alerts(tmp_path)
    assert a["sid"] == 2 and a["blocked"] is True
    assert nf.counters["blocked_flows"] == 1


def test_ips_blocked_output_and_ids_mode_only_alerts(tmp_path):
    nf = ids(tmp_path, WEB, mode="ips", blocked="output")
    assert nf.node.outputs == ("out", "blocked")
    assert nf.process(seg(b"union select", 1000), 0) == BLOCKED_OUT
    nf = ids(tmp_path, WEB, mode="ids")
    assert nf.process(seg(b"union select", 1000), 0) == 0


def test_a_pass_rule_silences_the_rest_of_the_stream(tmp_path):
    rules = WEB + 'pass tcp 192.0.2.0/24 any -> any 80 (msg:"trusted"; content:"X-Trusted"; sid:3;)\n'
    nf = ids(tmp_path, rules, mode="ips")
    assert nf.process(seg(b"X-Trusted: 1\r\n", 1000), 0) == 0
    assert nf.process(seg(b"union select /etc/passwd", 1014), 0) == 0
    nf.finish()
    assert alerts(tmp_path) == []


def test_header_only_rules_fire_on_every_matching_packet_and_udp_is_per_packet(tmp_path):
    rules = ('alert udp any any -> any 53 (msg:"dns"; sid:1;)\n'
             'alert udp any any <> any 53 (msg:"x"; pcre:"/ab+c/i"; sid:2;)\n')
    nf = ids(tmp_path, rules)
    for payload in (b"xxABBBC", b"ab", b"c"):  # no stream: "ab" + "c" is not a match
        nf.process(packet(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=CLIENT, dst=SERVER) / UDP(sport=5000, dport=53) / payload), 0)
    reply = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(src="2001:db8::53", dst="2001:db8::7") / UDP(sport=53, dport=5000) / b"abc"
    nf.process(packet(reply), 0)
    nf.finish()
    assert [a["sid"] for a in alerts(tmp_path)] == [1, 2, 1, 1, 2]
    assert alerts(tmp_path)[-1]["src"] == "2001:db8::53"


def test_connections_expire_and_the_least_recently_used_is_evicted(tmp_path):
    nf = ids(tmp_path, WEB, flows=8, timeout=dur("10s"))
    s = 10**9
    for i in range(9):
        nf.process(seg(b"x", 1, sport=1000 + i, ts=i * s), 0)
    assert nf.counters["evicted"] == 1 and nf.counters["connections"] == 9
    nf.process(seg(b"x", 1, sport=2000, ts=60 * s), 0)
    assert nf.counters["expired"] == 2
    assert nf.counters["connections"] == 10


def test_packets_without_an_l4_header_are_not_inspected(tmp_path):
    nf = ids(tmp_path, WEB)
    frag = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=CLIENT, dst=SERVER, frag=10, proto=6) / b"/etc/passwd"
    assert nf.process(packet(frag), 0) == 0
    assert nf.counters["uninspected"] == 1
