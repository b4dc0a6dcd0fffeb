"""merge-classifiers: a Classifier arm that leads straight into another Classifier
becomes arms of the first one, so a packet takes one lookup instead of two."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from chainc.ir.graph import ChainGraph, NfNode, NodeKind
from chainc.values import WILDCARD, Block, BlockEntry

from .dead_nfs import _drop_sink

if TYPE_CHECKING:
    from .pipeline import PassContext

CLASSIFIER = "Classifier"
FIREWALL = "Firewall"


def _is(node: NfNode, name: str) -> bool:
    return node.kind is NodeKind.NF and node.spec is not None and node.spec.name == name


def _both(outer: object, inner: object) -> object:
    """The match expression of `outer and inner` (either may be `*`)."""
    if outer is WILDCARD:
        return inner
    if inner is WILDCARD:
        return outer
    return f"({outer}) and ({inner})"


def mergeable(graph: ChainGraph) -> tuple[NfNode, str, NfNode] | None:
    """The first (outer, arm, inner) where `outer.arm` is the only way into Classifier `inner`."""
    for outer in graph.topological_order():
        if not _is(outer, CLASSIFIER):
            continue
        for e in graph.out_edges(outer.id):
            inner = graph.node(e.dst)
            if _is(inner, CLASSIFIER) and inner.id != outer.id and len(graph.in_edges(inner.id)) == 1:
                return outer, e.out_port, inner
    return None


def merged_arms(outer: NfNode, arm: str, inner: NfNode) -> tuple[list[BlockEntry], str | None]:
    """The arms of the merged Classifier, and the name of the arm that catches what
    `inner` matched no arm for (None when `inner` ends with `*`)."""
    entries: list[BlockEntry] = []
    catch = None
    for entry in outer.params["arms"].entries:
        if entry.key != arm:
            entries.append(entry)
            continue
        inner_entries = inner.params["arms"].entries
        for sub in inner_entries:
            entries.append(BlockEntry(f"{arm}.{sub.key}", _both(entry.value, sub.value),
                                      sub.key_span, sub.value_span))
        if inner_entries[-1].value is not WILDCARD:
            # The inner Classifier drops what it does not match: so must the merged one,
            # rather than let it fall through to the outer's later arms.
            catch = f"{arm}.no-match"
            entries.append(BlockEntry(catch, entry.value, entry.key_span, entry.value_span))
    return entries, catch


@dataclass(frozen=True)
class MergeClassifiers:
    """Merge a Classifier into the Classifier arm that is its only input.

    Requires: a valid graph. Establishes: no Classifier's only input is an
    arm of another Classifier. The merged Classifier keeps the outer's id
    and arms; the inner arm `a -> inner { b : x }` becomes the arm `a.b`
    matching `(a) and (x)`, in the inner's order and at the outer arm's
    place, so first-match order means the same. Neither NF writes the
    packet or has side effects, so one lookup decides what two did. Why:
    every packet on that arm saves an NF call and a second walk of the
    headers. A Firewall is never merged: its per-rule counters are
    observable.
    """

    name: str = "merge-classifiers"
    required: bool = False

    def apply(self, ctx: "PassContext") -> None:
        from chainc.match import MatchSyntaxError, parse_match

        graph = ctx.graph
        self._explain_firewalls(ctx)
        while (found := mergeable(graph)) is not None:
            outer, arm, inner = found
            entries, catch = merged_arms(outer, arm, inner)
            try:
                for entry in entries:
                    if entry.value is not WILDCARD:
                        parse_match(entry.value)
            except MatchSyntaxError:  # cannot happen for valid arms; keep the chain as written
                return
            self._rewrite(graph, outer, arm, inner, entries, catch)
            ctx.plan.note(self.name, f"Classifier '{inner.id}' merged into arm '{arm}' of Classifier "
                                     f"'{outer.id}': one lookup instead of two", inner.span)

    def _rewrite(self, graph: ChainGraph, outer: NfNode, arm: str, inner: NfNode,
                 entries: list[BlockEntry], catch: str | None) -> None:
        params = dict(outer.params, arms=Block(tuple(entries)))
        span = outer.span.union(inner.span) if outer.span.file is inner.span.file else outer.span
        merged = replace(outer, params=params, outputs=tuple(e.key for e in entries), span=span)
        ins = graph.in_edges(outer.id)
        outs = {e.out_port: e for e in graph.out_edges(outer.id) if e.out_port != arm}
        outs.update({f"{arm}.{e.out_port}": e for e in graph.out_edges(inner.id)})
        graph.remove(outer.id)
        graph.remove(inner.id)
        graph.add(merged)
        for e in ins:
            graph.connect(e.src, e.out_port, merged.id, e.in_port, e.span)
        for port in merged.outputs:
            if port == catch:
                graph.connect(merged.id, port, _drop_sink(graph, inner), "in", inner.span)
                continue
            e = outs[port]
            graph.connect(merged.id, port, e.dst, e.in_port, e.span)

    def _explain_firewalls(self, ctx: "PassContext") -> None:
        graph = ctx.graph
        for e in graph.edges():
            src, dst = graph.node(e.src), graph.node(e.dst)
            if {src.type_name, dst.type_name} in ({CLASSIFIER, FIREWALL}, {FIREWALL}) and \
                    src.kind is NodeKind.NF and dst.kind is NodeKind.NF:
                ctx.plan.note(self.name, f"{src.type_name} '{src.id}' and {dst.type_name} '{dst.id}' "
                                         "are not merged: a Firewall's per-rule counters are observable",
                              dst.span)
