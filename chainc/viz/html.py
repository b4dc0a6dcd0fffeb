"""The self-contained HTML page: the SVG picture, pan and zoom, NF details, live statistics.

One file that needs no network: the SVG, the style, the script and the
chain's data are inline. The data is JSON in a `<script type=
"application/json">` element with `<`, `>` and `&` escaped, so no user
string can end the element. With `live`, the page fetches the statistics
from the server that served it (chainc.viz.serve) every interval and
rewrites edge labels, widths and heat colours in place, keeping the layout.
"""

from __future__ import annotations

import html
import importlib.resources
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from chainc.ir.graph import ChainGraph, NfNode, NodeKind
from chainc.ir.export import value_text
from chainc.viz import describe
from chainc.viz.dot import DROPS_TEXT, HEAT, MAX_PEN, NF_FILL, TEXT, Picture, chain_picture
from chainc.viz.plan import PlanView
from chainc.viz.render import render, svg_for_html
from chainc.viz.statsfile import Snapshot

STATS_PATH = "stats.json"  # where the live page fetches statistics, relative to the page


@dataclass(frozen=True)
class Live:
    """The page polls `url` every `interval_s` seconds."""

    url: str = STATS_PATH
    interval_s: float = 1.0


def snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    """A Snapshot in the statistics file's own shape, the one the live page fetches."""
    nodes = []
    for s in snapshot.nodes.values():
        raw = asdict(s)
        raw["in"] = raw.pop("packets_in")
        nodes.append(raw)
    return {"chain": snapshot.chain, "elapsed_s": snapshot.elapsed_s, "nodes": nodes,
            "ports": list(snapshot.ports)}


def _node_data(graph: ChainGraph, node: NfNode, plan: PlanView | None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": node.id, "name": describe.short_name(node),
                            "kind": node.kind.value, "type": node.type_name,
                            "source": describe.source_text(node)}
    if node.kind is NodeKind.NF:
        spec = node.spec
        data.update(doc=describe.doc_text(node), description=spec.description if spec else "",
                    params=describe.all_params(graph, node), hints=describe.hints_text(node),
                    scope=[describe.subchain_label(graph, node.scope[:k])
                           for k in range(1, len(node.scope) + 1)])
    elif node.port is not None:
        binding = graph.port_bindings.get(node.port)
        if binding is not None:
            args = ", ".join(f"{k}: {value_text(describe.relative_to_chain(graph, v))}"
                             for k, v in binding.args.items())
            data["binding"] = f"{binding.driver}({args})"
    stage = plan.stage_of(node.id) if plan is not None else None
    if stage is not None:
        data["stage"] = {"index": stage.index, "core": stage.core, "replicas": stage.replicas,
                         "rss": stage.rss}
    return data


def page_data(graph: ChainGraph, picture: Picture, plan: PlanView | None,
              stats: Snapshot | None, live: Live | None) -> dict[str, Any]:
    """Everything the page's script needs, keyed by the SVG ids of the picture."""
    nodes = {picture.node_ids[n.id]: _node_data(graph, n, plan) for n in graph.nodes()
             if n.id in picture.node_ids}
    edges = [{"svg": v.dot_id, "src": v.edge.src, "out": v.edge.out_port, "dst": v.edge.dst,
              "stats_lines": v.stats_lines, "ring": v.ring} for v in picture.edges]
    return {
        "chain": graph.name,
        "nodes": nodes,
        "edges": edges,
        "stats": snapshot_json(stats) if stats is not None else None,
        "live": {"url": live.url, "interval_ms": int(live.interval_s * 1000)} if live else None,
        "style": {"heat": list(HEAT), "max_pen": MAX_PEN, "fill": NF_FILL, "text": TEXT,
                  "drops_text": DROPS_TEXT},
    }


def _script_json(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _asset(name: str) -> str:
    return (importlib.resources.files("chainc.viz") / "assets" / name).read_text(encoding="utf-8")


def chain_page(graph: ChainGraph, plan: PlanView | None = None, stats: Snapshot | None = None,
               live: Live | None = None) -> str:
    """The whole page as one HTML string."""
    picture = chain_picture(graph, plan, stats, live=live is not None)
    svg = svg_for_html(render(picture.dot, "svg"))
    data = page_data(graph, picture, plan, stats, live)
    parts = {"title": html.escape(f"{graph.name} - chainc"), "style": _asset("page.css"),
             "svg": svg, "data": _script_json(data), "script": _asset("page.js")}
    # One pass over the template: a placeholder inside the SVG or the data stays text.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], _asset("page.html"))
