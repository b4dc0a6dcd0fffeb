"""The plan as `chainc plan` prints it: text for people, JSON for tools."""

from __future__ import annotations

from typing import Any

from chainc.diagnostics import Diagnostic, Severity
from chainc.ir.graph import NfNode, NodeKind
from chainc.source import Span

from .plan import Depth, Plan, StagePlan


def source_line(span: Span | None) -> str:
    """`file:line` of a span, the file as the user named it."""
    if span is None:
        return "-"
    return f"{span.file.path}:{span.line}"


def _cpus(cpus: tuple[int, ...]) -> str:
    if len(cpus) > 1 and list(cpus) == list(range(cpus[0], cpus[-1] + 1)):
        return f"{cpus[0]}-{cpus[-1]}"
    return ",".join(map(str, cpus))


def _cores(st: StagePlan) -> str:
    if st.replicas == 1:
        return f"core {st.cores[0]}"
    return f"cores {_cpus(tuple(st.cores))} ({st.replicas} replicas)"


def _node_line(plan: Plan, node: NfNode, cost_of: dict[str, float]) -> list[str]:
    if node.kind is NodeKind.PORT_IN:
        rss = plan.rss.get(node.port)
        queues = f", {rss.queues} RSS queues" if rss else ""
        depth = plan.parse_depth.get(node.port, Depth.L4)
        return [node.id, "receive", f"port {node.port}{queues}, headers parsed: {depth.label}", ""]
    cycles = cost_of.get(node.id)
    return [node.id, node.type_name, f"{cycles:.0f} cyc/pkt" if cycles is not None else "",
            source_line(node.span)]


def render_plan(plan: Plan, path: str) -> str:
    graph = plan.graph
    cost_of = plan.nf_cycles
    lines = [f"plan for {path} on {len(plan.used_cpus)} core(s) (CPUs {_cpus(plan.used_cpus)}); "
             f"cost from {plan.cost_source} at {plan.hz / 1e9:.2f} GHz", ""]
    bottleneck = plan.bottleneck
    for st in plan.stages:
        mark = "   <- bottleneck" if st.index == bottleneck and len(plan.stages) > 1 else ""
        lines.append(f"stage {st.index}  {_cores(st)}  {st.cycles:.0f} cycles/packet  "
                     f"predicted {st.predicted_mpps:.2f} Mpps{mark}")
        rows = [_node_line(plan, graph.node(i), cost_of) for i in st.nodes]
        widths = [max(len(r[k]) for r in rows) for k in range(4)]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        lines.append("")
    if plan.rings:
        lines.append("rings (edges between stages; each pair of stages shares one ring per sending replica):")
        for r in plan.rings:
            lines.append(f"  ring {r.index}: {r.src}.{r.out_port} -> {r.dst}  "
                         f"(stage {r.src_stage} -> stage {r.dst_stage})")
    else:
        lines.append("rings: none")
    if plan.rss:
        lines.append("RSS:")
        for port, rss in plan.rss.items():
            lines.append(f"  {port}: {rss.describe()}")
    else:
        lines.append("RSS: none (no replicated stage)")
    lines.append(f"predicted: {plan.predicted_mpps:.2f} Mpps"
                 + (f", bottleneck: stage {bottleneck}" if bottleneck is not None else ""))
    lines.append("")
    lines.append("decisions:")
    for d in plan.decisions:
        tag = "warning: " if d.severity == "warning" else ""
        lines.append(f"  {source_line(d.span)}: {d.pass_name}: {tag}{d.text}")
        if d.span is not None:
            lines.append("      " + d.span.file.line_text(d.span.line).strip())
    return "\n".join(lines) + "\n"


def plan_json(plan: Plan) -> dict[str, Any]:
    graph = plan.graph
    return {
        "chain": graph.name,
        "cpus": list(plan.used_cpus),
        "hz": plan.hz,
        "cost_source": plan.cost_source,
        "passes": list(plan.passes),
        "predicted_mpps": round(plan.predicted_mpps, 4),
        "bottleneck": plan.bottleneck,
        "stages": [{"index": s.index, "nodes": s.nodes, "cores": s.cores, "replicas": s.replicas,
                    "cycles": round(s.cycles, 2), "predicted_mpps": round(s.predicted_mpps, 4)}
                   for s in plan.stages],
        "rings": [{"index": r.index, "src": r.src, "out_port": r.out_port, "dst": r.dst,
                   "src_stage": r.src_stage, "dst_stage": r.dst_stage} for r in plan.rings],
        "rss": {p: {"queues": r.queues, "symmetric": r.symmetric, "key": r.key.hex(),
                    "reason": r.reason} for p, r in plan.rss.items()},
        "parse_depth": {p: d.name for p, d in plan.parse_depth.items()},
        "decisions": [{"pass": d.pass_name, "severity": d.severity, "text": d.text,
                       "source": source_line(d.span) if d.span is not None else None}
                      for d in plan.decisions],
    }


def warnings_of(plan: Plan) -> list[Diagnostic]:
    """Hints the plan does not honour, as diagnostics at the hint."""
    return [Diagnostic(Severity.WARNING, d.text, d.span) for d in plan.decisions
            if d.severity == "warning"]

