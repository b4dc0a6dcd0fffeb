"""NAT: source NAT (NAPT, NAT44) between an inside and an outside network."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import TYPE_CHECKING

from chainc.nfs.spec import REQUIRED, NativeBody, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import OneOrList, check_positive, dur, param_span
from chainc.values import DURATION, INT, IPV4, RANGE, STRING, Duration, ListOf, Range

if TYPE_CHECKING:
    from chainc.diagnostics import Reporter
    from chainc.ir.graph import NfNode

_FORWARD = re.compile(r"^\s*(tcp|udp)\s+(\d+)\s*->\s*(\d+\.\d+\.\d+\.\d+)(?::(\d+))?\s*$")

MAX_EXTERNAL = 64          # external addresses: each costs about 1.1 MiB of tables
MAX_TABLE_SIZE = 1 << 24   # mappings


def parse_forward(text: str) -> tuple[str, int, ipaddress.IPv4Address, int] | None:
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


def validate(node: "NfNode", reporter: "Reporter") -> None:
    ports = node.params.get("ports")
    if isinstance(ports, Range) and not (1 <= ports.lo <= ports.hi <= 65535):
        reporter.error(f"'ports' must lie within 1..65535 with lo <= hi, got {ports}",
                       param_span(node, "ports"))
    external = node.params.get("external") or ()
    if len(external) > MAX_EXTERNAL:
        reporter.error(f"at most {MAX_EXTERNAL} external addresses, got {len(external)}",
                       param_span(node, "external"))
    if len(set(external)) != len(external):
        reporter.error("an external address is listed twice", param_span(node, "external"))
    size = node.params.get("table_size")
    if isinstance(size, int) and size > MAX_TABLE_SIZE:
        reporter.error(f"'table_size' must be at most {MAX_TABLE_SIZE}, got {size}",
                       param_span(node, "table_size"))
    seen, targets = set(), set()
    for text in node.params.get("forwards", ()) or ():
        fwd = parse_forward(text)
        if fwd is None:
            reporter.error(f"bad port forward '{text}'", param_span(node, "forwards"),
                           hint='write forwards as "tcp 8080 -> 10.0.0.5:80" or "udp 53 -> 10.0.0.2"')
            continue
        if fwd[:2] in seen:
            reporter.error(f"external {fwd[0]} port {fwd[1]} is forwarded twice", param_span(node, "forwards"))
        if (fwd[0], fwd[2], fwd[3]) in targets:
            reporter.error(f"{fwd[0]} {fwd[2]}:{fwd[3]} is the target of two forwards",
                           param_span(node, "forwards"),
                           hint="replies from it could leave from only one of the external ports")
        seen.add(fwd[:2])
        targets.add((fwd[0], fwd[2], fwd[3]))
    check_positive(node, ("table_size", "tcp_timeout", "tcp_transitory_timeout", "udp_timeout",
                          "icmp_timeout"), reporter)


# -- native body -----------------------------------------------------------------------
#
# The external addresses and the forwards are compiled into the binary as
# constant arrays; the instance's init hands them to `nat_setup`, which
# allocates the tables (named after the instance's symbol, so two NATs in one
# binary get two rte_hash tables).

PROTO_INDEX = {"tcp": 0, "udp": 1}  # native.pxd's NAT_TCP, NAT_UDP


def _ns(value: Duration) -> str:
    return f"{value.nanoseconds}ULL"


def generate(node: "NfNode", sym: str) -> str:
    """The instance's addresses and forwards as C arrays, and its init function."""
    external = [int(a) for a in node.params["external"]]
    forwards = [parse_forward(t) for t in node.params["forwards"]]
    words = [f"{PROTO_INDEX[p]}u, {ext}u, 0x{int(addr):08x}u, {port}u," for p, ext, addr, port in forwards]
    ports = node.params["ports"]
    who = json.dumps(f"NAT '{node.id}'")
    timeouts = ", ".join(_ns(node.params[k]) for k in
                         ("tcp_timeout", "tcp_transitory_timeout", "udp_timeout", "icmp_timeout"))
    return f'''\
# NAT {sym}: {len(external)} external address(es), {len(forwards)} forward(s)
from libc.stdint cimport uint32_t

cdef extern from *:
    """
    static const uint32_t {sym}_external[] = {{ {", ".join(f"0x{a:08x}u" for a in external)} }};
    static const uint32_t {sym}_forwards[] = {{  /* protocol, external port, inside address, inside port */
        {" ".join(words) or "0"}
    }};
    """
    const uint32_t* {sym}_external
    const uint32_t* {sym}_forwards


cdef int {sym}_init(nat_state* st) except -1:
    cdef int err = nat_setup(st, b"chainc_nat_{sym}", {sym}_external, {len(external)}, {ports.lo}, {ports.hi},
                             {node.params["table_size"]}, {sym}_forwards, {len(forwards)}, {timeouts})
    if err:
        raise StartupError({who} + ": not enough memory for its tables ({node.params["table_size"]:,} mappings, "
                           "{len(external)} external address(es)): give more memory with -m, "
                           "or make table_size smaller")
    return 0
'''


SPEC = NfSpec(
    name="NAT",
    doc="Source NAT (NAPT): map inside flows to external address:port pairs and back.",
    params=(
        ParamSpec("external", OneOrList(IPV4), REQUIRED,
                  f"The external IPv4 address, or a list of up to {MAX_EXTERNAL} (a pool)."),
        ParamSpec("ports", RANGE, Range(1024, 65535),
                  "The external ports (and ICMP query identifiers) to allocate from."),
        ParamSpec("forwards", ListOf(STRING), (),
                  'Static port forwards from outside to inside: "tcp 8080 -> 10.0.0.5:80".'),
        ParamSpec("table_size", INT, 65536,
                  f"Maximum number of dynamic mappings (at most {MAX_TABLE_SIZE})."),
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
    state_key="protocol, address and port: inside (source) and external (destination)",
    reads=("eth.type", "ip.src", "ip.dst", "ip.proto", "l4.sport", "l4.dport", "tcp.flags",
           "icmp.type", "icmp.id"),
    writes=("ip.src", "ip.dst", "l4.sport", "l4.dport", "icmp.id", "ip.checksum", "l4.checksum"),
    cycles=550,  # bench/bench_nat.py, 4 KiB pages: 440-660 with 10,000 flows, 1,400-2,100 with 1,000,000
    side_effects=True,  # its counters
    drop_reasons=("no-mapping", "ports-exhausted", "table-full", "not-ipv4", "unsupported-protocol",
                  "fragment", "malformed"),
    description=(
        "Theory of operation. The NAT has two sides: a packet entering on input `inside` "
        "leaves translated on output `outside`, one entering on `outside` leaves translated "
        "on `inside`. It translates TCP, UDP and ICMP echo over IPv4.\n\n"
        "Mappings. A mapping binds an inside endpoint (protocol, inside address, inside "
        "port; for ICMP echo the query identifier stands for the port) to an external "
        "endpoint (one of the `external` addresses and a port of `ports`). Mappings are "
        "endpoint-independent (RFC 4787 REQ-1): every packet of the inside endpoint uses "
        "its mapping whatever its destination, and any outside host may reach the inside "
        "endpoint through it. A packet on `inside` whose endpoint has no mapping creates "
        "one. Its external address is `external[a mod N]`, `a` being the inside address "
        "as a 32-bit number and N the number of external addresses, so one host keeps one "
        "external address (paired pooling); its port is the first of that address's "
        "queue of free ports for the protocol. Each address and protocol has its own "
        "queue, holding at start the ports of `ports` in ascending order (less those of "
        "forwards); the port of a removed mapping goes to the back, so a port is reused as "
        "late as possible. The packet's source address and port (ICMP: identifier) are "
        "rewritten and it leaves on `outside`. A packet on `outside` is looked up by "
        "protocol, destination address and destination port (ICMP: identifier): with a "
        "mapping its destination is rewritten to the inside endpoint and it leaves on "
        "`inside`, without one it is dropped (`no-mapping`). Only ICMP echo requests enter "
        "on `inside` and echo replies on `outside`; other ICMP messages, errors included, "
        "are dropped as `unsupported-protocol`.\n\n"
        "Port forwards. Each of `forwards` (\"tcp 8080 -> 10.0.0.5:80\"; without \":80\" "
        "the inside port is the external one) is a static mapping on the first external "
        "address: it exists from the start, never expires, does not count against "
        "`table_size`, and its external port is never handed out. Packets from the "
        "forward's inside endpoint leave from its external address and port.\n\n"
        "Expiry. The NAT reads the packet clock and its time never goes back: a packet "
        "stamped earlier than the latest one seen counts at that latest time. A mapping "
        "remembers the time of its last packet (either direction) and has expired once "
        "idle for its timeout (now - last >= timeout). TCP mappings use `tcp_timeout` "
        "while established (a SYN seen from each side, no FIN or RST since) and "
        "`tcp_transitory_timeout` otherwise; a SYN after a FIN or RST starts over. UDP "
        "uses `udp_timeout`, ICMP `icmp_timeout`. Expired mappings are removed only when "
        "needed, never by a sweep: (a) a packet whose lookup finds an expired mapping "
        "removes it and goes on as if there was none (on `inside` a new mapping is made, "
        "usually with another port; on `outside` it is `no-mapping`); (b) a new mapping "
        "whose address has no free port for the protocol first removes, of that address "
        "and protocol, the mapping that expired first (the earliest last packet plus "
        "timeout; of equals, the least recently used); when none has expired the packet "
        "is dropped (`ports-exhausted`): a mapping in use is never taken over; (c) when "
        "`table_size` mappings exist, a new mapping first removes the mapping that "
        "expired first among all of them, and when none has, the packet is dropped "
        "(`table-full`). Counters: `created` and `expired` (removed after expiry) "
        "mappings, and `mappings`, the number in the table (unremoved expired ones "
        "included).\n\n"
        "Rewriting. The IPv4 header checksum and the TCP, UDP or ICMP checksum are "
        "updated incrementally (RFC 1624), so a correct checksum stays correct and a "
        "wrong one stays wrong; a UDP checksum of zero (none) stays zero, and an updated "
        "UDP checksum that comes out zero is sent as 0xffff. VLAN tags and IPv4 options "
        "are kept. Dropped: frames that are not IPv4, ARP and IPv6 included "
        "(`not-ipv4`); IPv4 fragments, first ones included, which cannot be translated "
        "consistently without reassembly (`fragment`); protocols other than TCP, UDP and "
        "ICMP (`unsupported-protocol`); truncated or malformed IPv4, TCP, UDP or ICMP "
        "headers and ICMP messages shorter than 8 bytes (`malformed`).\n\n"
        "Memory. The tables are allocated at start-up: about 75 bytes per mapping of "
        "`table_size` (the mapping records and an rte_hash of inside endpoints) and "
        "1.1 MiB per external address (its table of external ports and its free-port "
        "queues). Both directions share them, so the NAT runs on one core (state: global)."
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
    native=NativeBody(
        process="nat_process",
        state="nat_state",
        init="{sym}_init",
        generate=generate,
        counters=("created", "expired", "mappings"),
    ),
)
