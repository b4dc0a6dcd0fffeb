"""Route files: `PREFIX PORT [NEXT_HOP_MAC]` per line, `#` comments.

    10.1.0.0/16     lan   02:00:00:00:01:01
    0.0.0.0/0       wan   02:00:00:00:02:01
    2001:db8::/32   lan

PORT names an output of the Router (the order of first appearance is the
port order); a next-hop MAC, when given, becomes the frame's destination MAC.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

_PORT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


@dataclass(frozen=True)
class Route:
    line: int
    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network
    port: str
    next_hop: bytes | None = None


@dataclass(frozen=True)
class RouteError:
    line: int
    col: int
    length: int
    message: str
    hint: str | None = None


def parse_routes(text: str) -> tuple[list[Route], list[RouteError]]:
    routes: list[Route] = []
    errors: list[RouteError] = []
    seen: dict[object, int] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        cut = raw.find("#")
        line = raw if cut < 0 else raw[:cut]
        words = [(m.start(), m.group()) for m in re.finditer(r"\S+", line)]
        if not words:
            continue
        if len(words) not in (2, 3):
            errors.append(RouteError(lineno, words[0][0] + 1, len(line.rstrip()) - words[0][0],
                                     f"expected PREFIX PORT [NEXT_HOP_MAC], found {len(words)} fields"))
            continue
        (p_at, ptext), (n_at, port) = words[0], words[1]
        try:
            prefix = ipaddress.ip_network(ptext, strict=True)
        except ValueError as exc:
            hint = None
            try:
                hint = f"did you mean '{ipaddress.ip_network(ptext, strict=False)}'?"
            except ValueError:
                pass
            errors.append(RouteError(lineno, p_at + 1, len(ptext), f"bad prefix '{ptext}': {exc}", hint))
            continue
        if not _PORT.match(port):
            errors.append(RouteError(lineno, n_at + 1, len(port), f"bad port name '{port}'",
                                     "a port name is an identifier such as lan or wan"))
            continue
        mac = None
        if len(words) == 3:
            m_at, mtext = words[2]
            if not _MAC.match(mtext):
                errors.append(RouteError(lineno, m_at + 1, len(mtext), f"bad next-hop MAC '{mtext}'",
                                         "write it as 02:00:00:00:00:01"))
                continue
            mac = bytes(int(b, 16) for b in mtext.split(":"))
        if prefix in seen:
            errors.append(RouteError(lineno, p_at + 1, len(ptext),
                                     f"duplicate route for {prefix} (first on line {seen[prefix]})"))
            continue
        seen[prefix] = lineno
        routes.append(Route(lineno, prefix, port, mac))
    return routes, errors


def route_ports(path: str | Path) -> tuple[str, ...]:
    """The port names of a route file in order of first appearance; () if unreadable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, TypeError):
        return ()
    ports: dict[str, None] = {}
    for route in parse_routes(text)[0]:
        ports.setdefault(route.port, None)
    return tuple(ports)
