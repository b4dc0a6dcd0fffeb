"""Draw the pictures in docs/ and README.md from the example chains.

    python3 docs/pictures/make.py           write docs/pictures/*.svg
    python3 docs/pictures/make.py --check   exit 1 if a picture is not current

Each SVG records the SHA-256 of the DOT text it was drawn from. The DOT is
deterministic (no times, no absolute paths; statistics from `chainc sim`),
so --check rebuilds it and compares hashes, whatever Graphviz version drew
the committed file.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

from chainc.driver import load_chain, load_registry
from chainc.sim import default_files, run_sim
from chainc.viz.dot import chain_picture
from chainc.passes import PlanOptions, optimise
from chainc.viz.plan import plan_view
from chainc.viz.render import render
from chainc.viz.statsfile import from_json

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"
MARK = re.compile(r"<!-- chainc-dot-sha256: ([0-9a-f]{64}) -->")


def edge_with_plan() -> str:
    """examples/edge.chain with its plan on two cores, the ring between them, and the
    predictions at a fixed 2.5 GHz (so the picture does not depend on this machine)."""
    graph = load_chain(str(EXAMPLES / "edge.chain")).graph
    plan = optimise(graph, PlanOptions((0, 1), hz=2.5e9))
    return chain_picture(graph, plan=plan_view(plan)).dot


def router_with_stats() -> str:
    """examples/router_acl.chain with the packets `chainc sim` counts over its sample traffic."""
    registry = load_registry()
    graph = load_chain(str(EXAMPLES / "router_acl.chain"), registry=registry).graph
    inputs, _ = default_files(graph)
    stats = run_sim(graph, inputs, {}, registry)
    return chain_picture(graph, stats=from_json(stats, "chainc sim")).dot


PICTURES = {"edge-plan.svg": edge_with_plan, "router-acl-stats.svg": router_with_stats}


def digest(dot: str) -> str:
    return hashlib.sha256(dot.encode("utf-8")).hexdigest()


def stale() -> list[str]:
    """The pictures whose committed SVG was not drawn from today's DOT."""
    out = []
    for name, make in PICTURES.items():
        path = HERE / name
        found = MARK.search(path.read_text(encoding="utf-8")) if path.exists() else None
        if found is None or found.group(1) != digest(make()):
            out.append(name)
    return out


def write() -> None:
    for name, make in PICTURES.items():
        dot = make()
        svg = render(dot, "svg").decode("utf-8")
        head, sep, rest = svg.partition("?>\n")  # keep the XML declaration first
        marked = f"{head}{sep}<!-- chainc-dot-sha256: {digest(dot)} -->\n{rest}"
        (HERE / name).write_text(marked, encoding="utf-8")
        print(f"wrote {HERE.name}/{name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the pictures are current")
    if parser.parse_args().check:
        names = stale()
        for name in names:
            print(f"docs/pictures/{name} is not current: run python3 docs/pictures/make.py",
                  file=sys.stderr)
        return 1 if names else 0
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
