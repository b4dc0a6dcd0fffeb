"""Verify: check that a ChainGraph is a well-formed chain.

Requires: a ChainGraph built by the resolver (or any pass).
Establishes: the graph is a DAG; every output of every NF feeds an edge;
every NF can be reached from an input port; every declared port is used
(a warning otherwise), and pcap ports used in a direction have a file for it
(a warning: `chainc run --in/--out` may bind one at run time).

Checks that need names rather than the graph (unknown NF types, parameters,
ports; duplicate names; bad imports) are made by the resolver, which also
tells verify, through `Suppressed`, which nodes already have an error
explaining why they are not connected, so one mistake is reported once.

Messages name nodes by the name the user wrote in their scope (`cls`,
`Counter#1`), not by their full id (`scrub/Counter#1`), so the same mistake
inside a sub-chain reads the same for every instance and is reported once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import networkx as nx

from chainc.diagnostics import Reporter
from chainc.ir.graph import ChainGraph, Edge, NfNode, NodeKind


@dataclass
class Suppressed:
    """Nodes whose problems an earlier error already explains."""

    reach: set[str] = field(default_factory=set)  # don't report as unreachable / unconnected
    outputs: set[str] = field(default_factory=set)  # don't report unconnected outputs
    ports: set[str] = field(default_factory=set)  # port names: don't warn they are unused


def local_label(node: NfNode) -> str:
    """The name of a node in its own scope: `cls`, `Counter#1`, `wan`."""
    if node.port is not None:
        return node.port
    return node.id.rsplit("/", 1)[-1]


def verify(graph: ChainGraph, reporter: Reporter, suppressed: Suppressed | None = None) -> None:
    """Report every structural error of `graph` to `reporter`."""
    suppressed = suppressed or Suppressed()
    check_cycles(graph, reporter)
    isolated = check_outputs(graph, reporter, suppressed)
    check_reachable(graph, reporter, suppressed, isolated)
    check_ports(graph, reporter, suppressed)


# ---------------------------------------------------------------- cycles


def _edge_key(graph: ChainGraph, edge: Edge) -> tuple[int, int]:
    if edge.span is None:
        return (0, -1)
    return (1 if edge.span.file.path == graph.source_path else 0, edge.span.start)


def check_cycles(graph: ChainGraph, reporter: Reporter) -> None:
    """One error per strongly connected component (or self-loop), at the edge
    that closes the cycle (the one written last), listing the NFs in order."""
    g = graph.g
    rank = {n: i for i, n in enumerate(g.nodes)}
    components = []
    for comp in nx.strongly_connected_components(g):
        if len(comp) > 1 or any(g.has_edge(n, n) for n in comp):
            components.append(comp)
    components.sort(key=lambda c: min(rank[n] for n in c))
    for comp in components:
        inner = [d["edge"] for u, v, d in g.edges(comp, data=True) if v in comp]
        closing = max(inner, key=lambda e: (_edge_key(graph, e), -rank[e.src]))
        path = _path(g, closing.dst, closing.src, comp, rank)
        names = [local_label(graph.node(n)) for n in path] + [local_label(graph.node(closing.dst))]
        reporter.error(f"the chain has a cycle: {' -> '.join(names)}", closing.span,
                       hint="a chain is a DAG: packets cannot come back to an NF they passed; "
                            "to send them out again, connect the NF to a port")


def _path(g: nx.MultiDiGraph, start: str, goal: str, comp: set[str], rank: dict[str, int]) -> list[str]:
    """A shortest path start -> goal inside one component (deterministic)."""
    prev: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        n = queue.popleft()
        if n == goal:
            break
        for m in sorted(set(g.successors(n)) & comp, key=rank.__getitem__):
            if m not in prev:
                prev[m] = n
                queue.append(m)
    out: list[str] = []
    cur: str | None = goal
    while cur is not None:
        out.append(cur)
        cur = prev.get(cur)
    return out[::-1]


# ---------------------------------------------------------------- outputs


def check_outputs(graph: ChainGraph, reporter: Reporter, suppressed: Suppressed) -> set[str]:
    """Unconnected outputs; NFs connected to nothing at all are one error each.
    Returns the ids of those isolated NFs."""
    g = graph.g
    used = {(u, k) for u, _, k in g.edges(keys=True)}
    isolated: set[str] = set()
    for node in graph.nodes(NodeKind.NF):
        if node.id in suppressed.reach or node.id in suppressed.outputs:
            continue
        name = local_label(node)
        if g.degree(node.id) == 0:
            isolated.add(node.id)
            reporter.error(f"'{name}' is not connected to anything", node.span,
                           hint=f"connect it, e.g. `wan -> {name} -> lan`, or remove it")
            continue
        missing = [p for p in node.outputs if (node.id, p) not in used]
        if not missing:
            continue
        if len(node.outputs) == 1:
            message = f"the output of '{name}' is not connected"
            example = f"{name} -> drop"
        elif len(missing) == 1:
            message = f"output '{missing[0]}' of '{name}' is not connected"
            example = f"{name}.{missing[0]} -> drop"
        else:
            shown = ", ".join(f"'{p}'" for p in missing)
            message = f"outputs {shown} of '{name}' are not connected"
            example = f"{name}.{missing[0]} -> drop"
        reporter.error(message, node.span,
                       hint=f"send its packets on, or discard them: `{example}`")
    return isolated


# ---------------------------------------------------------------- reachability


def check_reachable(graph: ChainGraph, reporter: Reporter, suppressed: Suppressed,
                    isolated: set[str] = frozenset()) -> None:
    """NFs no packet can reach from an input port. Only the first NF of an
    unreachable stretch is reported (the ones after it follow from it)."""
    g = graph.g
    seen = {n.id for n in graph.nodes(NodeKind.PORT_IN)}
    queue = deque(seen)
    while queue:
        n = queue.popleft()
        for m in g.successors(n):
            if m not in seen:
                seen.add(m)
                queue.append(m)
    for node in graph.nodes(NodeKind.NF):
        if node.id in seen or node.id in isolated or node.id in suppressed.reach:
            continue
        if g.in_degree(node.id) > 0:
            continue
        name = local_label(node)
        reporter.error(f"'{name}' is unreachable: no packets reach it from an input port",
                       node.span, hint=f"connect something to it, e.g. `wan -> {name}`")


# ---------------------------------------------------------------- ports


def check_ports(graph: ChainGraph, reporter: Reporter, suppressed: Suppressed | None = None) -> None:
    used_in = {n.port for n in graph.nodes(NodeKind.PORT_IN)}
    used_out = {n.port for n in graph.nodes(NodeKind.PORT_OUT)}
    skip = suppressed.ports if suppressed is not None else set()
    for name, binding in graph.port_bindings.items():
        if name in skip:
            continue
        if name not in used_in and name not in used_out:
            reporter.warning(f"port '{name}' is declared but never used", binding.span,
                             hint=f"connect it (`{name} -> ...` or `... -> {name}`) or remove it")
            continue
        if binding.driver != "pcap":
            continue
        if name in used_in and not binding.args.get("in"):
            reporter.warning(
                f"port '{name}' receives packets, but its pcap binding has no input file",
                binding.span,
                hint=f'add one (`pcap(in: "{name}.pcap")`) or give it at run time: '
                     f"`chainc run --in {name}=FILE`")
        if name in used_out and not binding.args.get("out"):
            reporter.warning(
                f"port '{name}' sends packets, but its pcap binding has no output file",
                binding.span,
                hint=f'add one (`pcap(out: "{name}-out.pcap")`) or give it at run time: '
                     f"`chainc run --out {name}=FILE`")
