"""The optimiser: its passes in order, the options they read, and `optimise`.

Each pass is a small module with one class: a `name` (the kebab-case name
`--disable-pass` takes), a docstring (what it does, requires, establishes,
and why) and `apply(ctx)`. The order lives here, in `PASSES`; a pass that
must not be switched off says so with `required = True`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from chainc.diagnostics import Reporter
from chainc.ir.graph import ChainGraph, NodeKind

from .cost import CostModel
from .dead_nfs import EliminateDeadNfs
from .fuse import FuseStages
from .merge_classifiers import MergeClassifiers
from .parse_once import ParseOnce
from .place import PlaceStages
from .plan import Plan
from .profile import Profile
from .replicate import ReplicateStages
from .rings import InsertRings
from .verify_graph import VerifyGraph


class Pass(Protocol):
    name: str
    required: bool

    def apply(self, ctx: "PassContext") -> None: ...


PASSES: list[Pass] = [
    VerifyGraph(),
    EliminateDeadNfs(),
    MergeClassifiers(),
    VerifyGraph(after_rewrites=True),  # the rewrites must leave a valid chain
    ParseOnce(),
    FuseStages(),  # needs the parse depths: parsing is part of a stage's cost
    PlaceStages(),
    InsertRings(),
    ReplicateStages(),
]
PASS_NAMES: tuple[str, ...] = tuple(dict.fromkeys(p.name for p in PASSES))
OPTIONAL: tuple[str, ...] = tuple(dict.fromkeys(p.name for p in PASSES if not p.required))
# What a plan made without options turns off: the placement the hints alone give,
# the graph unchanged, every header parsed (the library's default, `pinned_options`).
PINNED_OFF = frozenset({"eliminate-dead-nfs", "merge-classifiers", "parse-once", "replicate-stages"})


@dataclass(frozen=True)
class PlanOptions:
    cpus: tuple[int, ...]  # the CPUs the plan may use (`--cores`)
    profile: Profile | None = None
    disabled: frozenset[str] = frozenset()
    hz: float | None = None  # the clock predictions assume (default: the profile's, else this machine's)


@dataclass
class PassContext:
    graph: ChainGraph
    options: PlanOptions
    plan: Plan
    reporter: Reporter = field(default_factory=Reporter)
    cost: CostModel | None = None
    # Handed from fuse-stages to place-stages: replicas per stage, and the hinted
    # logical core of stages made from @core hints.
    replicas: dict[int, int] = field(default_factory=dict)
    hinted_cores: dict[int, int] = field(default_factory=dict)

    def enabled(self, name: str) -> bool:
        return name not in self.options.disabled

    def cost_model(self) -> CostModel:
        if self.cost is None:
            hz = self.options.hz
            self.cost = CostModel(self.graph, self.options.profile) if hz is None else \
                CostModel(self.graph, self.options.profile, hz)
            self.cost.calibrate(self.plan.parse_depth)
        return self.cost


def check_disabled(names: set[str] | frozenset[str]) -> None:
    """Raise ValueError naming a pass that does not exist or cannot be switched off."""
    for name in sorted(names):
        if name not in PASS_NAMES:
            raise ValueError(f"no pass '{name}' (passes: {', '.join(PASS_NAMES)})")
        if name not in OPTIONAL:
            raise ValueError(f"pass '{name}' cannot be switched off (optional: {', '.join(OPTIONAL)})")


def optimise(graph: ChainGraph, options: PlanOptions) -> Plan:
    """Run the passes over a copy of `graph`; the plan holds the result.

    Raises CompileError when the chain asks for something no plan can give
    (replicating an NF whose state is global, hints that send packets back).
    """
    check_disabled(options.disabled)
    plan = Plan(graph.copy(), tuple(options.cpus))
    if options.profile is not None:
        plan.cost_source = f"the profile {options.profile.path or options.profile.chain}"
    ctx = PassContext(plan.graph, options, plan)
    ran = []
    for p in PASSES:
        if not p.required and not ctx.enabled(p.name):
            fallback = getattr(p, "when_disabled", None)
            if fallback is not None:
                fallback(ctx)
            continue
        p.apply(ctx)
        ran.append(p.name)
        ctx.reporter.raise_if_errors()
        ctx.graph = plan.graph  # a pass may have replaced the graph
    plan.passes = tuple(dict.fromkeys(ran))
    cost = ctx.cost_model()
    plan.hz = cost.hz
    plan.nf_cycles = {n.id: cost.nf_cycles(n) for n in plan.graph.nodes(NodeKind.NF)}
    return plan


def hinted_cores(graph: ChainGraph) -> int:
    """Cores the @core hints name (at least one)."""
    return max((n.core for n in graph.nodes(NodeKind.NF) if n.core is not None), default=0) + 1


def pinned_options(graph: ChainGraph) -> PlanOptions:
    """The plan of a chain as written: stages where the hints put them, nothing rewritten."""
    return PlanOptions(tuple(range(hinted_cores(graph))), disabled=PINNED_OFF)


def pinned_plan(graph: ChainGraph) -> Plan:
    return optimise(graph, pinned_options(graph))
