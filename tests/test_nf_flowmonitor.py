"""FlowMonitor's reference body against docs/flowmonitor.md: what a flow is, when
records are written and why, both formats, a full table, heavy hitters, and the
retransmissions a ConnTrack before it reports."""

from __future__ import annotations

import csv
import json

import pytest

from scapy.layers.inet import IP
from scapy.layers.l2 import ARP, Ether

from chainc.packet import Packet
from chainc.sim import SimError
from chainc.stdlib_nfs._support import dur
from ct_traffic import ETH, SECOND, Script, Tcp, ping, udp
from nfhelpers import make_node, reference, validate


def run(tmp_path, script: Script, conntrack: bool = False, **params):
    """Run the frames through a FlowMonitor (after a ConnTrack if asked); return the
    records and the body."""
    params.setdefault("export", str(tmp_path / "flows.out"))
    body = reference(make_node("FlowMonitor", params))
    ct = reference(make_node("ConnTrack")) if conntrack else None
    for ts, frame in script.frames:
        pkt = Packet(frame, ts_ns=ts)
        if ct is not None:
            ct.process(pkt, 0)
        assert body.process(pkt, 0) == 0
    body.finish()
    text = (tmp_path / "flows.out").read_text()
    if params.get("format") == "csv":
        return list(csv.DictReader(text.splitlines())), body
    return [json.loads(line) for line in text.splitlines()], body


def test_tcp_session_ends_with_fin_and_each_direction_is_a_flow(tmp_path):
    sc = Script()
    t = Tcp(sc)
    t.handshake()
    t.send(0, "PA", b"x" * 100)
    t.send(1, "PA", b"y" * 300)
    t.close()
    records, body = run(tmp_path, sc)
    assert [(r["src"], r["sport"], r["reason"]) for r in records] == [
        ("10.1.0.5", 40000, "end"),      # the client's FIN
        ("192.0.2.10", 80, "end"),       # the server's FIN
        ("10.1.0.5", 40000, "exit"),     # the client's last ACK starts a new flow
    ]
    client, server, last_ack = records
    assert client["packets"] == 4 and client["bytes"] == 40 * 3 + 140
    assert client["tcp_flags"] == 0x02 | 0x10 | 0x08 | 0x01
    assert server["packets"] == 4 and server["bytes"] == 40 * 3 + 340 and server["dport"] == 40000
    assert client["start_ns"] == sc.frames[0][0] and client["end_ns"] == sc.frames[5][0]
    assert last_ack["packets"] == 1
    assert body.counters == {"flows": 3, "exported": 3, "untracked": 0, "not_ip": 0, "export_lost": 0}


def test_idle_and_active_timeouts(tmp_path):
    sc = Script()
    quiet = ("10.1.0.9", 5000), ("192.0.2.53", 53)
    talker = ("10.1.0.8", 6000), ("192.0.2.1", 7000)
    udp(sc, *quiet)
    for _ in range(12):  # one packet every 10 s for 2 minutes: never idle, active after 60 s
        udp(sc, *talker)
        sc.wait(10 * SECOND)
    records, _ = run(tmp_path, sc, idle_timeout=dur("15s"), active_timeout=dur("1m"))
    assert [(r["src"], r["reason"], r["packets"]) for r in records] == [
        ("10.1.0.9", "idle", 1), ("10.1.0.8", "active", 6), ("10.1.0.8", "exit", 6)]
    # The 7th packet comes 60 s after the first: it closes the first record and starts the next.
    assert records[2]["start_ns"] == sc.frames[7][0] and records[1]["end_ns"] == sc.frames[6][0]


def test_a_packet_after_the_idle_timeout_starts_a_new_flow(tmp_path):
    sc = Script()
    flow = ("10.1.0.9", 5000), ("192.0.2.53", 53)
    udp(sc, *flow)
    sc.wait(16 * SECOND)
    udp(sc, *flow)
    records, body = run(tmp_path, sc)
    assert [(r["reason"], r["packets"]) for r in records] == [("idle", 1), ("exit", 1)]
    assert body.counters["flows"] == 2


def test_icmp_ports_not_ip_and_fragments(tmp_path):
    sc = Script()
    ping(sc, "10.1.0.7", "192.0.2.1", 77)
    ping(sc, "10.1.0.7", "192.0.2.1", 78)  # another identifier: the same flow
    sc.add(bytes(Ether(**ETH) / ARP()))
    sc.add(bytes(Ether(**ETH) / IP(src="10.1.0.7", dst="192.0.2.2", frag=100) / (b"z" * 20)))
    records, body = run(tmp_path, sc)
    icmp, frag = records
    assert (icmp["proto"], icmp["sport"], icmp["dport"], icmp["packets"]) == (1, 0, 8 * 256, 2)
    assert (frag["proto"], frag["sport"], frag["dport"], frag["bytes"]) == (0, 0, 0, 40)
    assert body.counters["not_ip"] == 1


def test_full_table_retires_idle_flows_or_leaves_packets_untracked(tmp_path):
    sc = Script()
    for i in range(3):
        udp(sc, (f"10.0.0.{i + 1}", 1), ("192.0.2.1", 53))
    sc.wait(20 * SECOND)
    udp(sc, ("10.0.0.9", 1), ("192.0.2.1", 53))
    records, body = run(tmp_path, sc, table_size=2)
    assert body.counters["untracked"] == 1
    assert [(r["src"], r["reason"]) for r in records] == [
        ("10.0.0.1", "idle"), ("10.0.0.2", "idle"), ("10.0.0.9", "exit")]


def test_csv_format(tmp_path):
    sc = Script()
    udp(sc, ("2001:db8:a:1::5", 5353), ("2001:db8::53", 53))
    rows, _ = run(tmp_path, sc, format="csv")
    assert (tmp_path / "flows.out").read_text().splitlines()[0] == \
        "start_ns,end_ns,src,dst,proto,sport,dport,packets,bytes,tcp_flags,retrans,reason"
    assert rows == [{"start_ns": str(sc.frames[0][0]), "end_ns": str(sc.frames[0][0]),
                     "src": "2001:db8:a:1::5", "dst": "2001:db8::53", "proto": "17", "sport": "5353",
                     "dport": "53", "packets": "1", "bytes": "49", "tcp_flags": "0", "retrans": "0",
                     "reason": "exit"}]


def test_retransmissions_reported_by_a_conntrack(tmp_path):
    sc = Script()
    t = Tcp(sc)
    t.handshake()
    t.send(0, "PA", b"x" * 100)
    t.send(0, "PA", b"x" * 100, seq=1001)
    t.send(0, "PA", b"x" * 100, seq=1001)
    records, _ = run(tmp_path, sc, conntrack=True)
    assert [r["retrans"] for r in records if r["src"] == "10.1.0.5"] == [2]
    alone, _ = run(tmp_path, sc)
    assert all(r["retrans"] == 0 for r in alone)


def test_heavy_hitters_count_whole_flows(tmp_path, capsys):
    sc = Script()
    big = ("10.1.0.1", 1000), ("192.0.2.1", 2000)
    for _ in range(6):  # 6 x 1,028 bytes, split in records by a 10 s active timeout
        udp(sc, *big, data=bytes(1000))
        sc.wait(5 * SECOND)
    udp(sc, ("10.1.0.2", 1000), ("192.0.2.1", 2000), data=bytes(3000))
    udp(sc, ("10.1.0.3", 1000), ("192.0.2.1", 2000), data=bytes(3000))  # a tie: ends later
    udp(sc, ("2001:db8::1", 1000), ("2001:db8::2", 2000), data=bytes(10))
    records, _ = run(tmp_path, sc, active_timeout=dur("10s"), idle_timeout=dur("8s"), top=2)
    assert sum(r["packets"] for r in records if r["src"] == "10.1.0.1") == 6
    assert len([r for r in records if r["src"] == "10.1.0.1"]) > 1
    out = capsys.readouterr().out.splitlines()
    assert out == ["FlowMonitor nf: the 2 largest flows by bytes",
                   "rank           bytes     packets  flow",
                   "   1           6,168           6  udp 10.1.0.1:1000 -> 192.0.2.1:2000",
                   "   2           3,028           1  udp 10.1.0.2:1000 -> 192.0.2.1:2000"]


def test_an_export_file_that_cannot_be_opened_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(SimError, match="cannot open the export file"):
        run(tmp_path, Script(), export=str(tmp_path / "file" / "flows.jsonl"))


def test_validation():
    assert not validate(make_node("FlowMonitor", {"export": "f.jsonl"})).errors
    bad = make_node("FlowMonitor", {"export": "f.jsonl", "top": -1, "idle_timeout": dur("0s")})
    messages = [e.message for e in validate(bad).errors]
    assert any("top" in m for m in messages) and any("idle_timeout" in m for m in messages)
