"""ConnTrack: classify packets as new, established or invalid connections."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from chainc.nfs.spec import NativeBody, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import check_int_range, check_positive, dur, param_span
from chainc.values import BOOL, DURATION, INT, MATCH

if TYPE_CHECKING:
    from chainc.diagnostics import Reporter
    from chainc.ir.graph import NfNode

# Timeout classes: one queue of connections per timeout (docs/conntrack.md).
# Index 0 is "other protocols", 1..9 the TCP states by their Linux number
# (SYN_SENT2 uses the SYN_SENT timeout), then UDP, UDP stream and ICMP.
TIMEOUT_PARAMS = (
    "generic_timeout",
    "tcp_timeout_syn_sent", "tcp_timeout_syn_recv", "tcp_timeout_established",
    "tcp_timeout_fin_wait", "tcp_timeout_close_wait", "tcp_timeout_last_ack",
    "tcp_timeout_time_wait", "tcp_timeout_close", "tcp_timeout_syn_sent",
    "udp_timeout", "udp_timeout_stream", "icmp_timeout",
)
MAX_TABLE = 1 << 30  # rte_hash's limit


def validate(node: "NfNode", reporter: "Reporter") -> None:
    from chainc.match import MatchSyntaxError, parse_match
    from chainc.syntax import string_span

    check_positive(node, tuple(dict.fromkeys(TIMEOUT_PARAMS)), reporter)
    check_int_range(node, "table_size", 1, MAX_TABLE, reporter)
    text = node.params.get("allow_new")
    if isinstance(text, str):
        try:
            parse_match(text)
        except MatchSyntaxError as exc:
            start = getattr(exc, "start", 0) or 0
            span = string_span(node.param_spans.get("allow_new"), start,
                               getattr(exc, "end", start + 1) or start + 1)
            reporter.error(f"bad match expression in 'allow_new': {getattr(exc, 'message', None) or exc}",
                           span or param_span(node, "allow_new"), hint=getattr(exc, "hint", None))


def timeouts_ns(node: "NfNode") -> list[int]:
    """The timeout of each class, in nanoseconds, in class order."""
    return [node.params[name].nanoseconds for name in TIMEOUT_PARAMS]


SPEC = NfSpec(
    name="ConnTrack",
    doc="Track connections and sort packets into new, established and invalid.",
    params=(
        ParamSpec("table_size", INT, 262144, "Maximum number of tracked connections."),
        ParamSpec("allow_new", MATCH, None,
                  "Only packets matching this pcap-filter expression may open a connection; "
                  "others that would are `invalid` and open nothing (`refused`). Unset: any packet."),
        ParamSpec("strict", BOOL, True,
                  "A TCP packet without SYN that opens no known connection is invalid; "
                  "false picks up connections mid-stream from an ACK (after a restart)."),
        ParamSpec("tcp_timeout_syn_sent", DURATION, dur("2m"),
                  "Idle timeout of a TCP connection in SYN_SENT (and SYN_SENT2)."),
        ParamSpec("tcp_timeout_syn_recv", DURATION, dur("60s"), "Idle timeout in SYN_RECV."),
        ParamSpec("tcp_timeout_established", DURATION, dur("5d"), "Idle timeout in ESTABLISHED."),
        ParamSpec("tcp_timeout_fin_wait", DURATION, dur("2m"), "Idle timeout in FIN_WAIT."),
        ParamSpec("tcp_timeout_close_wait", DURATION, dur("60s"), "Idle timeout in CLOSE_WAIT."),
        ParamSpec("tcp_timeout_last_ack", DURATION, dur("30s"), "Idle timeout in LAST_ACK."),
        ParamSpec("tcp_timeout_time_wait", DURATION, dur("2m"), "Idle timeout in TIME_WAIT."),
        ParamSpec("tcp_timeout_close", DURATION, dur("10s"), "Idle timeout in CLOSE (after an RST)."),
        ParamSpec("udp_timeout", DURATION, dur("30s"), "Idle timeout of a UDP flow seen in one direction."),
        ParamSpec("udp_timeout_stream", DURATION, dur("120s"),
                  "Idle timeout of a UDP flow that has seen replies."),
        ParamSpec("icmp_timeout", DURATION, dur("30s"), "Idle timeout of an ICMP echo exchange."),
        ParamSpec("generic_timeout", DURATION, dur("10m"),
                  "Idle timeout of other IP protocols (GRE, ESP, SCTP, ...), tracked by address pair."),
    ),
    inputs=("in",),
    outputs=("new", "established", "invalid"),
    state=StateKind.PER_FLOW,
    state_key="symmetric 5-tuple",
    reads=("eth.type", "ip.src", "ip.dst", "ip.proto", "ip6.src", "ip6.dst", "l4.sport", "l4.dport",
           "tcp.flags", "tcp.seq", "tcp.ack", "tcp.window", "tcp.options", "icmp.type", "icmp.id"),
    writes=("meta.ct_state", "meta.ct_events", "meta.ct_tcp_state", "meta.ct_dir", "meta.ct_id"),
    cycles=480,  # bench/bench_flows.py: udp64, 10,000 flows (1,170 on imix, 2,100 with 1,000,000 flows)
    side_effects=True,  # writes the ct_* metadata later NFs read, and its counters
    drop_reasons=("table-full",),
    description=(
        "Theory of operation. A connection is keyed by its protocol and its two endpoints, "
        "sorted, so both directions share one entry (ICMP echo: requester, responder and "
        "identifier; other IP protocols: the address pair). The packet that creates the "
        "entry defines the original direction; with `allow_new`, only packets matching that "
        "expression may create one (the others leave on `invalid`, counted as `refused`), "
        "which makes a stateful firewall of one NF: the inside opens, the outside only answers. A connection's packets leave on `new` "
        "until a packet of the reply direction is accepted, then on `established` (as "
        "iptables' ctstate NEW / ESTABLISHED). ICMP errors that quote a tracked connection "
        "leave on `established` too (RELATED).\n\n"
        "TCP follows Linux conntrack's state machine and window tracking (SYN_SENT, "
        "SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE, "
        "SYN_SENT2; docs/conntrack.md has the transition table and the window rules): "
        "only a SYN opens a connection (with `strict: false` an ACK picks one up too), a "
        "segment outside the window or a transition the table forbids is `invalid`, a SYN "
        "in TIME_WAIT or CLOSE starts a new connection, and each state has its own idle "
        "timeout, with Linux's defaults. UDP flows time out after `udp_timeout` until "
        "answered and `udp_timeout_stream` after; ICMP echo after `icmp_timeout`.\n\n"
        "`invalid` also gets, without a lookup: non-IP frames, malformed or truncated IP, "
        "TCP, UDP and ICMP headers, fragments (there is no reassembly), TCP segments with "
        "an impossible flag combination (none, SYN+FIN, FIN without ACK, ...), and ICMP "
        "messages that are neither echo nor errors (neighbour discovery, MLD): route ARP "
        "and neighbour discovery around the ConnTrack with a Classifier.\n\n"
        "Each packet's connection state and events (START, ESTABLISHED, END, RETRANS, "
        "STATE) go into its metadata (`ct_state`, `ct_events`, `ct_tcp_state`, `ct_dir`, "
        "`ct_id`; docs/packet-metadata.md) for the NFs after it. The table is DPDK's "
        "rte_hash with `table_size` entries. Expired connections are removed lazily: up to "
        "two per packet from the heads of per-timeout queues, never by a scan. When the "
        "table is full and no connection has expired, a packet that would open one is "
        "dropped (`table-full`); a live connection is never evicted. Counters: "
        "`connections` created, `refused` (by `allow_new`), `closed` (TCP END events), "
        "`expired`, `retransmissions`, `tracked` (in the table now)."
    ),
    example=(
        "nf ct = ConnTrack()\n"
        "nf fw = Firewall(rules: \"rules/inbound.acl\")\n"
        "wan -> ct\n"
        "ct.established -> lan\n"
        "ct.new -> fw -> lan\n"
        "ct.invalid -> drop"
    ),
    validate=validate,
    native=NativeBody(
        process="{sym}_process",
        state="conntrack_state",
        init="{sym}_init",
        generate=lambda node, sym: generate(node, sym),
        counters=("connections", "refused", "closed", "expired", "retransmissions", "tracked"),
    ),
)


def generate(node: "NfNode", sym: str) -> str:
    """The instance's packet function (with its `allow_new` test compiled in) and its
    init: its table, under a name unique in the process, and its timeouts."""
    from chainc import match

    timeouts = ", ".join(f"{t}ULL" for t in timeouts_ns(node))
    who = json.dumps(f"ConnTrack '{node.id}'")
    size = node.params["table_size"]
    opener = "NULL"
    text = ""
    if node.params.get("allow_new") is not None:
        test = match.to_cython(match.parse_match(node.params["allow_new"]), meta="meta", data="data")
        opener = f"{sym}_may_open"
        text = f'''\
cdef inline bint {sym}_may_open(pkt_meta* meta, const uint8_t* data) noexcept nogil:
    return {test}


'''
    return text + f'''\
cdef inline int {sym}_process(conntrack_state* st, rte_mbuf* m, pkt_meta* meta,
                              int in_port) noexcept nogil:
    return conntrack_process(st, m, meta, {opener})


cdef int {sym}_init(conntrack_state* st) except -1:
    cdef uint64_t timeouts[{len(TIMEOUT_PARAMS)}]
    timeouts[:] = [{timeouts}]
    cdef int err = conntrack_setup(st, b"conntrack_{sym}", {size}u, {int(node.params["strict"])}, timeouts)
    if err == CONNTRACK_ERR_HASH:
        raise StartupError({who} + ": cannot create its table of {size} connections: "
                           + rte_strerror(st.failed_errno).decode() + " (give more memory with -m)")
    if err == CONNTRACK_ERR_NOMEM:
        raise StartupError({who} + ": out of memory for {size} connections (give more memory with -m)")
    return 0
'''
