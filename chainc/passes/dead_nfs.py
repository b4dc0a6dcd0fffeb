"""eliminate-dead-nfs: NFs whose every packet is dropped anyway, with nothing to show for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chainc.ir.graph import ChainGraph, NfNode, NodeKind

if TYPE_CHECKING:
    from .pipeline import PassContext

DROP_ID = "drop"


def dead_nfs(graph: ChainGraph) -> list[NfNode]:
    """NFs without side effects from which every path ends at the drop sink, in topological order."""
    dead: set[str] = set()
    for node in reversed(graph.topological_order()):
        if node.kind is not NodeKind.NF or node.spec is None or node.spec.side_effects:
            continue
        if node.spec.native is not None and node.spec.native.emits:
            continue  # it makes packets of its own
        ends = [graph.node(e.dst) for e in graph.out_edges(node.id)]
        if all(d.kind is NodeKind.DROP or d.id in dead for d in ends):
            dead.add(node.id)
    return [n for n in graph.topological_order() if n.id in dead]


def _drop_sink(graph: ChainGraph, near: NfNode) -> str:
    if DROP_ID not in graph:
        graph.add(NfNode(DROP_ID, NodeKind.DROP, near.span, inputs=("in",), outputs=()))
    return DROP_ID


@dataclass(frozen=True)
class EliminateDeadNfs:
    """Remove NFs whose packets all end in `drop` and that have no side effects.

    Requires: a valid graph. Establishes: every NF left either has side
    effects (a Counter, an IDS alert, a monitor: never removed) or can send
    a packet to a port. The removed NF's inputs go straight to the drop
    sink. Why: the work of such an NF is invisible, so it is wasted cycles
    on every packet it sees (`cls.other -> Drop()` costs an NF call per
    dropped packet for nothing the drop sink does not do).
    """

    name: str = "eliminate-dead-nfs"
    required: bool = False

    def apply(self, ctx: "PassContext") -> None:
        graph = ctx.graph
        gone = dead_nfs(graph)
        if not gone:
            return
        ids = {n.id for n in gone}
        for node in gone:
            for e in graph.in_edges(node.id):
                if e.src in ids:
                    continue
                graph.g.remove_edge(e.src, e.dst, key=e.out_port)
                graph.connect(e.src, e.out_port, _drop_sink(graph, node), "in", e.span)
        for node in gone:
            graph.remove(node.id)
            ctx.plan.note(self.name, f"{node.type_name} '{node.id}' removed: it has no side effects "
                                     f"and every packet it gets is dropped, so its packets go to "
                                     f"the drop sink directly", node.span)
