"""The plan as the pictures see it: stages on cores, rings, replicas, RSS, predictions.

`--plan` draws a `PlanView`, made from the optimiser's Plan (chainc.passes)
by `plan_view`, the one adapter. Every field that a plan may not know is
optional and drawn only when present.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chainc.ir.graph import ChainGraph, NodeKind


@dataclass(frozen=True)
class StageView:
    index: int
    core: int  # logical core: the n-th lcore given to the binary
    nodes: tuple[str, ...]  # node ids, ports and drop included, in run order
    replicas: int = 1  # copies of the stage, each on its own core and RSS queue
    rss: str | None = None  # what the NIC hashes to spread packets over replicas
    predicted_mpps: float | None = None

    def notes(self) -> list[str]:
        """What the plan says of the stage besides its core, as short phrases."""
        notes = []
        if self.replicas > 1:
            notes.append(f"×{self.replicas} replicas")
        if self.rss:
            notes.append(f"RSS: {self.rss}")
        if self.predicted_mpps is not None:
            notes.append(f"predicted {self.predicted_mpps:g} Mpps")
        return notes


@dataclass(frozen=True)
class RingView:
    """A ring carrying the packets of one edge (`src.out_port`) between two stages."""

    index: int
    src: str
    out_port: str
    src_stage: int
    dst_stage: int


@dataclass(frozen=True)
class PlanView:
    stages: tuple[StageView, ...]
    rings: tuple[RingView, ...] = ()
    predicted_mpps: float | None = None
    bottleneck: int | None = None  # the index of the stage that limits the rate

    def stage_of(self, node_id: str) -> StageView | None:
        return next((s for s in self.stages if node_id in s.nodes), None)

    def ring_on(self, src: str, out_port: str) -> RingView | None:
        return next((r for r in self.rings if r.src == src and r.out_port == out_port), None)


def plan_view(plan: Any) -> PlanView:
    """The adapter: the optimiser's Plan as a PlanView."""
    graph = plan.graph
    # Every stage transmits and drops on its own; a picture shows a port's transmit
    # side and the drop sink in the stage of the first NF that sends to them.
    sinks: dict[int, list[str]] = {}
    for n in graph.nodes():
        if n.kind in (NodeKind.PORT_OUT, NodeKind.DROP) and graph.in_edges(n.id):
            first = plan.stage_of(graph.in_edges(n.id)[0].src)
            if first is not None:
                sinks.setdefault(first.index, []).append(n.id)
    stages = []
    for s in plan.stages:
        ports = [graph.node(i).port for i in s.nodes if graph.node(i).port in plan.rss]
        rss = plan.rss[ports[0]] if ports else None
        stages.append(StageView(s.index, s.cores[0], tuple(s.nodes + sinks.get(s.index, [])), s.replicas,
                                ("symmetric Toeplitz" if rss.symmetric else "Toeplitz") if rss else None,
                                round(s.predicted_mpps, 2)))
    rings = tuple(RingView(r.index, r.src, r.out_port, r.src_stage, r.dst_stage) for r in plan.rings)
    bottleneck = plan.bottleneck if len(plan.stages) > 1 else None
    return PlanView(tuple(stages), rings, round(plan.predicted_mpps, 2), bottleneck)


def plan_for(graph: ChainGraph, cores: tuple[int, ...] | None = None) -> PlanView:
    """The plan `chainc build` makes for `graph` on `cores` (by default this machine's
    default cores); CompileError if no plan can run it."""
    from chainc.passes import PlanOptions, default_cores, optimise

    return plan_view(optimise(graph, PlanOptions(cores or default_cores())))
