"""The Graphviz DOT text of a chain, with the plan and statistics drawn over it.

Layout: left to right in rank order (`rankdir=LR`), receive ports pinned to
the left border and send ports to the right, so a chain of any length reads
like its source. Every edge into `drop` gets its own small sink beside its
source instead of one shared node that every dropping NF would reach across
the picture. Expanded sub-chains are clusters; with a plan, stages are
clusters in their core's colour and sub-chains nest inside them.

User text reaches DOT only inside labels, escaped: node names in DOT are
`n<i>` in topological order and edges `e<j>`, which are also the `id`s of
the SVG groups the HTML page finds them by.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field

from chainc.ir.graph import ChainGraph, Edge, NfNode, NodeKind
from chainc.viz import describe
from chainc.viz.plan import PlanView, StageView
from chainc.viz.statsfile import Snapshot

FONT = "Helvetica"
# One colour per core (Tableau 10), cycled past ten cores.
CORE_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
# Cycles per packet as a heat colour, relative to the hottest NF (YlOrRd).
# Light enough that the label stays readable on the hottest.
HEAT = ("#ffffd4", "#fff1a8", "#fee391", "#fec44f", "#fdae6b", "#fd8d3c", "#f16913")
NF_FILL = "#ffffff"
RX_FILL = "#dbe9f6"
TX_FILL = "#dcefd9"
BOTTLENECK = "#c0392b"
DROPS_TEXT = "#a50f15"
TEXT = "#333333"
MAX_PEN = 6.0  # the busiest edge's width; an idle edge is 1
LIVE_STATS_WIDTH = 170  # points kept free for node statistics that change while live


def core_colour(core: int) -> str:
    return CORE_COLOURS[core % len(CORE_COLOURS)]


def heat_colour(share: float) -> str:
    """The heat colour of a node whose cycles per packet are `share` of the hottest one's."""
    return HEAT[min(len(HEAT) - 1, int(share * len(HEAT)))]


def pen_width(count: int, busiest: int) -> float:
    return round(1 + (MAX_PEN - 1) * count / busiest, 2) if busiest else 1.0


def drops_line(drops: dict[str, int]) -> str:
    nonzero = describe.count_pairs(drops)
    return describe.clip("drops: " + nonzero, 32) if nonzero else "no drops"


def cycles_line(cpp: float | None) -> str:
    return "- cyc/pkt" if cpp is None else f"{cpp:.0f} cyc/pkt"


# ---------------------------------------------------------------- escaping


def esc(text: str) -> str:
    """A DOT escString: backslashes and quotes escaped, any line break written as \\n."""
    flat = "".join(c if c.isprintable() or c == "\n" else " " for c in text)
    return flat.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class LeftLines(str):
    """A label whose lines are left-justified (each ends in DOT's \\l)."""


class HtmlLabel(str):
    """A label already in Graphviz's HTML-like syntax: written as <...>, not quoted."""


def _html(text: str) -> str:
    """Text for an HTML-like label. Graphviz still reads backslash escapes there (`\\N` is the
    node's name), so a backslash is doubled."""
    flat = "".join(c if c.isprintable() else " " for c in text)
    return html.escape(flat, quote=True).replace("\\", "\\\\")


def _attrs(attrs: dict[str, object]) -> str:
    parts = []
    for key, value in attrs.items():
        if isinstance(value, HtmlLabel):
            parts.append(f"{key}=<{value}>")
        elif isinstance(value, LeftLines):
            parts.append(f'{key}="' + "".join(esc(line) + "\\l" for line in value.split("\n")) + '"')
        else:
            parts.append(f'{key}="{esc(str(value))}"')
    return "[" + ", ".join(parts) + "]"


# ---------------------------------------------------------------- the picture


@dataclass
class EdgeView:
    edge: Edge
    dot_id: str  # also the SVG group id
    label_lines: list[str]
    stats_lines: int  # how many of the last label lines are statistics (the live page rewrites them)
    count: int | None = None
    ring: int | None = None
    width: float = 1.0  # pen width: scaled to the edge's packets when statistics are drawn


@dataclass
class Picture:
    """The DOT text and how the chain's nodes and edges are named in it."""

    dot: str
    node_ids: dict[str, str]  # graph node id -> DOT/SVG id
    edges: list[EdgeView] = field(default_factory=list)


@dataclass
class _Cluster:
    name: str
    attrs: dict[str, object]
    members: list[str] = field(default_factory=list)
    children: dict[tuple, "_Cluster"] = field(default_factory=dict)


class _Builder:
    def __init__(self, graph: ChainGraph, plan: PlanView | None, stats: Snapshot | None, live: bool):
        self.graph = graph
        self.plan = plan
        self.stats = stats
        self.live = live
        self.order = [n for n in graph.topological_order() if n.kind is not NodeKind.DROP]
        self.ids = {n.id: f"n{i}" for i, n in enumerate(self.order)}
        self.lines: list[str] = []
        self.clusters = 0
        self.hottest = self._hottest()
        # Statistics without cycles (chainc sim's) leave the heat out; a live page may get them later.
        self.show_cycles = live or self.hottest > 0

    # -- nodes --------------------------------------------------------------
    def _stage(self, node: NfNode):
        return self.plan.stage_of(node.id) if self.plan is not None else None

    def _hottest(self) -> float:
        if self.stats is None:
            return 0.0
        cpps = [s.cycles_per_packet or 0.0 for n in self.order if n.kind is NodeKind.NF
                and (s := self.stats.nodes.get(n.id)) is not None]
        return max(cpps, default=0.0)

    def nf_label(self, node: NfNode) -> HtmlLabel:
        """The node's label in Graphviz's HTML-like syntax: a table, filled by heat."""
        small = '<FONT POINT-SIZE="9">{}</FONT>'
        rows = [f"<B>{_html(describe.short_name(node))}</B>"]
        if describe.shows_type(node):
            rows.append(small.format(_html(node.type_name)))
        rows += [small.format(_html(p)) for p in describe.key_params(self.graph, node)]
        hints = describe.hints_text(node)
        if hints:
            rows.append(small.format(_html(hints)))
        source = describe.source_text(node)
        if source:
            rows.append(f'<FONT POINT-SIZE="8" COLOR="#555555">{_html(source)}</FONT>')
        fill = NF_FILL
        stats_rows = []
        if self.stats is not None:
            s = self.stats.nodes.get(node.id)
            cpp = s.cycles_per_packet if s is not None else None
            if cpp is not None and self.hottest > 0:
                fill = heat_colour(cpp / self.hottest)
            if self.show_cycles:
                stats_rows.append(small.format(_html(cycles_line(cpp))))
            drops = drops_line(s.drops if s is not None else {})
            colour = DROPS_TEXT if drops != "no drops" else TEXT
            stats_rows.append(f'<FONT POINT-SIZE="9" COLOR="{colour}">{_html(drops)}</FONT>')
        width = f' WIDTH="{LIVE_STATS_WIDTH}"' if self.live else ""
        cells = [f"<TR><TD>{r}</TD></TR>" for r in rows]
        cells += [f"<TR><TD{width}>{r}</TD></TR>" for r in stats_rows]
        stage = self._stage(node)
        border = (f' COLOR="{core_colour(stage.core)}" BORDER="2"' if stage is not None
                  else ' COLOR="#333333" BORDER="1"')
        table = (f'<TABLE STYLE="rounded" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" '
                 f'BGCOLOR="{fill}"{border}>' + "".join(cells) + "</TABLE>")
        return HtmlLabel(table)

    def node_attrs(self, node: NfNode) -> dict[str, object]:
        dot_id = self.ids[node.id]
        if node.kind is NodeKind.NF:
            return {"id": dot_id, "shape": "plain", "label": self.nf_label(node), "class": "nf"}
        receive = node.kind is NodeKind.PORT_IN
        lines = [describe.short_name(node), "receive" if receive else "send"]
        stage = self._stage(node)
        if stage is not None:
            lines.append(f"core {stage.core}")
        return {"id": dot_id, "shape": "cds", "style": "filled", "label": "\n".join(lines),
                "fillcolor": RX_FILL if receive else TX_FILL, "class": "port"}

    # -- edges --------------------------------------------------------------
    def edge_views(self) -> list[EdgeView]:
        views = []
        for node in self.order:
            for edge in self.graph.out_edges(node.id):
                views.append(self._edge_view(node, edge, f"e{len(views)}"))
        busiest = max((v.count or 0 for v in views), default=0)
        for v in views:
            v.width = pen_width(v.count or 0, busiest) if self.stats is not None else 1.0
        return views

    def _edge_view(self, src: NfNode, edge: Edge, dot_id: str) -> EdgeView:
        lines = []
        if len(src.outputs) > 1:
            lines.append(edge.out_port)
        ring = self.plan.ring_on(edge.src, edge.out_port) if self.plan is not None else None
        if ring is not None:
            lines.append(f"ring {ring.index}")
        count, stats_lines = None, 0
        if self.stats is not None:
            count = self.stats.edge_count(edge.src, edge.out_port) or 0
            lines.append(f"{describe.fmt_count(count)} pkts")
            stats_lines = 1
            rate = self.stats.rate(count)
            if rate is not None or self.live:
                lines.append(describe.fmt_rate(rate or 0.0))
                stats_lines = 2
        return EdgeView(edge, dot_id, lines, stats_lines, count, ring.index if ring else None)

    def edge_attrs(self, view: EdgeView) -> dict[str, object]:
        attrs: dict[str, object] = {"id": view.dot_id}
        if view.label_lines:
            attrs["label"] = "\n".join(view.label_lines)
        if view.ring is not None:
            attrs.update(style="dashed", color="#222222", penwidth=max(2.0, view.width))
        elif view.width != 1.0:
            attrs["penwidth"] = view.width
        return attrs

    # -- clusters -----------------------------------------------------------
    def cluster_tree(self, edges: list[EdgeView]) -> tuple[_Cluster, dict[str, list[str]]]:
        """Clusters of the NFs, and of each drop sink (it sits with its source)."""
        root = _Cluster("", {})
        paths: dict[str, list[_Cluster]] = {}
        for node in self.order:
            if node.kind is not NodeKind.NF:
                root.members.append(self.ids[node.id])
                continue
            here = root
            stage = self._stage(node)
            if stage is not None:
                here = self._child(here, ("stage", stage.index), self._stage_attrs(stage))
            for k in range(1, len(node.scope) + 1):
                scope = node.scope[:k]
                label = describe.subchain_label(self.graph, scope)
                here = self._child(here, ("scope", scope), {"label": label, "style": "rounded,dashed",
                                                            "color": "#888888"})
            here.members.append(self.ids[node.id])
            paths[node.id] = [here]
        sinks: dict[str, list[str]] = {}
        for v in edges:
            if self.graph.node(v.edge.dst).kind is NodeKind.DROP:
                sink = f"d{v.dot_id[1:]}"
                where = paths.get(v.edge.src, [root])[0]
                where.members.append(sink)
                sinks.setdefault(v.edge.src, []).append(sink)
        return root, sinks

    def _child(self, parent: _Cluster, key: tuple, attrs: dict[str, object]) -> _Cluster:
        if key not in parent.children:
            self.clusters += 1
            kind = key[0]
            attrs = {"id": f"{kind}{self.clusters}", **attrs}
            parent.children[key] = _Cluster(f"cluster_{self.clusters}", attrs)
        return parent.children[key]

    def _stage_attrs(self, stage: StageView) -> dict[str, object]:
        colour = core_colour(stage.core)
        lines = [f"stage {stage.index} · core {stage.core}", *stage.notes()]
        attrs: dict[str, object] = {"color": colour, "fillcolor": colour + "1a",
                                    "style": "rounded,filled", "penwidth": 2, "fontcolor": colour}
        if self.plan is not None and self.plan.bottleneck == stage.index:
            lines.append("bottleneck")
            attrs.update(penwidth=5, fontcolor=BOTTLENECK, color=BOTTLENECK)
        attrs["label"] = "\n".join(lines)
        return attrs

    def emit_cluster(self, cluster: _Cluster, attrs_of: dict[str, str], depth: int) -> None:
        pad = "  " * depth
        for member in cluster.members:
            self.lines.append(f"{pad}{member} {attrs_of[member]}")
        for child in cluster.children.values():
            self.lines.append(f"{pad}subgraph {child.name} {{")
            self.lines.append(f"{pad}  graph {_attrs(child.attrs)}")
            self.emit_cluster(child, attrs_of, depth + 1)
            self.lines.append(f"{pad}}}")

    # -- the whole ----------------------------------------------------------
    def title(self) -> str:
        source = os.path.basename(self.graph.source_path)
        lines = [f"{self.graph.name} ({source})" if source else self.graph.name]
        if self.plan is not None:
            cores = sorted({s.core for s in self.plan.stages})
            text = f"plan: {len(self.plan.stages)} stage(s) on {len(cores)} core(s), " \
                   f"{len(self.plan.rings)} ring(s)"
            if self.plan.predicted_mpps is not None:
                text += f", predicted {self.plan.predicted_mpps:g} Mpps"
            if self.plan.bottleneck is not None:
                text += f", bottleneck: stage {self.plan.bottleneck}"
            lines.append(text)
        if self.stats is not None:
            text = "live statistics" if self.live else "statistics"
            if self.stats.elapsed_s and not self.live:
                text += f" over {self.stats.elapsed_s:.3f} s"
            if self.show_cycles:
                text += "; fill: cycles/packet, pale to orange (the most)"
            lines.append(text + "; edge width: packets")
        return "\n".join(lines)

    def build(self) -> Picture:
        edges = self.edge_views()
        attrs_of = {self.ids[n.id]: _attrs(self.node_attrs(n)) for n in self.order}
        root, sinks = self.cluster_tree(edges)
        for sink_list in sinks.values():
            for sink in sink_list:
                attrs_of[sink] = _attrs({"id": sink, "class": "drop", "shape": "octagon",
                                         "style": "filled", "fillcolor": "#555555",
                                         "fontcolor": "white", "fontsize": 8, "label": "drop",
                                         "width": 0.3, "height": 0.3, "margin": 0.02})
        self.lines = [
            f'digraph "{esc(self.graph.name)}" {{',
            "  graph " + _attrs({"id": "chain", "rankdir": "LR", "newrank": "true",
                                 "fontname": FONT, "fontsize": 11, "labelloc": "t",
                                 "labeljust": "l", "nodesep": 0.25, "ranksep": 0.4,
                                 "label": LeftLines(self.title())}),
            "  node " + _attrs({"fontname": FONT, "fontsize": 10}),
            "  edge " + _attrs({"fontname": FONT, "fontsize": 8, "color": "#555555",
                                "arrowsize": 0.7}),
        ]
        self.emit_cluster(root, attrs_of, 1)
        for kind, rank in ((NodeKind.PORT_IN, "min"), (NodeKind.PORT_OUT, "max")):
            members = [self.ids[n.id] for n in self.order if n.kind is kind]
            if members:
                self.lines.append(f"  {{ rank={rank}; {'; '.join(members)} }}")
        for v in edges:
            dst = self.graph.node(v.edge.dst)
            target = f"d{v.dot_id[1:]}" if dst.kind is NodeKind.DROP else self.ids[dst.id]
            self.lines.append(f"  {self.ids[v.edge.src]} -> {target} {_attrs(self.edge_attrs(v))}")
        self.lines.append("}")
        return Picture("\n".join(self.lines) + "\n", dict(self.ids), edges)


def chain_picture(graph: ChainGraph, plan: PlanView | None = None, stats: Snapshot | None = None,
                  live: bool = False) -> Picture:
    """The chain as DOT; `live` keeps room for statistics the HTML page updates in place."""
    return _Builder(graph, plan, stats, live).build()
