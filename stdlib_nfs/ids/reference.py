"""IDS reference body: Python's re over the same reassembled streams, written from
the spec's description (no Hyperscan)."""

from __future__ import annotations

import datetime
import json
from collections import OrderedDict
from dataclasses import dataclass, field

from chainc.nfs.reference import ReferenceNf
from chainc.packet import META_FRAG, META_L3_IPV4, META_L3_IPV6, META_L4_OK
from chainc.sim import SimError

from .rules import Content, IdsRule, compile_pattern, parse_ids_rules

OUT, BLOCKED_OUT, BLOCKED_DROP = 0, 1, -1
RECLAIM_PER_PACKET = 2
MAX_FIRED = 64
PROTO_NUMBERS = {"ip": None, "tcp": (6,), "udp": (17,), "icmp": (1, 58)}
PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6"}
SEQ = 1 << 32


def seq_before(a: int, b: int) -> bool:
    """a < b in 32-bit sequence space."""
    return (a - b) % SEQ >= SEQ // 2


@dataclass
class Direction:
    synced: bool = False
    next_seq: int = 0
    passed: bool = False
    stream: bytearray = field(default_factory=bytearray)
    seen: set = field(default_factory=set)  # (rule index, pattern index)
    fired: set = field(default_factory=set)  # rule indices


@dataclass
class Connection:
    last_ns: int
    blocked: bool = False
    dirs: list = field(default_factory=lambda: [Direction(), Direction()])


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        with open(self.params["rules"], encoding="utf-8") as f:
            self.rules: list[IdsRule] = parse_ids_rules(f.read())[0]
        self.regexes = [[compile_pattern(p) for p in r.patterns] for r in self.rules]
        self.streamed = any(r.patterns and r.proto in ("tcp", "ip") for r in self.rules)
        self.ips = self.params["mode"] == "ips"
        self.blocked_code = BLOCKED_OUT if self.params["blocked"] == "output" else BLOCKED_DROP
        self.capacity = self.params["flows"]
        self.timeout = self.params["timeout"].nanoseconds
        self.conns: OrderedDict[tuple, Connection] = OrderedDict()
        self.counters = dict.fromkeys(("alerts", "blocked_flows", "connections", "expired", "evicted",
                                       "gaps", "uninspected", "alerts_lost"), 0)
        self.alert_file = None
        if self.params.get("alerts"):
            try:
                self.alert_file = open(self.params["alerts"], "a", encoding="ascii")
            except OSError as exc:
                raise SimError(f"IDS '{node.id}': cannot open the alert file "
                               f"{self.params['alerts']}: {exc.strerror}") from None

    def finish(self) -> None:
        if self.alert_file is not None:
            self.alert_file.close()

    # -- matching

    def _header(self, rule: IdsRule, tup) -> bool:
        proto, src, sport, dst, dport = tup
        wanted = PROTO_NUMBERS[rule.proto]
        if wanted is not None and proto not in wanted:
            return False

        def one_way(s, sp, d, dp) -> bool:
            return (_in(rule.src, s) and _in(rule.dst, d) and _in_ports(rule.sport, sp)
                    and _in_ports(rule.dport, dp))

        return one_way(src, sport, dst, dport) or (rule.bidirectional and one_way(dst, dport, src, sport))

    def _occurs(self, ri: int, pi: int, data: bytes) -> bool:
        p, rx = self.rules[ri].patterns[pi], self.regexes[ri][pi]
        if not isinstance(p, Content) or (p.offset is None and p.depth is None):
            return rx.search(data) is not None
        lo = (p.offset or 0) + len(p.pattern)  # the earliest end: starts at or after offset
        hi = (p.offset or 0) + p.depth if p.depth is not None else len(data)
        m = rx.search(data, max(0, lo - len(p.pattern)))
        while m is not None and m.end() <= hi:
            if m.end() >= lo:
                return True
            m = rx.search(data, m.start() + 1)
        return False

    def _match(self, d: Direction, tup, data: bytes, fired: list[int], streamed: bool) -> None:
        """Mark the patterns that occur in `data`; fire the rules they complete."""
        for ri, rule in enumerate(self.rules):
            if not rule.patterns or ri in d.fired or not self._header(rule, tup):
                continue
            if streamed and rule.proto not in ("tcp", "ip"):
                continue
            for pi in range(len(rule.patterns)):
                if (ri, pi) not in d.seen and self._occurs(ri, pi, data):
                    d.seen.add((ri, pi))
            if all((ri, pi) in d.seen for pi in range(len(rule.patterns))):
                d.fired.add(ri)
                fired.append(ri)

    # -- packets

    def process(self, pkt, in_port):
        m = pkt.meta
        if not m.has(META_L3_IPV4 | META_L3_IPV6) or not m.has(META_L4_OK) or m.has(META_FRAG):
            self.counters["uninspected"] += 1
            return OUT
        tup = (m.ip_proto, m.ip_src, m.sport, m.ip_dst, m.dport)
        fired = [ri for ri, r in enumerate(self.rules) if not r.patterns and self._header(r, tup)]
        payload = bytes(pkt.data[m.payload_off:m.payload_off + m.payload_len])
        if m.ip_proto == 6:
            return self._tcp(pkt, tup, fired, payload)
        if payload:
            self._match(Direction(), tup, payload, fired, streamed=False)
        return self._decide(pkt, tup, fired, None, None)

    def _tcp(self, pkt, tup, fired, payload) -> int:
        m, now = pkt.meta, pkt.now_ns
        for _ in range(RECLAIM_PER_PACKET):
            if not self.conns or not self._expired(next(iter(self.conns.values())), now):
                break
            self.conns.popitem(last=False)
            self.counters["expired"] += 1
        a, b = (tup[1], tup[2]), (tup[3], tup[4])
        direction = int(_endpoint_key(a) > _endpoint_key(b))
        key = (b, a) if direction else (a, b)
        conn = self.conns.get(key)
        if conn is not None and self._expired(conn, now):
            self.counters["expired"] += 1
            conn = None
        elif conn is None and len(self.conns) == self.capacity:
            _, old = self.conns.popitem(last=False)
            self.counters["expired" if self._expired(old, now) else "evicted"] += 1
        if conn is None:
            conn = self.conns[key] = Connection(now)
            self.counters["connections"] += 1
        self.conns.move_to_end(key)
        conn.last_ns = now
        if conn.blocked:
            return self.blocked_code
        d = conn.dirs[direction]
        if d.passed:
            return OUT
        start = m.tcp_seq
        if m.tcp_flags & 0x02:  # SYN
            conn.dirs[direction] = d = Direction(synced=True, next_seq=(start + 1) % SEQ)
            start = (start + 1) % SEQ
        if payload and self.streamed:
            if not d.synced:
                d.synced, d.next_seq = True, start
            end = (start + len(payload)) % SEQ
            if seq_before(d.next_seq, start):
                self.counters["gaps"] += 1
                d.stream, d.seen, d.next_seq = bytearray(), set(), start
            if seq_before(d.next_seq, end):
                d.stream += payload[(d.next_seq - start) % SEQ:]
                d.next_seq = end
                self._match(d, tup, bytes(d.stream), fired, streamed=True)
        return self._decide(pkt, tup, fired, conn, d)

    def _expired(self, conn: Connection, now: int) -> bool:
        return now > conn.last_ns and now - conn.last_ns > self.timeout

    def _decide(self, pkt, tup, fired: list[int], conn, d) -> int:
        fired = sorted(fired)
        if len(fired) > MAX_FIRED:
            self.counters["alerts_lost"] += len(fired) - MAX_FIRED
            fired = fired[:MAX_FIRED]
        if any(self.rules[ri].action == "pass" for ri in fired):
            if d is not None:
                d.passed = True
            return OUT
        block = self.ips and any(self.rules[ri].action == "drop" for ri in fired)
        for ri in fired:
            self.counters["alerts"] += 1
            self._write_alert(pkt, tup, self.rules[ri], self.ips and self.rules[ri].action == "drop")
        if not block:
            return OUT
        if conn is not None:
            conn.blocked = True
            self.counters["blocked_flows"] += 1
        return self.blocked_code

    def _write_alert(self, pkt, tup, rule: IdsRule, blocked: bool) -> None:
        if self.alert_file is None:
            return
        now = pkt.now_ns
        stamp = datetime.datetime.fromtimestamp(now // 10**9, datetime.timezone.utc)
        proto, src, sport, dst, dport = tup
        record = {"time": stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{now % 10**9 // 1000:06d}Z",
                  "sid": rule.sid, "msg": rule.msg, "action": rule.action,
                  "proto": PROTO_NAMES[proto], "src": str(src), "sport": sport, "dst": str(dst),
                  "dport": dport, "blocked": blocked}
        self.alert_file.write(json.dumps(record, separators=(",", ":")) + "\n")


def _in(net, addr) -> bool:
    return net is None or (net.version == addr.version and addr in net)


def _in_ports(ports, port: int) -> bool:
    return ports is None or ports[0] <= port <= ports[1]


def _endpoint_key(ep) -> tuple[int, int]:
    addr, port = ep
    return int(addr), port
