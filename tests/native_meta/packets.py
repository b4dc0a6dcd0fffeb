"""Hypothesis strategies for frames: well-formed ones built with scapy, then
mutated (truncated, padded, corrupted, header fields set to bad values), and
plain random bytes.

The address, port and VLAN pools are shared with the match-expression
generator so that generated expressions actually match generated packets.
"""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6,
                                IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                                IPv6ExtHdrRouting)
from scapy.layers.ipsec import AH
from scapy.layers.l2 import ARP
from scapy.packet import Raw

MACS = ["02:00:00:00:00:01", "02:00:00:00:00:02", "ff:ff:ff:ff:ff:ff",
        "01:00:5e:00:00:01", "33:33:00:00:00:01"]
IP4S = ["10.0.0.1", "10.0.0.2", "10.1.2.3", "192.168.1.1", "192.168.1.200",
        "224.0.0.5", "0.0.0.0", "255.255.255.255"]
IP6S = ["2001:db8::1", "2001:db8::2", "2001:db8:0:1::1", "2001:db8::8000:0:0:1",
        "fe80::1", "ff02::1", "::"]
PORTS = [0, 22, 53, 80, 443, 1024, 8080, 65535]
VLAN_IDS = [0, 1, 100, 4095]
TPIDS = [0x8100, 0x88A8, 0x9100]

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
ports = st.one_of(st.sampled_from(PORTS), u16)
ip4s = st.one_of(st.sampled_from(IP4S), u32.map(lambda n: str(ipaddress.IPv4Address(n))))
ip6s = st.one_of(st.sampled_from(IP6S),
                 st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))))


def mac_bytes(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


@st.composite
def l2_header(draw, ethertype: int) -> bytes:
    dst = mac_bytes(draw(st.sampled_from(MACS)))
    src = mac_bytes(draw(st.sampled_from(MACS)))
    n_tags = draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4, 5]))
    out = bytearray(dst + src)
    for _ in range(n_tags):
        tpid = draw(st.sampled_from(TPIDS))
        vid = draw(st.one_of(st.sampled_from(VLAN_IDS), st.integers(0, 4095)))
        pcp, dei = draw(st.integers(0, 7)), draw(st.integers(0, 1))
        out += tpid.to_bytes(2, "big") + ((pcp << 13) | (dei << 12) | vid).to_bytes(2, "big")
    return bytes(out + ethertype.to_bytes(2, "big"))


@st.composite
def tcp_layer(draw):
    options = draw(st.sampled_from([
        [], [("MSS", 1460)], [("NOP", None), ("NOP", None), ("Timestamp", (1, 2))],
        [("MSS", 1460), ("SAckOK", b""), ("WScale", 7)],
    ]))
    return TCP(sport=draw(ports), dport=draw(ports), seq=draw(u32), ack=draw(u32),
               flags=draw(u8), window=draw(u16), options=options)


@st.composite
def upper_layer(draw, version: int):
    kind = draw(st.sampled_from(["tcp", "udp", "icmp", "raw"]))
    payload = Raw(draw(st.binary(max_size=24)))
    if kind == "tcp":
        return 6, draw(tcp_layer()) / payload
    if kind == "udp":
        return 17, UDP(sport=draw(ports), dport=draw(ports)) / payload
    if kind == "icmp" and version == 4:
        return 1, ICMP(type=draw(st.sampled_from([0, 3, 8, 11])), code=draw(u8),
                       id=draw(u16)) / payload
    if kind == "icmp":
        layer = draw(st.sampled_from([ICMPv6EchoRequest, ICMPv6EchoReply, ICMPv6DestUnreach]))
        if layer is ICMPv6DestUnreach:
            return 58, layer(code=draw(st.integers(0, 6))) / payload
        return 58, layer(id=draw(u16)) / payload
    return draw(st.sampled_from([47, 50, 59, 132, 1, 58])), payload


@st.composite
def ipv4_packet(draw) -> bytes:
    proto, upper = draw(upper_layer(4))
    opt_words = draw(st.sampled_from([0, 0, 0, 1, 2, 10]))
    options = [IPOption(b"\x01" * (4 * opt_words))] if opt_words else []
    frag = draw(st.sampled_from([0, 0, 0, 1, 185, 0x1FFF]))
    flags = draw(st.integers(0, 7))
    ip = IP(src=draw(ip4s), dst=draw(ip4s), ttl=draw(u8), tos=draw(u8), id=draw(u16),
            flags=flags, frag=frag, proto=proto, options=options)
    return bytes(ip / upper)


EXT_HEADERS = {
    0: lambda d, nh: IPv6ExtHdrHopByHop(nh=nh),
    43: lambda d, nh: IPv6ExtHdrRouting(nh=nh),
    44: lambda d, nh: IPv6ExtHdrFragment(nh=nh, offset=d(st.sampled_from([0, 0, 1, 100, 8191])),
                                         m=d(st.integers(0, 1)), id=d(u32)),
    60: lambda d, nh: IPv6ExtHdrDestOpt(nh=nh),
    51: lambda d, nh: AH(nh=nh, payloadlen=d(st.sampled_from([1, 4])), spi=d(u32), seq=1,
                         icv=b""),
}


@st.composite
def ipv6_packet(draw) -> bytes:
    proto, upper = draw(upper_layer(6))
    chain = draw(st.lists(st.sampled_from(sorted(EXT_HEADERS)), max_size=10))
    layers = []
    nh = proto
    for kind in reversed(chain):
        layer = EXT_HEADERS[kind](draw, nh)
        if kind == 51:  # AH carries (payloadlen + 2) * 4 bytes: pad its ICV to that size
            layer.icv = b"\x00" * ((layer.payloadlen + 2) * 4 - 12)
        layers.append(layer)
        nh = kind
    pkt = IPv6(src=draw(ip6s), dst=draw(ip6s), hlim=draw(u8), tc=draw(u8), nh=nh)
    for layer in reversed(layers):
        pkt = pkt / layer
    return bytes(pkt / upper)


@st.composite
def arp_packet(draw) -> bytes:
    return bytes(ARP(op=draw(st.integers(1, 2)), psrc=draw(ip4s), pdst=draw(ip4s)))


@st.composite
def valid_frame(draw) -> bytes:
    """A well-formed frame (possibly with 5 VLAN tags, which is legal but over the bound)."""
    kind = draw(st.sampled_from(["ipv4", "ipv4", "ipv6", "ipv6", "arp", "other"]))
    if kind == "ipv4":
        return draw(l2_header(0x0800)) + draw(ipv4_packet())
    if kind == "ipv6":
        return draw(l2_header(0x86DD)) + draw(ipv6_packet())
    if kind == "arp":
        return draw(l2_header(0x0806)) + draw(arp_packet())
    return draw(l2_header(draw(u16))) + draw(st.binary(max_size=64))


def _l3_offset(frame: bytes) -> int:
    off = 14
    while off + 4 <= len(frame) and int.from_bytes(frame[off - 2:off], "big") in TPIDS:
        off += 4
    return off


@st.composite
def mutated_frame(draw) -> bytes:
    frame = bytearray(draw(valid_frame()))
    l3 = _l3_offset(frame)
    how = draw(st.sampled_from(["none", "truncate", "pad", "corrupt", "ihl", "total_len",
                                "tcp_doff", "ip6_plen", "ext_len", "version"]))
    if how == "truncate":
        del frame[draw(st.integers(0, len(frame))):]
    elif how == "pad":
        frame += draw(st.binary(min_size=1, max_size=40))
    elif how == "corrupt":
        for _ in range(draw(st.integers(1, 4))):
            if frame:
                frame[draw(st.integers(0, len(frame) - 1))] = draw(u8)
    elif how == "ihl" and l3 < len(frame):
        frame[l3] = (frame[l3] & 0xF0) | draw(st.integers(0, 15))
    elif how == "total_len" and l3 + 4 <= len(frame):
        delta = draw(st.sampled_from([-40, -21, -20, -1, 1, 2, 100, 0x10000]))
        total = int.from_bytes(frame[l3 + 2:l3 + 4], "big") + delta
        frame[l3 + 2:l3 + 4] = (total & 0xFFFF).to_bytes(2, "big")
    elif how == "tcp_doff" and l3 < len(frame):
        l4 = l3 + (frame[l3] & 0x0F) * 4 if frame[l3] >> 4 == 4 else l3 + 40
        if l4 + 13 <= len(frame):
            frame[l4 + 12] = (draw(st.integers(0, 15)) << 4) | (frame[l4 + 12] & 0x0F)
    elif how == "ip6_plen" and l3 + 6 <= len(frame):
        frame[l3 + 4:l3 + 6] = draw(u16).to_bytes(2, "big")
    elif how == "ext_len" and l3 + 42 <= len(frame):
        frame[l3 + 41] = draw(u8)
    elif how == "version" and l3 < len(frame):
        frame[l3] = (draw(st.integers(0, 15)) << 4) | (frame[l3] & 0x0F)
    return bytes(frame)


@st.composite
def random_frame(draw) -> bytes:
    """Random bytes, often behind a plausible Ethernet header so the parse goes deep."""
    head = draw(st.sampled_from([b"", b"\x02" * 12 + b"\x08\x00", b"\x02" * 12 + b"\x86\xdd",
                                 b"\x02" * 12 + b"\x81\x00", b"\x02" * 12 + b"\x08\x00\x45",
                                 b"\x02" * 12 + b"\x86\xdd\x60"]))
    return head + draw(st.binary(max_size=120))


frames = st.one_of(valid_frame(), mutated_frame(), mutated_frame(), random_frame())


@st.composite
def segmented_frame(draw) -> tuple[bytes, int]:
    """(readable bytes, frame length): the frame may continue past the readable part,
    as in a multi-segment mbuf (or, misused, claim fewer bytes than readable)."""
    frame = draw(frames)
    readable = draw(st.integers(0, len(frame)))
    extra = draw(st.sampled_from([0, 0, 1, 7, 1000, 70000]))
    pkt_len = len(frame) + extra
    if draw(st.integers(0, 9)) == 0:
        pkt_len = draw(st.integers(0, len(frame)))
    return frame[:readable], pkt_len
