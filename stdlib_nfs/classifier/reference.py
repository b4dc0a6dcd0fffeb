"""Classifier reference body: try the arms in order; the first match names the output."""

from __future__ import annotations

from chainc.match import evaluate, parse_match
from chainc.nfs.reference import ReferenceNf
from chainc.values import WILDCARD

NO_MATCH = -1  # -(1 + 0): drop_reasons[0] == "no-match"


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        # (output index, parsed expression or None for the `*` arm)
        self.arms = [(i, None if e.value is WILDCARD else parse_match(e.value))
                     for i, e in enumerate(self.params["arms"].entries)]

    def process(self, pkt, in_port):
        for index, expr in self.arms:
            if expr is None or evaluate(expr, pkt):
                return index
        return NO_MATCH
