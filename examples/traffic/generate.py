#!/usr/bin/env python3
"""Generate the sample traffic of the chainc examples, deterministically.

    python3 examples/traffic/generate.py                  # sample.pcap + malformed.pcap here
    python3 examples/traffic/generate.py --out-dir DIR    # somewhere else
    python3 examples/traffic/generate.py --sample         # only sample.pcap
    python3 examples/traffic/generate.py --malformed      # only malformed.pcap
    python3 examples/traffic/generate.py --list-malformed # what each broken frame is

Only the standard library is used: headers are packed with ``struct``,
checksums are computed here and the classic pcap format is written by hand,
so a given seed always gives byte-identical files, on any platform. The
random source is ``random.Random(seed)`` and only its integer draws and
``random()`` are used (no libm-backed distributions), which CPython keeps
stable across versions.

The functions below (packet builders, checksums, ``write_pcap``) are also
used by ``bench/traffic.py``.
"""
from __future__ import annotations

import argparse
import ipaddress
import random
import struct
import sys
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

HERE = Path(__file__).resolve().parent

DEFAULT_SEED = 20231122
SAMPLE_NAME = "sample.pcap"
MALFORMED_NAME = "malformed.pcap"

# Capture start: 2023-11-14 22:13:20 UTC, a fixed instant.
EPOCH_US = 1_700_000_000 * 1_000_000
SAMPLE_DURATION_US = 30 * 1_000_000

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
ETH_P_IPV6 = 0x86DD

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

ETH_MIN_FRAME = 60          # without the 4-byte FCS
ETH_MTU = 1500


# --------------------------------------------------------------------------
# pcap
# --------------------------------------------------------------------------

class Record(NamedTuple):
    ts_us: int              # absolute time, microseconds since the Unix epoch
    frame: bytes            # the captured bytes
    orig_len: int | None = None   # length on the wire when the capture was cut


def pcap_bytes(records: Iterable[Record], snaplen: int = 65535, linktype: int = 1) -> bytes:
    """Classic little-endian pcap (magic a1b2c3d4, v2.4, microsecond stamps)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)]
    for r in records:
        orig = len(r.frame) if r.orig_len is None else r.orig_len
        sec, usec = divmod(r.ts_us, 1_000_000)
        out.append(struct.pack("<IIII", sec, usec, len(r.frame), orig))
        out.append(r.frame)
    return b"".join(out)


def write_pcap(path: Path | str, records: Iterable[Record], snaplen: int = 65535) -> Path:
    path = Path(path)
    data = pcap_bytes(records, snaplen=snaplen)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def read_pcap(path: Path | str) -> list[Record]:
    """Read back a classic pcap (either byte order, micro- or nanosecond)."""
    data = Path(path).read_bytes()
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        end = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        end = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap file")
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    off, recs = 24, []
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack_from(end + "IIII", data, off)
        off += 16
        us = frac // 1000 if nano else frac
        recs.append(Record(sec * 1_000_000 + us, data[off:off + incl], orig))
        off += incl
    return recs


# --------------------------------------------------------------------------
# checksums and header builders
# --------------------------------------------------------------------------

def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum.

    Uses 2**16 == 1 (mod 0xffff): the one's complement sum of the 16-bit
    words is the big integer of the data modulo 0xffff (with 0xffff for a
    non-zero multiple), which Python computes in C.
    """
    if len(data) & 1:
        data += b"\0"
    n = int.from_bytes(data, "big")
    s = n % 0xFFFF
    if s == 0 and n:
        s = 0xFFFF
    return ~s & 0xFFFF


def pseudo_header(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!I3xB", length, proto)


def l4_checksum(src: bytes, dst: bytes, proto: int, segment: bytes) -> int:
    return checksum(pseudo_header(src, dst, proto, len(segment)) + segment)


def _put16(buf: bytes, off: int, value: int) -> bytes:
    return buf[:off] + struct.pack("!H", value) + buf[off + 2:]


def ip(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def mac(text: str) -> bytes:
    return bytes(int(x, 16) for x in text.split(":"))


def tcp_segment(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int,
                flags: int, window: int, payload: bytes = b"", options: bytes = b"",
                urg: int = 0, doff: int | None = None, csum: bool = True) -> bytes:
    if len(options) % 4:
        options += b"\0" * (4 - len(options) % 4)
    hlen = 20 + len(options)
    d = hlen // 4 if doff is None else doff
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      d << 4, flags, window, 0, urg) + options + payload
    if csum:
        seg = _put16(seg, 16, l4_checksum(src, dst, IPPROTO_TCP, seg))
    return seg


def udp_datagram(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes,
                 length: int | None = None, csum: bool = True) -> bytes:
    ulen = 8 + len(payload) if length is None else length
    seg = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    if csum:
        c = l4_checksum(src, dst, IPPROTO_UDP, seg)
        seg = _put16(seg, 6, c or 0xFFFF)
    return seg


def icmp4_message(icmp_type: int, code: int, body: bytes) -> bytes:
    msg = struct.pack("!BBH", icmp_type, code, 0) + body
    return _put16(msg, 2, checksum(msg))


def icmp6_message(src: bytes, dst: bytes, icmp_type: int, code: int, body: bytes) -> bytes:
    msg = struct.pack("!BBH", icmp_type, code, 0) + body
    return _put16(msg, 2, l4_checksum(src, dst, IPPROTO_ICMPV6, msg))


def ipv4_packet(src: bytes, dst: bytes, proto: int, payload: bytes, ttl: int = 64,
                ident: int = 0, df: bool = True, tos: int = 0, options: bytes = b"",
                mf: bool = False, frag_offset: int = 0, total_length: int | None = None,
                ihl: int | None = None, version: int = 4, csum: int | None = None) -> bytes:
    if len(options) % 4:
        options += b"\0" * (4 - len(options) % 4)
    hl = (20 + len(options)) // 4 if ihl is None else ihl
    tot = 20 + len(options) + len(payload) if total_length is None else total_length
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_offset & 0x1FFF)
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | hl, tos, tot, ident & 0xFFFF,
                      flags, ttl, proto, 0, src, dst) + options
    hdr = _put16(hdr, 10, checksum(hdr) if csum is None else csum)
    return hdr + payload


def ipv6_packet(src: bytes, dst: bytes, next_header: int, payload: bytes,
                hop_limit: int = 64, traffic_class: int = 0, flow_label: int = 0,
                payload_length: int | None = None, version: int = 6) -> bytes:
    plen = len(payload) if payload_length is None else payload_length
    first = (version << 28) | (traffic_class << 20) | (flow_label & 0xFFFFF)
    return struct.pack("!IHBB16s16s", first, plen, next_header, hop_limit, src, dst) + payload


def ether(dst: bytes, src: bytes, ethertype: int, payload: bytes,
          vlans: Sequence[tuple[int, int]] = (), pad: bool = True) -> bytes:
    """Ethernet II frame (no FCS). ``vlans`` is outer-first (tpid, tci) pairs."""
    tags = b"".join(struct.pack("!HH", tpid, tci) for tpid, tci in vlans)
    frame = dst + src + tags + struct.pack("!H", ethertype) + payload
    if pad and len(frame) < ETH_MIN_FRAME:
        frame += b"\0" * (ETH_MIN_FRAME - len(frame))
    return frame


# --------------------------------------------------------------------------
# application payloads
# --------------------------------------------------------------------------

DOMAINS = [
    "www.example.com", "example.com", "api.example.com", "cdn.example.net",
    "static.example.net", "img.example.org", "mail.example.org", "news.example.org",
    "login.example.com", "video.example.net", "ntp.example.net", "updates.example.com",
    "docs.example.org", "shop.example.com", "ads.example.net", "metrics.example.com",
]
HTTP_PATHS = [
    "/", "/index.html", "/favicon.ico", "/static/app.js", "/static/style.css",
    "/img/logo.png", "/api/v1/items?page=2", "/api/v1/session", "/news/today",
    "/robots.txt", "/video/seg-00042.ts", "/updates/manifest.json",
]
USER_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36",
    "curl/7.88.1",
    "Debian APT-HTTP/1.3 (2.6.1)",
]


def dns_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def dns_query(txid: int, name: str, qtype: int) -> bytes:
    """A recursive query with an EDNS0 OPT record (4,096-byte UDP size)."""
    return struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 1) + \
        dns_name(name) + struct.pack("!HH", qtype, 1) + b"\0\0\x29\x10\0\0\0\0\0\0\0"


def dns_response(rng: random.Random, txid: int, name: str, qtype: int, nxdomain: bool) -> bytes:
    question = dns_name(name) + struct.pack("!HH", qtype, 1)
    answers = []
    if not nxdomain:
        if rng.random() < 0.3:  # a CNAME first
            target = "edge%d.cdn.example.net" % rng.randrange(1, 40)
            rdata = dns_name(target)
            answers.append(struct.pack("!HHHIH", 0xC00C, 5, 1, rng.randrange(60, 3600),
                                       len(rdata)) + rdata)
            owner = 12 + len(question) + 12   # offset of the CNAME target in the message
            ptr = 0xC000 | owner
        else:
            ptr = 0xC00C
        for _ in range(rng.randrange(1, 5)):
            if qtype == 28:
                rdata = bytes.fromhex("20010db8") + rng.randbytes(12)
            elif qtype == 15:
                rdata = struct.pack("!H", rng.choice((5, 10, 20))) + \
                    dns_name("mx%d.example.org" % rng.randrange(1, 4))
            else:
                rdata = bytes([203, 0, 113, rng.randrange(1, 255)])
            answers.append(struct.pack("!HHHIH", ptr, qtype, 1, rng.randrange(30, 86400),
                                       len(rdata)) + rdata)
    flags = 0x8183 if nxdomain else 0x8180
    if nxdomain:  # SOA in the authority section
        soa = dns_name("ns1.example.com") + dns_name("hostmaster.example.com") + \
            struct.pack("!IIIII", 2023111401, 7200, 3600, 1209600, 300)
        auth = [struct.pack("!HHHIH", 0xC00C, 6, 1, 300, len(soa)) + soa]
    else:
        auth = []
    return struct.pack("!HHHHHH", txid, flags, 1, len(answers), len(auth), 1) + question + \
        b"".join(answers) + b"".join(auth) + b"\0\0\x29\x04\xd0\0\0\0\0\0\0"


def tls_client_hello(rng: random.Random, host: str) -> bytes:
    sni = host.encode()
    ext_sni = struct.pack("!HHHBH", 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
    ext_alpn = struct.pack("!HHH", 16, 14, 12) + b"\x02h2\x08http/1.1"
    ext_groups = struct.pack("!HHH", 10, 8, 6) + b"\x00\x1d\x00\x17\x00\x18"
    ext_versions = struct.pack("!HHB", 43, 5, 4) + b"\x03\x04\x03\x03"
    ext_keyshare = struct.pack("!HHHHH", 51, 38, 36, 0x1D, 32) + rng.randbytes(32)
    exts = ext_sni + ext_alpn + ext_groups + ext_versions + ext_keyshare
    # pad to the usual 512-byte ClientHello body (RFC 7685 padding extension)
    body_wo_pad = 2 + 32 + 1 + 32 + 2 + 32 + 2 + 2 + len(exts)
    pad_len = max(0, 508 - body_wo_pad - 4)
    exts += struct.pack("!HH", 21, pad_len) + b"\0" * pad_len
    suites = b"".join(struct.pack("!H", s) for s in (
        0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,
        0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035, 0x00FF))
    body = b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32) + \
        struct.pack("!H", len(suites)) + suites + b"\x01\x00" + struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_records(rng: random.Random, content_type: int, total: int) -> bytes:
    """Opaque TLS records (application data / handshake) totalling ``total`` bytes."""
    out, left = [], total
    while left > 5:
        n = min(left - 5, 16384 + 256)
        out.append(struct.pack("!BHH", content_type, 0x0303, n) + rng.randbytes(n))
        left -= n + 5
    return b"".join(out)


# --------------------------------------------------------------------------
# the sample capture
# --------------------------------------------------------------------------

GW_MAC = mac("02:00:5e:10:00:01")           # the router every client talks through
GW_V4 = ip("10.1.0.1")
GW_V6 = ip("fe80::5eff:fe10:1")
BCAST = b"\xff" * 6

WEB_V4 = [ip("203.0.113.10"), ip("203.0.113.11"), ip("203.0.113.12"), ip("198.51.100.80")]
WEB_V6 = [ip("2001:db8:100::10"), ip("2001:db8:100::11")]
DNS_V4 = [ip("198.51.100.53"), ip("198.51.100.54")]
DNS_V6 = [ip("2001:db8:53::53")]
NTP_V4 = [ip("198.51.100.123")]
SSH_V4 = [ip("203.0.113.22")]
SMTP_V4 = [ip("203.0.113.25")]
ROUTERS_V4 = [ip("10.1.0.1"), ip("198.51.100.1"), ip("192.0.2.1"), ip("192.0.2.33"),
              ip("198.18.0.1"), ip("198.18.7.1"), ip("198.19.0.1")]


class Host(NamedTuple):
    mac: bytes
    ip: bytes
    vlan: int | None


class Capture:
    """Collects frames of many conversations; orders them at the end."""

    def __init__(self) -> None:
        self.events: list[tuple[int, int, bytes]] = []

    def add(self, t_us: int, frame: bytes) -> None:
        self.events.append((t_us, len(self.events), frame))

    def records(self) -> list[Record]:
        self.events.sort()
        out, last = [], -1
        for t, _, frame in self.events:
            t = max(t, last + 1)          # strictly increasing stamps
            last = t
            out.append(Record(EPOCH_US + t, frame))
        return out


class Conv:
    """One conversation between a LAN client and a remote server, captured
    on the client's LAN: client frames go to the gateway's MAC, server frames
    come from it."""

    def __init__(self, g: "SampleGen", client: Host, server: bytes, server_ttl: int,
                 client_ttl: int | None = None):
        self.g, self.cap, self.rng = g, g.cap, g.rng
        self.client, self.server = client, server
        self.v6 = len(server) == 16
        self.ttl = (client_ttl or (64 if self.v6 else g.rng.choice((64, 64, 64, 128))),
                    server_ttl)
        self.ident = [g.rng.randrange(65536), g.rng.randrange(65536)]
        self.flow_label = (g.rng.randrange(1, 1 << 20), g.rng.randrange(1 << 20))

    def emit(self, t: int, c2s: bool, proto: int, l4: bytes, df: bool = True) -> None:
        side = 0 if c2s else 1
        src, dst = (self.client.ip, self.server) if c2s else (self.server, self.client.ip)
        if self.v6:
            pkt = ipv6_packet(src, dst, proto, l4, hop_limit=self.ttl[side],
                              flow_label=self.flow_label[side])
            etype = ETH_P_IPV6
        else:
            self.ident[side] = (self.ident[side] + 1) & 0xFFFF
            pkt = ipv4_packet(src, dst, proto, l4, ttl=self.ttl[side], ident=self.ident[side],
                              df=df)
            etype = ETH_P_IP
        smac, dmac = (self.client.mac, GW_MAC) if c2s else (GW_MAC, self.client.mac)
        vlans = ((ETH_P_8021Q, self.client.vlan),) if self.client.vlan is not None else ()
        self.cap.add(t, ether(dmac, smac, etype, pkt, vlans))

    def src_dst(self, c2s: bool) -> tuple[bytes, bytes]:
        return (self.client.ip, self.server) if c2s else (self.server, self.client.ip)


class TcpConv(Conv):
    def __init__(self, g, client, server, server_ttl, sport, dport, linux_like=None):
        super().__init__(g, client, server, server_ttl)
        r = self.rng
        self.ports = (sport, dport)
        self.seq = [r.getrandbits(32), r.getrandbits(32)]
        self.mss = 1440 if self.v6 else 1460
        self.use_ts = r.random() < 0.7 if linux_like is None else linux_like
        self.tsval = [r.getrandbits(32), r.getrandbits(32)]
        self.tsecr = [0, 0]
        self.win = [r.choice((64240, 65535, 29200)), r.choice((65160, 28960, 65535))]
        self.wscale = [r.choice((7, 8, 9)), r.choice((7, 9, 10))]
        self.seg_payload = self.mss - (12 if self.use_ts else 0)

    def send(self, t: int, c2s: bool, flags: int, payload: bytes = b"") -> None:
        side, other = (0, 1) if c2s else (1, 0)
        tsval = (self.tsval[side] + t // 1000) & 0xFFFFFFFF    # a 1 kHz timestamp clock
        opts = b""
        if flags & TCP_SYN:
            opts = struct.pack("!BBH", 2, 4, self.mss) + b"\x04\x02"  # MSS, SACK-permitted
            if self.use_ts:
                opts += struct.pack("!BBII", 8, 10, tsval, self.tsecr[side])
            else:
                opts += b"\x01\x01"
            opts += b"\x01" + struct.pack("!BBB", 3, 3, self.wscale[side])
            window = self.win[side]
        else:
            if self.use_ts:
                opts = b"\x01\x01" + struct.pack("!BBII", 8, 10, tsval, self.tsecr[side])
            window = min(65535, (self.win[side] * 8) >> self.wscale[side]) or 1
        if self.use_ts:
            self.tsecr[other] = tsval
        ack = self.seq[other] if flags & TCP_ACK else 0
        src, dst = self.src_dst(c2s)
        sport, dport = self.ports if c2s else self.ports[::-1]
        seg = tcp_segment(src, dst, sport, dport, self.seq[side], ack, flags, window,
                          payload, opts)
        self.seq[side] += len(payload) + (1 if flags & (TCP_SYN | TCP_FIN) else 0)
        self.emit(t, c2s, IPPROTO_TCP, seg)

    def handshake(self, t: int, rtt: int) -> int:
        self.send(t, True, TCP_SYN)
        t += rtt
        self.send(t, False, TCP_SYN | TCP_ACK)
        t += self.g.small_gap()
        self.send(t, True, TCP_ACK)
        return t

    def transfer(self, t: int, c2s: bool, data: bytes, rtt: int, ack_every: int = 2) -> int:
        """Send ``data`` in MSS-sized segments, the receiver ACKing every
        ``ack_every`` segments; returns the time of the last frame."""
        step = self.seg_payload
        segs = [data[i:i + step] for i in range(0, len(data), step)] or [b""]
        window = 10                     # initial congestion window, in segments
        i = 0
        while i < len(segs):
            burst = segs[i:i + window]
            for j, seg in enumerate(burst):
                last = i + j == len(segs) - 1
                self.send(t, c2s, TCP_ACK | (TCP_PSH if last else 0), seg)
                if (j + 1) % ack_every == 0 or last:
                    self.send(t + self.g.small_gap(), not c2s, TCP_ACK)
                t += self.g.rng.randrange(12, 120)
            i += len(burst)
            window *= 2
            if i < len(segs):
                t += rtt
        return t + self.g.small_gap()

    def close(self, t: int, rtt: int, how: str) -> int:
        if how == "client_fin":
            self.send(t, True, TCP_FIN | TCP_ACK)
            t += rtt
            self.send(t, False, TCP_FIN | TCP_ACK)
            t += self.g.small_gap()
            self.send(t, True, TCP_ACK)
        elif how == "server_fin":
            self.send(t, False, TCP_FIN | TCP_ACK)
            t += self.g.small_gap() * 4
            self.send(t, True, TCP_FIN | TCP_ACK)
            t += rtt
            self.send(t, False, TCP_ACK)
        elif how == "client_rst":
            self.send(t, True, TCP_RST | TCP_ACK)
        elif how == "server_rst":
            self.send(t, False, TCP_RST | TCP_ACK)
        return t


class SampleGen:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.cap = Capture()
        r = self.rng
        self.clients_v4 = [Host(mac(f"02:00:0a:01:{i >> 8:02x}:{i & 0xff:02x}"),
                                bytes([10, 1, 1 + (i >> 8), i & 0xFF]), None)
                           for i in range(2, 400)]
        self.clients_v6 = [Host(h.mac, bytes.fromhex("20010db8000a0001") +
                                bytes.fromhex("0000000000") + h.ip[1:], None)
                           for h in self.clients_v4[:60]]
        self.clients_vlan = [Host(mac(f"02:00:0a:64:00:{i:02x}"), bytes([10, 100, 0, i]), 100 + i % 2)
                             for i in range(2, 6)]
        self.server_ttl: dict[bytes, int] = {}
        r.shuffle(self.clients_v4)

    # -- helpers -----------------------------------------------------------
    def small_gap(self) -> int:
        return self.rng.randrange(5, 80)

    def rtt(self) -> int:
        r = self.rng
        return r.choice((r.randrange(800, 3000), r.randrange(8000, 30000),
                         r.randrange(20000, 60000), r.randrange(60000, 180000)))

    def start(self) -> int:
        return self.rng.randrange(SAMPLE_DURATION_US)

    def ttl_of(self, server: bytes) -> int:
        if server not in self.server_ttl:
            base = self.rng.choice((64, 64, 128, 255))
            self.server_ttl[server] = base - self.rng.randrange(4, 20)
        return self.server_ttl[server]

    def client(self, v6: bool = False) -> Host:
        r = self.rng
        if v6:
            return r.choice(self.clients_v6)
        x = r.random()          # skewed: a few clients are much busier than most
        return self.clients_v4[min(int(x * x * len(self.clients_v4)), len(self.clients_v4) - 1)]

    def peer_v4(self) -> bytes:
        r = self.rng
        return r.choice((bytes([198, 18 + r.randrange(2), r.randrange(256), r.randrange(1, 255)]),
                         bytes([192, 0, 2, r.randrange(1, 255)]),
                         bytes([203, 0, 113, r.randrange(64, 255)])))

    def eph_port(self) -> int:
        return self.rng.randrange(32768, 61000)

    def resp_size(self) -> int:
        r = self.rng
        k = r.random()
        if k < 0.58:
            return r.randrange(200, 1400)
        if k < 0.88:
            return r.randrange(1400, 4300)
        if k < 0.98:
            return r.randrange(4300, 8000)
        return r.randrange(8000, 12000)

    def close_how(self) -> str | None:
        return self.rng.choices(("client_fin", "server_fin", "client_rst", "server_rst", None),
                                (55, 25, 8, 4, 8))[0]

    # -- TCP ---------------------------------------------------------------
    def web_flow(self, v6: bool, tls: bool, client: Host | None = None) -> None:
        r = self.rng
        client = client or self.client(v6)
        server = r.choice(WEB_V6 if v6 else WEB_V4)
        c = TcpConv(self, client, server, self.ttl_of(server), self.eph_port(), 443 if tls else 80)
        rtt, t = self.rtt(), self.start()
        host = r.choice(DOMAINS)
        mid_flow = r.random() < 0.08        # the capture began after the handshake
        if not mid_flow:
            t = c.handshake(t, rtt)
            if tls:
                t = c.transfer(t + self.small_gap(), True, tls_client_hello(r, host), rtt)
                t += rtt
                t = c.transfer(t, False, tls_records(r, 22, r.randrange(1200, 2800)), rtt)
                t = c.transfer(t + self.small_gap(), True,
                               b"\x14\x03\x03\x00\x01\x01" + tls_records(r, 23, r.randrange(60, 120)),
                               rtt)
        for _ in range(r.choice((1, 1, 1, 1, 2, 3))):
            t += self.small_gap() * 10
            size = self.resp_size()
            if tls:
                req = tls_records(r, 23, r.randrange(80, 700))
                resp = tls_records(r, 23, size)
            else:
                req = (f"GET {r.choice(HTTP_PATHS)} HTTP/1.1\r\nHost: {host}\r\n"
                       f"User-Agent: {r.choice(USER_AGENTS)}\r\nAccept: */*\r\n"
                       f"Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n").encode()
                head = (f"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: "
                        f"{r.choice(('text/html', 'image/png', 'application/json', 'text/css'))}"
                        f"\r\nContent-Length: {size}\r\nConnection: keep-alive\r\n\r\n").encode()
                resp = head + r.randbytes(max(0, size - len(head)))
            t = c.transfer(t, True, req, rtt)
            t += rtt + r.randrange(100, 20000)
            t = c.transfer(t, False, resp, rtt)
        how = self.close_how()
        if how:
            c.close(t + r.randrange(100, 500000), rtt, how)

    def rejected_syn(self) -> None:
        r = self.rng
        v6 = r.random() < 0.1
        client = self.client(v6)
        server = r.choice(WEB_V6) if v6 else r.choice(WEB_V4 + [self.peer_v4()])
        dport = r.choice((23, 445, 3389, 8080, 8443, 5900, 3306, 1433))
        c = TcpConv(self, client, server, self.ttl_of(server), self.eph_port(), dport)
        t, rtt = self.start(), self.rtt()
        c.send(t, True, TCP_SYN)
        if r.random() < 0.6:
            c.send(t + rtt, False, TCP_RST | TCP_ACK)
        else:                                   # filtered: SYN retransmissions
            c.seq[0] -= 1
            c.send(t + 1_000_000, True, TCP_SYN)
            c.seq[0] -= 1
            c.send(t + 3_000_000, True, TCP_SYN)

    def ssh_flow(self) -> None:
        r = self.rng
        server = SSH_V4[0]
        c = TcpConv(self, self.client(), server, self.ttl_of(server), self.eph_port(), 22, True)
        t, rtt = self.start(), self.rtt() // 4 + 500
        t = c.handshake(t, rtt)
        t = c.transfer(t + 100, False, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", rtt)
        t = c.transfer(t + 200, True, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u1\r\n", rtt)
        t = c.transfer(t + 200, True, r.randbytes(1512), rtt)        # KEXINIT
        t = c.transfer(t + rtt, False, r.randbytes(1080), rtt)
        t = c.transfer(t + 200, True, r.randbytes(48), rtt)          # ECDH init
        t = c.transfer(t + rtt, False, r.randbytes(r.randrange(520, 1100)), rtt)
        t = c.transfer(t + 200, True, r.randbytes(16), rtt)          # NEWKEYS
        for _ in range(r.randrange(5, 20)):                          # interactive keystrokes
            t += r.randrange(80_000, 400_000)
            c.send(t, True, TCP_PSH | TCP_ACK, r.randbytes(36))
            t += rtt
            c.send(t, False, TCP_PSH | TCP_ACK, r.randbytes(r.choice((36, 36, 52, 100, 180))))
            t += self.small_gap() * 20
            c.send(t, True, TCP_ACK)
        c.close(t + 1000, rtt, "client_fin")

    def smtp_flow(self) -> None:
        r = self.rng
        server = SMTP_V4[0]
        c = TcpConv(self, self.client(), server, self.ttl_of(server), self.eph_port(), 25)
        t, rtt = self.start(), self.rtt()
        t = c.handshake(t, rtt)
        dialog = [
            (False, b"220 mail.example.org ESMTP Postfix\r\n"),
            (True, b"EHLO client.example.com\r\n"),
            (False, b"250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                    b"250-8BITMIME\r\n250 SMTPUTF8\r\n"),
            (True, b"MAIL FROM:<alice@example.com>\r\n"),
            (False, b"250 2.1.0 Ok\r\n"),
            (True, b"RCPT TO:<bob@example.org>\r\n"),
            (False, b"250 2.1.5 Ok\r\n"),
            (True, b"DATA\r\n"),
            (False, b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        ]
        for c2s, line in dialog:
            t = c.transfer(t + (rtt if not c2s else self.small_gap() * 5), c2s, line, rtt)
        body = b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: report\r\n\r\n" + \
            b"".join(b"line %05d of the report\r\n" % i for i in range(r.randrange(20, 200)))
        t = c.transfer(t, True, body + b".\r\n", rtt)
        t = c.transfer(t + rtt, False, b"250 2.0.0 Ok: queued as 4SX1Q2\r\n", rtt)
        t = c.transfer(t + 100, True, b"QUIT\r\n", rtt)
        t = c.transfer(t + rtt, False, b"221 2.0.0 Bye\r\n", rtt)
        c.close(t + 100, rtt, "server_fin")

    # -- UDP ---------------------------------------------------------------
    def dns_flow(self, v6: bool = False, client: Host | None = None) -> None:
        r = self.rng
        client = client or self.client(v6)
        server = r.choice(DNS_V6 if v6 else DNS_V4)
        c = Conv(self, client, server, self.ttl_of(server))
        sport, t, rtt = self.eph_port(), self.start(), r.randrange(300, 30000)
        nx = r.random() < 0.08
        name = ("%08x.example.invalid" % r.getrandbits(32)) if nx else r.choice(DOMAINS)
        qtype = r.choice((1, 1, 1, 28, 28)) if r.random() < 0.98 else 15
        txid = r.randrange(65536)
        src, dst = c.src_dst(True)
        q = udp_datagram(src, dst, sport, 53, dns_query(txid, name, qtype))
        c.emit(t, True, IPPROTO_UDP, q, df=False)
        if r.random() < 0.04:                 # lost: the resolver retries after 1 s
            t += 1_000_000
            c.emit(t, True, IPPROTO_UDP, q, df=False)
        if r.random() < 0.97:
            resp = dns_response(r, txid, name, qtype, nx)
            c.emit(t + rtt, False, IPPROTO_UDP, udp_datagram(dst, src, 53, sport, resp), df=False)

    def ntp_flow(self) -> None:
        r = self.rng
        server = NTP_V4[0]
        c = Conv(self, self.client(), server, self.ttl_of(server))
        sport = 123 if r.random() < 0.5 else self.eph_port()
        t, rtt = self.start(), r.randrange(1000, 40000)
        src, dst = c.src_dst(True)
        ts = (3_909_000_000 + t // 1_000_000) << 32 | r.getrandbits(32)
        req = struct.pack("!BBbb", 0x23, 0, 6, -20) + b"\0" * 36 + struct.pack("!Q", ts)
        c.emit(t, True, IPPROTO_UDP, udp_datagram(src, dst, sport, 123, req), df=False)
        resp = struct.pack("!BBbbII", 0x24, 2, 6, -23, 0x60, 0x230) + b"\xc0\x00\x02\x01" + \
            struct.pack("!QQQQ", ts - (64 << 32), ts, ts + 10_000, ts + 20_000)
        c.emit(t + rtt, False, IPPROTO_UDP, udp_datagram(dst, src, 123, sport, resp), df=False)

    def udp_misc_flow(self) -> None:
        """Games, VoIP, P2P: random high ports, various sizes; some answered by
        an ICMP port unreachable."""
        r = self.rng
        v6 = r.random() < 0.1
        client = self.client(v6)
        server = ip("2001:db8:%x::%x" % (r.randrange(1, 0xffff), r.randrange(1, 0xffff))) \
            if v6 else self.peer_v4()
        c = Conv(self, client, server, self.ttl_of(server))
        sport, dport = self.eph_port(), r.randrange(1024, 65536)
        t, rtt = self.start(), self.rtt()
        src, dst = c.src_dst(True)
        kind = r.choices(("rtp", "game", "oneway", "unreach"), (15, 40, 30, 15))[0]
        if kind == "rtp":
            for i in range(r.randrange(3, 8)):
                hdr = struct.pack("!BBHII", 0x80, 0, 1000 + i, 160 * i, 0x1234)
                c.emit(t, True, IPPROTO_UDP, udp_datagram(src, dst, sport, dport, hdr + r.randbytes(160)), df=False)
                c.emit(t + rtt // 2 + 300, False, IPPROTO_UDP,
                       udp_datagram(dst, src, dport, sport, hdr + r.randbytes(160)), df=False)
                t += 20_000
        elif kind == "game":
            for _ in range(r.randrange(1, 6)):
                c.emit(t, True, IPPROTO_UDP,
                       udp_datagram(src, dst, sport, dport, r.randbytes(r.randrange(20, 160))), df=False)
                if r.random() < 0.8:
                    c.emit(t + rtt, False, IPPROTO_UDP,
                           udp_datagram(dst, src, dport, sport, r.randbytes(r.randrange(40, 400))), df=False)
                t += r.randrange(10_000, 200_000)
        elif kind == "oneway":
            for _ in range(r.randrange(1, 4)):
                c.emit(t, True, IPPROTO_UDP,
                       udp_datagram(src, dst, sport, dport,
                                    r.randbytes(r.choice((r.randrange(8, 300), r.randrange(8, 300),
                                                          r.randrange(8, 300), 1452 if v6 else 1472)))), df=False)
                t += r.randrange(1000, 500_000)
        else:
            dgram = udp_datagram(src, dst, sport, dport, r.randbytes(r.randrange(8, 300)))
            c.emit(t, True, IPPROTO_UDP, dgram, df=False)
            if v6:
                inner = ipv6_packet(src, dst, IPPROTO_UDP, dgram, hop_limit=c.ttl[0] - 7)
                msg = icmp6_message(dst, src, 1, 4, b"\0\0\0\0" + inner[:1232 - 48])
                c.emit(t + rtt, False, IPPROTO_ICMPV6, msg)
            else:
                inner = ipv4_packet(src, dst, IPPROTO_UDP, dgram, ttl=c.ttl[0] - 7,
                                    ident=c.ident[0], df=False)
                msg = icmp4_message(3, 3, b"\0\0\0\0" + inner[:548])
                c.emit(t + rtt, False, IPPROTO_ICMP, msg, df=False)

    def quic_flow(self, v6: bool) -> None:
        r = self.rng
        server = r.choice(WEB_V6 if v6 else WEB_V4)
        c = Conv(self, self.client(v6), server, self.ttl_of(server))
        sport, t, rtt = self.eph_port(), self.start(), self.rtt()
        src, dst = c.src_dst(True)
        dcid, scid = r.randbytes(8), r.randbytes(8)
        mtu_payload = 1232 if v6 else 1252

        def long_hdr(ptype: int, d: bytes, s: bytes, size: int) -> bytes:
            h = bytes([0xC0 | (ptype << 4) | 0x01]) + b"\0\0\0\x01" + bytes([len(d)]) + d + \
                bytes([len(s)]) + s + (b"\0" if ptype == 0 else b"")
            return h + struct.pack("!H", 0x4000 | (size - len(h) - 2)) + r.randbytes(size - len(h) - 2)

        def short_hdr(d: bytes, size: int) -> bytes:
            return bytes([0x40 | r.randrange(4)]) + d + r.randbytes(size - 1 - len(d))

        def up(pl: bytes) -> bytes:
            return udp_datagram(src, dst, sport, 443, pl)

        def down(pl: bytes) -> bytes:
            return udp_datagram(dst, src, 443, sport, pl)

        c.emit(t, True, IPPROTO_UDP, up(long_hdr(0, dcid, scid, mtu_payload)), df=True)
        t += rtt
        c.emit(t, False, IPPROTO_UDP, down(long_hdr(0, scid, dcid, mtu_payload)), df=True)
        c.emit(t + 30, False, IPPROTO_UDP, down(long_hdr(2, scid, dcid, r.randrange(600, mtu_payload))), df=True)
        t += self.small_gap()
        c.emit(t, True, IPPROTO_UDP, up(long_hdr(2, dcid, scid, r.randrange(80, 120))), df=True)
        c.emit(t + 40, True, IPPROTO_UDP, up(short_hdr(dcid, r.randrange(60, 400))), df=True)
        t += rtt
        n = r.choice((1, 1, 2, 2, 3, 4, 6))
        for i in range(n):
            last = i == n - 1
            c.emit(t, False, IPPROTO_UDP,
                   down(short_hdr(dcid, r.randrange(100, mtu_payload) if last else mtu_payload)), df=True)
            if i % 2 == 1 or last:
                c.emit(t + self.small_gap(), True, IPPROTO_UDP, up(short_hdr(dcid, r.randrange(30, 50))), df=True)
            t += r.randrange(15, 150)

    def traceroute(self) -> None:
        r = self.rng
        client = self.client()
        target = self.peer_v4()
        sport = self.eph_port()
        t = self.start()
        hops = ROUTERS_V4[:r.randrange(3, len(ROUTERS_V4))]
        ident = r.randrange(65536)
        for hop, router in enumerate(hops + [target], start=1):
            for probe in range(3):
                dport = 33434 + (hop - 1) * 3 + probe
                dgram = udp_datagram(client.ip, target, sport, dport, b"@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_")
                ident = (ident + 1) & 0xFFFF
                inner = ipv4_packet(client.ip, target, IPPROTO_UDP, dgram, ttl=hop, ident=ident, df=False)
                self.cap.add(t, ether(GW_MAC, client.mac, ETH_P_IP, inner))
                rtt = 500 * hop + r.randrange(100, 3000)
                q = inner[:8] + bytes([1]) + inner[9:]          # as seen by the router: TTL 1
                q = _put16(q, 10, 0)
                q = _put16(q, 10, checksum(q[:20]))
                if router == target:
                    msg, sender = icmp4_message(3, 3, b"\0\0\0\0" + q[:28]), target
                else:
                    msg, sender = icmp4_message(11, 0, b"\0\0\0\0" + q[:28]), router
                reply = ipv4_packet(sender, client.ip, IPPROTO_ICMP, msg, ttl=255 - hop,
                                    ident=r.randrange(65536), df=False)
                self.cap.add(t + rtt, ether(client.mac, GW_MAC, ETH_P_IP, reply))
                t += rtt + r.randrange(50, 500)

    # -- ICMP, ARP, NDP ------------------------------------------------------
    def ping_flow(self, v6: bool, client: Host | None = None) -> None:
        r = self.rng
        client = client or self.client(v6)
        if v6:
            server = r.choice(WEB_V6 + DNS_V6)
        else:
            server = r.choice(WEB_V4 + DNS_V4 + [self.peer_v4(), self.peer_v4()])
        c = Conv(self, client, server, self.ttl_of(server))
        t, rtt = self.start(), self.rtt()
        ident = r.randrange(65536)
        windows = r.random() < 0.3 and not v6
        src, dst = c.src_dst(True)
        for seq in range(1, r.choice((1, 2, 2, 3, 4)) + 1):
            if windows:
                data = b"abcdefghijklmnopqrstuvwabcdefghi"
            else:
                data = struct.pack("<QQ", EPOCH_US // 1_000_000 + t // 1_000_000, t % 1_000_000) + \
                    bytes(range(0x10, 0x38))
                if r.random() < 0.02:   # a large echo, ping -s 1456 (-s 1436 on IPv6)
                    data += bytes(1380 if v6 else 1400)
            body = struct.pack("!HH", ident, seq) + data
            if v6:
                c.emit(t, True, IPPROTO_ICMPV6, icmp6_message(src, dst, 128, 0, body))
                if r.random() < 0.95:
                    c.emit(t + rtt, False, IPPROTO_ICMPV6, icmp6_message(dst, src, 129, 0, body))
            else:
                c.emit(t, True, IPPROTO_ICMP, icmp4_message(8, 0, body))
                if r.random() < 0.95:
                    c.emit(t + rtt, False, IPPROTO_ICMP, icmp4_message(0, 0, body))
            t += 1_000_000

    def arp_exchange(self) -> None:
        r = self.rng
        client = self.client()
        t = self.start()
        req = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1, client.mac, client.ip,
                          bytes(6), GW_V4)
        self.cap.add(t, ether(BCAST, client.mac, ETH_P_ARP, req))
        if r.random() < 0.85:
            rep = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 2, GW_MAC, GW_V4,
                              client.mac, client.ip)
            self.cap.add(t + r.randrange(50, 400), ether(client.mac, GW_MAC, ETH_P_ARP, rep))

    def gratuitous_arp(self) -> None:
        client = self.client()
        g = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1, client.mac, client.ip,
                        bytes(6), client.ip)
        self.cap.add(self.start(), ether(BCAST, client.mac, ETH_P_ARP, g))

    def ndp_exchange(self) -> None:
        r = self.rng
        client = self.client(True)
        t = self.start()
        target = GW_V6
        sol = bytes.fromhex("ff0200000000000000000001ff") + target[-3:]
        body = b"\0\0\0\0" + target + b"\x01\x01" + client.mac
        ns = icmp6_message(client.ip, sol, 135, 0, body)
        pkt = ipv6_packet(client.ip, sol, IPPROTO_ICMPV6, ns, hop_limit=255)
        self.cap.add(t, ether(b"\x33\x33" + sol[-4:], client.mac, ETH_P_IPV6, pkt))
        na_body = struct.pack("!I", 0xE0000000) + target + b"\x02\x01" + GW_MAC
        na = icmp6_message(target, client.ip, 136, 0, na_body)
        pkt = ipv6_packet(target, client.ip, IPPROTO_ICMPV6, na, hop_limit=255)
        self.cap.add(t + r.randrange(100, 900), ether(client.mac, GW_MAC, ETH_P_IPV6, pkt))

    # -- the mix -------------------------------------------------------------
    def build(self) -> list[Record]:
        r = self.rng
        plan = (
            [("dns4", None)] * 1640 + [("dns6", None)] * 200 +
            [("http4", None)] * 85 + [("https4", None)] * 110 +
            [("http6", None)] * 10 + [("https6", None)] * 24 +
            [("quic4", None)] * 30 + [("quic6", None)] * 6 +
            [("syn", None)] * 200 + [("ssh", None)] * 8 + [("smtp", None)] * 8 +
            [("ntp", None)] * 80 + [("udp", None)] * 300 +
            [("ping4", None)] * 240 + [("ping6", None)] * 50 +
            [("trace", None)] * 2 + [("arp", None)] * 14 + [("garp", None)] * 3 +
            [("ndp", None)] * 8
        )
        # a handful of conversations from hosts on tagged VLANs 100 and 101
        for i, kind in enumerate(("dns4", "dns4", "dns4", "dns4", "dns4", "ping4", "ping4",
                                  "http4", "https4", "dns4")):
            plan.append((kind, self.clients_vlan[i % len(self.clients_vlan)]))
        r.shuffle(plan)
        for kind, host in plan:
            if kind == "dns4":
                self.dns_flow(False, host)
            elif kind == "dns6":
                self.dns_flow(True)
            elif kind in ("http4", "https4", "http6", "https6"):
                self.web_flow(kind.endswith("6"), kind.startswith("https"), host)
            elif kind == "quic4":
                self.quic_flow(False)
            elif kind == "quic6":
                self.quic_flow(True)
            elif kind == "syn":
                self.rejected_syn()
            elif kind == "ssh":
                self.ssh_flow()
            elif kind == "smtp":
                self.smtp_flow()
            elif kind == "ntp":
                self.ntp_flow()
            elif kind == "udp":
                self.udp_misc_flow()
            elif kind == "ping4":
                self.ping_flow(False, host)
            elif kind == "ping6":
                self.ping_flow(True)
            elif kind == "trace":
                self.traceroute()
            elif kind == "arp":
                self.arp_exchange()
            elif kind == "garp":
                self.gratuitous_arp()
            elif kind == "ndp":
                self.ndp_exchange()
        return self.cap.records()


def build_sample(seed: int = DEFAULT_SEED) -> list[Record]:
    return SampleGen(seed).build()


# --------------------------------------------------------------------------
# the malformed capture
# --------------------------------------------------------------------------

M_SRC_MAC = mac("02:00:0a:01:00:02")
M_DST_MAC = GW_MAC
M_SRC4, M_DST4 = ip("10.1.0.2"), ip("203.0.113.10")
M_SRC6, M_DST6 = ip("2001:db8:a:1::2"), ip("2001:db8:100::10")


def build_malformed(seed: int = DEFAULT_SEED) -> list[tuple[str, Record]]:
    """A few dozen frames a robust parser must survive; each with a label.
    Checksums are valid wherever the checksum is not the point, so a frame
    is broken in one way only."""
    r = random.Random(seed ^ 0x5EED)
    out: list[tuple[str, bytes, int | None]] = []

    def add(label: str, frame: bytes, orig_len: int | None = None) -> None:
        out.append((label, frame, orig_len))

    def eth(etype: int, payload: bytes, vlans=()) -> bytes:
        return ether(M_DST_MAC, M_SRC_MAC, etype, payload, vlans, pad=False)

    def udp4(payload: bytes = b"hello, world", sport=40000, dport=53) -> bytes:
        return udp_datagram(M_SRC4, M_DST4, sport, dport, payload)

    def tcp4(payload: bytes = b"", flags=TCP_ACK | TCP_PSH, **kw) -> bytes:
        return tcp_segment(M_SRC4, M_DST4, 40001, 80, 1000, 2000, flags, 502, payload, **kw)

    good_udp = ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, udp4(), ident=1, df=False)
    good_tcp = ipv4_packet(M_SRC4, M_DST4, IPPROTO_TCP, tcp4(b"GET / HTTP/1.1\r\n\r\n"), ident=2)

    # -- link layer runts
    add("runt: 1 byte", b"\xff")
    add("runt: 6 bytes (destination MAC only)", BCAST)
    add("runt: 12 bytes (both MACs, no EtherType)", M_DST_MAC + M_SRC_MAC)
    add("runt: 13 bytes (half an EtherType)", M_DST_MAC + M_SRC_MAC + b"\x08")
    add("Ethernet header only, EtherType IPv4, no payload", eth(ETH_P_IP, b""))

    # -- IPv4 header
    add("IPv4 truncated after 10 bytes of header", eth(ETH_P_IP, good_udp[:10]))
    add("IPv4 truncated after 19 bytes of header", eth(ETH_P_IP, good_udp[:19]))
    add("IPv4 IHL 0", eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, udp4(), ihl=0)))
    add("IPv4 IHL 4 (< 5)", eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, udp4(), ihl=4)))
    add("IPv4 IHL 15 (60 bytes) but only 40 bytes of packet",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, udp4(b"abcdefghijkl"), ihl=15,
                                  total_length=40)))
    add("IPv4 version 6 under EtherType IPv4",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, udp4(), version=6)))
    add("IPv4 total length 1500, datagram is 40 bytes",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, udp4(), total_length=1500)))
    add("IPv4 total length 12 (< header length)",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, udp4(), total_length=12)))
    add("IPv4 total length 0",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, udp4(), total_length=0)))
    add("IPv4 total length 24: UDP header cut by the IP length, bytes after it in the frame",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, udp4(), total_length=24)))
    add("IPv4 bad header checksum", eth(ETH_P_IP, _put16(good_udp, 10, 0xBEEF)))
    add("IPv4 TTL 0", eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, udp4(), ttl=0)))
    igmp = icmp4_message(0x22, 0, bytes.fromhex("0000000104000000e00000fc"))  # IGMPv3 report
    add("IPv4 with options (IHL 6, router alert), valid IGMPv3 report",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, ip("224.0.0.22"), 2, igmp,
                                  ttl=1, options=b"\x94\x04\x00\x00", tos=0xC0)))
    add("IPv4 unknown protocol 253",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, 253, r.randbytes(32))))
    add("IPv4 source is the broadcast address",
        eth(ETH_P_IP, ipv4_packet(ip("255.255.255.255"), M_DST4, IPPROTO_UDP,
                                  udp_datagram(ip("255.255.255.255"), M_DST4, 68, 67, b"x" * 8))))

    # -- TCP
    add("TCP data offset 15 (60 bytes) past the end of a 20-byte header",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_TCP, tcp4(doff=15))))
    add("TCP data offset 2 (< 5)",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_TCP, tcp4(b"xyz", doff=2))))
    add("TCP header truncated to 12 bytes",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_TCP, tcp4()[:12])))
    add("TCP bad checksum",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_TCP,
                                  _put16(tcp4(b"payload"), 16, 0x1234))))
    add("TCP SYN+FIN+RST+PSH+URG (christmas tree)",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_TCP, tcp4(flags=0x3F, urg=1))))
    add("TCP no flags at all (null scan)",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_TCP, tcp4(flags=0))))
    add("TCP option with length 0 (would loop a naive option walker)",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_TCP,
                                  tcp4(options=b"\x02\x00\x05\xb4"))))
    add("TCP option length runs past the header",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_TCP,
                                  tcp4(b"data", options=b"\x01\x01\x08\x28"))))

    # -- UDP, ICMP
    add("UDP length 1000 in a 20-byte datagram",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP,
                                  udp_datagram(M_SRC4, M_DST4, 40000, 53, b"twelve bytes", length=1000))))
    add("UDP length 4 (< 8)",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP,
                                  udp_datagram(M_SRC4, M_DST4, 40000, 53, b"twelve bytes", length=4))))
    add("UDP header truncated to 4 bytes",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, udp4()[:4])))
    add("UDP bad checksum", eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP,
                                                      _put16(udp4(), 6, 0xDEAD))))
    add("ICMP truncated to 2 bytes", eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_ICMP, b"\x08\x00")))
    add("ICMP port unreachable quoting a truncated IPv4 header",
        eth(ETH_P_IP, ipv4_packet(M_DST4, M_SRC4, IPPROTO_ICMP,
                                  icmp4_message(3, 3, b"\0\0\0\0" + good_udp[:12]))))

    # -- IPv4 fragments (one 3000-byte UDP datagram, plus a tiny-fragment attack)
    big = udp_datagram(M_SRC4, M_DST4, 40002, 5004, r.randbytes(2992))
    add("IPv4 first fragment (MF, offset 0) of UDP, with ports",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, big[:1480], ident=0x4242,
                                  df=False, mf=True)))
    add("IPv4 middle fragment (MF, offset 1480), no L4 header",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, big[1480:2960], ident=0x4242,
                                  df=False, mf=True, frag_offset=185)))
    add("IPv4 last fragment (offset 2960), no L4 header",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP, big[2960:], ident=0x4242,
                                  df=False, frag_offset=370)))
    seg = tcp4(b"x" * 40)
    add("IPv4 tiny first fragment: 8 bytes of TCP header (ports, no flags)",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_TCP, seg[:8], ident=0x4343,
                                  df=False, mf=True)))
    add("IPv4 fragment at offset 8 overlapping the TCP header",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_TCP, seg[8:], ident=0x4343,
                                  df=False, frag_offset=1)))

    # -- IPv6
    def ext(nh: int, body: bytes) -> bytes:      # generic 8-octet-unit extension header
        total = 2 + len(body)
        body += b"\0" * (-total % 8)
        return bytes([nh, (2 + len(body)) // 8 - 1]) + body

    tcp6 = tcp_segment(M_SRC6, M_DST6, 40003, 443, 7, 9, TCP_ACK | TCP_PSH, 502, b"tls!")
    chain = ext(43, b"\x01\x04\0\0\0\0") + \
        bytes([60, 2, 0, 0, 0, 0, 0, 0]) + bytes(16) + \
        ext(IPPROTO_TCP, b"\x01\x04\0\0\0\0")
    add("IPv6 hop-by-hop -> routing (type 0, 0 segments left) -> destination options -> TCP, valid",
        eth(ETH_P_IPV6, ipv6_packet(M_SRC6, M_DST6, 0, chain + tcp6)))
    udp6 = udp_datagram(M_SRC6, M_DST6, 40004, 53, r.randbytes(1600))
    add("IPv6 first fragment (offset 0, M=1) of UDP, with ports",
        eth(ETH_P_IPV6, ipv6_packet(M_SRC6, M_DST6, 44,
                                    struct.pack("!BBHI", IPPROTO_UDP, 0, 0x0001, 0x77) + udp6[:1232])))
    add("IPv6 non-first fragment (offset 1232, M=0), no L4 header",
        eth(ETH_P_IPV6, ipv6_packet(M_SRC6, M_DST6, 44,
                                    struct.pack("!BBHI", IPPROTO_UDP, 0, 1232, 0x77) + udp6[1232:])))
    add("IPv6 hop-by-hop header whose length runs past the packet",
        eth(ETH_P_IPV6, ipv6_packet(M_SRC6, M_DST6, 0, bytes([IPPROTO_UDP, 30, 1, 4, 0, 0, 0, 0]))))
    longchain = b"".join(ext(60, b"\x01\x04\0\0\0\0") for _ in range(9)) + \
        ext(IPPROTO_UDP, b"\x01\x04\0\0\0\0")
    u = udp_datagram(M_SRC6, M_DST6, 40005, 53, b"deep")
    add("IPv6 ten destination-options headers, then UDP",
        eth(ETH_P_IPV6, ipv6_packet(M_SRC6, M_DST6, 60, longchain + u)))
    add("IPv6 next header 59 (no next header)",
        eth(ETH_P_IPV6, ipv6_packet(M_SRC6, M_DST6, 59, b"")))
    add("IPv6 payload length 4000 in a short frame",
        eth(ETH_P_IPV6, ipv6_packet(M_SRC6, M_DST6, IPPROTO_UDP,
                                    udp_datagram(M_SRC6, M_DST6, 40006, 53, b"short"),
                                    payload_length=4000)))
    add("IPv6 header truncated after 30 bytes",
        eth(ETH_P_IPV6, ipv6_packet(M_SRC6, M_DST6, IPPROTO_UDP, u)[:30]))
    add("IPv6 version 4 under EtherType IPv6",
        eth(ETH_P_IPV6, ipv6_packet(M_SRC6, M_DST6, IPPROTO_UDP, u, version=4)))
    add("IPv6 ESP (next header 50): no ports visible",
        eth(ETH_P_IPV6, ipv6_packet(M_SRC6, M_DST6, 50,
                                    struct.pack("!II", 0x1001, 1) + r.randbytes(64))))

    misplaced = ext(0, b"\x01\x04\0\0\0\0") + ext(IPPROTO_UDP, b"\x01\x04\0\0\0\0")
    u2 = udp_datagram(M_SRC6, M_DST6, 40008, 53, b"order")
    add("IPv6 hop-by-hop header after a destination-options header (must be first)",
        eth(ETH_P_IPV6, ipv6_packet(M_SRC6, M_DST6, 60, misplaced + u2)))
    add("ICMPv6 truncated to 3 bytes",
        eth(ETH_P_IPV6, ipv6_packet(M_SRC6, M_DST6, IPPROTO_ICMPV6, b"\x80\x00\x00")))

    # -- application layer
    loop = struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + b"\xc0\x0c" + \
        struct.pack("!HH", 1, 1) + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes(4)
    add("DNS response whose question name is a compression pointer to itself",
        eth(ETH_P_IP, ipv4_packet(M_DST4, M_SRC4, IPPROTO_UDP,
                                  udp_datagram(M_DST4, M_SRC4, 53, 40009, loop), df=False)))
    bad_label = struct.pack("!HHHHHH", 0x4321, 0x0100, 1, 0, 0, 0) + b"\x3fexample"
    add("DNS query whose label length runs past the datagram",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP,
                                  udp_datagram(M_SRC4, M_DST4, 40010, 53, bad_label), df=False)))

    # -- VLAN
    add("QinQ: 802.1ad S-tag 0x88a8 + 802.1Q C-tag, IPv4 UDP",
        eth(ETH_P_IP, good_udp, vlans=((ETH_P_8021AD, 0x0064), (ETH_P_8021Q, 0x000A))))
    add("double 802.1Q (0x8100 0x8100), IPv4 TCP",
        eth(ETH_P_IP, good_tcp, vlans=((ETH_P_8021Q, 0x00C8), (ETH_P_8021Q, 0x0014))))
    add("802.1Q tag and nothing after it",
        M_DST_MAC + M_SRC_MAC + struct.pack("!HH", ETH_P_8021Q, 0x0064))
    add("802.1p priority tag (VLAN 0, PCP 5), IPv4 UDP",
        eth(ETH_P_IP, good_udp, vlans=((ETH_P_8021Q, 0xA000),)))

    # -- other link-layer protocols
    arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1, M_SRC_MAC, M_SRC4, bytes(6), GW_V4)
    add("ARP truncated to 20 bytes", ether(BCAST, M_SRC_MAC, ETH_P_ARP, arp[:20], pad=False))
    lldp = b"\x02\x07\x04" + M_SRC_MAC + b"\x04\x04\x05eth0\x06\x02\x00\x78\x00\x00"
    add("LLDP (0x88cc)", ether(mac("01:80:c2:00:00:0e"), M_SRC_MAC, 0x88CC, lldp, pad=False))
    bpdu = b"\x42\x42\x03" + bytes(35)
    add("IEEE 802.3 length field + LLC (STP BPDU)",
        mac("01:80:c2:00:00:00") + M_SRC_MAC + struct.pack("!H", len(bpdu)) + bpdu)
    add("MPLS unicast (0x8847), one label, IPv4 UDP inside",
        eth(0x8847, struct.pack("!I", (16004 << 12) | 0x100 | 63) + good_udp))
    add("PPPoE session (0x8864) carrying IPv4 UDP",
        eth(0x8864, struct.pack("!BBHHH", 0x11, 0, 0x0101, len(good_udp) + 2, 0x0021) + good_udp))
    add("EtherType 0x0000", eth(0x0000, r.randbytes(46)))
    add("EtherType 0xffff", eth(0xFFFF, r.randbytes(46)))

    # -- tunnels and odd-but-legal frames
    gre = struct.pack("!HH", 0, ETH_P_IP) + good_udp
    add("GRE (IPv4 protocol 47) carrying IPv4 UDP",
        eth(ETH_P_IP, ipv4_packet(ip("192.0.2.1"), ip("192.0.2.2"), 47, gre)))
    add("IPv4-in-IPv4 (protocol 4)",
        eth(ETH_P_IP, ipv4_packet(ip("192.0.2.1"), ip("192.0.2.2"), 4, good_tcp)))
    add("6in4 (IPv4 protocol 41) carrying IPv6 TCP",
        eth(ETH_P_IP, ipv4_packet(ip("192.0.2.1"), ip("192.0.2.2"), 41,
                                  ipv6_packet(M_SRC6, M_DST6, IPPROTO_TCP, tcp6))))
    full = ipv4_packet(M_SRC4, M_DST4, IPPROTO_TCP, tcp4(r.randbytes(1460)), ident=3)
    add("capture cut at 64 bytes of a 1514-byte frame (caplen < len)",
        eth(ETH_P_IP, full)[:64], orig_len=1514)
    add("1518-byte untagged frame (IPv4 total length 1504, above the 1500 MTU)",
        eth(ETH_P_IP, ipv4_packet(M_SRC4, M_DST4, IPPROTO_UDP,
                                  udp_datagram(M_SRC4, M_DST4, 40007, 9, bytes(1476)))))
    add("valid IPv4 UDP sent to the broadcast MAC, unpadded 42 bytes",
        ether(BCAST, M_SRC_MAC, ETH_P_IP,
              ipv4_packet(M_SRC4, ip("10.1.255.255"), IPPROTO_UDP,
                          udp_datagram(M_SRC4, ip("10.1.255.255"), 137, 137, b"")), pad=False))

    base = EPOCH_US + 3600 * 1_000_000
    return [(label, Record(base + i * 1000, frame, orig))
            for i, (label, frame, orig) in enumerate(out)]


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------

def generate(out_dir: Path | str = HERE, seed: int = DEFAULT_SEED,
             sample: bool = True, malformed: bool = True) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if sample:
        written.append(write_pcap(out_dir / SAMPLE_NAME, build_sample(seed)))
    if malformed:
        written.append(write_pcap(out_dir / MALFORMED_NAME,
                                  [rec for _, rec in build_malformed(seed)]))
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", type=Path, default=HERE,
                    help="where to write the pcap files (default: next to this script)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--sample", action="store_true", help="write only sample.pcap")
    ap.add_argument("--malformed", action="store_true", help="write only malformed.pcap")
    ap.add_argument("--list-malformed", action="store_true",
                    help="print the index and description of each malformed frame")
    args = ap.parse_args(argv)
    if args.list_malformed:
        for i, (label, rec) in enumerate(build_malformed(args.seed)):
            print(f"{i:3d}  {len(rec.frame):5d}  {label}")
        return 0
    both = not (args.sample or args.malformed)
    for p in generate(args.out_dir, args.seed, sample=both or args.sample,
                      malformed=both or args.malformed):
        print(f"wrote {p} ({p.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
