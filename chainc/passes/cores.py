"""The CPUs a plan may use: `--cores` lists and the default."""

from __future__ import annotations

import os


def parse_cores(text: str) -> tuple[int, ...]:
    """`0-3,6` -> (0, 1, 2, 3, 6); ValueError with a message for anything else."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        low, sep, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if sep else first
        except ValueError:
            raise ValueError(f"'{part}' is not a core number or a range such as 0-3") from None
        if first < 0 or last < first:
            raise ValueError(f"'{part}' is not a range of core numbers (low-high)")
        out.extend(c for c in range(first, last + 1) if c not in out)
    if not out:
        raise ValueError("no cores given")
    return tuple(out)


def available_cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def default_cores() -> tuple[int, ...]:
    """Every CPU this process may run on, but the first (the main lcore, left to the
    control thread and the system) when there are more than two."""
    cpus = available_cpus()
    return tuple(cpus[1:] if len(cpus) > 2 else cpus)
