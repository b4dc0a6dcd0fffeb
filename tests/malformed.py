#!/usr/bin/env python3
"""A corpus of malformed and unusual frames, for robustness tests and as a pcap.

    python3 tests/malformed.py OUT.pcap     # write the corpus as a classic pcap
    python3 tests/malformed.py --list       # index, size and label of every frame

What a peer can put on a wire that a packet parser or an NF might mishandle:

- well-formed Ethernet, 802.1Q, QinQ, IPv4 with options, IPv6 with extension
  header chains, TCP with options, UDP, ICMP and ICMPv6 frames, each also cut
  at every byte offset (a zero-length frame included);
- every IPv4 IHL, total lengths larger and smaller than the frame, every TCP
  data offset (past the end too), IPv6 payload lengths that lie, extension
  headers that run past the packet or exceed the parser's walk limit, too
  many VLAN tags;
- IPv4 and IPv6 fragments, first and non-first, tiny and overlapping;
- 9000-byte jumbo frames and frames around the mbuf data room (2048 bytes),
  which arrive as multi-segment mbufs;
- non-IP EtherTypes, IP headers under the wrong EtherType, all-zero and
  all-0xff frames, seeded random garbage;
- and the hand-picked frames of examples/traffic/malformed.pcap.

The header builders are examples/traffic/generate.py's, so one code base
makes both captures. The corpus is deterministic for a given seed and holds
no duplicate frame.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import struct
import sys
from pathlib import Path
from typing import NamedTuple

GENERATOR = Path(__file__).resolve().parents[1] / "examples" / "traffic" / "generate.py"
DEFAULT_SEED = 8


def _generator():
    name = "chainc_examples_traffic_generate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, GENERATOR)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


g = _generator()

SRC_MAC, DST_MAC = g.M_SRC_MAC, g.M_DST_MAC
SRC4, DST4 = g.M_SRC4, g.M_DST4
SRC6, DST6 = g.M_SRC6, g.M_DST6
TCP_OPTIONS = b"\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00\x01\x03\x03\x07"
IPV4_OPTIONS = b"\x94\x04\x00\x00\x01\x01\x01\x00"  # router alert, NOPs, end of list


class Case(NamedTuple):
    label: str
    frame: bytes
    orig_len: int | None = None  # length on the wire when the capture cut the frame


def eth(ethertype: int, payload: bytes, vlans=()) -> bytes:
    """An unpadded Ethernet frame, so short frames really are short."""
    return g.ether(DST_MAC, SRC_MAC, ethertype, payload, vlans, pad=False)


def tcp4(payload: bytes = b"GET / HTTP/1.1\r\n", options: bytes = b"",
         flags: int = g.TCP_ACK | g.TCP_PSH, **kw) -> bytes:
    return g.tcp_segment(SRC4, DST4, 40001, 80, 1000, 2000, flags, 502, payload, options=options, **kw)


def udp4(payload: bytes = b"hello, world", sport: int = 40000, dport: int = 53) -> bytes:
    return g.udp_datagram(SRC4, DST4, sport, dport, payload)


def ipv4(proto: int, payload: bytes, **kw) -> bytes:
    return g.ipv4_packet(SRC4, DST4, proto, payload, **kw)


def ipv6(next_header: int, payload: bytes, **kw) -> bytes:
    return g.ipv6_packet(SRC6, DST6, next_header, payload, **kw)


def ext6(next_header: int, body: bytes = b"\x01\x04\0\0\0\0") -> bytes:
    """A generic IPv6 extension header (hop-by-hop, routing, destination options)."""
    body += b"\0" * (-(2 + len(body)) % 8)
    return bytes([next_header, (2 + len(body)) // 8 - 1]) + body


def frag6(next_header: int, offset: int, more: bool, ident: int = 0x77) -> bytes:
    return struct.pack("!BBHI", next_header, 0, (offset << 3) | int(more), ident)


def _bases() -> list[Case]:
    """Well-formed frames of every layering the parser knows; each is also cut short."""
    tcp6 = g.tcp_segment(SRC6, DST6, 40003, 443, 7, 9, g.TCP_ACK, 502, b"tls!", options=TCP_OPTIONS)
    udp6 = g.udp_datagram(SRC6, DST6, 40004, 53, b"query")
    echo4 = g.icmp4_message(8, 0, struct.pack("!HH", 0x1234, 1) + b"pingping")
    echo6 = g.icmp6_message(SRC6, DST6, 128, 0, struct.pack("!HH", 0x4321, 1) + b"ping")
    ah = bytes([g.IPPROTO_UDP, 4]) + b"\0\0" + struct.pack("!II", 0x100, 1) + bytes(12)
    return [
        Case("IPv4 with options, TCP with options",
             eth(g.ETH_P_IP, ipv4(g.IPPROTO_TCP, tcp4(options=TCP_OPTIONS), options=IPV4_OPTIONS))),
        Case("IPv4 UDP", eth(g.ETH_P_IP, ipv4(g.IPPROTO_UDP, udp4()))),
        Case("IPv4 ICMP echo", eth(g.ETH_P_IP, ipv4(g.IPPROTO_ICMP, echo4))),
        Case("802.1Q IPv4 UDP", eth(g.ETH_P_IP, ipv4(g.IPPROTO_UDP, udp4()), [(g.ETH_P_8021Q, 100)])),
        Case("QinQ IPv4 TCP", eth(g.ETH_P_IP, ipv4(g.IPPROTO_TCP, tcp4()),
                                  [(g.ETH_P_8021AD, 200), (g.ETH_P_8021Q, 10)])),
        Case("IPv6 hop-by-hop, routing, destination options, TCP with options",
             eth(g.ETH_P_IPV6, ipv6(0, ext6(43) + ext6(60) + ext6(g.IPPROTO_TCP) + tcp6))),
        Case("IPv6 first fragment of UDP", eth(g.ETH_P_IPV6, ipv6(44, frag6(g.IPPROTO_UDP, 0, True) + udp6))),
        Case("IPv6 AH, UDP", eth(g.ETH_P_IPV6, ipv6(51, ah + udp6))),
        Case("IPv6 ICMPv6 echo", eth(g.ETH_P_IPV6, ipv6(g.IPPROTO_ICMPV6, echo6))),
    ]


def _truncations(bases: list[Case]) -> list[Case]:
    return [Case(f"{b.label}, cut to {n} bytes", b.frame[:n])
            for b in bases for n in range(len(b.frame))]


def _ipv4_fields() -> list[Case]:
    out = []
    seg = tcp4(b"x" * 8)
    for ihl in range(16):
        out.append(Case(f"IPv4 IHL {ihl}", eth(g.ETH_P_IP, ipv4(g.IPPROTO_TCP, seg, ihl=ihl))))
    whole = 20 + len(seg)
    for tot in sorted({0, 1, 19, 20, 21, 39, 40, whole - 1, whole + 1, 1500, 65535}):
        out.append(Case(f"IPv4 total length {tot} for a {whole}-byte datagram",
                        eth(g.ETH_P_IP, ipv4(g.IPPROTO_TCP, seg, total_length=tot))))
    for version in (0, 5, 6, 15):
        out.append(Case(f"IPv4 header with version {version}",
                        eth(g.ETH_P_IP, ipv4(g.IPPROTO_UDP, udp4(), version=version))))
    out.append(Case("IPv4 with 40 bytes of options (IHL 15), UDP",
                    eth(g.ETH_P_IP, ipv4(g.IPPROTO_UDP, udp4(), options=b"\x01" * 39 + b"\0"))))
    out.append(Case("IPv4 options claimed by IHL but the frame ends in them",
                    eth(g.ETH_P_IP, ipv4(g.IPPROTO_UDP, b"", options=IPV4_OPTIONS))[:14 + 24]))
    return out


def _tcp_fields() -> list[Case]:
    out = []
    for doff in range(16):
        seg = tcp4(b"payload!", doff=doff)  # 20-byte header + 8 bytes: offsets past 7 run off the end
        out.append(Case(f"TCP data offset {doff} in a 28-byte segment",
                        eth(g.ETH_P_IP, ipv4(g.IPPROTO_TCP, seg))))
    out.append(Case("TCP options with length 0 and 255",
                    eth(g.ETH_P_IP, ipv4(g.IPPROTO_TCP, tcp4(options=b"\x02\x00\x08\xff")))))
    out.append(Case("TCP every flag set", eth(g.ETH_P_IP, ipv4(g.IPPROTO_TCP, tcp4(flags=0xFF)))))
    out.append(Case("UDP in IPv4 cut by the IP total length (4 bytes of header)",
                    eth(g.ETH_P_IP, ipv4(g.IPPROTO_UDP, udp4(), total_length=24))))
    out.append(Case("ICMP header of exactly 4 bytes", eth(g.ETH_P_IP, ipv4(g.IPPROTO_ICMP, b"\x08\x00\xf7\xff"))))
    out.append(Case("ICMP of 7 bytes (no identifier)", eth(g.ETH_P_IP, ipv4(g.IPPROTO_ICMP, b"\x08\x00\0\0\x12\x34\x56"))))
    out.append(Case("ICMPv6 under IPv4 (protocol 58)", eth(g.ETH_P_IP, ipv4(g.IPPROTO_ICMPV6, b"\x80\0\0\0\0\1\0\1"))))
    out.append(Case("ICMP under IPv6 (next header 1)", eth(g.ETH_P_IPV6, ipv6(g.IPPROTO_ICMP, b"\x08\0\0\0\0\1\0\1"))))
    return out


def _ipv6_fields() -> list[Case]:
    out = []
    udp6 = g.udp_datagram(SRC6, DST6, 40004, 53, b"query")
    for plen in (0, 1, len(udp6) - 1, len(udp6) + 1, 65535):
        out.append(Case(f"IPv6 payload length {plen} for {len(udp6)} bytes of UDP",
                        eth(g.ETH_P_IPV6, ipv6(g.IPPROTO_UDP, udp6, payload_length=plen))))
    for version in (0, 4, 15):
        out.append(Case(f"IPv6 header with version {version}",
                        eth(g.ETH_P_IPV6, ipv6(g.IPPROTO_UDP, udp6, version=version))))
    out.append(Case("IPv6 hop-by-hop length 255 runs past the packet",
                    eth(g.ETH_P_IPV6, ipv6(0, bytes([g.IPPROTO_UDP, 255]) + bytes(6) + udp6))))
    out.append(Case("IPv6 AH length past the packet",
                    eth(g.ETH_P_IPV6, ipv6(51, bytes([g.IPPROTO_UDP, 200]) + bytes(10)))))
    for n in (7, 8, 9, 20):
        chain = b"".join(ext6(60) for _ in range(n - 1)) + ext6(g.IPPROTO_UDP)
        out.append(Case(f"IPv6 {n} extension headers, then UDP", eth(g.ETH_P_IPV6, ipv6(60, chain + udp6))))
    out.append(Case("IPv6 extension chain ending in the middle of a header",
                    eth(g.ETH_P_IPV6, ipv6(0, ext6(60) + b"\x11\x00\x01"))))
    return out


def _fragments() -> list[Case]:
    out = []
    seg = tcp4(b"x" * 40)
    for off, mf, label in ((0, True, "first"), (1, True, "at offset 8, overlapping the TCP header"),
                           (185, True, "middle"), (370, False, "last"), (8191, False, "at the largest offset")):
        out.append(Case(f"IPv4 TCP fragment, {label}",
                        eth(g.ETH_P_IP, ipv4(g.IPPROTO_TCP, seg, df=False, mf=mf, frag_offset=off))))
    out.append(Case("IPv4 tiny first fragment: 8 bytes of TCP",
                    eth(g.ETH_P_IP, ipv4(g.IPPROTO_TCP, seg[:8], df=False, mf=True))))
    out.append(Case("IPv4 fragment with DF and MF and the reserved bit",
                    eth(g.ETH_P_IP, _set16(ipv4(g.IPPROTO_UDP, udp4(), df=True, mf=True), 6, 0xE000))))
    out.append(Case("IPv4 first fragment of ICMP", eth(g.ETH_P_IP, ipv4(g.IPPROTO_ICMP, b"\x08\0\0\0\0\1\0\1",
                                                                          df=False, mf=True))))
    udp6 = g.udp_datagram(SRC6, DST6, 40004, 53, b"y" * 40)
    for off, more, label in ((0, True, "first"), (5, True, "non-first"), (0, False, "atomic")):
        out.append(Case(f"IPv6 UDP fragment, {label}",
                        eth(g.ETH_P_IPV6, ipv6(44, frag6(g.IPPROTO_UDP, off, more) + udp6))))
    out.append(Case("IPv6 non-first fragment header inside an extension chain",
                    eth(g.ETH_P_IPV6, ipv6(0, ext6(44) + frag6(60, 9, True) + ext6(g.IPPROTO_UDP) + udp6))))
    out.append(Case("IPv6 two fragment headers",
                    eth(g.ETH_P_IPV6, ipv6(44, frag6(44, 0, True) + frag6(g.IPPROTO_UDP, 0, False) + udp6))))
    return out


def _vlans() -> list[Case]:
    out = []
    inner = ipv4(g.IPPROTO_UDP, udp4())
    for n in range(1, 7):
        tags = [(g.ETH_P_8021Q, 10 + i) for i in range(n)]
        out.append(Case(f"{n} VLAN tags, IPv4 UDP", eth(g.ETH_P_IP, inner, tags)))
    out.append(Case("TPID 0x9100 tag, IPv6 UDP",
                    eth(g.ETH_P_IPV6, ipv6(g.IPPROTO_UDP, g.udp_datagram(SRC6, DST6, 1, 2, b"")),
                        [(0x9100, 5)])))
    out.append(Case("VLAN tag cut after its TCI", eth(g.ETH_P_8021Q, b"\x00\x64")))
    out.append(Case("VLAN-tagged ARP", eth(g.ETH_P_ARP, bytes(28), [(g.ETH_P_8021Q, 7)])))
    return out


def _link_layer() -> list[Case]:
    out = [Case("zero-length frame", b"")]
    for ethertype in (0x0000, 0x0001, 0x05DC, 0x0600, g.ETH_P_ARP, 0x8847, 0x8864, 0x88CC,
                      0x88E5, 0x8906, 0x9000, 0xFFFF):
        out.append(Case(f"EtherType 0x{ethertype:04x}", eth(ethertype, bytes(range(46)))))
    v6 = ipv6(g.IPPROTO_UDP, g.udp_datagram(SRC6, DST6, 1, 2, b"v6"))
    out.append(Case("IPv6 packet under EtherType IPv4", eth(g.ETH_P_IP, v6)))
    out.append(Case("IPv4 packet under EtherType IPv6", eth(g.ETH_P_IPV6, ipv4(g.IPPROTO_UDP, udp4()))))
    for size in (1, 13, 14, 15, 60, 64, 1514):
        out.append(Case(f"{size} zero bytes", bytes(size)))
        out.append(Case(f"{size} 0xff bytes", b"\xff" * size))
    return out


def _large() -> list[Case]:
    """Frames longer than one mbuf's 2048-byte data room: multi-segment mbufs."""
    out = []
    for size in (2047, 2048, 2049, 4096, 9000):
        payload = bytes(i & 0xFF for i in range(size - 14 - 20 - 8))
        out.append(Case(f"{size}-byte IPv4 UDP frame", eth(g.ETH_P_IP, ipv4(g.IPPROTO_UDP, udp4(payload)))))
    tcp6 = g.tcp_segment(SRC6, DST6, 1, 80, 1, 1, g.TCP_ACK, 100, bytes(9000 - 14 - 40 - 20))
    out.append(Case("9000-byte IPv6 TCP frame", eth(g.ETH_P_IPV6, ipv6(g.IPPROTO_TCP, tcp6))))
    seg = tcp4(bytes(9000 - 18 - 20 - 20))
    out.append(Case("9000-byte 802.1Q IPv4 TCP frame",
                    eth(g.ETH_P_IP, ipv4(g.IPPROTO_TCP, seg), [(g.ETH_P_8021Q, 100)])))
    out.append(Case("9000-byte frame whose IPv4 total length is 60",
                    eth(g.ETH_P_IP, ipv4(g.IPPROTO_UDP, udp4(bytes(8958)), total_length=60))))
    out.append(Case("9000-byte IPv4 first fragment", eth(g.ETH_P_IP, ipv4(g.IPPROTO_UDP, udp4(bytes(8958)),
                                                                            df=False, mf=True))))
    out.append(Case("9000 zero bytes", bytes(9000)))
    out.append(Case("9000 0xff bytes", b"\xff" * 9000))
    return out


def _garbage(rng: random.Random) -> list[Case]:
    out = []
    for i in range(40):
        ethertype = rng.choice((g.ETH_P_IP, g.ETH_P_IPV6, g.ETH_P_8021Q, rng.randrange(0x10000)))
        out.append(Case(f"random bytes #{i} under EtherType 0x{ethertype:04x}",
                        eth(ethertype, rng.randbytes(rng.randrange(0, 120)))))
    for i in range(40):  # headers right, the byte after them random
        base = rng.choice(_bases()).frame
        pos = rng.randrange(12, len(base))
        out.append(Case(f"one byte at {pos} randomised (#{i})",
                        base[:pos] + bytes([rng.randrange(256)]) + base[pos + 1:]))
    return out


def _set16(buf: bytes, off: int, value: int) -> bytes:
    return buf[:off] + struct.pack("!H", value) + buf[off + 2:]


def corpus(seed: int = DEFAULT_SEED) -> list[Case]:
    """Every case, each frame once, in a fixed order."""
    cases = (_bases() + _truncations(_bases()) + _ipv4_fields() + _tcp_fields() + _ipv6_fields()
             + _fragments() + _vlans() + _link_layer() + _large() + _garbage(random.Random(seed))
             + [Case(label, rec.frame, rec.orig_len) for label, rec in g.build_malformed()])
    seen: set[bytes] = set()
    out = []
    for case in cases:
        if case.frame not in seen:
            seen.add(case.frame)
            out.append(case)
    return out


def write_corpus(path: Path | str, cases: list[Case] | None = None) -> Path:
    """Write the corpus (or `cases`) as a classic pcap, 1 ms apart."""
    cases = corpus() if cases is None else cases
    return g.write_pcap(path, [g.Record(g.EPOCH_US + i * 1000, c.frame, c.orig_len)
                               for i, c in enumerate(cases)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", help="the pcap file to write")
    ap.add_argument("--list", action="store_true", help="print the index, size and label of each frame")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = ap.parse_args(argv)
    cases = corpus(args.seed)
    if args.list:
        for i, c in enumerate(cases):
            print(f"{i:5d}  {len(c.frame):5d}  {c.label}")
    if args.out:
        write_corpus(args.out, cases)
        print(f"wrote {args.out}: {len(cases)} frames")
    if not (args.list or args.out):
        ap.error("give an output file or --list")
    return 0


if __name__ == "__main__":
    sys.exit(main())
