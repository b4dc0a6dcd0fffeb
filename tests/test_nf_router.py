"""Router: the route file parser, the spec's outputs and checks, and the reference body."""

from __future__ import annotations

import ipaddress
import random
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.all import ICMP, IP, TCP, UDP, ARP, Dot1Q, Ether, IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop

from chainc.pcapfile import read_pcap
from chainc.values import Mac

from nfhelpers import make_node, packet, reference, stdlib, validate

ROOT = Path(__file__).resolve().parent.parent
REASONS = stdlib().get("Router").drop_reasons
NO_ROUTE, TTL_EXPIRED, NOT_IP, MALFORMED = (-(1 + REASONS.index(r)) for r in
                                            ("no-route", "ttl-expired", "not-ip", "malformed"))

ROUTES = """\
# PREFIX            [via NEXT_HOP]       PORT   [NEXT_HOP_MAC]
10.0.0.0/8                               lan    02:00:00:00:01:01
10.9.0.0/16          via 10.255.0.1      core
10.9.8.0/24                              lan    02:00:00:00:01:08
192.0.2.0/24                             dmz
0.0.0.0/0            via 203.0.113.1     wan
2001:db8::/32                            lan    02:00:00:00:01:66
2001:db8:5::/48      via 2001:db8:ff::1  core
::/0                 via 2001:db8:ff::2  wan
neighbor 10.255.0.1     02:00:00:00:0c:01
neighbor 203.0.113.1    02:00:00:00:0e:01
neighbor 2001:db8:ff::1 02:00:00:00:0c:06
neighbor 2001:db8:ff::2 02:00:00:00:0e:06
port lan  02:00:5e:00:00:01
port wan  02:00:5e:00:00:02
"""
LAN, CORE, DMZ, WAN = range(4)
SRC = "02:00:00:00:99:99"
DST = "02:00:00:00:aa:aa"
ETH = Ether(src=SRC, dst=DST)


def router(tmp_path, text=ROUTES, **params):
    path = tmp_path / "core.routes"
    path.write_text(text)
    node = make_node("Router", {"routes": str(path), **params})
    assert not validate(node).errors, [e.message for e in validate(node).errors]
    return node, reference(node)


def route(body, frame):
    pkt = packet(frame)
    return body.process(pkt, 0), pkt


# -- the route file -------------------------------------------------------------------


def test_route_file_ports_macs_and_next_hops(tmp_path):
    from chainc.stdlib_nfs.router.routes import parse_route_file

    table, errors = parse_route_file(ROUTES)
    assert errors == []
    assert table.ports == ("lan", "core", "dmz", "wan")
    by_prefix = {str(r.prefix): r for r in table.routes}
    assert by_prefix["10.9.0.0/16"].mac == bytes.fromhex("02000000 0c01".replace(" ", ""))
    assert by_prefix["10.9.0.0/16"].via == ipaddress.ip_address("10.255.0.1")
    assert by_prefix["192.0.2.0/24"].mac is None
    assert by_prefix["::/0"].mac == bytes.fromhex("020000000e06")
    assert table.port_macs == {"lan": bytes.fromhex("02005e000001"), "wan": bytes.fromhex("02005e000002")}
    node, _ = router(tmp_path)
    assert node.outputs == ("lan", "core", "dmz", "wan")


def test_the_example_route_files_parse():
    from chainc.stdlib_nfs.router.routes import parse_route_file

    for path in sorted((ROOT / "examples" / "rules").glob("routes*.txt")):
        table, errors = parse_route_file(path.read_text())
        assert errors == [] and table.routes, path.name


@pytest.mark.parametrize("text, line, col, message", [
    ("10.0.0.0/8 lan\n10.0.0.1/8 wan\n", 2, 1, "bad prefix '10.0.0.1/8'"),
    ("10.0.0.0/8 lan\n10.0.0.0/8 wan\n", 2, 1, "duplicate route for 10.0.0.0/8 (first on line 1)"),
    ("10.0.0.0/8 lan 02:00:00:00:00\n", 1, 16, "bad next-hop MAC '02:00:00:00:00'"),
    ("10.0.0.0/8 9lan\n", 1, 12, "bad port name '9lan'"),
    ("10.0.0.0/8\n", 1, 1, "expected PREFIX [via NEXT_HOP] PORT [NEXT_HOP_MAC], found 1 fields"),
    ("10.0.0.0/8 lan 02:00:00:00:00:01 extra\n", 1, 1, "expected PREFIX"),
    ("10.0.0.0/8 via lan\n", 1, 16, "bad next hop 'lan'"),
    ("10.0.0.0/8 via\n", 1, 12, "'via' needs the next hop's address"),
    ("10.0.0.0/8 via 2001:db8::1 lan\n", 1, 16, "next hop 2001:db8::1 is IPv6 but the prefix 10.0.0.0/8 is IPv4"),
    ("10.0.0.0/8 via 10.0.0.1 lan\n", 1, 16, "no MAC known for next hop 10.0.0.1"),
    ("10.0.0.0/8 lan\nport lan 03:00:00:00:00:01\n", 2, 10, "the MAC of port 'lan' is a multicast address"),
    ("10.0.0.0/8 lan\nport lan 02:00:00:00:00:01\nport lan 02:00:00:00:00:02\n", 3, 6,
     "port 'lan' already has a MAC (line 2)"),
    ("10.0.0.0/8 lan\nport wan 02:00:00:00:00:01\n", 2, 6, "no route uses port 'wan'"),
    ("10.0.0.0/8 lan\nport lan\n", 2, 1, "expected `port NAME MAC`, found 2 fields"),
    ("10.0.0.0/8 lan\nneighbor 10.0.0/8 02:00:00:00:00:01\n", 2, 10, "bad neighbor address '10.0.0/8'"),
    ("10.0.0.0/8 lan\nneighbor 10.0.0.1 02:00:00:00:00:01\nneighbor 10.0.0.1 02:00:00:00:00:02\n", 3, 10,
     "duplicate neighbor 10.0.0.1 (first on line 2)"),
])
def test_route_file_errors_point_at_the_field(text, line, col, message):
    from chainc.stdlib_nfs.router.routes import parse_route_file

    _, errors = parse_route_file(text)
    assert len(errors) == 1, errors
    assert (errors[0].line, errors[0].col) == (line, col)
    assert errors[0].message.startswith(message)


def test_every_bad_line_is_reported_and_left_out():
    from chainc.stdlib_nfs.router.routes import parse_route_file

    table, errors = parse_route_file("10.0.0.0/8 lan\nbogus lan\n10.1.0.0/16 lan 1:2\n::/0 wan\n")
    assert [e.line for e in errors] == [2, 3]
    assert [str(r.prefix) for r in table.routes] == ["10.0.0.0/8", "::/0"]


def test_route_file_errors_are_diagnostics_in_the_route_file(tmp_path):
    path = tmp_path / "bad.routes"
    path.write_text("10.0.0.0/8 lan\n10.1.0.0/16 via 10.0.0.1 lan\n")
    errors = validate(make_node("Router", {"routes": str(path)})).errors
    assert len(errors) == 1
    assert errors[0].span.location() == f"{path}:2:17"
    assert errors[0].span.text == "10.0.0.1"
    assert errors[0].hint.startswith("add a line `neighbor 10.0.0.1 MAC`")


def test_expired_output_follows_the_route_ports(tmp_path):
    node, _ = router(tmp_path, expired="slow")
    assert node.outputs == ("lan", "core", "dmz", "wan", "slow")
    node, _ = router(tmp_path, expired="core")  # a route port may take them too
    assert node.outputs == ("lan", "core", "dmz", "wan")
    path = tmp_path / "core.routes"
    bad = make_node("Router", {"routes": str(path), "expired": "to slow"})
    assert "bad output name 'to slow'" in validate(bad).errors[0].message
    bad = make_node("Router", {"routes": str(path), "mac": Mac(bytes.fromhex("010000000001"))})
    assert "multicast" in validate(bad).errors[0].message


def test_empty_route_file_is_an_error(tmp_path):
    path = tmp_path / "empty.routes"
    path.write_text("# nothing yet\n")
    node = make_node("Router", {"routes": str(path)})
    assert node.outputs == ()
    assert "holds no routes" in validate(node).errors[0].message


# -- the reference body: forwarding -------------------------------------------------


def ipv4(dst, ttl=64, **kw):
    return Ether(src=SRC, dst=DST) / IP(src="198.51.100.7", dst=dst, ttl=ttl, **kw) / UDP(sport=5, dport=53) / b"q"


def ipv6(dst, hlim=64):
    return Ether(src=SRC, dst=DST) / IPv6(src="2001:db8:9::1", dst=dst, hlim=hlim) / TCP(sport=5, dport=80)


@pytest.mark.parametrize("dst, port, mac", [
    ("10.1.2.3", LAN, "02:00:00:00:01:01"),
    ("10.9.1.1", CORE, "02:00:00:00:0c:01"),      # via a neighbor
    ("10.9.8.7", LAN, "02:00:00:00:01:08"),       # the longer prefix wins
    ("192.0.2.77", DMZ, DST),                      # no next-hop MAC: unchanged
    ("8.8.8.8", WAN, "02:00:00:00:0e:01"),         # the default route
    ("11.0.0.1", WAN, "02:00:00:00:0e:01"),
])
def test_ipv4_longest_prefix_and_mac_rewrite(tmp_path, dst, port, mac):
    _, body = router(tmp_path)
    result, pkt = route(body, ipv4(dst))
    assert result == port
    out = Ether(bytes(pkt.data))
    assert out.dst == mac
    assert out.src == {LAN: "02:00:5e:00:00:01", WAN: "02:00:5e:00:00:02"}.get(port, SRC)
    assert out[IP].ttl == 63 and pkt.meta.ip_ttl == 63


@pytest.mark.parametrize("dst, port, mac", [
    ("2001:db8:1::1", LAN, "02:00:00:00:01:66"),
    ("2001:db8:5:1::1", CORE, "02:00:00:00:0c:06"),
    ("2001:db9::1", WAN, "02:00:00:00:0e:06"),
])
def test_ipv6_longest_prefix_and_hop_limit(tmp_path, dst, port, mac):
    _, body = router(tmp_path)
    result, pkt = route(body, ipv6(dst, hlim=2))
    assert result == port
    out = Ether(bytes(pkt.data))
    assert out.dst == mac and out[IPv6].hlim == 1 and pkt.meta.ip_ttl == 1
    assert body.counters == {"routed_ipv4": 0, "routed_ipv6": 1, "ttl_expired": 0}


def test_ttl_decrement_keeps_the_checksums_valid(tmp_path):
    _, body = router(tmp_path)
    rnd = random.Random(5)
    for i in range(300):
        ttl = rnd.randrange(2, 256)
        frame = ETH / IP(dst=f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.1", ttl=ttl,
                             id=rnd.randrange(65536), tos=rnd.randrange(256),
                             flags=rnd.choice(["", "DF", "MF"])) / TCP(dport=80) / (b"x" * (i % 40))
        result, pkt = route(body, frame)
        assert result in (LAN, CORE)
        out = Ether(bytes(pkt.data))
        assert out[IP].ttl == ttl - 1
        sent = out[IP].chksum
        del out[IP].chksum
        assert Ether(bytes(out))[IP].chksum == sent, f"ttl {ttl}"
        assert bytes(pkt.data)[34:] == bytes(frame)[34:]  # TCP untouched: its checksum holds


def test_rfc1624_update_of_the_ttl_word():
    from chainc.stdlib_nfs.router.reference import update_checksum

    # The example of RFC 1624 section 4 (a word changing from 0x5555 to 0x3285).
    assert update_checksum(0xDD2F, 0x5555, 0x3285) == 0x0000
    # Against a full recomputation, for every TTL.
    for ttl in range(2, 256):
        header = IP(dst="10.0.0.1", ttl=ttl, proto=17)
        before = bytes(header)
        after = bytes(IP(dst="10.0.0.1", ttl=ttl - 1, proto=17))
        got = update_checksum(int.from_bytes(before[10:12], "big"), (ttl << 8) | 17, ((ttl - 1) << 8) | 17)
        assert got == int.from_bytes(after[10:12], "big")


def test_a_wrong_checksum_stays_wrong_by_the_same_amount(tmp_path):
    _, body = router(tmp_path)
    frame = bytearray(bytes(ipv4("10.1.1.1")))
    frame[24] ^= 0x40  # damage the IPv4 header checksum
    result, pkt = route(body, bytes(frame))
    assert result == LAN
    out = Ether(bytes(pkt.data))
    got = out[IP].chksum
    del out[IP].chksum
    assert got ^ Ether(bytes(out))[IP].chksum == 0x4000


@pytest.mark.parametrize("ttl", [0, 1])
def test_expired_packets_drop_or_take_the_expired_output(tmp_path, ttl):
    _, body = router(tmp_path)
    frame = bytes(ipv4("10.1.1.1", ttl=ttl))
    result, pkt = route(body, frame)
    assert result == TTL_EXPIRED and bytes(pkt.data) == frame
    result, pkt = route(body, bytes(ipv6("2001:db8::1", hlim=ttl)))
    assert result == TTL_EXPIRED
    assert body.counters["ttl_expired"] == 2
    # Expiry comes before the lookup: no route is needed to expire.
    _, body = router(tmp_path, text="10.0.0.0/8 lan\n", expired="slow")
    result, pkt = route(body, bytes(ipv4("192.0.2.1", ttl=ttl)))
    assert result == 1 and bytes(pkt.data) == bytes(ipv4("192.0.2.1", ttl=ttl))
    assert body.counters == {"routed_ipv4": 0, "routed_ipv6": 0, "ttl_expired": 1}


def test_without_decrement_ttl_nothing_expires_and_ttl_stays(tmp_path):
    _, body = router(tmp_path, decrement_ttl=False)
    for ttl in (0, 1, 64):
        result, pkt = route(body, ipv4("10.1.1.1", ttl=ttl))
        assert result == LAN
        assert Ether(bytes(pkt.data))[IP].ttl == ttl
        assert bytes(pkt.data)[12:] == bytes(ipv4("10.1.1.1", ttl=ttl))[12:]


def test_no_route_without_a_default(tmp_path):
    _, body = router(tmp_path, text="10.0.0.0/8 lan\n2001:db8::/32 lan\n")
    for frame in (ipv4("11.0.0.1"), ipv6("2001:db9::1")):
        result, pkt = route(body, frame)
        assert result == NO_ROUTE and bytes(pkt.data) == bytes(frame)


def test_source_mac_from_the_mac_parameter_where_no_port_line(tmp_path):
    _, body = router(tmp_path, mac=Mac(bytes.fromhex("02aa00000001")))
    result, pkt = route(body, ipv4("192.0.2.9"))  # dmz: no port line
    assert result == DMZ and Ether(bytes(pkt.data)).src == "02:aa:00:00:00:01"
    result, pkt = route(body, ipv4("10.1.1.1"))  # lan: its port line wins
    assert Ether(bytes(pkt.data)).src == "02:00:5e:00:00:01"


def test_vlan_tagged_packets_are_routed_with_their_tag(tmp_path):
    _, body = router(tmp_path)
    frame = Ether(src=SRC, dst=DST) / Dot1Q(vlan=100) / Dot1Q(vlan=7) / IP(dst="10.1.1.1", ttl=9) / UDP()
    result, pkt = route(body, frame)
    assert result == LAN
    out = Ether(bytes(pkt.data))
    assert out[Dot1Q].vlan == 100 and out[Dot1Q][1].vlan == 7 and out[IP].ttl == 8
    sent = out[IP].chksum
    del out[IP].chksum
    assert Ether(bytes(out))[IP].chksum == sent


def test_options_fragments_and_extension_headers_are_routed(tmp_path):
    _, body = router(tmp_path)
    frames = [
        ETH / IP(dst="10.1.1.1", options=[b"\x94\x04\x00\x00"]) / UDP(),  # router alert
        ETH / IP(dst="10.1.1.1", flags="MF", frag=0) / UDP() / (b"a" * 64),
        ETH / IP(dst="10.1.1.1", frag=100) / (b"b" * 64),
        ETH / IPv6(dst="2001:db8::9") / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(offset=3) / (b"c" * 8),
    ]
    for frame in frames:
        result, pkt = route(body, frame)
        assert result == LAN, frame.summary()
        assert len(pkt.data) == len(bytes(frame))


@pytest.mark.parametrize("frame, want", [
    (ETH / ARP(), NOT_IP),
    (Ether(src=SRC, dst=DST, type=0x88CC) / (b"\x00" * 40), NOT_IP),
    (ETH / Dot1Q(vlan=5) / ARP(), NOT_IP),
    (b"\x01" * 6, MALFORMED),
    (bytes(ETH / IP(dst="10.1.1.1"))[:30], MALFORMED),         # truncated header
    (bytes(ETH / IPv6(dst="2001:db8::1"))[:50], MALFORMED),
    (bytes(ETH / Dot1Q(vlan=5))[:16], MALFORMED),                # tag cut short
    (ETH / Dot1Q() / Dot1Q() / Dot1Q() / Dot1Q() / Dot1Q() / IP(dst="10.1.1.1"), MALFORMED),
])
def test_what_cannot_be_routed(tmp_path, frame, want):
    _, body = router(tmp_path)
    frame = bytes(frame)
    result, pkt = route(body, frame)
    assert result == want and bytes(pkt.data) == frame


def test_malformed_capture_never_raises_and_changes_only_routed_frames(tmp_path):
    _, body = router(tmp_path)
    results = {}
    for i, rec in enumerate(read_pcap(str(ROOT / "examples" / "traffic" / "malformed.pcap"))):
        result, pkt = route(body, rec.data)
        results[i] = result
        if result < 0:
            assert bytes(pkt.data) == rec.data
        else:
            assert len(pkt.data) == len(rec.data)
    assert results[16] == results[17] == TTL_EXPIRED      # TTL 0; IGMP with options, TTL 1
    assert results[34] == results[35] == results[36] == WAN  # IPv4 fragments (to 203.0.113.10)
    assert results[39] == results[43] == LAN              # IPv6 extension headers (to 2001:db8:100::10)
    assert results[53] == results[54] == WAN              # QinQ-tagged
    for i in (0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 42, 45, 46, 47, 55, 67):
        assert results[i] == MALFORMED, i
    for i in (57, 58, 59, 60, 61, 62, 63):
        assert results[i] == NOT_IP, i                    # ARP, LLDP, STP, MPLS, PPPoE, ...


# -- longest-prefix match against Python's ipaddress ---------------------------------


def random_table(rnd: random.Random, n4: int, n6: int, ports: int = 4):
    """Random routes, clustered so that prefixes nest, with a few defaults."""
    nets: dict = {}
    while len(nets) < n4:
        base = rnd.choice([0x0A000000, 0xC0A80000, 0xC6120000, rnd.getrandbits(32)])
        length = rnd.choice([0, 1, 8, 12, 16, 20, 23, 24, 25, 28, 31, 32, rnd.randrange(33)])
        addr = (base | rnd.getrandbits(16)) & ~((1 << (32 - length)) - 1) & 0xFFFFFFFF
        nets[ipaddress.IPv4Network((addr, length))] = f"p{rnd.randrange(ports)}"
    n = len(nets)
    while len(nets) < n + n6:
        base = rnd.choice([0x20010DB8 << 96, 0xFD00 << 112, rnd.getrandbits(128)])
        length = rnd.choice([0, 3, 16, 32, 47, 48, 56, 64, 65, 96, 127, 128, rnd.randrange(129)])
        addr = (base | rnd.getrandbits(48) << rnd.choice([0, 40, 80])) & ((1 << 128) - 1)
        addr &= ~((1 << (128 - length)) - 1)
        nets[ipaddress.IPv6Network((addr, length))] = f"p{rnd.randrange(ports)}"
    return nets


def route_text(nets) -> str:
    return "".join(f"{net} {port}\n" for net, port in nets.items())


def longest_match(nets, address):
    best = None
    for net, port in nets.items():
        if address in net and (best is None or net.prefixlen > best[0].prefixlen):
            best = (net, port)
    return best[1] if best else None


def random_destinations(rnd: random.Random, nets, n: int):
    """Addresses inside, at the edges of, and just outside the prefixes."""
    out = []
    nets = list(nets)
    for _ in range(n):
        net = rnd.choice(nets)
        size = net.num_addresses
        pick = rnd.choice([0, size - 1, size, -1, rnd.randrange(size)])
        value = (int(net.network_address) + pick) % (1 << net.max_prefixlen)
        out.append(ipaddress.ip_address(value) if net.version == 6 or value >> 32 == 0
                   else ipaddress.IPv4Address(value & 0xFFFFFFFF))
    return out


def udp_frame(address) -> bytes:
    """Ethernet / IP / UDP to `address`, packed by hand: scapy is slow for thousands."""
    udp = struct.pack("!HHHH", 1, 2, 8, 0)
    if address.version == 4:
        return (b"\x02" * 12 + b"\x08\x00" + struct.pack("!BBHHHBBH4s", 0x45, 0, 28, 0, 0, 64, 17, 0, bytes(4))
                + address.packed + udp)
    return (b"\x02" * 12 + b"\x86\xdd" + struct.pack("!IHBB16s", 6 << 28, 8, 17, 64, bytes(16))
            + address.packed + udp)


def test_reference_lookup_matches_ipaddress_on_random_tables(tmp_path):
    for seed in range(8):
        rnd = random.Random(seed)
        nets = random_table(rnd, 120, 120)
        node, body = router(tmp_path, route_text(nets))
        for address in random_destinations(rnd, nets, 400):
            want = longest_match(nets, address)
            result, _ = route(body, udp_frame(address))
            assert result == (NO_ROUTE if want is None else node.outputs.index(want)), (seed, address)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32), st.sampled_from("abc")),
                min_size=1, max_size=12),
       st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=12))
def test_reference_lookup_property_ipv4(tmp_path_factory, routes, addresses):
    nets = {}
    for addr, length, port in routes:
        nets.setdefault(ipaddress.IPv4Network((addr, length), strict=False), port)
    node, body = router(tmp_path_factory.mktemp("r"), route_text(nets))
    for a in addresses + [int(n.network_address) for n in nets]:
        address = ipaddress.IPv4Address(a)
        want = longest_match(nets, address)
        result, _ = route(body, udp_frame(address))
        assert result == (NO_ROUTE if want is None else node.outputs.index(want))


# -- the generated native glue ------------------------------------------------------------


def test_generated_routes_are_constant_data_without_paths(tmp_path):
    node, _ = router(tmp_path)
    code = node.spec.native.generate(node, "n7")
    assert str(tmp_path) not in code and "core.routes" in code
    assert "0x0a090000u, 16u," in code  # 10.9.0.0/16
    assert "cdef int n7_init(router_state* st) except -1:" in code
    assert node.spec.native.process_args(node) == ["1", "-1"]
    node, _ = router(tmp_path, expired="slow", decrement_ttl=False)
    assert node.spec.native.process_args(node) == ["0", "4"]


def test_tbl8_group_count():
    from chainc.stdlib_nfs.router.spec import _tbl8_groups

    spare = _tbl8_groups([], 3)
    v4 = [(bytes([10, 0, 0, 0]), 8), (bytes([10, 0, 0, 0]), 25), (bytes([10, 0, 0, 128]), 25),
          (bytes([10, 0, 1, 0]), 32)]
    assert _tbl8_groups(v4, 3) == spare + 2  # 10.0.0.x and 10.0.1.x
    v6 = [(bytes(16), 128), (bytes(15) + b"\x01", 128), (bytes(16), 48)]
    assert _tbl8_groups(v6, 3) == spare + 13  # one chain of 13 groups, shared
