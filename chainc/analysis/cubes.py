"""Sets of packets as unions of boxes over integer header fields.

An *interval set* is a sorted tuple of disjoint, non-adjacent, inclusive
`(lo, hi)` pairs. A *cube* maps field names to interval sets; a field it
does not name may take any value, so `{}` is every packet. A *DNF* is a list
of cubes, their union: `[]` is no packet, `[{}]` is every packet. Every
operation is exact: the complement of an interval set is an interval set,
so `not` loses nothing.

Field ranges are given by a `tops` mapping (field -> largest value); a cube
never holds a field's full range (it leaves the field out instead), so two
cubes that mean the same set are equal.
"""

from __future__ import annotations

from typing import Iterable, Mapping

Intervals = tuple[tuple[int, int], ...]
Cube = dict[str, Intervals]
DNF = list[Cube]
TRUE: DNF = [{}]

#: A normal form larger than this is refused (TooComplex): `not` over a long `or`
#: multiplies terms, and the analyses would rather skip an expression than stall.
MAX_CUBES = 256


class TooComplex(Exception):
    """An expression whose normal form would exceed MAX_CUBES terms."""


# -- interval sets -------------------------------------------------------------------


def iv_and(a: Intervals, b: Intervals) -> Intervals:
    if len(a) == 1 and len(b) == 1:  # the common case, made fast
        lo = a[0][0] if a[0][0] > b[0][0] else b[0][0]
        hi = a[0][1] if a[0][1] < b[0][1] else b[0][1]
        return ((lo, hi),) if lo <= hi else ()
    out = []
    i = j = 0
    na, nb = len(a), len(b)
    while i < na and j < nb:
        (alo, ahi), (blo, bhi) = a[i], b[j]
        lo = alo if alo > blo else blo
        hi = ahi if ahi < bhi else bhi
        if lo <= hi:
            out.append((lo, hi))
        if ahi < bhi:
            i += 1
        else:
            j += 1
    return tuple(out)


def iv_or(a: Intervals, b: Intervals) -> Intervals:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(a + b):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def iv_not(a: Intervals, top: int) -> Intervals:
    out = []
    nxt = 0
    for lo, hi in a:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= top:
        out.append((nxt, top))
    return tuple(out)


def iv_values(values: Iterable[int]) -> Intervals:
    out: list[tuple[int, int]] = []
    for v in sorted(set(values)):
        if out and v == out[-1][1] + 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return tuple(out)


def iv_subset(a: Intervals, b: Intervals) -> bool:
    """Every value of `a` is in `b`."""
    return iv_and(a, b) == a


def iv_contains(a: Intervals, v: int) -> bool:
    for lo, hi in a:
        if lo <= v <= hi:
            return True
    return False


# -- cubes and DNFs --------------------------------------------------------------------


def cube_and(a: Cube, b: Cube) -> Cube | None:
    """The intersection of two cubes; None if it is empty."""
    out = dict(a)
    for name, s in b.items():
        if name in out:
            s = iv_and(out[name], s)
            if not s:
                return None
        out[name] = s
    return out


def cube_meets(a: Cube, b: Cube) -> bool:
    """The two cubes share a packet (cube_and without building the intersection)."""
    for name, s in b.items():
        m = a.get(name)
        if m is None:
            continue
        if s[-1][1] < m[0][0] or m[-1][1] < s[0][0]:
            return False
        if (len(s) > 1 or len(m) > 1) and not iv_and(m, s):
            return False
    return True


def cube_subset(a: Cube, b: Cube) -> bool:
    """Every packet of cube `a` is in cube `b` (a cube never holds a full range)."""
    for name, s in b.items():
        mine = a.get(name)
        if mine is None or not iv_subset(mine, s):
            return False
    return True


def cube_has(c: Cube, point: Mapping[str, int]) -> bool:
    """The point (a value for every field) lies in cube `c`."""
    for name, s in c.items():
        if not iv_contains(s, point[name]):
            return False
    return True


def _key(c: Cube) -> tuple:
    return tuple(sorted(c.items()))


def simplify(cubes: DNF, tops: Mapping[str, int]) -> DNF:
    """Drop full ranges, duplicates and cubes inside others; merge cubes differing in one field."""
    if len(cubes) == 1:
        return [{k: v for k, v in cubes[0].items() if v != ((0, tops[k]),)}]
    full = {name: ((0, top),) for name, top in tops.items()}
    cur = list({_key(c): c for c in (
        {k: v for k, v in c.items() if v != full[k]} for c in cubes)}.values())
    changed = True
    while changed:
        changed = False
        if any(not c for c in cur):
            return [{}]
        for name in sorted({n for c in cur for n in c}):
            groups: dict[tuple, Cube] = {}
            for c in cur:
                if name not in c:
                    groups.setdefault(("free", _key(c)), c)
                    continue
                rest = tuple(sorted((k, v) for k, v in c.items() if k != name))
                g = groups.get(rest)
                if g is None:
                    groups[rest] = c
                    continue
                merged = iv_or(g[name], c[name])
                new = {k: v for k, v in c.items() if k != name}
                if merged != ((0, tops[name]),):
                    new[name] = merged
                groups[rest] = new
                changed = True
            cur = list(groups.values())
        # A cube can only lie inside one that constrains no more fields than it does.
        cur.sort(key=len)
        kept: list[Cube] = []
        for i, c in enumerate(cur):
            if any(cube_subset(c, o) for o in kept) or \
                    any(cube_subset(c, o) for o in cur[i + 1:] if len(o) == len(c)):
                changed = True
                continue
            kept.append(c)
        cur = kept
        if len(cur) > MAX_CUBES:
            raise TooComplex(f"its normal form has more than {MAX_CUBES} terms")
    return cur


def dnf_and(a: DNF, b: DNF, tops: Mapping[str, int]) -> DNF:
    if len(a) == 1 and len(b) == 1:  # a conjunction of boxes is a box: nothing to simplify
        c = cube_and(a[0], b[0])
        return [] if c is None else [c]
    if len(a) * len(b) > MAX_CUBES * 16:
        raise TooComplex(f"its normal form has more than {MAX_CUBES} terms")
    out = []
    for x in a:
        for y in b:
            c = cube_and(x, y)
            if c is not None:
                out.append(c)
    return simplify(out, tops)


def dnf_or(a: DNF, b: DNF, tops: Mapping[str, int]) -> DNF:
    return simplify(a + b, tops)


def dnf_not(a: DNF, tops: Mapping[str, int]) -> DNF:
    out = TRUE
    for c in a:
        comp = [{name: iv_not(s, tops[name])} for name, s in c.items()]
        out = dnf_and(out, comp, tops)
        if not out:
            break
    return out
