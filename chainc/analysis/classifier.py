"""Classifier arms: arms that can never match, and overlapping arms whose order decides.

Arms are tried in order and the first match wins, so:

- an arm whose every packet an earlier arm already takes can never match
  (also a `*` arm after arms that take everything, and an arm whose
  expression no frame satisfies, such as `tcp and udp`);
- two arms that *partly* overlap (each matches packets the other does not,
  and some packets match both) send the shared packets to the earlier one,
  which a reader of the later arm may not expect: one warning per later arm,
  naming the earlier arms. An arm wholly inside a later one
  (`dns : "udp port 53"` before `udp : "udp"`) is the usual
  specific-before-general order and is not reported.

Each warning carries an example frame, checked with the match evaluator
before it is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from chainc.match import MatchExpr, evaluate
from chainc.packet import Packet

from .cubes import TooComplex
from .order import Ordered
from .regions import Unfinished
from .space import to_dnf
from .witness import Witness, WitnessMismatch

if TYPE_CHECKING:
    from chainc.diagnostics import Reporter
    from chainc.ir.graph import NfNode


@dataclass(frozen=True)
class ArmWarning:
    kind: str  # "empty", "shadowed" or "overlap"
    arm: int
    others: tuple[int, ...] = ()  # the earlier arms that take some of its packets
    witness: Witness | None = None
    goes_to: int | None = None  # the arm the witness goes to


def check_arms(exprs: Sequence[MatchExpr | None]) -> list[ArmWarning]:
    """The warnings for arms given in order (None for a `*` arm), each example verified."""
    spaces = []
    for e in exprs:
        try:
            spaces.append(to_dnf(e))
        except TooComplex:
            break  # arms from here on cannot be settled
    ordered = Ordered(spaces)
    out: list[ArmWarning] = []
    for j in range(len(spaces)):
        try:
            out.extend(_check_arm(ordered, exprs, j))
        except Unfinished:
            continue
    for w in out:
        _verify(w, exprs)
    return out


def _check_arm(ordered: Ordered, exprs: Sequence[MatchExpr | None], j: int) -> list[ArmWarning]:
    if ordered.live(j) is None:
        if ordered.empty(j):
            return [ArmWarning("empty", j)]
        takers = {i: w for i in range(j) if (w := ordered.takes(i, j)) is not None}
        first = min(takers)
        return [ArmWarning("shadowed", j, tuple(takers), takers[first], first)]
    if exprs[j] is None:
        return []
    found = {i: w for i in range(j)
             if (w := ordered.takes(i, j)) is not None and not ordered.subset(i, j)}
    if not found:
        return []
    first = min(found)
    return [ArmWarning("overlap", j, tuple(found), found[first], first)]


def first_arm(exprs: Sequence[MatchExpr | None], pkt: Packet) -> int | None:
    """The arm a packet goes to, as the reference Classifier decides it."""
    for i, e in enumerate(exprs):
        if e is None or evaluate(e, pkt):
            return i
    return None


def _verify(w: ArmWarning, exprs: Sequence[MatchExpr | None]) -> None:
    if w.witness is None:
        return
    pkt = Packet(w.witness.frame())
    matches = exprs[w.arm] is None or evaluate(exprs[w.arm], pkt)
    if not matches or first_arm(exprs, pkt) != w.goes_to:
        raise WitnessMismatch(f"example for arm {w.arm} ({w.kind}) does not go to arm {w.goes_to}: "
                              f"{w.witness.describe()}")


# -- diagnostics ------------------------------------------------------------------------


def report_arms(node: "NfNode", reporter: "Reporter") -> None:
    """Warnings for the arms of a Classifier node whose expressions all parse."""
    from chainc.diagnostics import Note
    from chainc.match import parse_match
    from chainc.values import WILDCARD

    entries = node.params["arms"].entries
    exprs = [None if e.value is WILDCARD else parse_match(e.value) for e in entries]
    names = [e.key for e in entries]

    def span(i: int):
        return entries[i].value_span or entries[i].key_span

    for w in check_arms(exprs):
        name = names[w.arm]
        if w.kind == "empty":
            reporter.warning(f"arm '{name}' matches no packet", span(w.arm),
                             hint="no frame satisfies its expression: some of its tests "
                                  "contradict each other")
            continue
        others = _names([names[i] for i in w.others])
        plural = len(w.others) > 1
        example = w.witness.describe(_fields(exprs, (w.arm, w.goes_to)))
        note = Note(f"e.g. {example} matches '{name}' but goes to '{names[w.goes_to]}'",
                    span(w.goes_to))
        if w.kind == "shadowed":
            label = f"'{name} : *'" if exprs[w.arm] is None else f"'{name}'"
            reporter.warning(
                f"arm {label} can never match: earlier arm{'s' * plural} {others} "
                f"take{'' if plural else 's'} every packet it matches", span(w.arm), notes=(note,),
                hint="arms are tried in order: " + ("remove it" if exprs[w.arm] is None else
                                                    f"move '{name}' above {others}, or remove it"))
        else:
            reporter.warning(
                f"arm '{name}' overlaps earlier arm{'s' * plural} {others}: packets that match "
                f"both go to the earlier arm", span(w.arm), notes=(note,),
                hint=f"arms are tried in order; if such packets belong to '{name}', move it "
                     f"above {others} or exclude them there with `and not (...)`")


def _names(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _fields(exprs: Sequence[MatchExpr | None], arms: Sequence[int]) -> set[str]:
    """The header-space fields the given arms test (MACs, VLAN and length are then shown)."""
    out: set[str] = set()
    for i in arms:
        if exprs[i] is not None:
            for cubes in to_dnf(exprs[i]).values():
                for c in cubes:
                    out |= set(c)
    return out
