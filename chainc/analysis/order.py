"""First match over an ordered list of rules: what each rule really decides.

The rules are given as their sets of frames (`Space`, space.py) in order;
the first rule a frame is in decides it. Every question is answered exactly,
with a frame (witness.py) as the evidence:

- `live(j)`: a frame rule j decides (no earlier rule matches it);
- `takes(i, j)`: a frame of rule j that rule i (i < j) decides: one both
  match, that no rule before i matches;
- `subset(i, j)`: is every frame of rule i also one of rule j;
- `first(w, j)`, `decider(w, j)`: the rule before (after) rule j that
  matches a frame of rule j.

They all come down to one: is a box covered by a set of boxes, and if not,
which real frame is outside them (`uncovered`). Order does not matter for
that, so the boxes are tried largest first: a box that holds the whole cell
ends the walk at once, where rule order would first cut the cell along
every small rule before it. Parts of the space that no real frame is in
(witness.realize says None) count as covered.
"""

from __future__ import annotations

from typing import Callable, Container, Iterable, Iterator, Sequence

from .cubes import Cube, cube_and, cube_has
from .regions import BoxIndex, regions
from .space import FAMILIES, TOPS, Space
from .witness import Witness, realize


class Ordered:
    """An ordered list of rules, indexed for the questions above."""

    def __init__(self, spaces: Sequence[Space]):
        self.spaces = spaces
        self.index = BoxIndex(spaces)
        self._around: tuple[int, list[tuple[str, Cube, list[tuple[Cube, int]]]]] = (-1, [])

    def cubes(self, j: int) -> Iterator[tuple[str, Cube]]:
        for fam in FAMILIES:
            for cube in self.spaces[j][fam]:
                yield fam, cube

    def around(self, j: int) -> list[tuple[str, Cube, list[tuple[Cube, int]]]]:
        """Rule j's cubes, each with the boxes of the other rules that meet it.

        One index lookup per cube serves every question about rule j: a frame of
        rule j is in one of its cubes, so a box holding it meets that cube.
        """
        if self._around[0] != j:
            n = len(self.spaces)
            self._around = (j, [(fam, c, [b for b in self.index.meeting(fam, c, range(0, n))
                                          if b[1] != j])
                                for fam, c in self.cubes(j)])
        return self._around[1]

    def example(self, j: int) -> Witness | None:
        """Some real frame of rule j; None if it matches none."""
        for fam, c in self.cubes(j):
            w = realize(fam, c)
            if w is not None:
                return w
        return None

    def empty(self, j: int) -> bool:
        return self.example(j) is None

    def live(self, j: int) -> Witness | None:
        """A frame rule j decides itself; raises regions.Unfinished if too entangled."""
        for fam, cube, boxes in self.around(j):
            w = self.uncovered(fam, cube, [b for b in boxes if b[1] < j])
            if w is not None:
                return w
        return None

    def meeting(self, j: int, owners: range) -> list[int]:
        """The rules in `owners` with a box that meets one of rule j's, in order."""
        return sorted({o for _, _, boxes in self.around(j) for _, o in boxes if o in owners})

    def takes(self, i: int, j: int) -> Witness | None:
        """A frame of both i and j (i < j) that rule i decides, if there is one."""
        for fam, cube, boxes in self.around(j):
            before = [b for b in boxes if b[1] < i]
            for a in self.spaces[i][fam]:
                both = cube_and(a, cube)
                if both is not None:
                    w = self.uncovered(fam, both, before)
                    if w is not None:
                        return w
        return None

    def subset(self, i: int, j: int) -> bool:
        """Every frame of rule i is a frame of rule j."""
        return all(self.uncovered(fam, a, [(c, j) for c in self.spaces[j][fam]]) is None
                   for fam, a in self.cubes(i))

    def first(self, w: Witness, j: int) -> int | None:
        """The first rule before rule j that matches a frame of rule j."""
        return self._holding(w, j, lambda o: o < j)

    def decider(self, w: Witness, j: int, skip: Container[int] = ()) -> int | None:
        """The first rule after rule j (not in `skip`) that matches a frame of rule j."""
        return self._holding(w, j, lambda o: o > j and o not in skip)

    def _holding(self, w: Witness, j: int, wanted: Callable[[int], bool]) -> int | None:
        point = w.point
        found = [o for fam, _, boxes in self.around(j) if fam == w.family
                 for box, o in boxes if wanted(o) and cube_has(box, point)]
        return min(found, default=None)

    def uncovered(self, fam: str, cell: Cube, boxes: Iterable[tuple[Cube, int]]) -> Witness | None:
        """A real frame of `cell` in none of `boxes`, or None if they cover it."""
        ranked = sorted(boxes, key=self.index.size, reverse=True)
        w = realize(fam, cell)
        if w is not None and not any(cube_has(b, w.point) for b, _ in ranked):
            return w  # the quick answer, right most of the time
        for part, owner in regions(cell, ranked, TOPS[fam]):
            if owner is None:
                w = realize(fam, part)
                if w is not None:
                    return w
        return None
