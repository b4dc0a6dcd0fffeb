"""First-match partitions: which of an ordered list of boxes takes each part of a cell.

`regions(cell, boxes)` splits a cell into parts, each either inside the
first box (in list order) that meets it, or inside no box at all. It walks
the list once per part: a box that misses the part is skipped; a box that
meets it takes its intersection, and the rest of the part (at most two
pieces per field the box constrains: below and above it) goes on to the
next boxes. Everything is exact interval arithmetic, and the walk stops as
soon as the caller has what it wants (it is a generator).

`BoxIndex` finds, among many rules (10,000 ClassBench filters), the boxes
that can meet a given cube, so each walk only sees those: per family and
field, the lowest and highest value of every box, compared for all boxes
at once with numpy (128-bit addresses by their upper 64 bits, which can
only let more boxes through, never fewer).
"""

from __future__ import annotations

import math
from typing import Iterator, Mapping, Sequence

from .cubes import Cube, cube_meets, cube_subset, iv_and, iv_not
from .space import FAMILIES, TOPS, Space

#: Parts one walk may make before it gives up (raises Unfinished): enough for any
#: realistic rule file, a bound for an adversarial one.
MAX_PARTS = 20000
#: Below this many boxes a plain loop is faster than numpy.
_NUMPY_FROM = 64


class Unfinished(Exception):
    """A walk that needed more than MAX_PARTS parts."""


def subtract(cell: Cube, box: Cube, tops: Mapping[str, int]) -> tuple[list[Cube], Cube]:
    """(disjoint pieces of `cell` outside `box`, `cell` inside `box`); the two must meet.

    A piece is made per interval outside the box (below it, above it), so that
    boxes of single intervals (ClassBench filters) give pieces of single intervals.
    """
    pieces = []
    cur = dict(cell)
    for name, s in box.items():
        mine = cur.get(name, ((0, tops[name]),))
        for iv in iv_and(mine, iv_not(s, tops[name])):
            piece = dict(cur)
            piece[name] = (iv,)
            pieces.append(piece)
        cur[name] = iv_and(mine, s)
    return pieces, cur


def regions(cell: Cube, boxes: Sequence[tuple[Cube, int]], tops: Mapping[str, int],
            limit: int = MAX_PARTS) -> Iterator[tuple[Cube, int | None]]:
    """Parts of `cell` with the owner of the first box that holds each, or None."""
    stack = [(cell, 0)]
    made = 0
    while stack:
        part, k = stack.pop()
        while k < len(boxes) and not cube_meets(part, boxes[k][0]):
            k += 1
        if k == len(boxes):
            yield part, None
            continue
        box, owner = boxes[k]
        if cube_subset(part, box):
            yield part, owner
            continue
        pieces, inside = subtract(part, box, tops)
        made += len(pieces)
        if made > limit:
            raise Unfinished
        yield inside, owner
        stack.extend((p, k + 1) for p in reversed(pieces))


class BoxIndex:
    """The boxes of an ordered list of rules, per family, for finding those that meet a cube."""

    def __init__(self, spaces: Sequence[Space]):
        self.boxes: dict[str, list[tuple[Cube, int]]] = {fam: [] for fam in FAMILIES}
        self._sizes: dict[int, float] = {}
        for owner, space in enumerate(spaces):
            for fam in FAMILIES:
                tops = TOPS[fam]
                for c in space[fam]:
                    self.boxes[fam].append((c, owner))
                    self._sizes[id(c)] = sum(math.log2(_width(s) / (tops[name] + 1))
                                             for name, s in c.items())
        self._hulls: dict[str, tuple] = {}

    def size(self, box: tuple[Cube, int]) -> float:
        """How much of its family a box holds: the log2 of the fraction (0 for all of it)."""
        return self._sizes.get(id(box[0]), 0.0)

    def meeting(self, family: str, cube: Cube, owners: range) -> list[tuple[Cube, int]]:
        """The boxes of rules in `owners` that may meet `cube` (all that do), in rule order."""
        boxes = self.boxes[family]
        if len(boxes) < _NUMPY_FROM:
            return [(b, o) for b, o in boxes if o in owners and cube_meets(cube, b)]
        np, owner_of, lows, highs = self._hull(family)
        start, stop = np.searchsorted(owner_of, [owners.start, owners.stop])
        tops = TOPS[family]
        keep = np.ones(stop - start, dtype=bool)
        for name, s in cube.items():
            if name not in lows:
                continue  # no box constrains it
            lo, hi = _hull_key(tops[name], s[0][0]), _hull_key(tops[name], s[-1][1])
            keep &= (lows[name][start:stop] <= hi) & (highs[name][start:stop] >= lo)
        # Exact for boxes of single intervals (and IPv4); the callers check the rest.
        return [boxes[i] for i in (np.flatnonzero(keep) + start).tolist()]

    def _hull(self, family: str) -> tuple:
        if family not in self._hulls:
            import numpy as np

            boxes = self.boxes[family]
            tops = TOPS[family]
            lows, highs = {}, {}
            for name in sorted({n for b, _ in boxes for n in b}):
                top = tops[name]
                los = [_hull_key(top, b[name][0][0]) if name in b else 0 for b, _ in boxes]
                his = [_hull_key(top, b[name][-1][1]) if name in b else _hull_key(top, top)
                       for b, _ in boxes]
                lows[name] = np.array(los, dtype=np.uint64)
                highs[name] = np.array(his, dtype=np.uint64)
            owner_of = np.array([o for _, o in boxes], dtype=np.int64)
            self._hulls[family] = (np, owner_of, lows, highs)
        return self._hulls[family]


def _width(s: tuple[tuple[int, int], ...]) -> int:
    return sum(hi - lo + 1 for lo, hi in s)


def _hull_key(top: int, value: int) -> int:
    """A value as a 64-bit key: the values of a 128-bit field by their upper half."""
    return value >> 64 if top >> 64 else value
