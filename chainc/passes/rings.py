"""insert-rings: a ring wherever an edge leaves one stage for another."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx

from chainc.ir.graph import NodeKind

from .plan import RingPlan

if TYPE_CHECKING:
    from .pipeline import PassContext


@dataclass(frozen=True)
class InsertRings:
    """Put a ring on every edge between NFs of different stages.

    Requires: stages with cores. Establishes: `plan.rings`, one per crossing
    edge, and that packets only move forward between stages. The backend
    carries every edge between the same two stages on one single-producer
    ring per replica of the sending stage, the next node travelling with the
    packet: no ring is shared by two cores, and a flow keeps its order
    whichever of those edges its packets take. Edges into ports and into `drop` never
    need a ring: every core has its own transmit queue on every port and
    frees its own drops. Why: rings are the only way packets cross cores;
    a stage cycle could deadlock on full rings, so hints that make one are
    an error naming them.
    """

    name: str = "insert-rings"
    required: bool = True

    def apply(self, ctx: "PassContext") -> None:
        plan, graph = ctx.plan, ctx.graph
        stage = {node_id: st.index for st in plan.stages for node_id in st.nodes}
        order = graph.topological_order()
        for n in order:
            for e in graph.out_edges(n.id):
                if graph.node(e.dst).kind in (NodeKind.PORT_OUT, NodeKind.DROP):
                    continue
                if stage[e.src] == stage[e.dst]:
                    continue
                ring = RingPlan(len(plan.rings), e.src, e.out_port, e.dst, e.in_port,
                                stage[e.src], stage[e.dst])
                plan.rings.append(ring)
                plan.note(self.name, f"ring {ring.index}: '{e.src}'.{e.out_port} -> '{e.dst}', "
                                     f"stage {ring.src_stage} to stage {ring.dst_stage}",
                          e.span or graph.node(e.dst).span)
        self._check_forward(ctx)

    @staticmethod
    def _check_forward(ctx: "PassContext") -> None:
        plan = ctx.plan
        sg = nx.DiGraph()
        sg.add_nodes_from(st.index for st in plan.stages)
        sg.add_edges_from((r.src_stage, r.dst_stage) for r in plan.rings)
        try:
            cycle = nx.find_cycle(sg)
        except nx.NetworkXNoCycle:
            return
        cores = " -> ".join(f"core {plan.stages[u].cores[0]}" for u, _ in cycle)
        cores += f" -> core {plan.stages[cycle[0][0]].cores[0]}"
        hinted = [ctx.graph.node(i) for st in plan.stages for i in st.nodes
                  if ctx.graph.node(i).core is not None]
        span = (hinted[0].hint_spans.get("core") or hinted[0].span) if hinted else None
        ctx.reporter.error(
            f"placement sends packets back to a core they already left ({cores}); put the NFs "
            "between those cores on one core, or move the hints so packets only move forward", span)
