"""Router: longest-prefix-match IPv4/IPv6 forwarding to named output ports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainc.nfs.spec import REQUIRED, NativeBody, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import param_span, read_param_file, report_file_errors
from chainc.values import BOOL, MAC, PATH, STRING, Mac

from .routes import RouteTable, next_hops, parse_route_file, route_ports

if TYPE_CHECKING:
    from chainc.diagnostics import Reporter
    from chainc.ir.graph import NfNode

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def outputs(params: dict[str, Any]) -> tuple[str, ...]:
    """The route file's ports, then the `expired` output unless it is one of them."""
    path = params.get("routes")
    ports = route_ports(path) if isinstance(path, str) else ()
    expired = params.get("expired")
    if ports and isinstance(expired, str) and _NAME.match(expired) and expired not in ports:
        ports += (expired,)
    return ports


def validate(node: "NfNode", reporter: "Reporter") -> None:
    expired = node.params.get("expired")
    if isinstance(expired, str) and not _NAME.match(expired):
        reporter.error(f"bad output name '{expired}' for expired packets", param_span(node, "expired"),
                       hint="an output name is an identifier such as slow or icmp")
    mac = node.params.get("mac")
    if isinstance(mac, Mac) and mac.octets[0] & 1:
        reporter.error(f"the Router's MAC {mac} is a multicast address", param_span(node, "mac"),
                       hint="a frame's source MAC must be unicast (first octet even)")
    text = read_param_file(node, "routes", reporter, "route file")
    if text is None:
        return
    table, errors = parse_route_file(text)
    report_file_errors(node, "routes", text, errors, reporter, "route file")
    if not table.routes and not errors:
        reporter.error(f"route file '{node.params['routes']}' holds no routes", param_span(node, "routes"),
                       hint="write one route per line: PREFIX [via NEXT_HOP] PORT [NEXT_HOP_MAC]")


# -- native body -----------------------------------------------------------------------
#
# The routes are compiled into the binary rather than read from the file at
# start-up: the binary is then self-contained (it runs where the route file
# is not), a route file error can only ever stop `chainc check`/`build`, never
# a running router, and since the build cache is keyed on the generated
# source, editing the route file rebuilds exactly the chains that use it.


def _route_table(node: "NfNode") -> RouteTable:
    text = Path(node.params["routes"]).read_text(encoding="utf-8")
    table, errors = parse_route_file(text)
    if errors:  # validate reports these before any build starts
        raise ValueError(f"route file {node.params['routes']}: line {errors[0].line}: {errors[0].message}")
    return table


def _tbl8_groups(prefixes: list[tuple[bytes, int]], first_level: int) -> int:
    """tbl8 groups rte_lpm / rte_lpm6 need for these (address, depth) routes.

    Both use a 24-bit first table, then one 256-entry group per further byte:
    a route of depth d needs a group for each of its address's leading
    byte strings of length 3 .. ceil(d / 8) - 1, and routes share groups for
    equal strings. Routes are only added, never deleted, so this count is
    exact; a few spare groups cost 1 KiB each.
    """
    paths = set()
    for addr, depth in prefixes:
        for k in range(first_level, (depth + 7) // 8):
            paths.add(addr[:k])
    return len(paths) + 8


def _c_bytes(data: bytes, per_line: int = 20) -> str:
    if not data:
        return "    0"
    return ",\n".join("    " + ", ".join(str(b) for b in data[i:i + per_line])
                      for i in range(0, len(data), per_line))


def _safe(text: str) -> str:
    """A file name fit for a generated comment line."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:60]


def generate(node: "NfNode", sym: str) -> str:
    """The instance's routes and next hops as constant C arrays, and its init function."""
    table = _route_table(node)
    ports = outputs(node.params)
    default_src = node.params.get("mac")
    hops = next_hops(table)
    hop_index = {h: i for i, h in enumerate(hops)}

    hop_bytes = bytearray()
    for port, dst in hops:
        src = table.port_macs.get(port) or (default_src.octets if default_src else None)
        hop_bytes += ports.index(port).to_bytes(2, "big")
        hop_bytes += bytes([dst is not None, src is not None])
        hop_bytes += (dst or bytes(6)) + (src or bytes(6))

    v4 = [r for r in table.routes if r.prefix.version == 4]
    v6 = [r for r in table.routes if r.prefix.version == 6]
    v4_words = []
    for r in v4:
        v4_words.append(f"    0x{int(r.prefix.network_address):08x}u, {r.prefix.prefixlen}u, "
                        f"{hop_index[(r.port, r.mac)]}u,")
    v6_bytes = bytearray()
    for r in v6:
        v6_bytes += r.prefix.network_address.packed + bytes([r.prefix.prefixlen])
        v6_bytes += hop_index[(r.port, r.mac)].to_bytes(3, "big")
    tbl8_4 = _tbl8_groups([(r.prefix.network_address.packed, r.prefix.prefixlen) for r in v4], 3)
    tbl8_6 = _tbl8_groups([(r.prefix.network_address.packed, r.prefix.prefixlen) for r in v6], 3)

    who = json.dumps(f"Router '{node.id}'")
    where = json.dumps(Path(node.params["routes"]).name)
    lines4 = ", ".join(str(r.line) for r in v4) or "0"
    lines6 = ", ".join(str(r.line) for r in v6) or "0"
    return f'''\
# Router {sym}: {len(v4)} IPv4 and {len(v6)} IPv6 routes, {len(hops)} next hops, from {_safe(Path(node.params["routes"]).name)}
from libc.stdint cimport uint8_t, uint32_t

cdef extern from *:
    """
    static const uint32_t {sym}_routes4[] = {{  /* address, depth, next hop */
{chr(10).join(v4_words) or "    0"}
    }};
    static const uint8_t {sym}_routes6[] = {{  /* 16-byte address, depth, 3-byte next hop */
{_c_bytes(bytes(v6_bytes))}
    }};
    static const uint8_t {sym}_hops[] = {{  /* port, set dst, set src, dst MAC, src MAC */
{_c_bytes(bytes(hop_bytes), 16)}
    }};
    static const uint32_t {sym}_lines4[] = {{ {lines4} }};  /* route file lines, for errors */
    static const uint32_t {sym}_lines6[] = {{ {lines6} }};
    """
    const uint32_t* {sym}_routes4
    const uint8_t* {sym}_routes6
    const uint8_t* {sym}_hops
    const uint32_t* {sym}_lines4
    const uint32_t* {sym}_lines6


cdef int {sym}_init(router_state* st) except -1:
    cdef int err = router_setup(st, b"{sym}_v4", b"{sym}_v6", {sym}_routes4, {len(v4)}, {tbl8_4},
                                {sym}_routes6, {len(v6)}, {tbl8_6}, {sym}_hops, {len(hops)})
    if err == ROUTER_ERR_NOMEM:
        raise StartupError({who} + ": out of memory for its next-hop table")
    if err == ROUTER_ERR_V4_CREATE or err == ROUTER_ERR_V6_CREATE:
        raise StartupError({who} + ": cannot create its IPv" + ("4" if err == ROUTER_ERR_V4_CREATE else "6")
                           + " route table: " + rte_strerror(st.failed_errno).decode()
                           + " (an LPM table takes 64 MiB or more: give more memory with -m)")
    if err == ROUTER_ERR_V4_ADD or err == ROUTER_ERR_V6_ADD:
        line = {sym}_lines4[st.failed_at] if err == ROUTER_ERR_V4_ADD else {sym}_lines6[st.failed_at]
        raise StartupError({who} + ": cannot add the route on line " + str(line) + " of " + {where}
                           + ": " + rte_strerror(st.failed_errno).decode())
    return 0
'''


def _process_args(node: "NfNode") -> list[str]:
    ports = outputs(node.params)
    expired = node.params.get("expired")
    return ["1" if node.params["decrement_ttl"] else "0",
            str(ports.index(expired)) if expired in ports else "-1"]


SPEC = NfSpec(
    name="Router",
    doc="Forward IPv4/IPv6 packets by longest-prefix match to the port named in a route file.",
    params=(
        ParamSpec("routes", PATH, REQUIRED,
                  "The route file (docs/router.md): `PREFIX [via NEXT_HOP] PORT [NEXT_HOP_MAC]` per "
                  "line, `port NAME MAC` and `neighbor ADDRESS MAC` lines. Its port names are the "
                  "Router's output ports."),
        ParamSpec("decrement_ttl", BOOL, True,
                  "Decrement the IPv4 TTL / IPv6 hop limit (and update the IPv4 checksum); "
                  "packets arriving with 1 or 0 have expired."),
        ParamSpec("expired", STRING, None,
                  "An output for packets whose TTL / hop limit expired (unchanged), e.g. towards "
                  "a slow path that answers with ICMP; unset: they are dropped (`ttl-expired`)."),
        ParamSpec("mac", MAC, None,
                  "Source MAC of routed frames on ports the route file gives no `port` line; "
                  "unset: such frames keep their source MAC."),
    ),
    inputs=("in",),
    outputs=(),
    outputs_from=outputs,
    state=StateKind.NONE,
    reads=("eth.type", "ip.dst", "ip6.dst", "ip.ttl"),
    writes=("ip.ttl", "ip.checksum", "eth.dst", "eth.src"),
    cycles=60,
    side_effects=True,  # its counters
    drop_reasons=("no-route", "ttl-expired", "not-ip", "malformed"),
    description=(
        "Looks up the destination address in the route table (DPDK's rte_lpm for IPv4, "
        "rte_lpm6 for IPv6) and sends the packet to the output named by the longest "
        "matching prefix. The output ports are the port names of the route file in "
        "order of first appearance, so `r.lan -> ...` connects the routes whose port is "
        "`lan`; with `expired: \"slow\"` an output `slow` follows them (unless a route "
        "already uses that name).\n\n"
        "A routed frame's destination MAC becomes the route's next-hop MAC (given on the "
        "route, or by a `neighbor` line for its `via` address); its source MAC becomes "
        "the MAC of the output port (a `port` line, else the `mac` parameter). Without "
        "them the addresses are left as they are. VLAN tags are kept.\n\n"
        "With `decrement_ttl` (the default) the TTL or hop limit is decremented and the "
        "IPv4 header checksum updated incrementally (RFC 1624), which keeps a correct "
        "checksum correct and a wrong one wrong; the checksum is not verified. A packet "
        "arriving with TTL 1 or 0 has expired: it leaves unchanged on the `expired` output "
        "or is dropped (`ttl-expired`), before any route lookup, and is counted in "
        "`ttl_expired`; no ICMP error is sent. Packets without a matching route are dropped "
        "(`no-route`; add `0.0.0.0/0` or `::/0` for a default route). IPv4 options, "
        "fragments and IPv6 extension headers are forwarded like any packet.\n\n"
        "Frames with another EtherType (ARP, LLDP, ...) are dropped as `not-ip`; frames "
        "with an IPv4 or IPv6 EtherType whose header is truncated or malformed, and "
        "frames too short or too deeply tagged to find their EtherType, as `malformed`. "
        "The route file is compiled into the binary (`chainc build` reads it, the binary "
        "does not), so a changed route file needs a rebuild, which the build cache "
        "notices. Every instance with IPv4 routes allocates a 64 MiB rte_lpm table, and "
        "one with IPv6 routes a 64 MiB rte_lpm6 table."
    ),
    example=(
        "# rules/core.routes:\n"
        "#   10.0.0.0/8    lan  02:00:00:00:01:01\n"
        "#   0.0.0.0/0     via 203.0.113.1  wan\n"
        "#   neighbor 203.0.113.1  02:00:00:00:02:01\n"
        "#   port lan  02:00:5e:00:00:01\n"
        "#   port wan  02:00:5e:00:00:02\n"
        "nf r = Router(routes: \"rules/core.routes\", expired: \"slow\")\n"
        "in0 -> r\n"
        "r.lan -> lan\n"
        "r.wan -> wan\n"
        "r.slow -> Counter() -> drop"
    ),
    validate=validate,
    native=NativeBody(
        process="router_process",
        state="router_state",
        init="{sym}_init",
        process_args=_process_args,
        generate=generate,
        counters=("routed_ipv4", "routed_ipv6", "ttl_expired"),
    ),
)
