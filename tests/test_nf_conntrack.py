"""ConnTrack's reference body against docs/conntrack.md: scripted TCP handshakes,
teardowns, RSTs, out-of-window and retransmitted segments, UDP and ICMP
pseudo-connections, ICMP errors, timeouts, a full table, malformed frames."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import ICMPv6ND_NS, IPv6
from scapy.layers.l2 import ARP, Ether

from chainc.packet import (META_CT_ESTABLISHED, META_CT_EV_END, META_CT_EV_ESTABLISHED,
                           META_CT_EV_RETRANS, META_CT_EV_START, META_CT_EV_STATE, META_CT_INVALID,
                           META_CT_NEW, META_CT_RELATED, TCP_STATES, Packet)
from chainc.pcapfile import read_pcap
from ct_traffic import ETH, MS, SECOND, Script, Tcp, ping, udp, unreachable
from nfhelpers import make_node, reference, validate

NEW, ESTABLISHED, INVALID, TABLE_FULL = 0, 1, 2, -1
START, EST, END, RETRANS, STATE = (META_CT_EV_START, META_CT_EV_ESTABLISHED, META_CT_EV_END,
                                   META_CT_EV_RETRANS, META_CT_EV_STATE)
S = TCP_STATES
ROOT = Path(__file__).resolve().parent.parent


class Verdict(tuple):
    """(output, ct_state, ct_events, ct_tcp_state, ct_dir, ct_id) of one packet."""

    out = property(lambda self: self[0])
    state = property(lambda self: self[1])
    events = property(lambda self: self[2])
    tcp = property(lambda self: self[3])
    dir = property(lambda self: self[4])
    id = property(lambda self: self[5])


def run(script: Script, **params) -> tuple[list[Verdict], object]:
    body = reference(make_node("ConnTrack", params))
    out = []
    for ts, frame in script.frames:
        pkt = Packet(frame, ts_ns=ts)
        r = body.process(pkt, 0)
        m = pkt.meta
        out.append(Verdict((r, m.ct_state, m.ct_events, m.ct_tcp_state, m.ct_dir, m.ct_id)))
    return out, body


# -- TCP ---------------------------------------------------------------------------


def test_handshake_data_and_fin_teardown():
    sc = Script()
    t = Tcp(sc)
    syn, synack, ack = t.handshake()
    data = t.send(0, "PA", b"GET / HTTP/1.1\r\n\r\n")
    resp = t.send(1, "PA", b"HTTP/1.1 200 OK\r\n\r\n")
    fin = t.close()
    v, body = run(sc)
    assert v[syn] == (NEW, META_CT_NEW, START | STATE, S["SYN_SENT"], 0, 1)
    assert v[synack] == (ESTABLISHED, META_CT_ESTABLISHED, EST | STATE, S["SYN_RECV"], 1, 1)
    assert v[ack] == (ESTABLISHED, META_CT_ESTABLISHED, STATE, S["ESTABLISHED"], 0, 1)
    assert v[data][:3] == (ESTABLISHED, META_CT_ESTABLISHED, 0)
    assert v[resp].dir == 1 and v[resp].events == 0
    assert [x.tcp for x in (v[i] for i in fin)] == [S["FIN_WAIT"], S["CLOSE_WAIT"], S["LAST_ACK"],
                                                    S["TIME_WAIT"]]
    assert [v[i].events for i in fin] == [STATE, STATE, STATE, STATE | END]
    assert body.counters == {"connections": 1, "refused": 0, "closed": 1, "expired": 0,
                             "retransmissions": 0, "tracked": 1}


def test_rst_answering_a_syn_then_the_syn_again_reopens():
    sc = Script()
    t = Tcp(sc, server=("192.0.2.10", 81))
    syn = t.send(0, "S")
    rst = t.send(1, "RA", seq=0)
    again = t.send(0, "S", seq=1000)
    v, body = run(sc)
    assert v[syn].out == NEW
    assert v[rst] == (ESTABLISHED, META_CT_ESTABLISHED, EST | END | STATE, S["CLOSE"], 1, 1)
    assert v[again] == (NEW, META_CT_NEW, START | STATE, S["SYN_SENT"], 0, 2)
    assert body.counters["connections"] == 2 and body.counters["closed"] == 1


def test_rst_in_established_closes_and_later_segments_are_invalid():
    sc = Script()
    t = Tcp(sc)
    t.handshake()
    rst = t.send(0, "R")
    late = t.send(1, "PA", b"late")
    v, _ = run(sc)
    assert v[rst].tcp == S["CLOSE"] and v[rst].events == STATE | END
    # The table keeps every segment of a closed connection in CLOSE; one in the
    # window passes until the connection times out (10 s).
    assert v[late].tcp == S["CLOSE"] and v[late].out == ESTABLISHED


def test_retransmitted_syn_and_data_carry_the_event():
    sc = Script()
    t = Tcp(sc)
    syn = t.send(0, "S")
    syn2 = t.send(0, "S", seq=1000)
    t.send(1, "SA")
    t.send(0, "A")
    first = t.send(0, "PA", b"x" * 100)
    again = t.send(0, "PA", b"x" * 100, seq=1001)
    part = t.send(0, "PA", b"x" * 150, seq=1051)  # half old, half new: not a retransmission
    pure_ack = t.send(0, "A")
    v, body = run(sc)
    assert v[syn].events == START | STATE
    assert v[syn2] == (NEW, META_CT_NEW, RETRANS, S["SYN_SENT"], 0, 1)
    assert v[first].events == 0 and v[again].events == RETRANS
    assert v[part].events == 0 and v[pure_ack].events == 0
    assert body.counters["retransmissions"] == 2


def test_out_of_window_segments_are_invalid_and_change_nothing():
    sc = Script()
    t = Tcp(sc)
    t.handshake()
    ahead = t.send(0, "PA", b"x" * 10, seq=1001 + 10_000_000)
    ack_ahead = t.send(0, "A", ack=900001 + 5_000_000)
    old = t.send(0, "PA", b"x" * 10, seq=1001 - 3_000_000)
    fine = t.send(0, "PA", b"y" * 10)
    v, _ = run(sc)
    for i in (ahead, ack_ahead, old):
        assert v[i] == (INVALID, META_CT_INVALID, 0, S["ESTABLISHED"], 0, 1), i
    assert v[fine].out == ESTABLISHED and v[fine].events == 0


def test_window_scaling_allows_large_windows_only_when_both_sides_scale():
    def flow(wscale):
        sc = Script()
        t = Tcp(sc, window=[1000, 1000])
        t.handshake(wscale=wscale)
        t.send(1, "A")  # the server's first scaled window
        # 200 KB ahead of the last byte sent: inside a window of 1000 << 8, not of 1000.
        far = t.send(0, "PA", b"z" * 10, seq=1001 + 200_000)
        return run(sc)[0][far].out

    assert flow(8) == ESTABLISHED
    assert flow(None) == INVALID


def test_strict_refuses_mid_stream_and_loose_picks_it_up():
    sc = Script()
    t = Tcp(sc)
    mid = t.send(0, "PA", b"data", seq=5000, ack=7000)
    answer = t.send(1, "A", seq=7000, ack=5004)
    strict, _ = run(sc)
    assert strict[mid] == (INVALID, META_CT_INVALID, 0, 0, 0, 0)
    assert strict[answer].out == INVALID
    loose, _ = run(sc, strict=False)
    assert loose[mid] == (NEW, META_CT_NEW, START | STATE, S["ESTABLISHED"], 0, 1)
    assert loose[answer] == (ESTABLISHED, META_CT_ESTABLISHED, EST, S["ESTABLISHED"], 1, 1)


@pytest.mark.parametrize("flags", ["", "SF", "F", "SR", "FPU", "SA" + "F"])
def test_impossible_flag_combinations_are_invalid(flags):
    sc = Script()
    i = Tcp(sc).send(0, flags)
    v, body = run(sc)
    assert v[i] == (INVALID, META_CT_INVALID, 0, 0, 0, 0) and body.counters["connections"] == 0


def test_synack_without_syn_and_ack_of_unknown_connection_are_invalid():
    sc = Script()
    t = Tcp(sc)
    i = t.send(1, "SA")
    j = t.send(0, "A")
    v, _ = run(sc)
    assert v[i].out == INVALID and v[j].out == INVALID


def test_simultaneous_open():
    sc = Script()
    t = Tcp(sc)
    a = t.send(0, "S")
    b = t.send(1, "S")  # the server also sends a SYN
    c = t.send(1, "SA", seq=900000)
    v, _ = run(sc)
    assert v[a].tcp == S["SYN_SENT"]
    assert v[b] == (ESTABLISHED, META_CT_ESTABLISHED, EST | STATE, S["SYN_SENT2"], 1, 1)
    assert v[c].tcp == S["SYN_RECV"]


def test_ipv6_connection():
    sc = Script()
    t = Tcp(sc, client=("2001:db8:a:1::5", 50000), server=("2001:db8::80", 443))
    syn, synack, ack = t.handshake()
    v, _ = run(sc)
    assert [v[i].out for i in (syn, synack, ack)] == [NEW, ESTABLISHED, ESTABLISHED]
    assert v[ack].tcp == S["ESTABLISHED"]


def test_tcp_timeouts_follow_the_state():
    sc = Script()
    t = Tcp(sc)
    t.send(0, "S")
    sc.wait(121 * SECOND)  # SYN_SENT: 2 minutes
    late = t.send(1, "SA")
    v, body = run(sc)
    assert v[late].out == INVALID and body.counters["expired"] == 1
    v, _ = run(sc, tcp_timeout_syn_sent=make_duration("3m"))
    assert v[late].out == ESTABLISHED


def test_time_wait_then_a_new_syn_starts_a_new_connection():
    sc = Script()
    t = Tcp(sc)
    t.handshake()
    t.close()
    sc.wait(30 * SECOND)
    syn = t.send(0, "S", seq=500_000)
    v, body = run(sc)
    assert v[syn] == (NEW, META_CT_NEW, START | STATE, S["SYN_SENT"], 0, 2)
    assert body.counters["connections"] == 2 and body.counters["tracked"] == 1


def test_allow_new_lets_only_matching_packets_open_connections():
    inside = "src net 10.1.0.0/16 or src net 2001:db8:a:1::/64"
    sc = Script()
    t = Tcp(sc)  # the client is inside
    out = Tcp(sc, client=("198.51.100.66", 5555), server=("10.1.0.80", 22))
    syn, synack, ack = t.handshake()
    probe = out.send(0, "S")
    answer = out.send(1, "SA")  # what the inside host would say, had the SYN reached it
    dns = udp(sc, ("192.0.2.53", 53), ("10.1.0.5", 5353))
    icmp = ping(sc, "192.0.2.1", "10.1.0.5", 9)
    loose = out.send(0, "A", seq=1001, ack=900001)
    v, body = run(sc, allow_new=inside, strict=False)
    assert [v[i].out for i in (syn, synack, ack)] == [NEW, ESTABLISHED, ESTABLISHED]
    assert [v[i] for i in (probe, answer, dns, icmp, loose)] == [(INVALID, META_CT_INVALID, 0, 0, 0, 0)] * 5
    assert body.counters["refused"] == 4 and body.counters["connections"] == 1  # the SYN-ACK opens nothing anyway


# -- UDP, ICMP, other protocols ---------------------------------------------------


def test_udp_new_until_answered_then_stream_timeout():
    sc = Script()
    c, s = ("10.1.0.9", 5353), ("192.0.2.53", 53)
    q1 = udp(sc, c, s)
    q2 = udp(sc, c, s)
    a1 = udp(sc, s, c)
    q3 = udp(sc, c, s)
    sc.wait(100 * SECOND)  # within the stream timeout (120 s)
    q4 = udp(sc, c, s)
    sc.wait(121 * SECOND)
    q5 = udp(sc, c, s)
    v, body = run(sc)
    assert v[q1] == (NEW, META_CT_NEW, START, 0, 0, 1)
    assert v[q2] == (NEW, META_CT_NEW, 0, 0, 0, 1)
    assert v[a1] == (ESTABLISHED, META_CT_ESTABLISHED, EST, 0, 1, 1)
    assert v[q3].out == ESTABLISHED and v[q4].out == ESTABLISHED
    assert v[q5] == (NEW, META_CT_NEW, START, 0, 0, 2)
    assert body.counters["expired"] == 1


def test_unanswered_udp_times_out_after_30_seconds():
    sc = Script()
    c, s = ("10.1.0.9", 40001), ("198.51.100.7", 9999)
    udp(sc, c, s)
    sc.wait(29 * SECOND)
    inside = udp(sc, c, s)
    sc.wait(31 * SECOND)
    after = udp(sc, c, s)
    v, _ = run(sc)
    assert v[inside].id == 1 and v[after].id == 2 and v[after].events == START


def test_icmp_echo_and_replies_without_requests():
    sc = Script()
    req = ping(sc, "10.1.0.7", "192.0.2.1", 77)
    rep = ping(sc, "192.0.2.1", "10.1.0.7", 77, reply=True)
    stray = ping(sc, "192.0.2.1", "10.1.0.7", 78, reply=True)
    v6req = ping(sc, "2001:db8:a:1::7", "2001:db8::1", 5)
    v6rep = ping(sc, "2001:db8::1", "2001:db8:a:1::7", 5, reply=True)
    v, _ = run(sc)
    assert v[req] == (NEW, META_CT_NEW, START, 0, 0, 1)
    assert v[rep] == (ESTABLISHED, META_CT_ESTABLISHED, EST, 0, 1, 1)
    assert v[stray] == (INVALID, META_CT_INVALID, 0, 0, 0, 0)
    assert v[v6req].out == NEW and v[v6rep].out == ESTABLISHED


def test_icmp_errors_about_tracked_connections_are_related():
    sc = Script()
    c, s = ("10.1.0.9", 33434), ("198.51.100.9", 33435)
    probe = udp(sc, c, s)
    err = unreachable(sc, "198.51.100.1", sc.frames[probe][1][14:])
    stranger = unreachable(sc, "198.51.100.1", bytes(IP(src="10.1.0.9", dst="203.0.113.1")
                                                      / UDP(sport=1, dport=2)))
    t = Tcp(sc, client=("2001:db8:a:1::5", 50000), server=("2001:db8::80", 443))
    syn = t.send(0, "S")
    err6 = unreachable(sc, "2001:db8::ffff", sc.frames[syn][1][14:])
    v, _ = run(sc)
    assert v[err] == (ESTABLISHED, META_CT_RELATED, 0, 0, 1, 1)
    assert v[stranger].out == INVALID
    assert v[err6] == (ESTABLISHED, META_CT_RELATED, 0, S["SYN_SENT"], 1, 2)


def test_neighbour_discovery_arp_and_other_protocols():
    sc = Script()
    ns = sc.add(bytes(Ether(**ETH) / IPv6(src="fe80::1", dst="ff02::1:ff00:2") / ICMPv6ND_NS(tgt="fe80::2")))
    arp = sc.add(bytes(Ether(**ETH) / ARP()))
    gre = sc.add(bytes(Ether(**ETH) / IP(src="10.1.0.1", dst="192.0.2.9", proto=47) / (b"\x00" * 8)))
    gre_back = sc.add(bytes(Ether(**ETH) / IP(src="192.0.2.9", dst="10.1.0.1", proto=47) / (b"\x00" * 8)))
    v, _ = run(sc)
    assert v[ns].out == INVALID and v[arp].out == INVALID
    assert v[gre] == (NEW, META_CT_NEW, START, 0, 0, 1)
    assert v[gre_back] == (ESTABLISHED, META_CT_ESTABLISHED, EST, 0, 1, 1)


def test_fragments_and_malformed_frames_are_invalid_and_never_tracked():
    frames = [p.data for p in read_pcap(str(ROOT / "examples" / "traffic" / "malformed.pcap"))]
    sc = Script()
    for f in frames:
        sc.add(f)
    first = sc.add(bytes(Ether(**ETH) / IP(src="10.1.0.1", dst="192.0.2.1", flags="MF") / UDP() / (b"x" * 8)))
    v, body = run(sc)
    assert v[first].out == INVALID
    # Only well-formed, unfragmented IP with a sound L4 header opens connections.
    opened = [i for i, x in enumerate(v) if x.events & START]
    assert all(x.out in (NEW, INVALID) for x in v)
    assert body.counters["connections"] == len(opened) < len(frames) // 2


# -- the table -------------------------------------------------------------------


def test_full_table_refuses_new_connections_until_one_expires():
    sc = Script()
    a = udp(sc, ("10.0.0.1", 1), ("192.0.2.1", 53))
    b = udp(sc, ("10.0.0.2", 1), ("192.0.2.1", 53))
    c = udp(sc, ("10.0.0.3", 1), ("192.0.2.1", 53))
    a2 = udp(sc, ("10.0.0.1", 1), ("192.0.2.1", 53))  # known: still passes
    sc.wait(31 * SECOND)
    d = udp(sc, ("10.0.0.4", 1), ("192.0.2.1", 53))
    v, body = run(sc, table_size=2)
    assert [v[i].out for i in (a, b, c, a2)] == [NEW, NEW, TABLE_FULL, NEW]
    assert v[d].out == NEW
    # Before d, the sweep removed the two expired connections (two per packet).
    assert body.counters == {"connections": 3, "refused": 0, "closed": 0, "expired": 2,
                             "retransmissions": 0, "tracked": 1}


def test_sweep_removes_at_most_two_expired_connections_per_packet():
    sc = Script()
    for i in range(5):
        udp(sc, (f"10.0.0.{i + 1}", 1), ("192.0.2.1", 53))
    sc.wait(31 * SECOND)
    udp(sc, ("10.0.1.1", 1), ("192.0.2.1", 53))
    _, body = run(sc)
    assert body.counters["expired"] == 2 and body.counters["tracked"] == 4
    sc.step = MS
    udp(sc, ("10.0.1.1", 1), ("192.0.2.1", 53))
    _, body = run(sc)
    assert body.counters["expired"] == 4 and body.counters["tracked"] == 2


def test_validation():
    assert not validate(make_node("ConnTrack")).errors
    bad = make_node("ConnTrack", {"table_size": 0, "icmp_timeout": make_duration("0s"),
                                  "allow_new": "src net 10.1.0.0/33"})
    messages = [e.message for e in validate(bad).errors]
    assert any("table_size" in m for m in messages) and any("icmp_timeout" in m for m in messages)
    assert any("allow_new" in m for m in messages)


def make_duration(text: str):
    from chainc.stdlib_nfs._support import dur
    return dur(text)
