"""Firewall rules that never decide a packet, or whose removal would change nothing.

The rules of a rule file are tried in order and the first match decides
(docs/firewall.md). A rule is reported when:

- *shadowed*: every packet it matches is decided by earlier rules, and some
  of them with another action, so its own action never applies;
- *redundant*, covered: every packet it matches is decided by earlier rules
  with its own action;
- *redundant*, unneeded: it does decide packets, but without it every one of
  them would get the same action from a later rule or from `default`;
- it matches no packet at all.

Each warning's example frame is checked against the Firewall's reference
semantics (one test per rule, given by the caller) before it is reported.
ClassBench files with 10,000 filters are checked in seconds: each rule is
only compared with the rules whose boxes can meet its own (regions.BoxIndex).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Container, Sequence

from chainc.packet import Packet

from .cubes import Intervals, TooComplex, cube_and, iv_and, iv_values, simplify
from .order import Ordered
from .regions import Unfinished
from .space import FAMILIES, IPV4, IPV6, TOPS, Space, one, to_dnf
from .witness import Witness, WitnessMismatch

if TYPE_CHECKING:
    from chainc.diagnostics import Reporter
    from chainc.ir.graph import NfNode

Action = tuple[str, str]  # ("allow" | "deny" | "output", port)
Test = Callable[[Packet], bool]

#: Warnings shown per rule file; the rest are counted in one summary warning.
SHOWN = 10


@dataclass(frozen=True)
class RuleWarning:
    kind: str  # "empty", "shadowed", "covered" or "unneeded"
    rule: int  # index in the rule list
    other: int | None = None  # the rule that decides the example (None: the default)
    witness: Witness | None = None


@dataclass
class RuleReport:
    warnings: list[RuleWarning]
    unchecked: int  # rules too complex to settle


def action_of(rule: Any) -> Action:
    return (rule.action, rule.port if rule.action == "output" else "")


# The Firewall's ACL compiler asks for the same rules' sets just before the checks do.
@functools.lru_cache(maxsize=1 << 15)
def rule_space(rule: Any, fmt: str) -> Space:
    """The frames a parsed rule (rules.Rule) matches; shared, never to be changed."""
    if fmt != "classbench":
        return to_dnf(rule.match)
    fam = IPV4 if rule.src.version == 4 else IPV6
    cube = {}
    for name, net in (("src", rule.src), ("dst", rule.dst)):
        cube[name] = ((int(net.network_address), int(net.broadcast_address)),)
    cube["proto"] = _protocols(*rule.proto)
    if (rule.sport, rule.dport) != ((0, 65535), (0, 65535)):
        # A narrower port range needs ports: a TCP or UDP header that was read.
        cube.update(l4ok=one(1), proto=iv_and(cube["proto"], iv_values((6, 17))),
                    sport=(rule.sport,), dport=(rule.dport,))
    space: Space = {f: [] for f in FAMILIES}
    if cube["proto"]:
        space[fam] = simplify([cube], TOPS[fam])
    return space


@functools.lru_cache(maxsize=None)
def _protocols(value: int, mask: int) -> Intervals:
    """The protocols p with p & mask == value & mask."""
    return iv_values(x for x in range(256) if x & mask == value & mask)


def check_rules(rules: Sequence[Any], fmt: str, default: str) -> RuleReport:
    """The warnings for parsed rules in file order, by rule.

    Each warning is about removing that one rule. A rule that earlier rules
    cover with its own action (a copy of one) is no fallback for the rules
    above it, so of two copies of a rule only the second is reported; rules
    are settled from the last to the first for that.
    """
    spaces: list[Space] = []
    for rule in rules:
        try:
            spaces.append(rule_space(rule, fmt))
        except TooComplex:
            break  # rules from here on cannot be settled
    actions = [action_of(r) for r in rules]
    fallback: Action = (default, "")
    ordered = Ordered(spaces)
    complete = len(spaces) == len(rules)
    removed: set[int] = set()
    out = []
    unchecked = len(rules) - len(spaces)
    for j in reversed(range(len(spaces))):
        try:
            w = _check_rule(ordered, actions, fallback, j, removed if complete else None)
        except Unfinished:
            unchecked += 1
            continue
        if w is not None:
            out.append(w)
            if w.kind in ("covered", "empty"):
                removed.add(j)
    return RuleReport(out[::-1], unchecked)


def _check_rule(ordered: Ordered, actions: Sequence[Action], fallback: Action, j: int,
                removed: set[int] | None) -> RuleWarning | None:
    """`removed`: the later rules that are no fallback; None if later rules are unknown."""
    live = ordered.live(j)
    if live is None:
        return _never_first(ordered, actions, j)
    if removed is None:
        return None

    def then(owner: int | None) -> Action:
        return actions[owner] if owner is not None else fallback

    # A frame the rule decides whose fallback acts otherwise settles most rules at once.
    owner = ordered.decider(live, j, removed)
    if then(owner) != actions[j] or _changes(ordered, actions, fallback, j, removed):
        return None
    return RuleWarning("unneeded", j, owner, live)


def _never_first(ordered: Ordered, actions: Sequence[Action], j: int) -> RuleWarning:
    """A rule that decides no frame: why (matching nothing, shadowed, covered)."""
    for i in ordered.meeting(j, range(0, j)):
        if actions[i] != actions[j]:
            w = ordered.takes(i, j)
            if w is not None:
                return RuleWarning("shadowed", j, i, w)
    w = ordered.example(j)
    if w is None:
        return RuleWarning("empty", j)
    return RuleWarning("covered", j, ordered.first(w, j), w)


def _changes(ordered: Ordered, actions: Sequence[Action], fallback: Action, j: int,
             removed: set[int]) -> bool:
    """Would removing rule j change the action for some frame it decides?

    Such a frame is in j, in no earlier rule, and then either in a later rule of
    another action before any later rule of j's action, or, if `default` acts
    otherwise, in no later rule at all.
    """
    for fam, cube, near in ordered.around(j):
        boxes = [b for b in near if b[1] not in removed]
        if fallback != actions[j] and ordered.uncovered(fam, cube, boxes) is not None:
            return True
        for box, i in boxes:
            if i > j and actions[i] != actions[j]:
                cell = cube_and(cube, box)
                before = [b for b in boxes if b[1] < i]
                if cell is not None and ordered.uncovered(fam, cell, before) is not None:
                    return True
    return False


def first_rule(tests: Sequence[Test], pkt: Packet, skip: Container[int] = ()) -> int | None:
    """The first rule (not in `skip`) that matches `pkt`."""
    for i, test in enumerate(tests):
        if i not in skip and test(pkt):
            return i
    return None


def verify(w: RuleWarning, rules: Sequence[Any], tests: Sequence[Test], default: str,
           removed: Container[int] = ()) -> None:
    """Check a warning's example against the rules' tests (the reference semantics);
    `removed`: the later rules that are no fallback (covered or empty ones)."""
    if w.witness is None:
        return
    actions = [action_of(r) for r in rules]
    pkt = Packet(w.witness.frame())
    if w.kind == "unneeded":
        then = first_rule(tests, pkt, skip={w.rule, *removed})
        ok = (first_rule(tests, pkt) == w.rule and then == w.other and
              (actions[then] if then is not None else (default, "")) == actions[w.rule])
    else:
        ok = tests[w.rule](pkt) and first_rule(tests, pkt) == w.other
    if not ok:
        raise WitnessMismatch(f"example for rule {w.rule} ({w.kind}) does not take the path "
                              f"claimed: {w.witness.describe()}")


# -- diagnostics ------------------------------------------------------------------------


def report_rules(node: "NfNode", text: str, rules: Sequence[Any], tests: Sequence[Test],
                 reporter: "Reporter") -> None:
    """Warnings at the lines of a Firewall node's rule file (which parsed without errors)."""
    from chainc.diagnostics import Note
    from chainc.source import SourceFile

    path = str(node.params["rules"])
    fmt = node.params.get("format", "chainc")
    default = node.params.get("default", "deny")
    report = check_rules(rules, fmt, default)
    source = SourceFile(path, text)
    starts = [0]
    for raw in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(raw))
    named = Note("rule file named here", node.param_spans.get("rules") or node.span)

    def line_span(i: int):
        line = rules[i].line
        raw = text[starts[line - 1]:starts[line]]
        body = raw.split("#", 1)[0] if fmt != "classbench" else raw
        lead = len(body) - len(body.lstrip())
        start = starts[line - 1]
        return source.span(start + lead, start + max(lead + 1, len(body.rstrip())))

    def does(action: Action) -> str:
        return {"allow": "allowed", "deny": "denied"}.get(action[0], f"sent to '{action[1]}'")

    actions = [action_of(r) for r in rules]
    fallback: Action = (default, "")
    shown = report.warnings
    dead = {w.rule for w in shown if w.kind in ("covered", "empty")}
    for w in shown[:SHOWN]:
        verify(w, rules, tests, default, {i for i in dead if i > w.rule})
        here = line_span(w.rule)
        if w.kind == "empty":
            reporter.warning("this rule matches no packet", here, notes=(named,),
                             hint="some of its tests contradict each other; remove it or fix it")
            continue
        example = w.witness.describe()
        if w.kind == "unneeded":
            then = actions[w.other] if w.other is not None else fallback
            if w.other is not None:
                notes = (Note(f"e.g. {example} would be {does(then)} here", line_span(w.other)),
                         named)
            else:
                # The note naming the rule file comes first: it orders the warnings of a
                # rule file by line, and before their summary.
                at = node.param_spans.get("default")
                notes = ((named,) if at else ()) + (
                    Note(f"e.g. {example} would be {does(then)} by the default action",
                         at or named.span),)
            reporter.warning(f"this rule is redundant: without it, every packet it decides "
                             f"would still be {does(actions[w.rule])}",
                             here, notes=notes, hint="remove it")
            continue
        taken = Note(f"e.g. {example} is {does(actions[w.other])} here first", line_span(w.other))
        if w.kind == "shadowed":
            reporter.warning("this rule never matches first: earlier rules decide every packet "
                             "it matches", here, notes=(taken, named),
                             hint=f"move it above line {rules[w.other].line} if it should apply, "
                                  "or remove it")
        else:
            verb, port = actions[w.rule]
            what = (f"send every packet it matches to '{port}'" if verb == "output" else
                    f"{verb} every packet it matches")
            reporter.warning(f"this rule is redundant: earlier rules already {what}",
                             here, notes=(taken, named), hint="remove it")
    rest = shown[SHOWN:]
    if rest:
        kinds = {k: sum(1 for w in rest if w.kind == k)
                 for k in ("shadowed", "covered", "unneeded", "empty")}
        parts = [f"{kinds['shadowed']:,} shadowed" if kinds["shadowed"] else "",
                 f"{kinds['covered'] + kinds['unneeded']:,} redundant"
                 if kinds["covered"] + kinds["unneeded"] else "",
                 f"{kinds['empty']:,} matching no packet" if kinds["empty"] else ""]
        reporter.warning(f"{len(rest):,} more rules never decide a packet or change nothing "
                         f"({', '.join(p for p in parts if p)})", named.span,
                         hint="the first lines are shown above")
    if report.unchecked:
        reporter.warning(f"{report.unchecked:,} rules were not checked for shadowing: they overlap "
                         "too many others", named.span)
