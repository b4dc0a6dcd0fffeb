"""The target model: what the DPDK code generator needs to know about a chain.

A `PipelineModel` is built from a ChainGraph: NFs grouped into stages (one
stage runs to completion on one lcore), the rings that carry packets between
stages, and each port's receive and transmit owner. Templates receive this
model and call nothing in the compiler.

Placement here follows the `@core(n)` hints only (an NF without a hint runs
where its first predecessor runs, else on core 0); the optimiser's placement
passes produce the same model from a cost model.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import networkx as nx

from chainc.ir.graph import ChainGraph, NfNode, NodeKind, PortBinding

_C_NAME = re.compile(r"[^A-Za-z0-9_]")


@dataclass
class NodeModel:
    """One graph node as the generated code sees it."""

    index: int  # position in the stats array
    node: NfNode
    sym: str  # C symbol prefix, derived from the index (user text never becomes code)
    stage: int
    # (out port name, destination) per output port, in the NF's port order. A
    # destination is ("node", index, in_port_index), ("tx", port_index),
    # ("ring", ring_index) or ("drop", None).
    targets: list[tuple[str, tuple]] = field(default_factory=list)

    @property
    def kind(self) -> NodeKind:
        return self.node.kind

    @property
    def source(self) -> str:
        span = self.node.span
        return f"{os.path.basename(span.file.path)}:{span.line}" if span else "?"


@dataclass
class PortModel:
    index: int
    name: str
    binding: PortBinding | None
    rx_stage: int | None = None  # the stage polling its rx queue
    rx_node: int | None = None  # the PORT_IN node index
    tx_stage: int | None = None  # the stage owning its tx queue
    tx_node: int | None = None  # the PORT_OUT node index


@dataclass
class RingModel:
    index: int
    src_stage: int
    dst_stage: int
    dst_node: int  # node index the packet continues at
    dst_in_port: int


@dataclass
class StageModel:
    index: int
    core: int  # logical core number: the n-th lcore given to the binary
    nodes: list[int] = field(default_factory=list)  # topological order
    rx_ports: list[int] = field(default_factory=list)
    tx_ports: list[int] = field(default_factory=list)
    rings_in: list[int] = field(default_factory=list)
    rings_out: list[int] = field(default_factory=list)
    upstream: list[int] = field(default_factory=list)  # stages feeding this one


@dataclass
class PipelineModel:
    chain: str
    source_name: str  # the .chain file's base name, for the generated header
    nodes: list[NodeModel]
    ports: list[PortModel]
    stages: list[StageModel]
    rings: list[RingModel]

    @property
    def max_outputs(self) -> int:
        return max([len(n.targets) for n in self.nodes] + [1])

    def node(self, node_id: str) -> NodeModel:
        return next(n for n in self.nodes if n.node.id == node_id)


def c_identifier(text: str) -> str:
    """A readable C identifier fragment for comments and symbol suffixes."""
    return _C_NAME.sub("_", text)[:40]


def _place(graph: ChainGraph) -> dict[str, int]:
    """Logical core per node: the @core hint, else the first predecessor's core."""
    core: dict[str, int] = {}
    for n in graph.topological_order():
        if n.core is not None:
            core[n.id] = n.core
            continue
        preds = [e.src for e in graph.in_edges(n.id)]
        core[n.id] = core[preds[0]] if preds else 0
    # A port's receive side runs on the core of the NF it feeds, so an rx
    # burst is processed where it is polled.
    for n in graph.nodes(NodeKind.PORT_IN):
        succ = graph.out_edges(n.id)
        if succ:
            core[n.id] = core[succ[0].dst]
    return core


def build_model(graph: ChainGraph) -> PipelineModel:
    placement = _place(graph)
    cores = sorted(set(placement.values()))
    stage_of_core = {c: i for i, c in enumerate(cores)}
    stages = [StageModel(i, c) for i, c in enumerate(cores)]

    order = graph.topological_order()
    nodes: list[NodeModel] = []
    index_of: dict[str, int] = {}
    for n in order:
        idx = len(nodes)
        index_of[n.id] = idx
        stage = stage_of_core[placement[n.id]]
        nodes.append(NodeModel(idx, n, f"n{idx}", stage))
        stages[stage].nodes.append(idx)

    ports: list[PortModel] = []
    port_index: dict[str, int] = {}
    for name in graph.ports():
        port_index[name] = len(ports)
        ports.append(PortModel(len(ports), name, graph.port_bindings.get(name)))
    for nm in nodes:
        if nm.kind is NodeKind.PORT_IN:
            p = ports[port_index[nm.node.port]]
            p.rx_stage, p.rx_node = nm.stage, nm.index
            stages[nm.stage].rx_ports.append(p.index)
        elif nm.kind is NodeKind.PORT_OUT:
            p = ports[port_index[nm.node.port]]
            p.tx_stage, p.tx_node = nm.stage, nm.index
            stages[nm.stage].tx_ports.append(p.index)

    for st in stages:  # poll inputs in declaration order, as `chainc sim` serves them
        st.rx_ports.sort()
        st.tx_ports.sort()
    rings: list[RingModel] = []
    for nm in nodes:
        for out_port in nm.node.outputs:
            edge = graph.edge_from(nm.node.id, out_port)
            if edge is None:  # verify rejects this; keep codegen total anyway
                nm.targets.append((out_port, ("drop", None)))
                continue
            dst = nodes[index_of[edge.dst]]
            in_idx = dst.node.inputs.index(edge.in_port) if edge.in_port in dst.node.inputs else 0
            if dst.kind is NodeKind.DROP:  # dropping is local to every stage: never a ring
                nm.targets.append((out_port, ("drop", dst.index)))
            elif dst.stage != nm.stage:
                ring = RingModel(len(rings), nm.stage, dst.stage, dst.index, in_idx)
                rings.append(ring)
                stages[nm.stage].rings_out.append(ring.index)
                stages[dst.stage].rings_in.append(ring.index)
                if nm.stage not in stages[dst.stage].upstream:
                    stages[dst.stage].upstream.append(nm.stage)
                nm.targets.append((out_port, ("ring", ring.index)))
            elif dst.kind is NodeKind.PORT_OUT:
                nm.targets.append((out_port, ("tx", port_index[dst.node.port])))
            else:
                nm.targets.append((out_port, ("node", dst.index, in_idx)))

    _check_stage_order(graph, stages, nodes)
    source = graph.source_path or graph.name
    return PipelineModel(graph.name, os.path.basename(source), nodes, ports, stages, rings)


def _check_stage_order(graph: ChainGraph, stages: list[StageModel], nodes: list[NodeModel]) -> None:
    """Packets may only flow forward between stages: a stage cycle could deadlock
    on full rings and would never finish draining."""
    sg = nx.DiGraph()
    sg.add_nodes_from(range(len(stages)))
    for st in stages:
        for u in st.upstream:
            sg.add_edge(u, st.index)
    try:
        cycle = nx.find_cycle(sg)
    except nx.NetworkXNoCycle:
        return
    cores = " -> ".join(f"core {stages[u].core}" for u, _ in cycle) + f" -> core {stages[cycle[0][0]].core}"
    raise PlacementError(
        f"placement sends packets back to a core they already left ({cores}); "
        "put the NFs between those cores on one core, or move the hints so packets only "
        "move forward", [nodes[i].node for st in stages for i in st.nodes
                         if nodes[i].node.core is not None])


class PlacementError(Exception):
    """The @core hints give a stage graph the runtime cannot run; names the hinted NFs."""

    def __init__(self, message: str, hinted: list[NfNode]):
        super().__init__(message)
        self.hinted = hinted
