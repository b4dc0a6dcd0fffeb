"""Router: longest-prefix-match IPv4/IPv6 forwarding to named output ports."""

from __future__ import annotations

from chainc.nfs.spec import REQUIRED, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import param_span, read_param_file, report_file_errors
from chainc.values import BOOL, PATH

from .routes import parse_routes, route_ports


def outputs(params):
    path = params.get("routes")
    return route_ports(path) if isinstance(path, str) else ()


def validate(node, reporter):
    text = read_param_file(node, "routes", reporter, "route file")
    if text is None:
        return
    routes, errors = parse_routes(text)
    report_file_errors(node, "routes", text, errors, reporter, "route file")
    if not routes and not errors:
        reporter.error(f"route file '{node.params['routes']}' holds no routes", param_span(node, "routes"),
                       hint="write one route per line: PREFIX PORT [NEXT_HOP_MAC]")


SPEC = NfSpec(
    name="Router",
    doc="Forward IPv4/IPv6 packets by longest-prefix match to the port named in a route file.",
    params=(
        ParamSpec("routes", PATH, REQUIRED,
                  "The route file: `PREFIX PORT [NEXT_HOP_MAC]` per line. Its port names "
                  "are the Router's output ports."),
        ParamSpec("decrement_ttl", BOOL, True,
                  "Decrement the IPv4 TTL / IPv6 hop limit (and update the IPv4 checksum); "
                  "packets whose TTL would reach 0 are dropped."),
    ),
    inputs=("in",),
    outputs=(),
    outputs_from=outputs,
    state=StateKind.NONE,
    reads=("eth.type", "ip.dst", "ip.ttl"),
    writes=("ip.ttl", "ip.checksum", "eth.dst"),
    cycles=60,
    drop_reasons=("no-route", "ttl-expired", "not-ip"),
    description=(
        "Looks up the destination address in the route table (DPDK's rte_lpm for IPv4, "
        "rte_lpm6 for IPv6) and sends the packet to the output named by the longest "
        "matching prefix. The output ports are the port names of the route file in "
        "order of first appearance, so `r.lan -> ...` connects the routes whose port is "
        "`lan`. A route with a next-hop MAC rewrites the destination MAC.\n\n"
        "With `decrement_ttl` (the default) the TTL or hop limit is decremented and the "
        "IPv4 header checksum updated incrementally (RFC 1624); a packet arriving with "
        "TTL 1 or 0 is dropped (`ttl-expired`; no ICMP error is sent). Packets without a "
        "matching route are dropped (`no-route`; add `0.0.0.0/0` for a default route), "
        "and non-IP frames are dropped (`not-ip`)."
    ),
    example=(
        "# routes/core.routes:\n"
        "#   10.0.0.0/8    lan  02:00:00:00:01:01\n"
        "#   0.0.0.0/0     wan  02:00:00:00:02:01\n"
        "nf r = Router(routes: \"routes/core.routes\")\n"
        "in0 -> r\n"
        "r.lan -> lan\n"
        "r.wan -> wan"
    ),
    validate=validate,
    native=None,
)
