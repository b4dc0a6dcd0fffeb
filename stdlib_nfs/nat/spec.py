"""NAT: source NAT (NAPT, NAT44) between an inside and an outside network."""

from __future__ import annotations

import ipaddress
import re

from chainc.nfs.spec import REQUIRED, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import OneOrList, check_positive, dur, param_span
from chainc.values import DURATION, INT, IPV4, RANGE, STRING, ListOf, Range

_FORWARD = re.compile(r"^\s*(tcp|udp)\s+(\d+)\s*->\s*(\d+\.\d+\.\d+\.\d+)(?::(\d+))?\s*$")


def parse_forward(text: str):
    """`tcp 8080 -> 10.0.0.5:80` -> ("tcp", 8080, IPv4Address, 80), or None if malformed."""
    m = _FORWARD.match(text)
    if not m:
        return None
    try:
        inside = ipaddress.IPv4Address(m.group(3))
    except ValueError:
        return None
    ext = int(m.group(2))
    port = int(m.group(4)) if m.group(4) else ext
    if not (1 <= ext <= 65535 and 1 <= port <= 65535):
        return None
    return m.group(1), ext, inside, port


def validate(node, reporter):
    ports = node.params.get("ports")
    if isinstance(ports, Range) and not (1 <= ports.lo <= ports.hi <= 65535):
        reporter.error(f"'ports' must lie within 1..65535 with lo <= hi, got {ports}",
                       param_span(node, "ports"))
    seen = set()
    for text in node.params.get("forwards", ()) or ():
        fwd = parse_forward(text)
        if fwd is None:
            reporter.error(f"bad port forward '{text}'", param_span(node, "forwards"),
                           hint='write forwards as "tcp 8080 -> 10.0.0.5:80" or "udp 53 -> 10.0.0.2"')
            continue
        if fwd[:2] in seen:
            reporter.error(f"external {fwd[0]} port {fwd[1]} is forwarded twice", param_span(node, "forwards"))
        seen.add(fwd[:2])
    check_positive(node, ("table_size", "tcp_timeout", "tcp_transitory_timeout", "udp_timeout",
                          "icmp_timeout"), reporter)


SPEC = NfSpec(
    name="NAT",
    doc="Source NAT (NAPT): map inside flows to external address:port pairs and back.",
    params=(
        ParamSpec("external", OneOrList(IPV4), REQUIRED,
                  "The external IPv4 address, or a list of them (a pool)."),
        ParamSpec("ports", RANGE, Range(1024, 65535), "The external ports to allocate from."),
        ParamSpec("forwards", ListOf(STRING), (),
                  'Static port forwards from outside to inside: "tcp 8080 -> 10.0.0.5:80".'),
        ParamSpec("table_size", INT, 65536, "Maximum number of concurrent mappings."),
        ParamSpec("tcp_timeout", DURATION, dur("124m"),
                  "Idle timeout of an established TCP mapping (RFC 5382: at least 2h4m)."),
        ParamSpec("tcp_transitory_timeout", DURATION, dur("4m"),
                  "Idle timeout of a TCP mapping before it is established or after FIN/RST."),
        ParamSpec("udp_timeout", DURATION, dur("5m"), "Idle timeout of a UDP mapping (RFC 4787)."),
        ParamSpec("icmp_timeout", DURATION, dur("60s"), "Idle timeout of an ICMP query mapping."),
    ),
    inputs=("inside", "outside"),
    outputs=("inside", "outside"),
    state=StateKind.GLOBAL,
    state_key="5-tuple (inside) and external address:port (outside)",
    reads=("eth.type", "ip.src", "ip.dst", "ip.proto", "l4.sport", "l4.dport", "tcp.flags", "icmp.id"),
    writes=("ip.src", "ip.dst", "l4.sport", "l4.dport", "icmp.id", "ip.checksum", "l4.checksum"),
    cycles=200,
    side_effects=False,
    drop_reasons=("no-mapping", "ports-exhausted", "table-full", "not-ipv4", "unsupported-protocol"),
    description=(
        "Theory of operation. The NAT has two sides. A packet entering on input `inside` "
        "is looked up by its 5-tuple; if no mapping exists one is created by picking an "
        "external address (hashing the inside source address over the pool, so one host "
        "keeps one external address: \"paired\" pooling, RFC 4787) and a free external port "
        "from `ports` (ICMP echo: a free query id). The source address and port are "
        "rewritten and the packet leaves on output `outside`. A packet entering on input "
        "`outside` is looked up by its destination address:port; with a mapping (or a "
        "static forward) the destination is rewritten back and it leaves on output "
        "`inside`, otherwise it is dropped (`no-mapping`). Mappings are endpoint-"
        "independent (RFC 4787 REQ-1), so any outside host may reach a mapped port.\n\n"
        "Each mapping remembers when it last saw a packet and expires after its idle "
        "timeout: TCP mappings use `tcp_transitory_timeout` until a SYN has been seen from "
        "both sides and again after a FIN or RST, and `tcp_timeout` while established; "
        "UDP and ICMP use their own. Expired mappings are reclaimed lazily when their "
        "port is needed again. When every port of the chosen address is taken a new flow "
        "is dropped (`ports-exhausted`); when the table is full, `table-full`. IP and "
        "TCP/UDP checksums are updated incrementally (RFC 1624). Fragments after the "
        "first, non-IPv4 frames and protocols other than TCP, UDP and ICMP are dropped.\n\n"
        "Both directions share the mapping table, so the NAT runs on one core "
        "(state: global)."
    ),
    example=(
        "nf nat = NAT(external: 203.0.113.7, ports: 1024..65535,\n"
        "             forwards: [\"tcp 8080 -> 10.0.0.5:80\"])\n"
        "lan -> nat.inside\n"
        "nat.outside -> wan\n"
        "wan -> nat.outside\n"
        "nat.inside -> lan"
    ),
    validate=validate,
    native=None,
)
