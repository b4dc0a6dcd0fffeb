"""Route files: the Router's table, one entry per line, `#` comments.

    # PREFIX          [via NEXT_HOP]     PORT       [NEXT_HOP_MAC]
    10.1.0.0/16                          lan        02:00:00:00:01:01
    0.0.0.0/0         via 203.0.113.1    upstream
    2001:db8::/32                        lan

    port     lan       02:00:5e:10:00:01   # the MAC of the Router on port lan
    neighbor 203.0.113.1  02:00:00:00:03:01  # a static ARP / neighbour entry

A route line names the output PORT that packets to PREFIX leave on; the
port names are the Router's output ports, in order of first appearance on
route lines. The destination MAC of a routed frame becomes the route's
NEXT_HOP_MAC, or else the MAC of its `via` next hop from a `neighbor` line;
a route with neither leaves the destination MAC alone. A `port` line gives
the MAC a port's frames are sent from (their new source MAC).

docs/router.md is the user's description of this format.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

_PORT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# rte_lpm6 keeps 21 bits of next hop per route (rte_lpm 24): the native body
# numbers the distinct (port, next-hop MAC) pairs, so there may not be more.
MAX_NEXT_HOPS = 1 << 21


@dataclass(frozen=True)
class Route:
    line: int
    prefix: Network
    port: str
    mac: bytes | None = None  # the next hop's MAC: the new destination MAC
    via: Address | None = None  # the next hop's address, as written


@dataclass
class RouteTable:
    routes: list[Route] = field(default_factory=list)
    port_macs: dict[str, bytes] = field(default_factory=dict)  # port -> its own MAC
    neighbors: dict[Address, bytes] = field(default_factory=dict)

    @property
    def ports(self) -> tuple[str, ...]:
        """The output ports: port names of route lines in order of first appearance."""
        return tuple(dict.fromkeys(r.port for r in self.routes))


@dataclass(frozen=True)
class RouteError:
    line: int
    col: int  # 1-based
    length: int
    message: str
    hint: str | None = None


class _Bad(Exception):
    def __init__(self, at: int, text: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.at, self.text, self.message, self.hint = at, text, message, hint


def _mac(at: int, text: str, what: str) -> bytes:
    if not _MAC.match(text):
        raise _Bad(at, text, f"bad {what} '{text}'", "write it as 02:00:00:00:00:01")
    return bytes(int(b, 16) for b in text.split(":"))


def _port(at: int, text: str) -> str:
    if not _PORT.match(text):
        raise _Bad(at, text, f"bad port name '{text}'", "a port name is an identifier such as lan or wan")
    return text


def _address(at: int, text: str, what: str) -> Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise _Bad(at, text, f"bad {what} '{text}'",
                   "write an IPv4 or IPv6 address such as 192.0.2.1 or 2001:db8::1") from None


def _prefix(at: int, text: str) -> Network:
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        hint = None
        try:
            hint = f"did you mean '{ipaddress.ip_network(text, strict=False)}'?"
        except ValueError:
            pass
        raise _Bad(at, text, f"bad prefix '{text}': {exc}", hint) from None


def parse_route_file(text: str) -> tuple[RouteTable, list[RouteError]]:
    """Parse a route file. Every line with an error is reported and left out of the table."""
    table = RouteTable()
    errors: list[RouteError] = []
    first_route: dict[Network, int] = {}
    first_port: dict[str, int] = {}
    first_neighbor: dict[Address, int] = {}
    vias: list[tuple[int, int, str, Route]] = []  # checked once every neighbor is known
    port_lines: list[tuple[int, int, str]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        cut = raw.find("#")
        line = raw if cut < 0 else raw[:cut]
        words = [(m.start() + 1, m.group()) for m in re.finditer(r"\S+", line)]
        if not words:
            continue
        try:
            keyword = words[0][1]
            if keyword in ("port", "neighbor"):
                if len(words) != 3:
                    form = "port NAME MAC" if keyword == "port" else "neighbor ADDRESS MAC"
                    raise _Bad(words[0][0], line.strip(),
                               f"expected `{form}`, found {len(words)} fields")
                (n_at, ntext), (m_at, mtext) = words[1], words[2]
                if keyword == "port":
                    name = _port(n_at, ntext)
                    mac = _mac(m_at, mtext, "port MAC")
                    if mac[0] & 1:
                        raise _Bad(m_at, mtext, f"the MAC of port '{name}' is a multicast address",
                                   "a frame's source MAC must be unicast (first octet even)")
                    if name in first_port:
                        raise _Bad(n_at, ntext, f"port '{name}' already has a MAC "
                                   f"(line {first_port[name]})")
                    first_port[name] = lineno
                    table.port_macs[name] = mac
                    port_lines.append((lineno, n_at, name))
                else:
                    addr = _address(n_at, ntext, "neighbor address")
                    mac = _mac(m_at, mtext, "neighbor MAC")
                    if addr in first_neighbor:
                        raise _Bad(n_at, ntext, f"duplicate neighbor {addr} "
                                   f"(first on line {first_neighbor[addr]})")
                    first_neighbor[addr] = lineno
                    table.neighbors[addr] = mac
                continue

            # PREFIX [via NEXT_HOP] PORT [NEXT_HOP_MAC]
            p_at, ptext = words[0]
            rest = words[1:]
            via = None
            via_at = 0
            if rest and rest[0][1] == "via":
                if len(rest) < 2:
                    raise _Bad(rest[0][0], "via", "'via' needs the next hop's address")
                via_at, vtext = rest[1]
                via = _address(via_at, vtext, "next hop")
                rest = rest[2:]
            if len(rest) not in (1, 2):
                raise _Bad(p_at, line.strip(),
                           f"expected PREFIX [via NEXT_HOP] PORT [NEXT_HOP_MAC], found {len(words)} fields")
            prefix = _prefix(p_at, ptext)
            if via is not None and via.version != prefix.version:
                raise _Bad(via_at, str(vtext), f"next hop {via} is IPv{via.version} but the prefix "
                           f"{prefix} is IPv{prefix.version}")
            port = _port(*rest[0])
            mac = _mac(*rest[1], "next-hop MAC") if len(rest) == 2 else None
            if prefix in first_route:
                raise _Bad(p_at, ptext, f"duplicate route for {prefix} (first on line {first_route[prefix]})")
            first_route[prefix] = lineno
            route = Route(lineno, prefix, port, mac, via)
            if via is not None and mac is None:
                vias.append((lineno, via_at, vtext, route))
            table.routes.append(route)
        except _Bad as bad:
            errors.append(RouteError(lineno, bad.at, max(1, len(bad.text)), bad.message, bad.hint))

    # A `via` without a MAC takes its neighbor's; a port line must name a routed port.
    for lineno, at, vtext, route in vias:
        mac = table.neighbors.get(route.via)
        if mac is None:
            errors.append(RouteError(lineno, at, len(vtext), f"no MAC known for next hop {route.via}",
                                     f"add a line `neighbor {route.via} MAC`, or give the MAC "
                                     f"at the end of the route"))
            table.routes.remove(route)
            continue
        index = table.routes.index(route)
        table.routes[index] = Route(route.line, route.prefix, route.port, mac, route.via)
    routed = set(table.ports)
    for lineno, at, name in port_lines:
        if name not in routed:
            errors.append(RouteError(lineno, at, len(name), f"no route uses port '{name}'",
                                     "a port line gives the MAC of one of the ports routes name"))
            del table.port_macs[name]
    if len(next_hops(table)) > MAX_NEXT_HOPS:
        errors.append(RouteError(1, 1, 1, f"more than {MAX_NEXT_HOPS} distinct "
                                 "(port, next-hop MAC) pairs"))
    errors.sort(key=lambda e: (e.line, e.col))
    return table, errors


def parse_routes(text: str) -> tuple[list[Route], list[RouteError]]:
    """The routes of a route file and its errors."""
    table, errors = parse_route_file(text)
    return table.routes, errors


def next_hops(table: RouteTable) -> list[tuple[str, bytes | None]]:
    """The distinct (port, next-hop MAC) pairs of the routes, in order of first use."""
    return list(dict.fromkeys((r.port, r.mac) for r in table.routes))


def route_ports(path: str | Path) -> tuple[str, ...]:
    """The port names of a route file in order of first appearance; () if unreadable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, TypeError, ValueError):
        return ()
    return parse_route_file(text)[0].ports
