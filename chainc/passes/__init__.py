"""The optimiser: passes over the ChainGraph that produce a Plan.

    from chainc.passes import PlanOptions, optimise, pinned_plan
    plan = optimise(graph, PlanOptions(cpus=(0, 1)))

`pipeline.PASSES` is the order; docs/optimiser.md describes every pass,
the cost model and the plan that `chainc plan` prints.
"""

from chainc.passes.cores import default_cores, parse_cores
from chainc.passes.pipeline import (OPTIONAL, PASS_NAMES, PASSES, PlanOptions, optimise,
                                    pinned_options, pinned_plan)
from chainc.passes.plan import Decision, Depth, Plan, RingPlan, RssPlan, StagePlan

__all__ = [
    "PASSES", "PASS_NAMES", "OPTIONAL", "PlanOptions", "optimise", "pinned_options", "pinned_plan",
    "Plan", "StagePlan", "RingPlan", "RssPlan", "Decision", "Depth", "parse_cores", "default_cores",
]
