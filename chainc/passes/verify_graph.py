"""verify: the graph is a well-formed chain before and after the rewriting passes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chainc.diagnostics import CompileError, Reporter
from chainc.ir.verify import verify

if TYPE_CHECKING:
    from .pipeline import PassContext


class RewriteBroke(Exception):
    """A rewriting pass left an invalid graph: a bug in chainc, not in the chain."""


@dataclass(frozen=True)
class VerifyGraph:
    """Check that the graph is a DAG, every output connected, every NF reachable.

    Requires: a ChainGraph. Establishes: the structural invariants every
    later pass assumes. Why: the front end verified the user's graph; run
    again after the rewrites, a pass that broke the IR is caught at once,
    named, instead of as wrong packets.
    """

    after_rewrites: bool = False
    name: str = "verify"
    required: bool = True

    def apply(self, ctx: "PassContext") -> None:
        reporter = Reporter()
        verify(ctx.graph, reporter)
        if not reporter.has_errors():
            return
        if self.after_rewrites:
            raise RewriteBroke("the rewritten graph is not a valid chain: "
                               + "; ".join(d.message for d in reporter.errors))
        raise CompileError(reporter.errors)
