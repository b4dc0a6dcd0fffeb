"""ConnTrack: classify packets as new, established or invalid connections."""

from __future__ import annotations

from chainc.nfs.spec import NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import check_positive, dur
from chainc.values import BOOL, DURATION, INT


def validate(node, reporter):
    check_positive(node, ("table_size", "tcp_timeout", "tcp_transitory_timeout", "udp_timeout",
                          "udp_stream_timeout", "icmp_timeout"), reporter)


SPEC = NfSpec(
    name="ConnTrack",
    doc="Track connections and sort packets into new, established and invalid.",
    params=(
        ParamSpec("table_size", INT, 262144, "Maximum number of tracked connections."),
        ParamSpec("strict", BOOL, True,
                  "A TCP packet without SYN that opens no known connection is invalid; "
                  "false picks up connections mid-stream (after a restart)."),
        ParamSpec("tcp_timeout", DURATION, dur("5d"), "Idle timeout of an established TCP connection."),
        ParamSpec("tcp_transitory_timeout", DURATION, dur("2m"),
                  "Idle timeout of a TCP connection during its handshake or after FIN/RST."),
        ParamSpec("udp_timeout", DURATION, dur("30s"), "Idle timeout of a UDP flow seen in one direction."),
        ParamSpec("udp_stream_timeout", DURATION, dur("120s"),
                  "Idle timeout of a UDP flow that has seen replies."),
        ParamSpec("icmp_timeout", DURATION, dur("30s"), "Idle timeout of an ICMP echo exchange."),
    ),
    inputs=("in",),
    outputs=("new", "established", "invalid"),
    state=StateKind.PER_FLOW,
    state_key="symmetric 5-tuple",
    reads=("eth.type", "ip.src", "ip.dst", "ip.proto", "l4.sport", "l4.dport", "tcp.flags", "icmp.type"),
    writes=(),
    cycles=120,
    drop_reasons=("table-full",),
    description=(
        "Theory of operation. Connections are keyed by the symmetric 5-tuple (the two "
        "directions of a connection share one entry; with replicas, symmetric RSS keeps "
        "both on one core). A packet of an unknown connection creates an entry and leaves "
        "on `new`; so do later packets of that connection until the other side has "
        "answered. From the first reply on, packets of the connection leave on "
        "`established` (as iptables' ctstate NEW / ESTABLISHED).\n\n"
        "TCP follows a simplified state machine: SYN opens, SYN+ACK from the responder "
        "and the final ACK establish, FIN from both sides or an RST closes. With `strict`, "
        "a non-SYN packet of an unknown connection, a SYN+ACK without a SYN, or a packet "
        "of a closed connection is `invalid`, as are malformed IP/TCP headers and non-IP "
        "frames (classify ARP and the like before the ConnTrack). UDP and ICMP echo flows "
        "are tracked by their tuple / query id. An entry expires after its idle timeout "
        "(transitory, established or UDP/ICMP) and is reclaimed lazily. When the table is "
        "full and no entry has expired, packets of new connections are dropped "
        "(`table-full`)."
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
    native=None,
)
