"""Firewall reference body: the rules tried one by one, as docs/firewall.md describes.

Written from the documentation, not from the ACL compiler: chainc rules are
evaluated with the match-expression semantics (`chainc.match.evaluate`),
ClassBench filters by comparing the packet's fields with the filter's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

from chainc.match import evaluate
from chainc.nfs.reference import ReferenceNf
from chainc.packet import META_L3_IPV4, META_L3_IPV6, META_L4_OK

from .rules import Rule, parse_rules

DENIED = -1        # -(1 + 0): drop_reasons[0]
DEFAULT_DENY = -2  # -(1 + 1): drop_reasons[1]


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        self.counters = {"matched": 0, "unmatched": 0}
        fmt = self.params.get("format", "chainc")
        text = Path(self.params["rules"]).read_text(encoding="utf-8")
        rules, errors = parse_rules(text, fmt)
        if errors:
            raise ValueError(f"rule file line {errors[0].line}: {errors[0].message}")
        outputs = tuple(node.outputs)
        to_denied = "denied" in outputs and self.params.get("denied") == "output"
        deny = outputs.index("denied") if to_denied else DENIED

        def result(rule: Rule) -> int:
            if rule.action == "allow":
                return 0
            if rule.action == "deny":
                return deny
            return outputs.index(rule.port)

        test = classbench_test if fmt == "classbench" else chainc_test
        self.rules: list[tuple[Callable, int]] = [(test(rule), result(rule)) for rule in rules]
        if self.params.get("default", "deny") == "allow":
            self.default = 0
        else:
            self.default = outputs.index("denied") if to_denied else DEFAULT_DENY

    def process(self, pkt, in_port):
        for matches, result in self.rules:
            if matches(pkt):
                self.counters["matched"] += 1
                return result
        self.counters["unmatched"] += 1
        return self.default


def chainc_test(rule: Rule) -> Callable:
    if rule.match is None:
        return lambda pkt: True
    expr = rule.match
    return lambda pkt: evaluate(expr, pkt)


class Filter(NamedTuple):
    """A ClassBench filter as numbers: inclusive address and port ranges, protocol value/mask."""

    version: int
    src: tuple[int, int]
    dst: tuple[int, int]
    proto: int  # already masked
    mask: int
    sport: tuple[int, int]
    dport: tuple[int, int]
    any_port: bool


def classbench_test(rule: Rule) -> Callable:
    value, mask = rule.proto
    f = Filter(rule.src.version,
               (int(rule.src.network_address), int(rule.src.broadcast_address)),
               (int(rule.dst.network_address), int(rule.dst.broadcast_address)),
               value & mask, mask, rule.sport, rule.dport,
               rule.sport == (0, 65535) and rule.dport == (0, 65535))
    return lambda pkt: classbench_matches(f, pkt)


def classbench_matches(f: Filter, pkt) -> bool:
    """An IPv4 (or IPv6) packet whose fields all lie in the filter's."""
    m = pkt.meta
    if f.version == 4:
        if not m.flags & META_L3_IPV4:
            return False
        src, dst = m.ip4_src, m.ip4_dst
    else:
        if not m.flags & META_L3_IPV6:
            return False
        src = (m.ip6_src_hi << 64) | m.ip6_src_lo
        dst = (m.ip6_dst_hi << 64) | m.ip6_dst_lo
    if not (f.src[0] <= src <= f.src[1] and f.dst[0] <= dst <= f.dst[1]):
        return False
    if m.ip_proto & f.mask != f.proto:
        return False
    if f.any_port:
        return True
    # A narrower port range needs ports: a TCP or UDP header that was read.
    if not (m.flags & META_L4_OK and m.ip_proto in (6, 17)):
        return False
    return f.sport[0] <= m.sport <= f.sport[1] and f.dport[0] <= m.dport <= f.dport[1]
