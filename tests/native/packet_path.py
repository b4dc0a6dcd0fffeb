"""What the packet path of a generated binary reaches: the C functions callable
from the lcore entry point, and any Python C-API calls among them."""

from __future__ import annotations

from pathlib import Path

from .test_generated_code import PLAIN_C_HELPERS, PY_API, _function_bodies, _reachable


def packet_path(c_source: Path) -> tuple[set[str], dict[str, list[str]]]:
    """(functions reachable from the worker entry, {function: Python C-API calls})."""
    bodies = _function_bodies(c_source.read_text())
    root = next(name for name in bodies if name.endswith(("_stage_entry", "_core_entry")))
    reachable = _reachable(bodies, root)
    offenders = {f: sorted(set(PY_API.findall(bodies[f])) - PLAIN_C_HELPERS) for f in reachable}
    return reachable, {f: calls for f, calls in offenders.items() if calls}
