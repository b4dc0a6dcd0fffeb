"""The chain IR: a DAG of NF instances over networkx.

Nodes are NF instances, port endpoints (a port's receive side and its transmit
side are separate nodes, so `eth0 -> MacSwap() -> eth0` stays acyclic) and the
`drop` sink. An edge goes from one output port of a node to one input port of
another; an output port feeds exactly one edge. Several edges may enter one
node (a merge). The graph is a `networkx.MultiDiGraph` (a DiGraph that allows
two arms of one Classifier to reach the same NF), keyed by output port name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterator

import networkx as nx

from chainc.nfs.spec import NfSpec
from chainc.source import Span


class NodeKind(enum.Enum):
    NF = "nf"
    PORT_IN = "port-in"    # packets received on a port
    PORT_OUT = "port-out"  # packets transmitted on a port
    DROP = "drop"          # the drop sink


@dataclass(frozen=True)
class PortBinding:
    """Where a port's packets come from and go to by default.

    `driver` is one of pcap, null, ring, tap, af_packet, pci, vdev; `args` are
    its typed arguments (`in`/`out` file paths for pcap, resolved relative to
    the .chain file).
    """

    driver: str
    args: dict[str, Any] = field(default_factory=dict)
    span: Span | None = None


@dataclass
class NfNode:
    id: str  # unique in the graph; sub-chain instances are `outer/inner`
    kind: NodeKind
    span: Span
    spec: NfSpec | None = None
    params: dict[str, Any] = field(default_factory=dict)  # typed, defaults filled in
    param_spans: dict[str, Span] = field(default_factory=dict)
    inputs: tuple[str, ...] = ("in",)
    outputs: tuple[str, ...] = ("out",)
    core: int | None = None  # @core(n)
    replicas: int | None = None  # @replicas(n)
    hint_spans: dict[str, Span] = field(default_factory=dict)  # "core"/"replicas" -> span
    scope: tuple[str, ...] = ()  # the sub-chain instances this node was expanded from
    port: str | None = None  # port name for PORT_IN / PORT_OUT nodes
    binding: PortBinding | None = None

    @property
    def type_name(self) -> str:
        if self.kind is NodeKind.NF and self.spec is not None:
            return self.spec.name
        return self.kind.value

    @property
    def label(self) -> str:
        """The name a user wrote (`wan` for both sides of port wan)."""
        return self.port if self.port is not None else self.id


@dataclass(frozen=True)
class Edge:
    src: str
    out_port: str
    dst: str
    in_port: str
    span: Span | None = None


class ChainGraph:
    """A chain's NF graph, iterated in a deterministic order."""

    def __init__(self, name: str, source_path: str = ""):
        self.name = name
        self.source_path = source_path
        self.g = nx.MultiDiGraph()
        self.port_bindings: dict[str, PortBinding] = {}  # declared ports, in order
        # NfNode.scope of each expanded sub-chain instance -> the sub-chain's name
        self.subchains: dict[tuple[str, ...], str] = {}

    # -- building --------------------------------------------------------
    def add(self, node: NfNode) -> NfNode:
        if node.id in self.g:
            raise ValueError(f"duplicate node id {node.id!r}")
        self.g.add_node(node.id, node=node)
        return node

    def connect(self, src: str, out_port: str, dst: str, in_port: str,
                span: Span | None = None) -> Edge:
        if self.g.has_edge(src, dst, key=out_port) or self.edge_from(src, out_port) is not None:
            raise ValueError(f"output {out_port!r} of {src!r} is already connected")
        edge = Edge(src, out_port, dst, in_port, span)
        self.g.add_edge(src, dst, key=out_port, edge=edge)
        return edge

    def remove(self, node_id: str) -> None:
        self.g.remove_node(node_id)

    def copy(self) -> "ChainGraph":
        """A graph that passes may rewrite without touching this one (nodes and
        edges are shared: passes replace them, never mutate them)."""
        other = ChainGraph(self.name, self.source_path)
        other.g = self.g.copy()
        other.port_bindings = dict(self.port_bindings)
        other.subchains = dict(self.subchains)
        return other

    # -- reading ---------------------------------------------------------
    def __contains__(self, node_id: str) -> bool:
        return node_id in self.g

    def __len__(self) -> int:
        return self.g.number_of_nodes()

    def node(self, node_id: str) -> NfNode:
        return self.g.nodes[node_id]["node"]

    def nodes(self, kind: NodeKind | None = None) -> list[NfNode]:
        """Nodes in insertion order (source order), optionally of one kind."""
        out = [d["node"] for _, d in self.g.nodes(data=True)]
        return [n for n in out if kind is None or n.kind is kind]

    def edges(self) -> list[Edge]:
        return [d["edge"] for _, _, d in self.g.edges(data=True)]

    def out_edges(self, node_id: str) -> list[Edge]:
        node = self.node(node_id)
        order = {p: i for i, p in enumerate(node.outputs)}
        found = [d["edge"] for _, _, d in self.g.out_edges(node_id, data=True)]
        return sorted(found, key=lambda e: order.get(e.out_port, len(order)))

    def in_edges(self, node_id: str) -> list[Edge]:
        return [d["edge"] for _, _, d in self.g.in_edges(node_id, data=True)]

    def edge_from(self, node_id: str, out_port: str) -> Edge | None:
        for _, _, key, d in self.g.out_edges(node_id, keys=True, data=True):
            if key == out_port:
                return d["edge"]
        return None

    def topological_order(self) -> list[NfNode]:
        """A deterministic topological order (ties broken by insertion order)."""
        rank = {n: i for i, n in enumerate(self.g.nodes)}
        order = nx.lexicographical_topological_sort(self.g, key=lambda n: rank[n])
        return [self.node(n) for n in order]

    def is_dag(self) -> bool:
        return nx.is_directed_acyclic_graph(self.g)

    def ports(self) -> list[str]:
        """Port names, each once, in declaration order."""
        seen: dict[str, None] = {}
        for n in self.nodes():
            if n.port is not None:
                seen.setdefault(n.port, None)
        return list(seen)

    def __iter__(self) -> Iterator[NfNode]:
        return iter(self.nodes())
