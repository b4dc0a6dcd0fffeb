"""place-stages: give every stage replica a logical core and predict each stage's rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chainc.ir.graph import NodeKind

from .plan import Depth

if TYPE_CHECKING:
    from .pipeline import PassContext


def stage_cycles(ctx: "PassContext", nodes: list[str]) -> float:
    """Cycles per input packet of a set of nodes on one core, ring crossings included."""
    cost, graph = ctx.cost_model(), ctx.graph
    inside = set(nodes)
    total = 0.0
    for node_id in nodes:
        n = graph.node(node_id)
        depth = ctx.plan.parse_depth.get(n.port, Depth.L4) if n.port else Depth.L4
        total += cost.node_cost(n, depth)
    for e in graph.edges():
        if graph.node(e.dst).kind in (NodeKind.PORT_OUT, NodeKind.DROP):
            continue
        if (e.src in inside) != (e.dst in inside):
            total += cost.ring_cost(e, receiving=e.dst in inside)
    return total


def _spread(loads: list[float], n_cores: int) -> list[int]:
    """Consecutive stages onto at most n_cores cores, minimising the busiest core."""
    best: tuple[float, list[int]] | None = None

    def walk(i: int, core: int, acc: float, worst: float, out: list[int]) -> None:
        nonlocal best
        if i == len(loads):
            if best is None or worst < best[0]:
                best = (worst, list(out))
            return
        if best is not None and worst >= best[0]:
            return
        out.append(core)
        walk(i + 1, core, acc + loads[i], max(worst, acc + loads[i]), out)
        out.pop()
        if i > 0 and core + 1 < n_cores:
            out.append(core + 1)
            walk(i + 1, core + 1, loads[i], max(worst, loads[i]), out)
            out.pop()

    if len(loads) > 24:  # keep it linear: fill cores in order, about equally
        share = sum(loads) / n_cores
        out, core, acc = [], 0, 0.0
        for load in loads:
            if acc > 0 and acc + load > share and core + 1 < n_cores:
                core, acc = core + 1, 0.0
            out.append(core)
            acc += load
        return out
    walk(0, 0, 0.0, 0.0, [])
    assert best is not None
    return best[1]


@dataclass(frozen=True)
class PlaceStages:
    """Map each stage's replicas to logical cores and predict its throughput.

    Requires: stages (fuse-stages) and the replicas each wants. Establishes:
    `StagePlan.cores` (logical core i is the i-th lcore of the binary),
    `cycles` and `predicted_mpps` per stage. A replicated first stage takes
    cores 0..r-1 and each later stage the next core; stages from `@core`
    hints take the hinted core; with fusion off and more stages than cores,
    consecutive stages share a core, balanced by cost. Why: one stage per
    core keeps every core's loop simple; the prediction is what `chainc
    plan` shows and what the bottleneck is judged by.
    """

    name: str = "place-stages"
    required: bool = True

    def apply(self, ctx: "PassContext") -> None:
        plan = ctx.plan
        n_cores = len(ctx.options.cpus)
        for st in plan.stages:
            st.cycles = stage_cycles(ctx, st.nodes)
        if ctx.hinted_cores:
            for st in plan.stages:
                st.cores = [ctx.hinted_cores[st.index]]
        elif len(plan.stages) > n_cores:
            for st, core in zip(plan.stages, _spread([s.cycles for s in plan.stages], n_cores)):
                st.cores = [core]
        else:
            core = 0
            for st in plan.stages:
                count = ctx.replicas.get(st.index, 1)
                st.cores = list(range(core, core + count))
                core += count
        self._compact(ctx)
        self._predict(ctx)

    @staticmethod
    def _compact(ctx: "PassContext") -> None:
        """Number the used logical cores 0, 1, ... (hints may skip some) and keep their CPUs."""
        plan = ctx.plan
        used = sorted({c for st in plan.stages for c in st.cores})
        renumber = {c: i for i, c in enumerate(used)}
        for st in plan.stages:
            st.cores = [renumber[c] for c in st.cores]
        plan.cpus = tuple(plan.cpus[c] for c in used) + tuple(
            c for i, c in enumerate(plan.cpus) if i not in renumber)

    def _predict(self, ctx: "PassContext") -> None:
        plan, cost = ctx.plan, ctx.cost_model()
        load: dict[int, float] = {}
        for st in plan.stages:
            for c in st.cores:
                load[c] = load.get(c, 0.0) + st.cycles / st.replicas
        for st in plan.stages:
            busiest = max(load[c] for c in st.cores)
            st.predicted_mpps = cost.mpps(busiest)
            where = _cores_text(st.cores)
            shared = [o.index for o in plan.stages if o is not st and set(o.cores) & set(st.cores)]
            text = (f"stage {st.index} on {where}: {st.cycles:.0f} cycles per packet"
                    f" ({'shared with stage ' + ', '.join(map(str, shared)) + ', ' if shared else ''}"
                    f"predicted {st.predicted_mpps:.2f} Mpps)")
            plan.note(self.name, text, ctx.graph.node(st.nodes[0]).span)


def _cores_text(cores: list[int]) -> str:
    if len(cores) == 1:
        return f"core {cores[0]}"
    if cores == list(range(cores[0], cores[-1] + 1)):
        return f"cores {cores[0]}-{cores[-1]} ({len(cores)} replicas)"
    return f"cores {','.join(map(str, cores))} ({len(cores)} replicas)"
