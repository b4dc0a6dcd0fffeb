"""Classifier: send each packet to the first arm whose match expression it satisfies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chainc.nfs.spec import NativeBody, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import param_span
from chainc.syntax import string_span
from chainc.values import MATCH, WILDCARD, Block, BlockOf

if TYPE_CHECKING:
    from chainc.diagnostics import Reporter
    from chainc.ir.graph import NfNode


def arms_of(params: dict[str, Any]) -> tuple[str, ...]:
    block = params.get("arms")
    if not isinstance(block, Block):
        return ()
    return tuple(block.keys())


def validate(node: "NfNode", reporter: "Reporter") -> None:
    from chainc.match import MatchSyntaxError, parse_match

    block = node.params.get("arms")
    if not isinstance(block, Block):
        return
    if not block.entries:
        reporter.error("a Classifier needs at least one arm", param_span(node, "arms"),
                       hint='write arms as `name : "match expression"`, and `name : *` for the rest')
        return
    seen: dict[str, Any] = {}
    last = len(block.entries) - 1
    errors = len(reporter.errors)
    for i, entry in enumerate(block.entries):
        key_span = entry.key_span or param_span(node, "arms")
        if entry.key in seen:
            reporter.error(f"duplicate Classifier arm '{entry.key}'", key_span,
                           notes=_note("first defined here", seen[entry.key]))
            continue
        seen[entry.key] = entry.key_span
        if entry.value is WILDCARD:
            if i != last:
                reporter.error(f"the default arm '{entry.key} : *' must be the last arm",
                               entry.value_span or key_span,
                               hint="arms are tried in order, so arms after '*' would never match")
            continue
        try:
            parse_match(entry.value)
        except MatchSyntaxError as exc:
            start = getattr(exc, "start", 0) or 0
            end = getattr(exc, "end", start + 1) or start + 1
            span = string_span(entry.value_span, start, end) or key_span
            message = getattr(exc, "message", None) or str(exc)
            reporter.error(f"bad match expression in arm '{entry.key}': {message}", span,
                           hint=getattr(exc, "hint", None))
    if len(reporter.errors) == errors:
        # Arms that never match and overlapping arms, with an example packet (docs/analysis.md).
        from chainc.analysis.classifier import report_arms
        report_arms(node, reporter)


def _note(message: str, span):
    from chainc.diagnostics import Note
    return (Note(message, span),) if span is not None else ()


def generate(node: "NfNode", sym: str) -> str:
    """A per-instance Cython body: the arms' tests in order, returning the arm's index."""
    from chainc import match

    block: Block = node.params["arms"]
    exprs = [None if e.value is WILDCARD else match.parse_match(e.value) for e in block.entries]
    lines = [
        f"# Classifier {node.id}: first matching arm wins",
        "from libc.stdint cimport uint8_t",
        "from dpdk cimport rte_mbuf, chainc_mbuf_data",
        "from meta cimport pkt_meta",
    ]
    preamble = getattr(match, "to_cython_preamble", None)
    if preamble is not None:
        text = preamble([x for x in exprs if x is not None])
        if text:
            lines.append(text)
    lines += [
        "",
        f"cdef inline int {sym}_process(void* st, rte_mbuf* m, pkt_meta* meta, int in_port) noexcept nogil:",
        "    cdef const uint8_t* data = chainc_mbuf_data(m)",
    ]
    for index, (entry, expr) in enumerate(zip(block.entries, exprs)):
        if expr is None:
            lines.append(f"    return {index}  # {entry.key} : *")
            break
        lines.append(f"    if {match.to_cython(expr, meta='meta', data='data')}:  # {entry.key}")
        lines.append(f"        return {index}")
    else:
        lines.append("    return -1  # no-match")
    return "\n".join(lines) + "\n"


SPEC = NfSpec(
    name="Classifier",
    doc="Send each packet to the first arm whose pcap-filter expression it matches.",
    params=(
        ParamSpec("arms", BlockOf(MATCH, wildcard=True),
                  doc="Ordered arms `name : \"expression\"`; `name : *` (last) takes the rest. "
                      "Each arm name is an output port."),
    ),
    inputs=("in",),
    outputs=(),
    outputs_from=arms_of,
    block_param="arms",
    state=StateKind.NONE,
    reads=("eth.type", "vlan", "ip.src", "ip.dst", "ip.proto", "l4.sport", "l4.dport", "tcp.flags"),
    writes=(),
    cycles=40,
    drop_reasons=("no-match",),
    description=(
        "Arms are tried in the order written and the first arm whose expression matches "
        "wins; the packet leaves on the output port named after that arm. An arm written "
        "`name : *` matches everything and must be the last arm. Without a `*` arm, a "
        "packet that matches no arm is dropped with reason `no-match`.\n\n"
        "Expressions use tcpdump / pcap-filter syntax (a subset): protocols (`tcp`, `udp`, `icmp`, `ip`, `ip6`, `arp`, `vlan`), "
        "`host`, `net`, `port`, `portrange` with `src`/`dst`, `and`/`or`/`not` and "
        "parentheses. The reads listed below are the union over the expressions an "
        "instance can use."
    ),
    example=(
        "nf cls = Classifier {\n"
        "    web   : \"tcp dst port 80 or tcp dst port 443\"\n"
        "    dns   : \"udp dst port 53\"\n"
        "    other : *\n"
        "}\n"
        "wan -> cls\n"
        "cls.web -> lan\n"
        "cls.dns -> lan\n"
        "cls.other -> drop"
    ),
    validate=validate,
    native=NativeBody(process="{sym}_process", pxd=None, state=None, generate=generate),
)
