"""The packet metadata: the Python parser (chainc.packet) against the C parser
(backends/dpdk/runtime/meta.pxd) field by field, both against scapy's own
dissection, and both against the cases docs/packet-metadata.md spells out."""

from __future__ import annotations

import ipaddress
import logging
import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption
from scapy.layers.inet6 import (ICMPv6EchoRequest, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                                IPv6ExtHdrHopByHop, IPv6ExtHdrRouting)
from scapy.layers.ipsec import ESP
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

sys.path.insert(0, str(Path(__file__).resolve().parent))

import chainc.packet as P  # noqa: E402
from chainc.packet import Meta, Packet, parse_meta  # noqa: E402
from native_meta.fixtures import native_meta  # noqa: E402,F401
from native_meta.packets import frames, ip4s, ip6s, ports, segmented_frame, valid_frame  # noqa: E402

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)  # no "MAC address not found"
DOC = Path(__file__).resolve().parents[1] / "docs" / "packet-metadata.md"


def slow(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def Eth() -> Ether:
    """An Ethernet header with both addresses given (scapy would look the
    destination up on the network otherwise)."""
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def both(native, data: bytes, pkt_len: int | None = None) -> dict[str, int]:
    """Parse with both implementations, assert they agree, return the fields."""
    pkt_len = len(data) if pkt_len is None else pkt_len
    py = parse_meta(data, pkt_len).as_dict()
    c = native.parse(data, pkt_len)
    if py != c:
        diff = {k: (py[k], c[k]) for k in py if py[k] != c.get(k)}
        raise AssertionError(f"python != C on {data.hex()} (pkt_len {pkt_len}): "
                             f"{{field: (python, C)}} = {diff}")
    return py


# -- the contract between the two implementations ------------------------------


def test_flag_values_agree(native_meta):
    names = {n: getattr(P, n) for n in native_meta.flags()}
    assert native_meta.flags() == names
    assert set(P.FLAGS) <= set(names)
    bits = list(P.FLAGS.values())
    assert all(b & (b - 1) == 0 for b in bits) and len(set(bits)) == len(bits)


def test_struct_layout_matches_dataclass_and_doc(native_meta):
    assert native_meta.sizeof_meta() == 112 <= 128
    offsets = native_meta.offsets()
    assert list(offsets) == list(Meta().as_dict()), "field order differs from Meta"
    assert list(offsets.values()) == sorted(offsets.values())
    doc_rows = re.findall(r"^\| (\d+) \| u(\d+) \| `(\w+)` \|", DOC.read_text(), re.M)
    assert {name: int(off) for off, _, name in doc_rows} == offsets
    for off, bits, name in doc_rows:
        assert int(off) % (int(bits) // 8) == 0, f"{name} is not naturally aligned"


def test_doc_lists_every_flag():
    text = DOC.read_text()
    for name, bit in P.FLAGS.items():
        assert re.search(rf"\| 0x{bit:05x} \| `{name}` \|", text), name


# -- differential: any bytes ----------------------------------------------------


@slow(1000)
@given(frames)
def test_c_and_python_agree_on_frames(native_meta, frame):
    both(native_meta, frame)


@slow(600)
@given(segmented_frame())
def test_c_and_python_agree_on_segmented_frames(native_meta, case):
    data, pkt_len = case
    both(native_meta, data, pkt_len)


def sample_frames() -> list[bytes]:
    """A few rich frames whose every prefix is parsed below."""
    return [
        bytes(Eth() / Dot1Q(vlan=10) / Dot1Q(vlan=20)
              / IP(src="10.0.0.1", dst="10.0.0.2", options=[IPOption(b"\x01" * 8)])
              / TCP(sport=1234, dport=80, flags="SA",
                    options=[("MSS", 1460), ("NOP", None), ("WScale", 7)]) / b"payload"),
        bytes(Eth() / IP(flags="MF") / UDP(sport=53, dport=5353) / (b"x" * 9)),
        bytes(Eth() / IP() / ICMP(type=8, id=77) / b"ping"),
        bytes(Eth() / IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop()
              / IPv6ExtHdrRouting() / IPv6ExtHdrFragment(m=1, id=9) / IPv6ExtHdrDestOpt()
              / UDP(sport=1, dport=2) / b"abc"),
        bytes(Eth() / IPv6() / ICMPv6EchoRequest(id=5, data=b"hi")),
        bytes(Eth() / ARP()),
        b"\x02" * 12 + b"\x81\x00\x00\x01" * 5 + b"\x08\x00" + b"\x45" + b"\x00" * 40,
    ]


@pytest.mark.parametrize("index", range(len(sample_frames())))
def test_every_truncation_and_every_split(native_meta, index):
    frame = sample_frames()[index]
    for cut in range(len(frame) + 1):
        both(native_meta, frame[:cut])                 # a truncated frame
        both(native_meta, frame[:cut], len(frame))     # the rest in a later segment


# -- against scapy's dissection ------------------------------------------------


@slow(300)
@given(st.data())
def test_ipv4_fields_match_scapy(native_meta, data):
    tags = data.draw(st.lists(st.integers(0, 4095), max_size=3))
    l4 = data.draw(st.sampled_from(["tcp", "udp", "icmp"]))
    sport, dport = data.draw(ports), data.draw(ports)
    flags = data.draw(st.integers(0, 255))
    pkt = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    for vid in tags:
        pkt = pkt / Dot1Q(vlan=vid, prio=vid % 8)
    pkt = pkt / IP(src=data.draw(ip4s), dst=data.draw(ip4s), ttl=data.draw(st.integers(0, 255)),
                   options=data.draw(st.sampled_from([[], [IPOption(b"\x01" * 4)]])))
    pkt = pkt / {"tcp": TCP(sport=sport, dport=dport, flags=flags),
                 "udp": UDP(sport=sport, dport=dport),
                 "icmp": ICMP(type=8, id=dport)}[l4] / Raw(b"data")
    frame = bytes(pkt)
    m = both(native_meta, frame)
    seen = Ether(frame)
    ip = seen[IP]
    assert m["flags"] & P.META_L3_IPV4 and m["flags"] & P.META_L4_OK
    assert not m["flags"] & (P.META_L3_BAD | P.META_L4_BAD | P.META_FRAG)
    assert m["vlan_count"] == len(tags)
    if tags:
        assert m["vlan_outer"] & 0xFFF == seen[Dot1Q].vlan == tags[0]
        assert m["vlan_inner"] & 0xFFF == tags[-1]
        assert m["vlan_outer"] >> 13 == tags[0] % 8
    assert str(ipaddress.IPv4Address(m["ip4_src"])) == ip.src
    assert str(ipaddress.IPv4Address(m["ip4_dst"])) == ip.dst
    assert (m["ip_proto"], m["ip_ttl"], m["ip_ihl"], m["ip_len"]) == (ip.proto, ip.ttl, ip.ihl, ip.len)
    assert bool(m["flags"] & P.META_IP_OPTIONS) == (ip.ihl > 5)
    assert m["l3_off"] == 14 + 4 * len(tags)
    assert m["l4_off"] == m["l3_off"] + ip.ihl * 4
    assert frame[m["payload_off"]:m["payload_off"] + m["payload_len"]] == b"data"
    if l4 == "tcp":
        assert (m["sport"], m["dport"], m["tcp_flags"]) == (seen[TCP].sport, seen[TCP].dport,
                                                           int(seen[TCP].flags))
    elif l4 == "udp":
        assert (m["sport"], m["dport"]) == (seen[UDP].sport, seen[UDP].dport)
    else:
        assert (m["icmp_type"], m["icmp_code"], m["icmp_id"]) == (8, 0, seen[ICMP].id)


@slow(200)
@given(st.data())
def test_ipv6_fields_match_scapy(native_meta, data):
    chain = data.draw(st.lists(st.sampled_from(["hop", "rt", "dst"]), max_size=3))
    sport, dport = data.draw(ports), data.draw(ports)
    pkt = Eth() / IPv6(src=data.draw(ip6s), dst=data.draw(ip6s), hlim=data.draw(st.integers(0, 255)),
                         tc=data.draw(st.integers(0, 255)))
    for kind in chain:
        pkt = pkt / {"hop": IPv6ExtHdrHopByHop, "rt": IPv6ExtHdrRouting, "dst": IPv6ExtHdrDestOpt}[kind]()
    pkt = pkt / TCP(sport=sport, dport=dport, flags="S") / b"xy"
    frame = bytes(pkt)
    m = both(native_meta, frame)
    seen = Ether(frame)
    assert m["flags"] & P.META_L3_IPV6 and m["flags"] & P.META_L4_OK
    assert bool(m["flags"] & P.META_IPV6_EXT) == bool(chain)
    addr = lambda hi, lo: ipaddress.IPv6Address((m[hi] << 64) | m[lo])  # noqa: E731
    assert addr("ip6_src_hi", "ip6_src_lo") == ipaddress.IPv6Address(seen[IPv6].src)
    assert addr("ip6_dst_hi", "ip6_dst_lo") == ipaddress.IPv6Address(seen[IPv6].dst)
    assert (m["ip_ttl"], m["ip_tos"], m["ip_proto"]) == (seen[IPv6].hlim, seen[IPv6].tc, 6)
    assert (m["sport"], m["dport"], m["tcp_flags"]) == (sport, dport, 0x02)
    assert m["ip_len"] == 40 + seen[IPv6].plen
    assert frame[m["payload_off"]:] == b"xy"


@slow(300)
@given(valid_frame())
def test_meta_is_consistent_with_scapy_for_any_valid_frame(native_meta, frame):
    """Whatever scapy finds at L4 in a first fragment, the metadata finds too."""
    m = both(native_meta, frame)
    seen = Ether(frame)
    if m["flags"] & P.META_L4_OK and m["ip_proto"] == 6 and seen.haslayer(TCP):
        assert (m["sport"], m["dport"]) == (seen[TCP].sport, seen[TCP].dport)
    if m["flags"] & P.META_L4_OK and m["ip_proto"] == 17 and seen.haslayer(UDP):
        assert (m["sport"], m["dport"]) == (seen[UDP].sport, seen[UDP].dport)
    if m["flags"] & P.META_L3_IPV4 and seen.haslayer(IP):  # scapy knows no TPID 0x9100
        assert str(ipaddress.IPv4Address(m["ip4_src"])) == seen[IP].src


# -- the documented cases, on both implementations -----------------------------


def eth(ethertype: int = 0x0800) -> bytes:
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" + ethertype.to_bytes(2, "big")


def ipv4(**kw) -> bytes:
    return bytes(IP(src="10.0.0.1", dst="10.0.0.2", **kw))


def flags(m: dict) -> set[str]:
    return {n for n, b in P.FLAGS.items() if m["flags"] & b}


def test_short_frame_parses_nothing(native_meta):
    for n in range(14):
        m = both(native_meta, b"\xff" * n)
        assert m["flags"] == 0 and m["payload_off"] == 0 and m["payload_len"] == n


def test_vlan_tags(native_meta):
    frame = bytes(Eth() / Dot1Q(vlan=100, prio=5) / Dot1Q(vlan=200) / IP() / UDP())
    m = both(native_meta, frame)
    assert m["vlan_count"] == 2 and m["vlan_tpid"] == 0x8100
    assert (m["vlan_outer"], m["vlan_inner"]) == ((5 << 13) | 100, 200)
    assert m["ethertype"] == 0x0800 and m["l3_off"] == 22 and "META_L3_IPV4" in flags(m)


def test_vlan_truncated_and_over_the_bound(native_meta):
    m = both(native_meta, eth(0x88A8) + b"\x00")
    assert flags(m) == {"META_ETH_OK", "META_VLAN_TRUNC"} and m["ethertype"] == 0x88A8
    assert m["vlan_count"] == 0 and m["l3_off"] == 14
    five = eth(0x9100) + b"\x00\x05\x81\x00" * 4 + b"\x00\x05\x08\x00" + ipv4()
    m = both(native_meta, five)
    assert flags(m) == {"META_ETH_OK", "META_VLAN_LIMIT"}
    assert m["vlan_count"] == 4 and m["ethertype"] == 0x8100 and m["vlan_tpid"] == 0x9100


@pytest.mark.parametrize("header, why", [
    (b"\x44" + ipv4()[1:], "IHL 4"),
    (b"\x55" + ipv4()[1:], "version 5"),
    (b"\x46" + ipv4()[1:], "IHL 6 past a 20-byte total length"),
    (ipv4()[:2] + (19).to_bytes(2, "big") + ipv4()[4:], "total length below the header"),
    (ipv4()[:2] + (21).to_bytes(2, "big") + ipv4()[4:], "total length past the frame"),
    (ipv4()[:19], "19 bytes"),
])
def test_malformed_ipv4_is_bad_and_records_nothing(native_meta, header, why):
    m = both(native_meta, eth() + header)
    assert flags(m) == {"META_ETH_OK", "META_L3_BAD"}, why
    assert m["ip_proto"] == m["ip4_src"] == m["l4_off"] == 0
    assert (m["payload_off"], m["payload_len"]) == (14, len(header))


def test_ethernet_padding_is_not_ip_payload(native_meta):
    frame = eth() + bytes(IP() / UDP(sport=7, dport=9) / b"ab") + b"\x00" * 20
    m = both(native_meta, frame)
    assert "META_L4_OK" in flags(m) and m["ip_len"] == 30
    assert (m["payload_off"], m["payload_len"]) == (14 + 28, 2)


def test_ipv4_options_and_fragments(native_meta):
    m = both(native_meta, eth() + bytes(IP(options=[IPOption(b"\x01" * 4)], flags="MF+DF")
                                        / TCP(dport=80)))
    assert {"META_IP_OPTIONS", "META_FRAG_FIRST", "META_MF", "META_DF", "META_L4_OK"} <= flags(m)
    assert m["ip_ihl"] == 6 and m["l4_off"] == 14 + 24 and m["dport"] == 80
    m = both(native_meta, eth() + bytes(IP(frag=100, proto=6) / (b"\x00" * 40)))
    assert "META_FRAG_NONFIRST" in flags(m) and "META_L4_OK" not in flags(m)
    assert m["ip_frag_off"] == 100 and m["ip_proto"] == 6 and m["dport"] == 0
    assert (m["payload_off"], m["payload_len"]) == (34, 40)


@pytest.mark.parametrize("doff", [0, 4, 6, 15])
def test_tcp_data_offset_out_of_bounds_is_l4_bad(native_meta, doff):
    tcp = bytearray(bytes(TCP(sport=1, dport=2)))
    tcp[12] = doff << 4
    m = both(native_meta, eth() + bytes(IP(proto=6) / Raw(bytes(tcp))))
    assert "META_L4_BAD" in flags(m) and "META_L4_OK" not in flags(m)
    assert m["sport"] == m["dport"] == 0 and m["payload_off"] == 34


def test_truncated_l4_headers_are_bad(native_meta):
    for proto, size in ((6, 19), (17, 7), (1, 3)):
        m = both(native_meta, eth() + bytes(IP(proto=proto) / Raw(b"\x00" * size)))
        assert "META_L4_BAD" in flags(m), proto


def test_icmp_identifier_needs_eight_bytes(native_meta):
    m = both(native_meta, eth() + bytes(IP() / ICMP(type=0, id=0x1234)))
    assert (m["icmp_type"], m["icmp_id"], m["payload_off"]) == (0, 0x1234, 42)
    m = both(native_meta, eth() + bytes(IP(proto=1) / Raw(b"\x03\x01\x00\x00\x12")))
    assert "META_L4_OK" in flags(m) and (m["icmp_type"], m["icmp_code"], m["icmp_id"]) == (3, 1, 0)
    assert m["payload_off"] == 38


def test_ipv6_extension_walk(native_meta):
    chain = (IPv6(src="2001:db8::1") / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting()
             / IPv6ExtHdrDestOpt() / UDP(dport=53))
    m = both(native_meta, eth(0x86DD) + bytes(chain))
    assert {"META_L3_IPV6", "META_IPV6_EXT", "META_L4_OK"} <= flags(m)
    assert m["ip_proto"] == 17 and m["dport"] == 53 and m["l4_off"] == 14 + 40 + 24
    assert (m["ip6_src_hi"], m["ip6_src_lo"]) == (0x20010DB800000000, 1)


def test_ipv6_fragments(native_meta):
    first = IPv6() / IPv6ExtHdrFragment(m=1, id=0xABCDEF01) / TCP(dport=22)
    m = both(native_meta, eth(0x86DD) + bytes(first))
    assert {"META_FRAG_FIRST", "META_MF", "META_L4_OK"} <= flags(m)
    assert m["ip_id"] == 0xABCDEF01 and m["dport"] == 22
    later = IPv6() / IPv6ExtHdrFragment(nh=6, offset=3, m=0) / (b"\x00" * 30)
    m = both(native_meta, eth(0x86DD) + bytes(later))
    assert "META_FRAG_NONFIRST" in flags(m) and "META_L4_OK" not in flags(m)
    assert m["ip_proto"] == 6 and m["ip_frag_off"] == 3 and m["l4_off"] == 14 + 48
    atomic = IPv6() / IPv6ExtHdrFragment(m=0, offset=0) / UDP()
    m = both(native_meta, eth(0x86DD) + bytes(atomic))
    assert not flags(m) & {"META_FRAG_FIRST", "META_FRAG_NONFIRST"} and "META_L4_OK" in flags(m)


def test_ipv6_extension_limit_truncation_and_esp(native_meta):
    deep = IPv6()
    for _ in range(9):
        deep = deep / IPv6ExtHdrDestOpt()
    m = both(native_meta, eth(0x86DD) + bytes(deep / UDP()))
    assert "META_IPV6_EXT_LIMIT" in flags(m) and m["ip_proto"] == 60
    assert m["l4_off"] == 14 + 40 + 8 * 8 and "META_L4_OK" not in flags(m)
    cut = bytes(IPv6(nh=0, plen=4) / Raw(b"\x06\x00\x00\x00"))
    m = both(native_meta, eth(0x86DD) + cut)
    assert flags(m) == {"META_ETH_OK", "META_L3_BAD"} and m["ip6_src_hi"] == 0
    m = both(native_meta, eth(0x86DD) + bytes(IPv6() / ESP(spi=1) / b"secret"))
    assert m["ip_proto"] == 50 and "META_L4_OK" not in flags(m) and "META_L3_IPV6" in flags(m)


def test_ipv6_payload_length_past_the_frame_is_bad(native_meta):
    header = bytearray(bytes(IPv6() / UDP()))
    header[4:6] = (9).to_bytes(2, "big")
    m = both(native_meta, eth(0x86DD) + bytes(header))
    assert flags(m) == {"META_ETH_OK", "META_L3_BAD"}


def test_headers_past_the_first_segment_stop_the_parse(native_meta):
    frame = eth() + bytes(IP() / TCP(dport=443) / (b"x" * 100))
    m = both(native_meta, frame[:40], len(frame))
    assert {"META_L3_IPV4", "META_SPLIT"} <= flags(m) and "META_L4_OK" not in flags(m)
    assert m["pkt_len"] == len(frame) and m["payload_len"] == m["ip_len"] - 20
    m = both(native_meta, frame[:54], len(frame))
    assert "META_L4_OK" in flags(m) and "META_SPLIT" not in flags(m) and m["dport"] == 443


def test_packet_wraps_and_reparses():
    pkt = Packet(eth() + ipv4() + b"", port="wan")
    assert pkt.meta.ip_src == ipaddress.IPv4Address("10.0.0.1") and pkt.port == "wan"
    pkt.data[14 + 12:14 + 16] = bytes([192, 168, 0, 1])
    assert pkt.reparse().ip4_src == 0xC0A80001
    assert "L3_IPV4" in repr(pkt)
    v6 = Packet(eth(0x86DD) + bytes(IPv6(src="2001:db8::5")))
    assert v6.meta.ip_src == ipaddress.IPv6Address("2001:db8::5") and v6.meta.ip_dst is not None
    assert Packet(b"").meta.ip_src is None
    twin = pkt.copy()
    twin.data[0] ^= 1
    twin.meta.flags = 0
    assert pkt.data[0] != twin.data[0] and pkt.meta.flags and twin.port == "wan"


def test_reparse_keeps_connection_fields(native_meta):
    """The ct_* fields describe the connection: a re-parse (Python and C) keeps
    them, a fresh parse or a copy starts from zero."""
    ct = {"ct_state": P.META_CT_ESTABLISHED, "ct_events": P.META_CT_EV_RETRANS | P.META_CT_EV_STATE,
          "ct_tcp_state": P.TCP_STATES["FIN_WAIT"], "ct_dir": 1, "ct_id": 0xDEADBEEF}
    frame = bytes(Eth() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2, flags="FA"))
    pkt = Packet(frame)
    assert all(getattr(pkt.meta, k) == 0 for k in ct)
    for k, v in ct.items():
        setattr(pkt.meta, k, v)
    pkt.data[14 + 12] = 192
    again = pkt.reparse()
    assert again.ip4_src == 0xC0000001 and {k: getattr(again, k) for k in ct} == ct
    assert all(getattr(pkt.copy().meta, k) == 0 for k in ct)
    native = native_meta.reparse(bytes(pkt.data), ct)
    assert native == again.as_dict()
