"""`chainc show`: the chain as plain text for a terminal, with the plan and counters when given.

Each node is a line (name, type, the parameters the user wrote, hints,
source line) followed by its outgoing edges, one per line, with the arm
name, the ring that carries it and its packets. In run order; with a plan,
grouped by stage under a heading that names the core.
"""

from __future__ import annotations

import os

from chainc.ir.graph import ChainGraph, Edge, NfNode, NodeKind
from chainc.viz import describe
from chainc.viz.dot import cycles_line
from chainc.viz.plan import PlanView, StageView
from chainc.viz.statsfile import Snapshot


def _heading(graph: ChainGraph) -> str:
    nfs = len(graph.nodes(NodeKind.NF))
    return (f"chain {graph.name} ({os.path.basename(graph.source_path)}): {nfs} NF{'s' * (nfs != 1)}, "
            f"{len(graph.ports())} port(s), {len(graph.edges())} edge(s)")


def _node_line(graph: ChainGraph, node: NfNode) -> str:
    if node.kind is NodeKind.NF:
        parts = [node.id, node.type_name, *describe.key_params(graph, node)]
        hints = describe.hints_text(node)
        if hints:
            parts.append(hints)
    else:
        parts = [f"port {node.port}", "receive" if node.kind is NodeKind.PORT_IN else "send"]
    source = describe.source_text(node)
    return "  ".join(parts) + (f"  ({source})" if source else "")


def _target(graph: ChainGraph, edge: Edge) -> str:
    dst = graph.node(edge.dst)
    if dst.kind is NodeKind.PORT_OUT:
        return f"port {dst.port}"
    return "drop" if dst.kind is NodeKind.DROP else dst.id


def _edge_lines(graph: ChainGraph, node: NfNode, plan: PlanView | None,
                stats: Snapshot | None) -> list[str]:
    edges = graph.out_edges(node.id)
    arm_width = max((len(e.out_port) for e in edges), default=0) if len(node.outputs) > 1 else 0
    rows = []
    for e in edges:
        arrow = f"{e.out_port:<{arm_width}} -> " if arm_width else "-> "
        extra = []
        ring = plan.ring_on(e.src, e.out_port) if plan is not None else None
        if ring is not None:
            extra.append(f"[ring {ring.index} to stage {ring.dst_stage}]")
        if stats is not None:
            count = stats.edge_count(e.src, e.out_port) or 0
            rate = stats.rate(count)
            extra.append(f"{describe.fmt_count(count)} pkts"
                         + (f", {describe.fmt_rate(rate)}" if rate is not None else ""))
        rows.append((arrow + _target(graph, e), "  ".join(extra)))
    width = max((len(r[0]) for r in rows), default=0)
    return [f"    {left:<{width}}  {right}".rstrip() for left, right in rows]


def _stats_line(node: NfNode, stats: Snapshot) -> str | None:
    s = stats.nodes.get(node.id)
    if node.kind is not NodeKind.NF or s is None:
        return None
    parts = [f"in {describe.fmt_count(s.packets_in)}"]
    if s.cycles_per_packet is not None:
        parts.append(cycles_line(s.cycles_per_packet))
    parts.append(f"drops: {describe.count_pairs(s.drops)}" if s.dropped else "no drops")
    if s.emitted:
        parts.append(f"emitted {describe.fmt_count(s.emitted)}")
    if any(s.counters.values()):
        parts.append(f"counters: {describe.count_pairs(s.counters)}")
    return "    = " + " | ".join(parts)


def _stage_heading(plan: PlanView, stage: StageView) -> str:
    parts = [f"stage {stage.index} on core {stage.core}", *stage.notes()]
    if plan.bottleneck == stage.index:
        parts.append("BOTTLENECK")
    return "== " + ", ".join(parts) + " =="


def show_text(graph: ChainGraph, plan: PlanView | None = None, stats: Snapshot | None = None) -> str:
    order = [n for n in graph.topological_order() if n.kind is not NodeKind.DROP]
    lines = [_heading(graph)]
    if plan is not None:
        text = f"plan: {len(plan.stages)} stage(s), {len(plan.rings)} ring(s)"
        if plan.predicted_mpps is not None:
            text += f", predicted {plan.predicted_mpps:g} Mpps"
        lines.append(text)
    if stats is not None and stats.elapsed_s:
        lines.append(f"statistics over {stats.elapsed_s:.3f} s")
    groups: list[tuple[str | None, list[NfNode]]] = [(None, order)]
    if plan is not None:
        groups = [(_stage_heading(plan, s), [n for n in order if n.id in s.nodes])
                  for s in plan.stages]
    for heading, nodes in groups:
        lines.append("")
        if heading:
            lines.append(heading)
        for node in nodes:
            lines.append("  " + _node_line(graph, node))
            extra = _stats_line(node, stats) if stats is not None else None
            if extra:
                lines.append(extra)
            lines += _edge_lines(graph, node, plan, stats)
    return "\n".join(lines) + "\n"
