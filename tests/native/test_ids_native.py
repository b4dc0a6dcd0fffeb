"""IDS natively (Hyperscan) against `chainc sim` (Python's re): the same packets on the same
ports, the same counters and the same alert lines, over TCP streams split, retransmitted,
reordered and blocked, UDP, IPv6 and malformed frames. One binary, two instances."""

from __future__ import annotations

import json
import random

import pytest
from scapy.all import IP, TCP, UDP, Ether, IPv6

from chainc.nfs.registry import Registry
from chainc.sim import simulate

from .chains import chain_from_text, mixed_frames, read_frames, write_frames

RULES = r'''
alert tcp any any -> any 80 (msg:"HTTP request"; content:"GET "; offset:0; depth:4; sid:1;)
drop  tcp any any -> any 80 (msg:"passwd fetch"; content:"/etc/passwd"; sid:2;)
drop  tcp any any -> any 80 (msg:"SQL injection"; content:"union"; nocase; pcre:"/union\s+select/i"; sid:3;)
alert tcp any any <> any any (msg:"shellshock"; content:"() {"; sid:4;)
pass  tcp 192.0.2.200 any -> any 80 (msg:"scanner"; content:"X-Scanner"; sid:5;)
alert udp any any -> any 53 (msg:"dns exfil"; pcre:"/[a-z0-9]{30,}\./"; sid:6;)
alert ip any any -> 2001:db8::/32 any (msg:"v6 probe"; content:"|de ad be ef|"; sid:7;)
alert icmp any any -> any any (msg:"ping"; sid:8;)
'''

CHAIN = '''
port wan = pcap("in.pcap")
port lan = pcap(out: "lan.pcap")
port jail = pcap(out: "jail.pcap")
port seen = pcap(out: "seen.pcap")
nf t = Tee()
nf ips = IDS(rules: "t.rules", mode: ips, blocked: output, alerts: "ips.jsonl", flows: 32)
nf ids = IDS(rules: "t.rules", alerts: "ids.jsonl")
wan -> t -> ips -> lan
ips.blocked -> jail
t.copy -> ids -> seen
'''
PORTS = ["lan", "jail", "seen"]
ATTACKS = [b"GET /etc/passwd HTTP/1.0\r\n", b"GET /?q=1 UNION  SELECT pw HTTP/1.0\r\n",
           b"GET / HTTP/1.0\r\nUser-Agent: () { :; }; /bin/sh\r\n", b"GET / HTTP/1.0\r\n\r\n",
           b"X-Scanner: 1\r\nGET /etc/passwd\r\n", b"POST /login HTTP/1.0\r\n\r\nuser=x"]


def conversation(rnd: random.Random, n: int) -> list[bytes]:
    """A TCP connection carrying one request cut into segments, sometimes retransmitted,
    sometimes with a segment lost, and a reply."""
    client = "192.0.2.200" if n % 7 == 0 else f"192.0.2.{n % 150 + 1}"
    sport, isn = 30000 + n, rnd.getrandbits(32)
    base = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=client, dst="10.0.0.80")
    data = rnd.choice(ATTACKS)
    out = [bytes(base / TCP(sport=sport, dport=80, seq=isn, flags="S"))]
    cuts = sorted(rnd.sample(range(1, len(data)), min(3, len(data) - 1)))
    pieces = [(a, data[a:b]) for a, b in zip([0] + cuts, cuts + [len(data)])]
    fate = rnd.randrange(4)
    for i, (off, piece) in enumerate(pieces):
        if fate == 1 and i == 1:
            continue  # lost: a gap
        seg = bytes(base / TCP(sport=sport, dport=80, seq=(isn + 1 + off) % 2**32, flags="PA") / piece)
        out.append(seg)
        if fate == 2 and i == 0:
            out.append(seg)  # retransmitted
    reply = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="10.0.0.80", dst=client) / TCP(sport=80, dport=sport, flags="PA") / b"HTTP/1.0 200"
    out.append(bytes(reply))
    return out


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    rnd = random.Random(9)
    streams = [conversation(rnd, n) for n in range(120)]
    out: list[bytes] = []
    while any(streams):  # interleave the connections, each in its own order
        s = rnd.choice([s for s in streams if s])
        out.append(s.pop(0))
    out += [bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="192.0.2.9", dst="10.0.0.53") / UDP(sport=999, dport=53) /
                  (b"a" * rnd.randrange(20, 40) + b".example.com")) for _ in range(20)]
    out += [bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(dport=9) / b"\xde\xad\xbe\xef"),
            bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(dport=9, flags="PA") / b"x\xde\xad")]
    out += mixed_frames(200, seed=4)
    return out


def test_native_equals_sim(tmp_path, native, frames):
    (tmp_path / "t.rules").write_text(RULES)
    graph = chain_from_text(tmp_path, CHAIN, "ids")
    run = native(graph, {"wan": write_frames(tmp_path / "in.pcap", frames)}, PORTS)
    native_alerts = {n: (tmp_path / n).read_text() for n in ("ips.jsonl", "ids.jsonl")}
    for n in native_alerts:
        (tmp_path / n).unlink()
    sim = simulate(graph, {"wan": [(i * 1000, f) for i, f in enumerate(frames)]}, Registry.load())
    for port in PORTS:
        assert read_frames(run.outputs[port]) == sim.outputs[port], f"{port} differs"
    by_id = {n["id"]: n for n in run.stats["nodes"]}
    for node in sim.stats["nodes"]:
        if node["type"] == "IDS":
            assert by_id[node["id"]]["counters"] == node["counters"], node["id"]
            assert by_id[node["id"]]["out"] == node["out"]
    for n, text in native_alerts.items():
        assert text == (tmp_path / n).read_text(), n
    assert run.stats["mempool"]["in_use"] == 0

    ips, ids = by_id["ips"]["counters"], by_id["ids"]["counters"]
    assert ips["blocked_flows"] > 10 and ips["gaps"] > 0 and ips["evicted"] > 0 and ips["uninspected"] > 0
    assert ids["blocked_flows"] == 0 and by_id["ids"]["out"] == {"out": sum(by_id["ids"]["out"].values())}
    sids = {json.loads(line)["sid"] for line in native_alerts["ids.jsonl"].splitlines()}
    assert {1, 2, 3, 4, 6, 7, 8} <= sids and 5 not in sids
