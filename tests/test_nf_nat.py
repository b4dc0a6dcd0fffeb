"""NAT: the spec's checks and the reference body (no DPDK).

Translations are checked against packets scapy builds with the expected
addresses, so "restored exactly" means byte for byte, checksums included.
"""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, GRE, Ether

from chainc.packet import Packet
from chainc.values import Duration, Range

from nat_traffic import Flow, checksums_ok, endpoints, inbound, outbound
from nfhelpers import make_node, reference, stdlib, validate

REASONS = stdlib().get("NAT").drop_reasons
(NO_MAPPING, PORTS_EXHAUSTED, TABLE_FULL, NOT_IPV4, UNSUPPORTED, FRAGMENT, MALFORMED) = (
    -(1 + REASONS.index(r)) for r in ("no-mapping", "ports-exhausted", "table-full", "not-ipv4",
                                      "unsupported-protocol", "fragment", "malformed"))
INSIDE, OUTSIDE = 0, 1
EXT = "203.0.113.7"
SECOND = 10**9


def nat(external=(EXT,), ports=(20000, 20999), **params):
    typed = {"external": tuple(ipaddress.IPv4Address(a) for a in external), "ports": Range(*ports)}
    for key in ("tcp_timeout", "tcp_transitory_timeout", "udp_timeout", "icmp_timeout"):
        if key in params:
            typed[key] = Duration(params.pop(key) * SECOND)
    node = make_node("NAT", {**typed, **params})
    assert not validate(node).diagnostics, [d.message for d in validate(node).diagnostics]
    return reference(node)


def send(body, frame: bytes, side: int, t: float = 0.0) -> tuple[int, bytes]:
    pkt = Packet(frame, ts_ns=int(t * SECOND))
    return body.process(pkt, side), bytes(pkt.data)


# -- the spec's checks -------------------------------------------------------------


def messages(**params) -> list[str]:
    params.setdefault("external", ipaddress.IPv4Address(EXT))
    return [d.message for d in validate(make_node("NAT", params)).errors]


def test_validate_rejects_what_cannot_work():
    two = [ipaddress.IPv4Address(EXT)] * 2
    assert messages(external=two) == ["an external address is listed twice"]
    many = [ipaddress.IPv4Address(f"198.18.0.{i}") for i in range(65)]
    assert messages(external=many) == ["at most 64 external addresses, got 65"]
    assert messages(forwards=("tcp 80 -> 10.0.0.5", "tcp 8080 -> 10.0.0.5:80")) == [
        "tcp 10.0.0.5:80 is the target of two forwards"]
    assert messages(forwards=("tcp 80 -> 10.0.0.5", "udp 80 -> 10.0.0.5")) == []
    assert messages(ports=Range(0, 10)) == ["'ports' must lie within 1..65535 with lo <= hi, got 0..10"]
    assert messages(table_size=1 << 25) == ["'table_size' must be at most 16777216, got 33554432"]
    assert messages(udp_timeout=Duration(0)) == ["'udp_timeout' must be greater than zero"]


# -- translation ---------------------------------------------------------------------


def test_outbound_rewrites_the_source_and_replies_are_restored_exactly():
    body = nat()
    flow = Flow("tcp", "10.1.0.9", 40000, "198.51.100.1", 443)
    out, data = send(body, outbound(flow, flags="S"), INSIDE)
    assert out == OUTSIDE
    assert data == outbound(flow, src=EXT, port=20000, flags="S")
    assert checksums_ok(data)
    back, data = send(body, inbound(flow, EXT, 20000, flags="SA"), OUTSIDE)
    assert back == INSIDE and data == inbound(flow, flow.inside, flow.port, flags="SA")


def test_metadata_follows_the_rewrite():
    body = nat()
    pkt = Packet(outbound(Flow("udp", "10.1.0.9", 5353, "198.51.100.1", 53)))
    assert body.process(pkt, INSIDE) == OUTSIDE
    assert (pkt.meta.ip4_src, pkt.meta.sport) == (int(ipaddress.IPv4Address(EXT)), 20000)


def test_icmp_echo_translates_the_identifier():
    body = nat()
    flow = Flow("icmp", "10.1.0.9", 777, "198.51.100.1", 0)
    out, data = send(body, outbound(flow), INSIDE)
    assert out == OUTSIDE and data == outbound(flow, src=EXT, port=20000) and checksums_ok(data)
    back, data = send(body, inbound(flow, EXT, 20000), OUTSIDE)
    assert back == INSIDE and data == inbound(flow, flow.inside, 777)


def test_zero_udp_checksum_stays_zero_and_a_zero_result_is_sent_as_ffff():
    body = nat()
    flow = Flow("udp", "10.1.0.9", 1234, "198.51.100.1", 53, zero_udp_checksum=True)
    out, data = send(body, outbound(flow), INSIDE)
    assert out == OUTSIDE and Ether(data)[UDP].chksum == 0 and data == outbound(flow, src=EXT, port=20000)
    # A payload word equal to the translated checksum with a zero word makes the sum
    # 0xffff: the checksum computes to zero and must leave as 0xffff.
    flow = Flow("udp", "10.1.0.10", 1234, "198.51.100.1", 53)
    payload = Ether(outbound(flow, src=EXT, port=20001, payload=b"\0\0"))[UDP].chksum.to_bytes(2, "big")
    assert Ether(outbound(flow, src=EXT, port=20001, payload=payload))[UDP].chksum == 0xFFFF
    body = nat()
    body.process(Packet(outbound(Flow("udp", "10.1.0.99", 1, "198.51.100.1", 53))), INSIDE)  # takes 20000
    out, data = send(body, outbound(flow, payload=payload), INSIDE)
    assert out == OUTSIDE and Ether(data)[UDP].chksum == 0xFFFF and checksums_ok(data)


def test_a_wrong_checksum_stays_wrong_by_the_same_amount():
    body = nat()
    flow = Flow("tcp", "10.1.0.9", 40000, "198.51.100.1", 80)
    frame = Ether(outbound(flow))
    right = (frame[IP].chksum, frame[TCP].chksum)
    frame[IP].chksum, frame[TCP].chksum = right[0] ^ 0x10, right[1] ^ 0x0101
    _, data = send(body, bytes(frame), INSIDE)
    want = Ether(outbound(flow, src=EXT, port=20000))
    got = Ether(data)

    def off(a: int, b: int) -> int:  # one's complement difference
        return (a - b) % 0xFFFF

    assert off(got[IP].chksum, want[IP].chksum) == off(frame[IP].chksum, right[0]) != 0
    assert off(got[TCP].chksum, want[TCP].chksum) == off(frame[TCP].chksum, right[1]) != 0


def test_vlan_tags_and_ip_options_are_kept():
    body = nat()
    flow = Flow("udp", "10.1.0.9", 1000, "198.51.100.1", 53, vlan=100, options=True)
    out, data = send(body, outbound(flow), INSIDE)
    assert out == OUTSIDE and data == outbound(flow, src=EXT, port=20000) and checksums_ok(data)


def test_the_pool_pairs_each_host_with_one_address():
    pool = ("198.18.0.1", "198.18.0.2", "198.18.0.3")
    body = nat(external=pool)
    for host in range(1, 30):
        inside = f"10.1.0.{host}"
        seen = set()
        for port in (1000, 2000):
            _, data = send(body, outbound(Flow("udp", inside, port, "198.51.100.1", 53)), INSIDE)
            seen.add(endpoints(data)[0])
        assert seen == {pool[int(ipaddress.IPv4Address(inside)) % 3]}


def test_mappings_are_endpoint_independent():
    body = nat()
    a = Flow("udp", "10.1.0.9", 5000, "198.51.100.1", 53)
    b = Flow("udp", "10.1.0.9", 5000, "192.0.2.99", 1234)
    assert endpoints(send(body, outbound(a), INSIDE)[1])[2] == endpoints(send(body, outbound(b), INSIDE)[1])[2]
    stranger = Flow("udp", "10.1.0.9", 5000, "192.0.2.200", 4444)
    assert send(body, inbound(stranger, EXT, 20000), OUTSIDE) == (INSIDE, inbound(stranger, "10.1.0.9", 5000))
    assert body.counters["created"] == 1


def test_port_forwards():
    body = nat(forwards=("tcp 8080 -> 10.1.0.5:80", "udp 20000 -> 10.1.0.6"))
    client = Flow("tcp", "10.1.0.5", 80, "198.51.100.9", 33000)
    back, data = send(body, inbound(client, EXT, 8080, flags="S"), OUTSIDE)
    assert back == INSIDE and data == inbound(client, "10.1.0.5", 80, flags="S")
    out, data = send(body, outbound(client, flags="SA"), INSIDE)
    assert out == OUTSIDE and data == outbound(client, src=EXT, port=8080, flags="SA")
    # UDP port 20000 belongs to the forward: dynamic UDP mappings start at 20001, TCP ones at 20000.
    _, data = send(body, outbound(Flow("udp", "10.1.0.9", 1, "198.51.100.1", 53)), INSIDE)
    assert endpoints(data)[2] == 20001
    _, data = send(body, outbound(Flow("tcp", "10.1.0.9", 1, "198.51.100.1", 53)), INSIDE)
    assert endpoints(data)[2] == 20000
    # Forwards never expire and are not counted as mappings.
    assert send(body, inbound(client, EXT, 8080), OUTSIDE, t=10**6)[0] == INSIDE
    assert body.counters["mappings"] == 2


# -- what is dropped -------------------------------------------------------------------


def test_drops():
    body = nat()
    flow = Flow("tcp", "10.1.0.9", 40000, "198.51.100.1", 80)
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    assert send(body, inbound(flow, EXT, 20000), OUTSIDE)[0] == NO_MAPPING
    assert send(body, inbound(flow, "203.0.113.8", 20000), OUTSIDE)[0] == NO_MAPPING
    assert send(body, bytes(eth / ARP()), INSIDE)[0] == NOT_IPV4
    assert send(body, bytes(eth / IPv6() / UDP()), INSIDE)[0] == NOT_IPV4
    assert send(body, bytes(eth / IP(src="10.1.0.9", dst="198.51.100.1") / GRE()), INSIDE)[0] == UNSUPPORTED
    error = eth / IP(src="10.1.0.9", dst="198.51.100.1") / ICMP(type=3, code=3) / IP() / UDP()
    assert send(body, bytes(error), INSIDE)[0] == UNSUPPORTED
    echo = Flow("icmp", "10.1.0.9", 9, "198.51.100.1", 0)
    assert send(body, inbound(echo, "10.1.0.9", 9), INSIDE)[0] == UNSUPPORTED  # a reply going out
    assert send(body, outbound(echo)[:14 + 20 + 6], INSIDE)[0] == MALFORMED  # 6 bytes of ICMP
    big = eth / IP(src="10.1.0.9", dst="198.51.100.1") / UDP(sport=1, dport=2) / (b"x" * 3000)
    for part in fragment(big, fragsize=1400):
        assert send(body, bytes(part), INSIDE)[0] == FRAGMENT
    frame = outbound(flow)
    assert send(body, frame[:14 + 20 + 10], INSIDE)[0] == MALFORMED  # TCP cut short
    assert send(body, frame[:14 + 10], INSIDE)[0] == MALFORMED  # IPv4 cut short
    assert send(body, frame[:13], INSIDE)[0] == MALFORMED
    assert body.counters["created"] == 0


# -- exhaustion and expiry -----------------------------------------------------------------


def udp(host: int, port: int = 5000) -> Flow:
    return Flow("udp", f"10.1.0.{host}", port, "198.51.100.1", 53)


def test_port_exhaustion_drops_and_never_takes_a_mapping_in_use():
    body = nat(ports=(20000, 20002), udp_timeout=30)
    for host in range(3):
        assert endpoints(send(body, outbound(udp(host)), INSIDE, t=host)[1])[2] == 20000 + host
    assert send(body, outbound(udp(3)), INSIDE, t=10)[0] == PORTS_EXHAUSTED
    # TCP has its own ports.
    assert send(body, outbound(Flow("tcp", "10.1.0.3", 1, "198.51.100.1", 80)), INSIDE, t=10)[0] == OUTSIDE
    # The mappings in use still work both ways.
    assert send(body, inbound(udp(1), EXT, 20001), OUTSIDE, t=20)[0] == INSIDE
    # At 30 s host 0's mapping (last used at 0 s) has expired: host 3 takes its port.
    assert send(body, outbound(udp(3)), INSIDE, t=29.999)[0] == PORTS_EXHAUSTED
    out, data = send(body, outbound(udp(3)), INSIDE, t=30)
    assert out == OUTSIDE and endpoints(data)[2] == 20000
    assert send(body, inbound(udp(0), EXT, 20000), OUTSIDE, t=30)[1] == inbound(udp(0), "10.1.0.3", 5000)
    # At 32 s host 2's mapping (2 s) has expired, host 1's (used at 20 s) has not.
    assert endpoints(send(body, outbound(udp(4)), INSIDE, t=32)[1])[2] == 20002
    assert send(body, outbound(udp(5)), INSIDE, t=32)[0] == PORTS_EXHAUSTED
    assert body.counters == {"created": 6, "expired": 2, "mappings": 4}


def test_a_full_table_drops_new_flows_until_a_mapping_expires():
    body = nat(table_size=2, udp_timeout=10, icmp_timeout=5)
    assert send(body, outbound(udp(1)), INSIDE, t=0)[0] == OUTSIDE
    assert send(body, outbound(Flow("icmp", "10.1.0.2", 1, "198.51.100.1", 0)), INSIDE, t=1)[0] == OUTSIDE
    assert send(body, outbound(udp(3)), INSIDE, t=2)[0] == TABLE_FULL
    # The ICMP mapping (1 s + 5 s) expires before the UDP one (0 s + 10 s).
    assert send(body, outbound(udp(3)), INSIDE, t=6)[0] == OUTSIDE
    assert send(body, inbound(Flow("icmp", "10.1.0.2", 1, "198.51.100.1", 0), EXT, 20000), OUTSIDE,
                t=6)[0] == NO_MAPPING
    assert body.counters == {"created": 3, "expired": 1, "mappings": 2}


def test_an_expired_mapping_is_replaced_with_the_next_free_port():
    body = nat(udp_timeout=60)
    assert endpoints(send(body, outbound(udp(1)), INSIDE, t=0)[1])[2] == 20000
    assert endpoints(send(body, outbound(udp(1)), INSIDE, t=59)[1])[2] == 20000  # refreshed
    assert send(body, inbound(udp(1), EXT, 20000), OUTSIDE, t=118)[0] == INSIDE  # refreshed by a reply
    assert send(body, inbound(udp(1), EXT, 20000), OUTSIDE, t=178)[0] == NO_MAPPING  # and expired
    assert endpoints(send(body, outbound(udp(1)), INSIDE, t=179)[1])[2] == 20001


def test_tcp_timeouts_follow_the_connection():
    body = nat(tcp_timeout=1000, tcp_transitory_timeout=10)
    flow = Flow("tcp", "10.1.0.9", 40000, "198.51.100.1", 443)
    send(body, outbound(flow, flags="S"), INSIDE, t=0)
    assert send(body, inbound(flow, EXT, 20000, flags="SA"), OUTSIDE, t=9)[0] == INSIDE
    # Established: a long idle time is fine.
    assert send(body, outbound(flow, flags="A"), INSIDE, t=500)[0] == OUTSIDE
    assert send(body, inbound(flow, EXT, 20000, flags="FA"), OUTSIDE, t=1400)[0] == INSIDE
    # After a FIN the transitory timeout applies again.
    assert send(body, inbound(flow, EXT, 20000, flags="A"), OUTSIDE, t=1410)[0] == NO_MAPPING
    # A half-open connection expires after the transitory timeout.
    other = Flow("tcp", "10.1.0.9", 40001, "198.51.100.1", 443)
    send(body, outbound(other, flags="S"), INSIDE, t=2000)
    assert send(body, outbound(other, flags="A"), INSIDE, t=2009)[0] == OUTSIDE
    assert send(body, inbound(other, EXT, 20001, flags="A"), OUTSIDE, t=2019)[0] == NO_MAPPING


def test_a_syn_after_a_fin_starts_the_tracking_over():
    body = nat(tcp_timeout=1000, tcp_transitory_timeout=10)
    flow = Flow("tcp", "10.1.0.9", 40000, "198.51.100.1", 443)
    for flags, side, t in (("S", INSIDE, 0), ("SA", OUTSIDE, 1), ("R", INSIDE, 2), ("S", INSIDE, 3),
                           ("SA", OUTSIDE, 4)):
        frame = outbound(flow, flags=flags) if side == INSIDE else inbound(flow, EXT, 20000, flags=flags)
        assert send(body, frame, side, t=t)[0] == 1 - side
    assert send(body, outbound(flow), INSIDE, t=900)[0] == OUTSIDE  # established again


def test_the_clock_never_goes_back():
    body = nat(udp_timeout=10)
    send(body, outbound(udp(1)), INSIDE, t=100)
    # A packet stamped earlier counts at 100 s: the mapping is refreshed at 100 s, not 50 s.
    send(body, outbound(udp(1)), INSIDE, t=50)
    assert send(body, inbound(udp(1), EXT, 20000), OUTSIDE, t=109)[0] == INSIDE


# -- random flows in both directions ---------------------------------------------------------

HOSTS = [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(12)]
REMOTES = ["198.51.100.1", "192.0.2.77", "203.0.113.200"]
POOL = ("203.0.113.7", "203.0.113.8")

flows = st.builds(
    Flow,
    proto=st.sampled_from(["tcp", "udp", "icmp"]),
    inside=st.sampled_from(HOSTS),
    port=st.sampled_from([1, 1024, 5000, 40000, 65535]),
    remote=st.sampled_from(REMOTES),
    rport=st.sampled_from([53, 80, 443, 5000]),
    vlan=st.sampled_from([0, 0, 7]),
    options=st.booleans(),
    zero_udp_checksum=st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(flows=st.lists(flows, min_size=1, max_size=12),
       events=st.lists(st.tuples(st.integers(0, 11), st.booleans(), st.sampled_from(["S", "SA", "A", "PA"])),
                       min_size=1, max_size=40),
       payload=st.binary(max_size=40))
def test_random_flows_translate_consistently_and_return_exactly(flows, events, payload):
    body = nat(external=POOL, ports=(1024, 65535))
    ext_of: dict[tuple[str, str, int], tuple[str, int]] = {}
    for i, (k, reply, flags) in enumerate(events):
        flow = flows[k % len(flows)]
        endpoint = (flow.proto, flow.inside, flow.port)
        if not reply:
            out, data = send(body, outbound(flow, flags=flags, ident=i, payload=payload), INSIDE)
            assert out == OUTSIDE and checksums_ok(data)
            src, _, port, _ = endpoints(data)
            assert ext_of.setdefault(endpoint, (src, port)) == (src, port)  # consistent
            assert src == POOL[int(ipaddress.IPv4Address(flow.inside)) % 2]
            assert data == outbound(flow, src=src, port=port, flags=flags, ident=i, payload=payload)
        elif endpoint in ext_of:
            src, port = ext_of[endpoint]
            back, data = send(body, inbound(flow, src, port, flags=flags, ident=i, payload=payload), OUTSIDE)
            assert back == INSIDE and checksums_ok(data)
            assert data == inbound(flow, flow.inside, flow.port, flags=flags, ident=i, payload=payload)
    # One external endpoint per inside endpoint, never shared.
    by_proto = [(e[0],) + x for e, x in ext_of.items()]
    assert len(set(by_proto)) == len(by_proto)
    assert body.counters["created"] == len(ext_of)
