"""fuse-stages: group NFs into run-to-completion stages and choose how many replicas each gets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chainc.ir.graph import ChainGraph, NfNode, NodeKind
from chainc.nfs.spec import StateKind

from .cost import CostModel
from .plan import Depth, StagePlan

if TYPE_CHECKING:
    from .pipeline import PassContext

MAX_CUTS = 48  # candidate stage boundaries the search tries (evenly spread on longer chains)
BETTER = 1.05  # a plan using more cores must predict at least 5% more


def units(graph: ChainGraph) -> list[NfNode]:
    """What stages are made of, in topological order: NFs and receiving ports."""
    return [n for n in graph.topological_order() if n.kind in (NodeKind.NF, NodeKind.PORT_IN)]


def why_not_replicable(node: NfNode) -> str | None:
    """Why a stage holding `node` cannot be replicated, or None if it can."""
    spec = node.spec
    if node.kind is not NodeKind.NF or spec is None:
        return None
    if spec.state is StateKind.GLOBAL:
        key = f" ({spec.state_key})" if spec.state_key else ""
        return f"its state is global{key}: one copy must see every packet"
    if spec.native is not None and spec.native.finish is not None:
        return "it writes its state out at exit (a file or a report), which replicas would each do"
    return None


@dataclass
class Candidate:
    segments: list[list[int]]  # unit positions per stage, in order
    replicas: int  # of the first stage (the others run on one core each)
    mpps: float
    cycles: list[float] = field(default_factory=list)

    @property
    def cores(self) -> int:
        return self.replicas + len(self.segments) - 1


class Search:
    """Plans whose stages are consecutive runs of the topological order: the first
    stage (fed by ports only) may be replicated, later stages (fed by rings) run
    on one core each. The best predicted throughput wins; on a tie (within 5%),
    fewer cores, then fewer stages."""

    def __init__(self, graph: ChainGraph, cost: CostModel, depths: dict[str, Depth]):
        self.graph, self.cost = graph, cost
        self.units = units(graph)
        self.pos = {n.id: i for i, n in enumerate(self.units)}
        m = len(self.units)
        self.own = [cost.node_cost(n, depths.get(n.port, Depth.L4) if n.port else Depth.L4)
                    for n in self.units]
        self.crossing = []  # (src position, dst position, sender's cost, receiver's cost)
        for e in graph.edges():
            if e.src in self.pos and e.dst in self.pos:
                self.crossing.append((self.pos[e.src], self.pos[e.dst], cost.ring_cost(e, False),
                                      cost.ring_cost(e, True)))
        step = max(1, -(-m // MAX_CUTS))
        self.cuts = sorted(set(range(0, m, step)) | {m})
        self.replicable_upto = m  # units [0, k) hold no NF that forbids replication
        for i, n in enumerate(self.units):
            if why_not_replicable(n):
                self.replicable_upto = i
                break
        self._table: dict[tuple[int, int], float] = {}

    def segment_cost(self, i: int, j: int) -> float:
        """Cycles per input packet of units [i, j) on one core, rings in and out included."""
        key = (i, j)
        if key not in self._table:
            total = sum(self.own[i:j])
            for a, b, send, receive in self.crossing:
                if (i <= a < j) and not (i <= b < j):
                    total += send
                elif (i <= b < j) and not (i <= a < j):
                    total += receive
            self._table[key] = total
        return self._table[key]

    def _split(self, start: int, parts: int) -> tuple[float, list[int]]:
        """Cut units [start, m) into at most `parts` runs minimising the largest cost."""
        cuts = [c for c in self.cuts if c >= start]
        end = cuts[-1]
        best: dict[tuple[int, int], tuple[float, list[int]]] = {}
        for j in cuts[1:]:
            best[(1, j)] = (self.segment_cost(start, j), [start, j])
        for k in range(2, parts + 1):
            for j in cuts[1:]:
                options = [best[(k - 1, i)] for i in cuts[1:] if i < j and (k - 1, i) in best]
                choice = best.get((k - 1, j))
                for worst, bounds in options:
                    value = max(worst, self.segment_cost(bounds[-1], j))
                    if choice is None or value < choice[0] - 1e-9:
                        choice = (value, bounds + [j])
                if choice is not None:
                    best[(k, j)] = choice
        return best[(parts, end)] if (parts, end) in best else best[(1, end)]

    def candidates(self, n_cores: int, replicas: int | None, must_replicate: int | None,
                   allow_replicas: bool) -> list[Candidate]:
        m = len(self.units)
        out = []
        for p in self.cuts[1:]:
            first = self.segment_cost(0, p)
            can = allow_replicas and p <= self.replicable_upto
            counts = range(1, n_cores + 1) if can else [1]
            if replicas is not None:
                counts = [replicas] if replicas in counts else []
            if must_replicate is not None and must_replicate >= p:
                continue  # the hinted NF must be in the replicated stage
            for r in counts:
                left = n_cores - r
                if p < m and left < 1:
                    continue
                segments = [list(range(0, p))]
                cycles = [first]
                rate = self.cost.mpps(first, r)
                if p < m:
                    worst, bounds = self._split(p, left)
                    rate = min(rate, self.cost.mpps(worst))
                    for a, b in zip(bounds, bounds[1:]):
                        segments.append(list(range(a, b)))
                        cycles.append(self.segment_cost(a, b))
                out.append(Candidate(segments, r, rate, cycles))
        return out

    @staticmethod
    def best(candidates: list[Candidate]) -> Candidate:
        chosen = candidates[0]
        for c in candidates[1:]:
            if c.mpps > chosen.mpps * BETTER:
                chosen = c
            elif c.mpps * BETTER >= chosen.mpps and (c.cores, len(c.segments)) < \
                    (chosen.cores, len(chosen.segments)):
                chosen = c
        return chosen


@dataclass(frozen=True)
class FuseStages:
    """Group the chain's NFs into stages that each run a packet to completion.

    Requires: a valid graph, parse depths (their cost is part of a stage's).
    Establishes: `plan.stages` (nodes in topological order; ports that
    receive belong to the stage of the NF they feed) and how many replicas
    each stage wants. With `@core` hints, stages follow the hints (an NF
    without one runs where its first predecessor runs). Otherwise the cost
    model chooses among plans whose stages are consecutive runs of the
    topological order: the first may be replicated over RSS queues if none
    of its NFs keeps global state or writes its state at exit; the others
    are fed by rings and run on one core each. Why: a packet that stays on
    one core costs no ring crossing and no cache transfer, so stages are
    split only where replication is impossible or a core would be the
    bottleneck. Without this pass every NF is a stage of its own.
    """

    name: str = "fuse-stages"
    required: bool = False

    def apply(self, ctx: "PassContext") -> None:
        graph = ctx.graph
        n_cores = len(ctx.options.cpus)
        hinted = [n for n in graph.nodes(NodeKind.NF) if n.core is not None]
        if hinted:
            self._from_hints(ctx, hinted, n_cores)
            return
        self._searched(ctx, n_cores)

    # -- no fusion ------------------------------------------------------
    def when_disabled(self, ctx: "PassContext") -> None:
        """Placement still needs stages: one per NF."""
        for n in units(ctx.graph):
            if n.kind is NodeKind.PORT_IN and self._feeds_nf(ctx.graph, n):
                continue
            ctx.plan.stages.append(StagePlan(len(ctx.plan.stages), [n.id]))
        for n in units(ctx.graph):
            if n.kind is NodeKind.PORT_IN and self._feeds_nf(ctx.graph, n):
                succ = ctx.graph.out_edges(n.id)[0].dst
                ctx.plan.stage_of(succ).nodes.insert(0, n.id)
        ctx.plan.note(self.name, "fusion is off: every NF is a stage of its own, connected by rings")

    @staticmethod
    def _feeds_nf(graph: ChainGraph, port_in: NfNode) -> bool:
        out = graph.out_edges(port_in.id)
        return bool(out) and graph.node(out[0].dst).kind is NodeKind.NF

    # -- @core hints ----------------------------------------------------
    def _from_hints(self, ctx: "PassContext", hinted: list[NfNode], n_cores: int) -> None:
        graph, plan = ctx.graph, ctx.plan
        honoured = {}
        for n in hinted:
            if n.core < n_cores:
                honoured[n.id] = n.core
            else:
                plan.warn(self.name, f"@core({n.core}) of '{n.id}' is not honoured: only {n_cores} "
                                     f"core(s) were given; it runs where its input comes from",
                          n.hint_spans.get("core", n.span))
        core: dict[str, int] = {}
        for n in graph.topological_order():
            if n.kind is not NodeKind.NF:
                continue
            preds = [e.src for e in graph.in_edges(n.id) if e.src in core]
            core[n.id] = honoured.get(n.id, core[preds[0]] if preds else 0)
        for n in graph.nodes(NodeKind.PORT_IN):
            out = graph.out_edges(n.id)
            core[n.id] = core.get(out[0].dst, 0) if out else 0
        by_core: dict[int, list[str]] = {}
        for n in graph.topological_order():
            if n.id in core:
                by_core.setdefault(core[n.id], []).append(n.id)
        for c in sorted(by_core):
            ctx.hinted_cores[len(plan.stages)] = c
            plan.stages.append(StagePlan(len(plan.stages), by_core[c]))
        for n in graph.nodes(NodeKind.NF):
            if n.replicas is not None and n.replicas > 1:
                self._check_replicable(ctx, n)
                plan.warn(self.name, f"@replicas({n.replicas}) of '{n.id}' is not honoured: "
                                     "placement follows the @core hints, which give each stage one core",
                          n.hint_spans.get("replicas", n.span))
        plan.note(self.name, f"stages follow the @core hints: {len(plan.stages)} stage(s); an NF "
                             "without a hint runs where its first input comes from",
                  hinted[0].hint_spans.get("core", hinted[0].span))

    # -- the cost model's choice ----------------------------------------
    def _searched(self, ctx: "PassContext", n_cores: int) -> None:
        graph, plan = ctx.graph, ctx.plan
        search = Search(graph, ctx.cost_model(), plan.parse_depth)
        if not search.units:
            return
        allow = ctx.enabled("replicate-stages")
        wanted = [n for n in graph.nodes(NodeKind.NF) if n.replicas is not None]
        replicas = must = None
        for n in wanted:
            self._check_replicable(ctx, n)
            reason = self._hint_problem(search, n, n_cores, allow)
            if reason is not None:
                plan.warn(self.name, f"@replicas({n.replicas}) of '{n.id}' is not honoured: {reason}",
                          n.hint_spans.get("replicas", n.span))
                continue
            if replicas is not None and replicas != n.replicas:
                plan.warn(self.name, f"@replicas({n.replicas}) of '{n.id}' is not honoured: another "
                                     f"NF of its stage asks for {replicas}",
                          n.hint_spans.get("replicas", n.span))
                continue
            replicas, must = n.replicas, max(must or 0, search.pos[n.id])
        everything = search.candidates(n_cores, replicas, must, allow)
        if not everything:  # no cut of a long chain keeps the hinted NF replicated
            plan.warn(self.name, f"@replicas({replicas}) is not honoured: no stage boundary the "
                                 "search tries keeps it in the replicated stage")
            everything = search.candidates(n_cores, None, None, allow)
        chosen = Search.best(everything)
        for k, segment in enumerate(chosen.segments):
            ids = [search.units[i].id for i in segment]
            ctx.replicas[k] = chosen.replicas if k == 0 else 1
            plan.stages.append(StagePlan(k, ids, cycles=chosen.cycles[k]))
        self._explain(ctx, search, chosen, everything, n_cores)

    @staticmethod
    def _check_replicable(ctx: "PassContext", n: NfNode) -> None:
        """@replicas on an NF with global state is an error: no plan can give it."""
        spec = n.spec
        if n.replicas and n.replicas > 1 and spec is not None and spec.state is StateKind.GLOBAL:
            key = f" ({spec.state_key})" if spec.state_key else ""
            ctx.reporter.error(
                f"cannot replicate {spec.name} '{n.id}': its state is global{key}, so one copy "
                "must see every packet", n.hint_spans.get("replicas", n.span),
                hint="remove @replicas: the optimiser runs it on one core and replicates the "
                     "stages around it where their state allows")

    @staticmethod
    def _hint_problem(search: Search, n: NfNode, n_cores: int, allow: bool) -> str | None:
        if n.replicas is None or n.replicas < 1:
            return None
        if not allow:
            return "replication is switched off (--disable-pass replicate-stages)"
        if n.replicas > n_cores:
            return f"only {n_cores} core(s) were given"
        own = why_not_replicable(n)
        if own:
            return own
        if search.pos[n.id] >= search.replicable_upto:
            blocker = search.units[search.replicable_upto]
            return (f"{blocker.type_name} '{blocker.id}' comes before it ({why_not_replicable(blocker)}); "
                    "only the stage fed by the ports is replicated")
        return None

    def _explain(self, ctx: "PassContext", search: Search, chosen: Candidate,
                 everything: list[Candidate], n_cores: int) -> None:
        plan = ctx.plan
        single = next((c for c in everything if len(c.segments) == 1 and c.replicas == 1), None)
        first = search.units[0]
        if len(chosen.segments) == 1:
            nfs = sum(1 for u in search.units if u.kind is NodeKind.NF)
            text = f"all {nfs} NFs run to completion in one stage"
            if chosen.replicas > 1:
                text += f", replicated over {chosen.replicas} cores: no NF keeps global state"
            elif search.replicable_upto < len(search.units) and n_cores > 1:
                blocker = search.units[search.replicable_upto]
                text += (f"; it is not replicated ({blocker.type_name} '{blocker.id}': "
                         f"{why_not_replicable(blocker)}), and splitting that off would not pay")
            elif n_cores == 1:
                text += " on the one core given"
            plan.note(self.name, text + f" (predicted {chosen.mpps:.2f} Mpps)", first.span)
        else:
            for k, segment in enumerate(chosen.segments[1:], start=1):
                head = search.units[segment[0]]
                if segment[0] == search.replicable_upto and chosen.replicas > 1:
                    why = why_not_replicable(head)
                else:
                    why = (f"it balances the load: {chosen.cycles[k - 1]:.0f} cycles per packet "
                           f"before, {chosen.cycles[k]:.0f} from here")
                plan.note(self.name, f"a new stage starts at {head.type_name} '{head.id}': {why}",
                          head.span)
        if single is not None and single is not chosen:
            plan.note(self.name, f"this plan predicts {chosen.mpps:.2f} Mpps against "
                                 f"{single.mpps:.2f} Mpps for everything on one core "
                                 f"({len(everything)} plans compared, cost from {plan.cost_source})",
                      first.span)
