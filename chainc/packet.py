"""Packets and their metadata, in plain Python.

`Meta` is the Python twin of the native `pkt_meta` (backends/dpdk/runtime/
meta.pxd): same field names, same values, same flags. docs/packet-metadata.md
specifies both; this module was written from that page, not from the Cython,
and tests/test_packet_meta.py compares the two on generated and malformed
packets.

`Packet` is what `chainc sim` and the reference NF bodies pass around: the
frame's bytes, its metadata, and the port it arrived on.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, fields

# -- flags (same names and values as the cdef enum in meta.pxd) -------------

META_ETH_OK = 0x00001
META_VLAN_TRUNC = 0x00002
META_VLAN_LIMIT = 0x00004
META_L3_IPV4 = 0x00008
META_L3_IPV6 = 0x00010
META_L3_BAD = 0x00020
META_IP_OPTIONS = 0x00040
META_IPV6_EXT = 0x00080
META_IPV6_EXT_LIMIT = 0x00100
META_DF = 0x00200
META_MF = 0x00400
META_FRAG_FIRST = 0x00800
META_FRAG_NONFIRST = 0x01000
META_L4_OK = 0x02000
META_L4_BAD = 0x04000
META_SPLIT = 0x08000

META_FRAG = META_FRAG_FIRST | META_FRAG_NONFIRST
META_L3_IP = META_L3_IPV4 | META_L3_IPV6

META_MAX_VLAN = 4
META_MAX_IPV6_EXT = 8

# Connection tracking: set by a ConnTrack, zero before one (same values as meta.pxd).
META_CT_NONE = 0
META_CT_NEW = 1
META_CT_ESTABLISHED = 2
META_CT_RELATED = 3
META_CT_INVALID = 4

META_CT_EV_START = 0x01
META_CT_EV_ESTABLISHED = 0x02
META_CT_EV_END = 0x04
META_CT_EV_RETRANS = 0x08
META_CT_EV_STATE = 0x10

#: TCP states as Linux conntrack numbers them (the values of `ct_tcp_state`).
TCP_STATES: dict[str, int] = {
    "NONE": 0, "SYN_SENT": 1, "SYN_RECV": 2, "ESTABLISHED": 3, "FIN_WAIT": 4,
    "CLOSE_WAIT": 5, "LAST_ACK": 6, "TIME_WAIT": 7, "CLOSE": 8, "SYN_SENT2": 9,
}

#: Every single-bit flag by name, in bit order.
FLAGS: dict[str, int] = {
    "META_ETH_OK": META_ETH_OK,
    "META_VLAN_TRUNC": META_VLAN_TRUNC,
    "META_VLAN_LIMIT": META_VLAN_LIMIT,
    "META_L3_IPV4": META_L3_IPV4,
    "META_L3_IPV6": META_L3_IPV6,
    "META_L3_BAD": META_L3_BAD,
    "META_IP_OPTIONS": META_IP_OPTIONS,
    "META_IPV6_EXT": META_IPV6_EXT,
    "META_IPV6_EXT_LIMIT": META_IPV6_EXT_LIMIT,
    "META_DF": META_DF,
    "META_MF": META_MF,
    "META_FRAG_FIRST": META_FRAG_FIRST,
    "META_FRAG_NONFIRST": META_FRAG_NONFIRST,
    "META_L4_OK": META_L4_OK,
    "META_L4_BAD": META_L4_BAD,
    "META_SPLIT": META_SPLIT,
}

ETH_P_IPV4 = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_ARP = 0x0806
VLAN_TPIDS = frozenset({0x8100, 0x88A8, 0x9100})

# IPv6 extension headers the walk steps over, with how each one's length is
# computed from its second byte.
_IPV6_EXT_LENGTH = {
    0: lambda b: (b + 1) * 8,    # hop-by-hop options
    43: lambda b: (b + 1) * 8,   # routing
    44: lambda b: 8,             # fragment (fixed size)
    60: lambda b: (b + 1) * 8,   # destination options
    51: lambda b: (b + 2) * 4,   # authentication header
}


@dataclass(slots=True)
class Meta:
    """The metadata of one frame. Field by field as in docs/packet-metadata.md."""

    flags: int = 0
    pkt_len: int = 0
    l4_off: int = 0
    payload_off: int = 0
    payload_len: int = 0
    ip_len: int = 0
    l3_off: int = 0
    ethertype: int = 0
    vlan_tpid: int = 0
    vlan_outer: int = 0
    vlan_inner: int = 0
    vlan_count: int = 0
    ip_proto: int = 0
    ip_ttl: int = 0
    ip_tos: int = 0
    ip_ihl: int = 0
    tcp_flags: int = 0
    ip_frag_off: int = 0
    tcp_window: int = 0
    ip_id: int = 0
    ip4_src: int = 0
    ip4_dst: int = 0
    tcp_seq: int = 0
    tcp_ack: int = 0
    sport: int = 0
    dport: int = 0
    icmp_type: int = 0
    icmp_code: int = 0
    icmp_id: int = 0
    ip6_src_hi: int = 0
    ip6_src_lo: int = 0
    ip6_dst_hi: int = 0
    ip6_dst_lo: int = 0
    ct_state: int = 0
    ct_events: int = 0
    ct_tcp_state: int = 0
    ct_dir: int = 0
    ct_id: int = 0

    def has(self, flag: int) -> bool:
        """True if any bit of `flag` is set."""
        return bool(self.flags & flag)

    def flag_names(self) -> list[str]:
        return [name for name, bit in FLAGS.items() if self.flags & bit]

    @property
    def ip_src(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        if self.flags & META_L3_IPV4:
            return ipaddress.IPv4Address(self.ip4_src)
        if self.flags & META_L3_IPV6:
            return ipaddress.IPv6Address((self.ip6_src_hi << 64) | self.ip6_src_lo)
        return None

    @property
    def ip_dst(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        if self.flags & META_L3_IPV4:
            return ipaddress.IPv4Address(self.ip4_dst)
        if self.flags & META_L3_IPV6:
            return ipaddress.IPv6Address((self.ip6_dst_hi << 64) | self.ip6_dst_lo)
        return None

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# -- the parser ----------------------------------------------------------------

_TRUNCATED, _SPLIT, _READABLE = 0, 1, 2

_IPV4_HDR = struct.Struct("!BBHHHBBHII")     # ver/ihl tos len id frag ttl proto csum src dst
_IPV6_HDR = struct.Struct("!HHHBBQQQQ")      # ver/tc.. tc/flow flow plen nh hlim src dst
_TCP_HDR = struct.Struct("!HHIIBBH")         # sport dport seq ack doff flags window
_PORTS = struct.Struct("!HH")
_BE16 = struct.Struct("!H")


class _Frame:
    """The bytes being parsed, the two lengths, and the metadata being filled."""

    __slots__ = ("data", "wire", "readable", "meta")

    def __init__(self, data: bytes | bytearray | memoryview, wire: int):
        self.data = data
        self.wire = wire
        self.readable = min(len(data), wire)
        self.meta = Meta(pkt_len=wire, payload_len=wire)

    def room(self, start: int, size: int, end: int) -> int:
        """Whether `size` bytes at `start` are inside `end` and readable."""
        if start + size > end:
            return _TRUNCATED
        if start + size > self.readable:
            return _SPLIT
        return _READABLE

    def stop(self, cursor: int, limit: int) -> None:
        self.meta.payload_off = cursor
        self.meta.payload_len = limit - cursor


def parse_meta(data: bytes | bytearray | memoryview, pkt_len: int | None = None) -> Meta:
    """Parse a frame's headers. `data` is what can be read, `pkt_len` the frame length."""
    frame = _Frame(data, len(data) if pkt_len is None else pkt_len)
    _parse_ethernet(frame)
    return frame.meta


def _parse_ethernet(f: _Frame) -> None:
    m = f.meta
    where = f.room(0, 14, f.wire)
    if where == _TRUNCATED:
        return
    if where == _SPLIT:
        m.flags = META_SPLIT
        return
    m.flags = META_ETH_OK
    (ethertype,) = _BE16.unpack_from(f.data, 12)
    cursor = 14
    tags: list[tuple[int, int]] = []  # (tpid, tci), outermost first
    while ethertype in VLAN_TPIDS:
        if len(tags) >= META_MAX_VLAN:
            m.flags |= META_VLAN_LIMIT
            break
        where = f.room(cursor, 4, f.wire)
        if where != _READABLE:
            m.flags |= META_VLAN_TRUNC if where == _TRUNCATED else META_SPLIT
            break
        tci, inner_type = _PORTS.unpack_from(f.data, cursor)
        tags.append((ethertype, tci))
        ethertype = inner_type
        cursor += 4
    if tags:
        m.vlan_count = len(tags)
        m.vlan_tpid, m.vlan_outer = tags[0]
        m.vlan_inner = tags[-1][1]
    m.ethertype = ethertype
    m.l3_off = cursor
    f.stop(cursor, f.wire)
    if ethertype == ETH_P_IPV4:
        _parse_ipv4(f, cursor)
    elif ethertype == ETH_P_IPV6:
        _parse_ipv6(f, cursor)


def _parse_ipv4(f: _Frame, l3: int) -> None:
    m = f.meta
    where = f.room(l3, 20, f.wire)
    if where != _READABLE:
        m.flags |= META_L3_BAD if where == _TRUNCATED else META_SPLIT
        return
    (ver_ihl, tos, total, ident, frag_word, ttl, proto, _csum, src, dst) = \
        _IPV4_HDR.unpack_from(f.data, l3)
    version, ihl = divmod(ver_ihl, 16)
    header_bytes = ihl * 4
    room_left = f.wire - l3
    well_formed = (version == 4 and ihl >= 5 and header_bytes <= room_left
                   and header_bytes <= total <= room_left)
    if not well_formed:
        m.flags |= META_L3_BAD
        return

    offset = frag_word & 0x1FFF
    more = bool(frag_word & 0x2000)
    m.flags |= META_L3_IPV4
    m.flags |= META_IP_OPTIONS if ihl > 5 else 0
    m.flags |= META_DF if frag_word & 0x4000 else 0
    m.flags |= META_MF if more else 0
    if offset:
        m.flags |= META_FRAG_NONFIRST
    elif more:
        m.flags |= META_FRAG_FIRST
    m.ip_ihl, m.ip_tos, m.ip_len, m.ip_id = ihl, tos, total, ident
    m.ip_frag_off, m.ip_ttl, m.ip_proto = offset, ttl, proto
    m.ip4_src, m.ip4_dst = src, dst

    upper = l3 + header_bytes
    ip_end = l3 + total
    m.l4_off = upper
    f.stop(upper, ip_end)
    if offset == 0:
        _parse_l4(f, upper, ip_end, icmp=1)


def _parse_ipv6(f: _Frame, l3: int) -> None:
    m = f.meta
    where = f.room(l3, 40, f.wire)
    if where != _READABLE:
        m.flags |= META_L3_BAD if where == _TRUNCATED else META_SPLIT
        return
    (word0, _flow_lo, payload_length, next_header, hop_limit,
     src_hi, src_lo, dst_hi, dst_lo) = _IPV6_HDR.unpack_from(f.data, l3)
    ip_end = l3 + 40 + payload_length
    if word0 >> 12 != 6 or ip_end > f.wire:
        m.flags |= META_L3_BAD
        return

    # Walk the extension chain first; record nothing until it proves sound.
    extra = 0
    frag: tuple[int, int, int] | None = None  # (offset, more, identification)
    cursor = l3 + 40
    walked = 0
    while next_header in _IPV6_EXT_LENGTH:
        if walked == META_MAX_IPV6_EXT:
            extra |= META_IPV6_EXT_LIMIT
            break
        where = f.room(cursor, 8, ip_end)
        if where == _TRUNCATED:
            m.flags |= META_L3_BAD
            return
        if where == _SPLIT:
            extra |= META_SPLIT
            break
        this_type = next_header
        next_header, length_byte = f.data[cursor], f.data[cursor + 1]
        length = _IPV6_EXT_LENGTH[this_type](length_byte)
        if cursor + length > ip_end:
            m.flags |= META_L3_BAD
            return
        walked += 1
        cursor += length
        if this_type == 44:
            (word,) = _BE16.unpack_from(f.data, cursor - length + 2)
            ident = int.from_bytes(f.data[cursor - length + 4:cursor - length + 8], "big")
            frag = (word >> 3, word & 1, ident)
            extra = (extra | META_MF) if word & 1 else (extra & ~META_MF)
            if word >> 3:
                extra |= META_FRAG_NONFIRST
                break
            if word & 1:
                extra |= META_FRAG_FIRST

    m.flags |= META_L3_IPV6 | extra | (META_IPV6_EXT if walked else 0)
    m.ip_len = ip_end - l3
    m.ip_tos = (word0 >> 4) & 0xFF
    m.ip_ttl = hop_limit
    m.ip_proto = next_header
    if frag is not None:
        m.ip_frag_off, _, m.ip_id = frag
    m.ip6_src_hi, m.ip6_src_lo, m.ip6_dst_hi, m.ip6_dst_lo = src_hi, src_lo, dst_hi, dst_lo
    m.l4_off = cursor
    f.stop(cursor, ip_end)
    if not extra & (META_FRAG_NONFIRST | META_IPV6_EXT_LIMIT | META_SPLIT):
        _parse_l4(f, cursor, ip_end, icmp=58)


def _parse_l4(f: _Frame, start: int, ip_end: int, icmp: int) -> None:
    m = f.meta
    proto = m.ip_proto
    if proto == 6:
        where = f.room(start, 20, ip_end)
        if where == _READABLE:
            sport, dport, seq, ack, doff_byte, tcp_flags, window = \
                _TCP_HDR.unpack_from(f.data, start)
            header = (doff_byte >> 4) * 4
            if header < 20 or start + header > ip_end:
                where = _TRUNCATED
            else:
                m.sport, m.dport, m.tcp_seq, m.tcp_ack = sport, dport, seq, ack
                m.tcp_flags, m.tcp_window = tcp_flags, window
    elif proto == 17:
        where = f.room(start, 8, ip_end)
        header = 8
        if where == _READABLE:
            m.sport, m.dport = _PORTS.unpack_from(f.data, start)
    elif proto == icmp:
        where = f.room(start, 4, ip_end)
        header = 4
        if where == _READABLE:
            m.icmp_type, m.icmp_code = f.data[start], f.data[start + 1]
            if f.room(start, 8, ip_end) == _READABLE:
                header = 8
                (m.icmp_id,) = _BE16.unpack_from(f.data, start + 4)
    else:
        return

    if where == _TRUNCATED:
        m.flags |= META_L4_BAD
    elif where == _SPLIT:
        m.flags |= META_SPLIT
    else:
        m.flags |= META_L4_OK
        f.stop(start + header, ip_end)


# -- packets -------------------------------------------------------------------

_CT_FIELDS = ("ct_state", "ct_events", "ct_tcp_state", "ct_dir", "ct_id")



class Packet:
    """A frame in flight: its bytes, its parsed metadata, where it came from.

    `data` may be rewritten in place by an NF; call `reparse()` afterwards (or
    update `meta` by hand) so later NFs see the new headers. `port` is the
    name of the port the packet arrived on, `ts_ns` its capture time in
    nanoseconds since the epoch; NFs read the time from `now_ns`.
    """

    __slots__ = ("data", "meta", "port", "ts_ns")

    def __init__(self, data: bytes | bytearray, port: str | None = None, ts_ns: int = 0):
        self.data = bytearray(data)
        self.port = port
        self.ts_ns = ts_ns
        self.meta = parse_meta(self.data)

    def reparse(self) -> Meta:
        """Parse the headers again; the connection-tracking fields are kept (they
        describe the packet's connection, not its bytes)."""
        old = self.meta
        self.meta = parse_meta(self.data)
        for name in _CT_FIELDS:
            setattr(self.meta, name, getattr(old, name))
        return self.meta

    @property
    def now_ns(self) -> int:
        """The time an NF sees for this packet: its capture time at the
        microsecond resolution the native binary's packet clock has (net_pcap
        delivers classic pcap's microseconds)."""
        return self.ts_ns - self.ts_ns % 1000

    def copy(self, snaplen: int = 0) -> "Packet":
        """An independent packet with the same bytes (the first `snaplen` of them
        when > 0), port and time: a Tee's copy. Its metadata is parsed afresh."""
        data = self.data[:snaplen] if snaplen > 0 else self.data
        return Packet(data, port=self.port, ts_ns=self.ts_ns)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        flags = "|".join(n.removeprefix("META_") for n in self.meta.flag_names()) or "-"
        where = f" port={self.port}" if self.port is not None else ""
        return f"<Packet {len(self.data)}B{where} {flags}>"
