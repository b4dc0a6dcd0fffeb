"""The plan as the pictures see it: stages on cores, rings, replicas, RSS, predictions.

`--plan` draws a `PlanView`. Today it comes from the DPDK backend's
PipelineModel (stages from `@core` hints) through `plan_from_model`, the one
adapter: when the optimiser produces richer plans (replicas over RSS queues,
predicted rates, a bottleneck), only that adapter changes. Every field that
a plan may not know is optional and drawn only when present.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chainc.ir.graph import ChainGraph


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


def plan_from_model(model: Any) -> PlanView:
    """The adapter: a backend PipelineModel as a PlanView."""
    stages = tuple(StageView(s.index, s.core, tuple(model.nodes[i].node.id for i in s.nodes))
                   for s in model.stages)
    rings = []
    for nm in model.nodes:
        for out_port, target in nm.targets:
            if target[0] == "ring":
                ring = model.rings[target[1]]
                rings.append(RingView(ring.index, nm.node.id, out_port, ring.src_stage, ring.dst_stage))
    return PlanView(stages, tuple(sorted(rings, key=lambda r: r.index)))


def plan_for(graph: ChainGraph) -> PlanView:
    """The plan the backend would build for `graph` (PlacementError if it cannot run it)."""
    from chainc.backends.dpdk.model import build_model

    return plan_from_model(build_model(graph))
