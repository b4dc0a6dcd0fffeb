"""ConnTrack reference body: written from docs/conntrack.md, not from native.pxd."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from chainc.match import compile_python, parse_match
from chainc.nfs.reference import ReferenceNf
from chainc.packet import (META_CT_ESTABLISHED, META_CT_EV_END, META_CT_EV_ESTABLISHED,
                           META_CT_EV_RETRANS, META_CT_EV_START, META_CT_EV_STATE, META_CT_INVALID,
                           META_CT_NEW, META_CT_RELATED, META_FRAG, META_IPV6_EXT_LIMIT,
                           META_L3_IPV4, META_L3_IPV6, META_L4_BAD, META_SPLIT, Meta,
                           Packet, TCP_STATES)

from .spec import TIMEOUT_PARAMS

NEW, ESTABLISHED, INVALID = 0, 1, 2  # outputs
TABLE_FULL = -1

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
# Flag combinations a TCP segment may carry, PSH/ECE/CWR aside.
VALID_FLAGS = {SYN, SYN | URG, SYN | ACK, RST, RST | ACK, FIN | ACK, FIN | ACK | URG, ACK, ACK | URG}

NO, SS, SR, ES, FW, CW, LA, TW, CL, S2 = (TCP_STATES[n] for n in (
    "NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK",
    "TIME_WAIT", "CLOSE", "SYN_SENT2"))
IV, IG = "IV", "IG"
K_SYN, K_SYNACK, K_FIN, K_ACK, K_RST, K_NONE = range(6)

# The transition tables of docs/conntrack.md: [kind][old state] -> new state.
ORIGINAL = (
    (SS, SS, IG, IG, IG, IG, IG, SS, SS, S2),
    (IV, IV, IG, IG, IG, IG, IG, IG, IG, SR),
    (IV, IV, FW, FW, LA, LA, LA, TW, CL, IV),
    (ES, IV, ES, ES, CW, CW, TW, TW, CL, IV),
    (IV, CL, CL, CL, CL, CL, CL, CL, CL, CL),
    (IV,) * 10,
)
REPLY = (
    (IV, S2, IV, IV, IV, IV, IV, IV, IV, S2),
    (IV, SR, IG, IG, IG, IG, IG, IG, IG, SR),
    (IV, IV, FW, FW, LA, LA, LA, TW, CL, IV),
    (IV, IG, SR, ES, CW, CW, TW, TW, CL, IG),
    (IV, CL, CL, CL, CL, CL, CL, CL, CL, CL),
    (IV,) * 10,
)

# Timeout classes, as in the spec: 0 other protocols, 1..9 TCP states, then these.
Q_GENERIC, Q_UDP, Q_UDP_STREAM, Q_ICMP = 0, 10, 11, 12
ICMP_ERRORS = {4: {3, 4, 5, 11, 12}, 6: {1, 2, 3, 4}}
ECHO = {4: (8, 0), 6: (128, 129)}  # (request, reply)
M32 = 0xFFFFFFFF


def after(a: int, b: int) -> bool:
    """Sequence number a comes after b (modulo 2^32)."""
    return 0 < ((a - b) & M32) <= 0x80000000


@dataclass
class Side:
    """What one direction of a TCP connection has sent (docs: window tracking)."""

    end: int = 0
    maxend: int = 0
    maxwin: int = 0
    scale: int = 0
    wscale: bool = False  # its SYN carried the window scale option


@dataclass
class Conn:
    key: tuple
    ident: int
    orig: tuple  # the endpoint that opened it
    proto: int
    tcp: int = NO
    replied: bool = False
    liberal: bool = False  # picked up mid-stream: no window check
    sides: list[Side] = field(default_factory=lambda: [Side(), Side()])
    deadline: int = 0
    queue: int = 0


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        self.timeouts = [node.params[n].nanoseconds for n in TIMEOUT_PARAMS]
        self.size = node.params["table_size"]
        self.strict = node.params["strict"]
        allow = node.params.get("allow_new")
        self.allow = compile_python(parse_match(allow)) if allow is not None else None
        self.table: dict[tuple, Conn] = {}
        self.queues: list[OrderedDict[tuple, Conn]] = [OrderedDict() for _ in self.timeouts]
        self.next_id = 1
        self.counters = {"connections": 0, "refused": 0, "closed": 0, "expired": 0, "retransmissions": 0,
                         "tracked": 0}

    # -- the table -------------------------------------------------------------

    def _remove(self, conn: Conn) -> None:
        del self.table[conn.key]
        del self.queues[conn.queue][conn.key]
        self.counters["tracked"] = len(self.table)

    def _reclaim_one(self, now: int) -> bool:
        """Remove the expired connection with the earliest deadline at a queue head."""
        best = None
        for q in self.queues:
            if q:
                head = next(iter(q.values()))
                if head.deadline <= now and (best is None or head.deadline < best.deadline):
                    best = head
        if best is None:
            return False
        self._remove(best)
        self.counters["expired"] += 1
        return True

    def _find(self, key: tuple, now: int) -> Conn | None:
        conn = self.table.get(key)
        if conn is not None and conn.deadline <= now:
            self._remove(conn)
            self.counters["expired"] += 1
            return None
        return conn

    def _refresh(self, conn: Conn, queue: int, now: int) -> None:
        del self.queues[conn.queue][conn.key]
        conn.queue = queue
        conn.deadline = now + self.timeouts[queue]
        self.queues[queue][conn.key] = conn

    def _create(self, key: tuple, orig: tuple, proto: int, queue: int, now: int) -> Conn | None:
        if len(self.table) >= self.size and not self._reclaim_one(now):
            return None
        conn = Conn(key, self.next_id, orig, proto, queue=queue, deadline=now + self.timeouts[queue])
        self.next_id = self.next_id % M32 + 1
        self.table[key] = conn
        self.queues[queue][key] = conn
        self.counters["connections"] += 1
        self.counters["tracked"] = len(self.table)
        return conn

    def _refuses(self, pkt: Packet) -> bool:
        """`allow_new` forbids this packet to open a connection (counted)."""
        if self.allow is not None and not self.allow(pkt.meta, pkt.data):
            self.counters["refused"] += 1
            return True
        return False

    # -- packets ---------------------------------------------------------------

    def process(self, pkt: Packet, in_port: int) -> int:
        now = pkt.now_ns
        for _ in range(2):
            if not self._reclaim_one(now):
                break
        m = pkt.meta
        m.ct_state, m.ct_events, m.ct_tcp_state, m.ct_dir, m.ct_id = META_CT_INVALID, 0, 0, 0, 0
        if not m.flags & (META_L3_IPV4 | META_L3_IPV6):
            return INVALID
        if m.flags & (META_FRAG | META_SPLIT | META_IPV6_EXT_LIMIT | META_L4_BAD):
            return INVALID
        fam = 4 if m.flags & META_L3_IPV4 else 6
        src, dst = _addresses(m, fam)
        proto = m.ip_proto
        icmp = 1 if fam == 4 else 58
        if proto == 6:
            return self._tcp(pkt, m, (fam, proto), (src, m.sport), (dst, m.dport), now)
        if proto == 17:
            key, orig = _pair_key((fam, proto), (src, m.sport), (dst, m.dport))
            return self._datagram(pkt, key, orig, (src, m.sport), proto, Q_UDP, Q_UDP_STREAM, now)
        if proto == icmp:
            return self._icmp(pkt, m, fam, src, dst, now)
        key, orig = _pair_key((fam, proto), (src, 0), (dst, 0))
        return self._datagram(pkt, key, orig, (src, 0), proto, Q_GENERIC, Q_GENERIC, now)

    def _mark(self, m: Meta, conn: Conn, direction: int, events: int) -> int:
        state = META_CT_ESTABLISHED if conn.replied else META_CT_NEW
        m.ct_state, m.ct_events, m.ct_dir, m.ct_id = state, events, direction, conn.ident
        m.ct_tcp_state = conn.tcp
        return ESTABLISHED if conn.replied else NEW

    def _invalid(self, m: Meta, conn: Conn | None, direction: int) -> int:
        if conn is not None:
            m.ct_id, m.ct_dir, m.ct_tcp_state = conn.ident, direction, conn.tcp
        return INVALID

    def _reply_seen(self, conn: Conn, direction: int) -> int:
        if direction == 1 and not conn.replied:
            conn.replied = True
            return META_CT_EV_ESTABLISHED
        return 0

    def _datagram(self, pkt: Packet, key: tuple, orig: tuple, sender: tuple, proto: int,
                  first_queue: int, answered_queue: int, now: int) -> int:
        m = pkt.meta
        conn = self._find(key, now)
        events = 0
        if conn is None:
            if self._refuses(pkt):
                return INVALID
            conn = self._create(key, orig, proto, first_queue, now)
            if conn is None:
                return TABLE_FULL
            events = META_CT_EV_START
        direction = 0 if sender == conn.orig else 1
        events |= self._reply_seen(conn, direction)
        self._refresh(conn, answered_queue if conn.replied else first_queue, now)
        return self._mark(m, conn, direction, events)

    # -- ICMP --------------------------------------------------------------------

    def _icmp(self, pkt: Packet, m: Meta, fam: int, src: int, dst: int, now: int) -> int:
        request, reply = ECHO[fam]
        base = (fam, m.ip_proto)
        if m.icmp_type == request or m.icmp_type == reply:
            if m.payload_off - m.l4_off < 8:  # no identifier
                return INVALID
            if m.icmp_type == request:
                key = base + ((src, m.icmp_id), (dst, 0))
                conn = self._find(key, now)
                events = 0
                if conn is None:
                    if self._refuses(pkt):
                        return INVALID
                    conn = self._create(key, (src, m.icmp_id), m.ip_proto, Q_ICMP, now)
                    if conn is None:
                        return TABLE_FULL
                    events = META_CT_EV_START
                self._refresh(conn, Q_ICMP, now)
                return self._mark(m, conn, 0, events)
            conn = self._find(base + ((dst, m.icmp_id), (src, 0)), now)
            if conn is None:
                return INVALID
            events = self._reply_seen(conn, 1)
            self._refresh(conn, Q_ICMP, now)
            return self._mark(m, conn, 1, events)
        if m.icmp_type in ICMP_ERRORS[fam]:
            return self._related(pkt, m, fam, now)
        return INVALID

    def _related(self, pkt: Packet, m: Meta, fam: int, now: int) -> int:
        """An ICMP error: find the connection of the header it quotes."""
        quoted = _quoted(bytes(pkt.data), m, fam)
        if quoted is None:
            return INVALID
        key, sender, towards = quoted
        conn = self._find(key, now)
        if conn is None:
            return INVALID
        if towards is None:
            towards = 1 if sender == conn.orig else 0
        m.ct_state, m.ct_dir, m.ct_id, m.ct_tcp_state = META_CT_RELATED, towards, conn.ident, conn.tcp
        return ESTABLISHED

    # -- TCP -----------------------------------------------------------------------

    def _tcp(self, pkt: Packet, m: Meta, base: tuple, sender: tuple, receiver: tuple, now: int) -> int:
        flags = m.tcp_flags
        if flags & (FIN | SYN | RST | ACK | URG) not in VALID_FLAGS:
            return INVALID
        kind = _kind(flags)
        key, orig = _pair_key(base, sender, receiver)
        conn = self._find(key, now)
        seg = _Segment(pkt, m)
        if conn is None:
            if (kind == K_SYN or (kind == K_ACK and not self.strict)) and self._refuses(pkt):
                return INVALID
            if kind == K_SYN:
                return self._open(m, key, orig, seg, now, events=0)
            if kind == K_ACK and not self.strict:
                conn = self._create(key, orig, 6, ES, now)
                if conn is None:
                    return TABLE_FULL
                conn.tcp, conn.liberal = ES, True
                self._window(conn, 0, seg, ES, kind)
                return self._mark(m, conn, 0, META_CT_EV_START | META_CT_EV_STATE)
            return INVALID

        direction = 0 if sender == conn.orig else 1
        old = conn.tcp
        new = (ORIGINAL if direction == 0 else REPLY)[kind][old]
        if new == SS and old in (TW, CL) and direction == 0:
            if self._refuses(pkt):
                return self._invalid(m, conn, direction)
            self._remove(conn)  # a SYN reopens the port pair: a new connection
            return self._open(m, key, orig, seg, now, events=0)
        if new == IV:
            return self._invalid(m, conn, direction)
        if new == IG:
            events = self._reply_seen(conn, direction)
            return self._mark(m, conn, direction, events)
        retrans = self._window(conn, direction, seg, old, kind)
        if retrans is None:
            return self._invalid(m, conn, direction)
        events = self._reply_seen(conn, direction)
        if retrans:
            events |= META_CT_EV_RETRANS
            self.counters["retransmissions"] += 1
        if new != old:
            events |= META_CT_EV_STATE
            if new in (TW, CL) and old not in (TW, CL):
                events |= META_CT_EV_END
                self.counters["closed"] += 1
        conn.tcp = new
        self._refresh(conn, new, now)
        return self._mark(m, conn, direction, events)

    def _open(self, m: Meta, key: tuple, orig: tuple, seg: "_Segment", now: int, events: int) -> int:
        conn = self._create(key, orig, 6, SS, now)
        if conn is None:
            return TABLE_FULL
        conn.tcp = SS
        side = conn.sides[0]
        side.end = side.maxend = seg.end
        side.maxwin = max(seg.win, 1)
        side.wscale, side.scale = seg.wscale()
        return self._mark(m, conn, 0, events | META_CT_EV_START | META_CT_EV_STATE)

    def _window(self, conn: Conn, direction: int, seg: "_Segment", old: int, kind: int) -> bool | None:
        """Check the segment against the window and update it. None: out of window;
        else whether the segment is a retransmission."""
        s, r = conn.sides[direction], conn.sides[1 - direction]
        seq, ack, end, win = seg.seq, seg.ack, seg.end, seg.win
        had_sent = s.maxwin != 0
        sent_end = s.end
        if not had_sent:
            if seg.syn:
                s.end = s.maxend = end
                s.maxwin = max(win, 1)
                s.wscale, s.scale = seg.wscale()
                if not (s.wscale and r.wscale):
                    s.scale = r.scale = 0
                if not seg.ackf:
                    return False
            else:
                s.end = end
                s.maxwin = max((win << s.scale) & M32, 1)
                s.maxend = (end + s.maxwin) & M32
                if r.maxwin == 0:
                    r.end = r.maxend = ack
        elif ((old == SS and direction == 0) or (old == SR and direction == 1)) and after(end, s.end):
            s.end = s.maxend = end
            s.maxwin = max(win, 1)
            s.wscale, s.scale = seg.wscale()
            had_sent = False
        if not seg.ackf or (seg.rst and ack == 0):
            ack = r.end
        if seq == end and (not seg.rst or (seq == 0 and old == SS)):
            seq = end = s.end
        in_window = (not after(seq, s.maxend)
                     and after(end, (s.end - r.maxwin - 1) & M32)
                     and not after(ack, r.end)
                     and after(ack, (r.end - max(s.maxwin, 66000) - 1) & M32))
        if not in_window and not conn.liberal:
            return None
        if not seg.syn:
            win = (win << s.scale) & M32
        s.maxwin = max(s.maxwin, win)
        if after(end, s.end):
            s.end = end
        if r.maxwin != 0 and after(end, s.maxend):
            r.maxwin = (r.maxwin + ((end - s.maxend) & M32)) & M32
        if after((ack + win) & M32, (r.maxend - 1) & M32):
            r.maxend = (ack + win + (1 if win == 0 else 0)) & M32
        return had_sent and seg.has_space and not after(end, sent_end)


class _Segment:
    """The TCP fields of one segment that the window rules use."""

    def __init__(self, pkt: Packet, m: Meta):
        self.pkt, self.m = pkt, m
        flags = m.tcp_flags
        self.syn, self.ackf, self.rst = bool(flags & SYN), bool(flags & ACK), bool(flags & RST)
        self.seq, self.ack, self.win = m.tcp_seq, m.tcp_ack, m.tcp_window
        self.has_space = m.payload_len > 0 or bool(flags & (SYN | FIN))
        self.end = (m.tcp_seq + m.payload_len + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)) & M32

    def wscale(self) -> tuple[bool, int]:
        """(window scale option present, its shift) from the segment's TCP options."""
        data, start = self.pkt.data, self.m.l4_off + 20
        stop = min(self.m.payload_off, len(data))
        i = start
        while i < stop:
            kind = data[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            if i + 1 >= stop or data[i + 1] < 2 or i + data[i + 1] > stop:
                break
            if kind == 3 and data[i + 1] == 3:
                return True, min(data[i + 2], 14)
            i += data[i + 1]
        return False, 0


def _kind(flags: int) -> int:
    if flags & RST:
        return K_RST
    if flags & SYN:
        return K_SYNACK if flags & ACK else K_SYN
    if flags & FIN:
        return K_FIN
    if flags & ACK:
        return K_ACK
    return K_NONE


def _addresses(m: Meta, fam: int) -> tuple[int, int]:
    if fam == 4:
        return m.ip4_src, m.ip4_dst
    return (m.ip6_src_hi << 64) | m.ip6_src_lo, (m.ip6_dst_hi << 64) | m.ip6_dst_lo


def _pair_key(base: tuple, a: tuple, b: tuple) -> tuple[tuple, tuple]:
    """The key of a connection between two endpoints (sorted), and the sender's endpoint."""
    return base + ((a, b) if a <= b else (b, a)), a


def _quoted(data: bytes, m: Meta, fam: int) -> tuple[tuple, tuple, int | None] | None:
    """The key of the connection an ICMP error quotes, the quoted packet's sender, and
    for a quoted echo message the direction the error travels in (else None)."""
    off = m.l4_off + 8
    limit = min(m.l3_off + m.ip_len, len(data))
    if fam == 4:
        if off + 20 > limit or data[off] >> 4 != 4 or data[off] & 15 < 5:
            return None
        l4 = off + (data[off] & 15) * 4
        proto = data[off + 9]
        src = int.from_bytes(data[off + 12:off + 16], "big")
        dst = int.from_bytes(data[off + 16:off + 20], "big")
        icmp = 1
    else:
        if off + 40 > limit or data[off] >> 4 != 6:
            return None
        l4 = off + 40
        proto = data[off + 6]
        src = int.from_bytes(data[off + 8:off + 24], "big")
        dst = int.from_bytes(data[off + 24:off + 40], "big")
        icmp = 58
        if proto in (0, 43, 44, 50, 51, 60):
            return None
    base = (fam, proto)
    if proto in (6, 17):
        if l4 + 4 > limit:
            return None
        sport = int.from_bytes(data[l4:l4 + 2], "big")
        dport = int.from_bytes(data[l4 + 2:l4 + 4], "big")
        return (*_pair_key(base, (src, sport), (dst, dport)), None)
    if proto == icmp:
        if l4 + 8 > limit:
            return None
        request, reply = ECHO[fam]
        ident = int.from_bytes(data[l4 + 4:l4 + 6], "big")
        if data[l4] == request:  # the error travels back to the requester
            return base + ((src, ident), (dst, 0)), (src, ident), 1
        if data[l4] == reply:
            return base + ((dst, ident), (src, 0)), (src, ident), 0
        return None
    return (*_pair_key(base, (src, 0), (dst, 0)), None)
