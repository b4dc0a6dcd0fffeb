"""replicate-stages: RSS settings for the ports that feed a replicated stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chainc.ir.graph import NfNode, NodeKind
from chainc.nfs.spec import StateKind

from .plan import RssPlan, StagePlan

if TYPE_CHECKING:
    from .pipeline import PassContext


def needs_symmetric(node: NfNode) -> bool:
    """An NF whose per-flow state must see both directions of a connection."""
    spec = node.spec
    return (spec is not None and spec.state is StateKind.PER_FLOW
            and "symmetric" in (spec.state_key or ""))


def rss_reason(nfs: list[NfNode]) -> tuple[bool, str]:
    both = [n for n in nfs if needs_symmetric(n)]
    if both:
        n = both[0]
        return True, (f"{n.type_name} '{n.id}' keeps per-flow state ({n.spec.state_key}) and must "
                      "see both directions of a connection on one core")
    flows = [n for n in nfs if n.spec is not None and n.spec.state is StateKind.PER_FLOW]
    if flows:
        n = flows[0]
        return False, (f"{n.type_name} '{n.id}' keeps per-flow state ({n.spec.state_key}): every "
                       "packet of a flow reaches the same replica")
    return False, "no NF keeps per-flow state: RSS only spreads the load"


@dataclass(frozen=True)
class ReplicateStages:
    """Configure RSS on the ports received by a replicated stage.

    Requires: placed stages. Establishes: `plan.rss[port]` for every port a
    replicated stage receives: one receive queue per replica (replica i
    polls queue i of each of its ports) and the Toeplitz key: symmetric
    (0x6d5a repeated) when an NF of the stage keeps per-flow state that
    must see both directions (ConnTrack, IDS), so a reply reaches the
    replica that saw the request; the usual key otherwise. Each replica
    has its own state for every NF (per-flow state never needs sharing,
    since RSS keeps a flow on one replica) and its own counters, merged in
    the report. Why: replication is how a run-to-completion stage scales
    past one core without rings. Without this pass no stage is replicated.
    """

    name: str = "replicate-stages"
    required: bool = False

    def apply(self, ctx: "PassContext") -> None:
        for st in ctx.plan.stages:
            if st.replicas > 1:
                self._replicate(ctx, st)

    def _replicate(self, ctx: "PassContext", st: StagePlan) -> None:
        graph, plan = ctx.graph, ctx.plan
        nodes = [graph.node(i) for i in st.nodes]
        symmetric, reason = rss_reason([n for n in nodes if n.kind is NodeKind.NF])
        for n in nodes:
            if n.kind is NodeKind.PORT_IN:
                rss = RssPlan(n.port, st.replicas, symmetric, reason)
                plan.rss[n.port] = rss
                binding = graph.port_bindings.get(n.port)
                plan.note(self.name, f"port '{n.port}': {rss.describe()}: {reason}",
                          binding.span if binding is not None else n.span)
