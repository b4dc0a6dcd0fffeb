"""parse-once: parse each port's headers at ingress only as deep as its NFs read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import networkx as nx

from chainc.ir.graph import ChainGraph, NfNode, NodeKind

from .plan import Depth

if TYPE_CHECKING:
    from .pipeline import PassContext

# A header field a spec reads (`ip.dst`, `l4.sport`, `meta.ct_state`) by its layer.
_LAYER = {"eth": Depth.L2, "vlan": Depth.L2, "ip": Depth.L3, "ip6": Depth.L3, "meta": Depth.NONE}


def field_depth(name: str) -> Depth:
    """The parse depth a read field needs; fields of unknown layers need everything."""
    return _LAYER.get(name.split(".", 1)[0], Depth.L4)


def reads_depth(reads: Iterable[str]) -> Depth:
    return max((field_depth(f) for f in reads), default=Depth.NONE)


def nf_depth(node: NfNode) -> Depth:
    return reads_depth(node.spec.reads) if node.spec is not None else Depth.L4


def port_depths(graph: ChainGraph) -> dict[str, tuple[Depth, NfNode | None]]:
    """Per receiving port: the depth its packets need, and the first NF that needs it."""
    out: dict[str, tuple[Depth, NfNode | None]] = {}
    order = {n.id: i for i, n in enumerate(graph.topological_order())}
    for port_in in graph.nodes(NodeKind.PORT_IN):
        reached = sorted(nx.descendants(graph.g, port_in.id), key=order.__getitem__)
        best: tuple[Depth, NfNode | None] = (Depth.NONE, None)
        for node_id in reached:
            node = graph.node(node_id)
            if node.kind is NodeKind.NF and nf_depth(node) > best[0]:
                best = (nf_depth(node), node)
        out[port_in.port] = best
    return out


@dataclass(frozen=True)
class ParseOnce:
    """Choose, per receiving port, how deep its headers are parsed into the metadata.

    Requires: a valid graph whose NF specs declare the header fields they
    read. Establishes: `plan.parse_depth[port]`, the deepest layer any NF a
    packet from that port can reach reads (Ethernet/VLAN, IP, TCP/UDP/ICMP,
    or none); fields below it stay zero. Headers are still parsed once, at
    ingress, and the metadata crosses rings with the packet; an NF that
    rewrites headers re-parses fully. Why: a chain of MacSwap and Counter
    needs no IP header, and a router only the IP header: the cycles of the
    deeper parse are saved on every packet. Without this pass every header
    is parsed.
    """

    name: str = "parse-once"
    required: bool = False

    def apply(self, ctx: "PassContext") -> None:
        for port, (depth, node) in port_depths(ctx.graph).items():
            ctx.plan.parse_depth[port] = depth
            if node is None:
                text = f"port '{port}': no NF reads a header, so none is parsed"
                span = ctx.graph.port_bindings[port].span if port in ctx.graph.port_bindings else None
            else:
                field = max(node.spec.reads, key=field_depth)
                text = (f"port '{port}': headers parsed to {depth.label}: {node.type_name} "
                        f"'{node.id}' reads {field}")
                span = node.span
            ctx.plan.note(self.name, text, span)
