"""The target model: what the DPDK code generator needs to know about a chain.

A `PipelineModel` is built from the optimiser's Plan (chainc.passes): NFs
grouped into stages (a stage runs to completion; a replicated stage runs
once per replica, each on its own lcore with its own receive queues, NF
state and counters), the workers (one per stage replica), the rings that
carry packets between stages (one per pair of stages that an edge crosses,
so a flow keeps its order whichever edges it takes; one single-producer
ring per sending replica), each port's receive queues and the workers that transmit on it
(each on a queue of its own when the device has enough). Templates
receive this model and call nothing in the compiler.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from chainc.ir.graph import ChainGraph, NfNode, NodeKind, PortBinding
from chainc.passes import Depth, Plan, RssPlan, pinned_plan
from chainc.source import Span

_C_NAME = re.compile(r"[^A-Za-z0-9_]")


def source_of(span: Span | None, main: str) -> str:
    """`file:line` for generated code: relative to the main .chain file's folder
    (`lib/scrub.chain:8`), never an absolute path."""
    if span is None:
        return "?"
    path = span.file.path
    base = os.path.dirname(os.path.abspath(main)) if main else ""
    full = os.path.abspath(path)
    shown = os.path.relpath(full, base) if base and full.startswith(base + os.sep) \
        else os.path.basename(path)
    return f"{shown}:{span.line}"


@dataclass
class NodeModel:
    """One graph node as the generated code sees it."""

    index: int  # position in the stats array
    node: NfNode
    sym: str  # C symbol prefix, derived from the index (user text never becomes code)
    stage: int | None  # None for transmit ports and the drop sink: every stage reaches them
    source: str = "?"  # the .chain file and line it came from
    replicas: int = 1  # copies of its state: the replicas of its stage
    # (out port name, destination) per output port, in the NF's port order. A
    # destination is ("node", index, in_port_index), ("tx", port_index),
    # ("ring", ring_index, node_index, in_port_index) or ("drop", None).
    targets: list[tuple[str, tuple]] = field(default_factory=list)

    @property
    def kind(self) -> NodeKind:
        return self.node.kind


@dataclass
class PortModel:
    index: int
    name: str
    binding: PortBinding | None
    rx_stage: int | None = None  # the stage polling its receive queues
    rx_node: int | None = None  # the PORT_IN node index
    rx_queues: int = 0  # one per replica of rx_stage
    parse_depth: Depth = Depth.L4
    rss: RssPlan | None = None
    tx_node: int | None = None  # the PORT_OUT node index
    tx_workers: list[int] = field(default_factory=list)  # workers that send; queue = position


@dataclass
class RingModel:
    """The rings from one stage to another; each packet carries the node it continues
    at (and that node's input) beside its metadata in the mbuf's private area."""

    index: int
    src_stage: int
    dst_stage: int
    first: int = 0  # the physical ring of the sending stage's replica 0
    count: int = 1  # physical rings: one per replica of the sending stage


@dataclass
class StageModel:
    index: int
    cores: list[int]  # logical core of each replica: the n-th lcore given to the binary
    nodes: list[int] = field(default_factory=list)  # topological order
    rx_ports: list[int] = field(default_factory=list)
    tx_ports: list[int] = field(default_factory=list)
    rings_in: list[int] = field(default_factory=list)
    rings_out: list[int] = field(default_factory=list)
    upstream: list[int] = field(default_factory=list)  # stages feeding this one
    workers: list[int] = field(default_factory=list)  # one per replica

    @property
    def core(self) -> int:
        return self.cores[0]

    @property
    def replicas(self) -> int:
        return len(self.cores)


@dataclass(frozen=True)
class WorkerModel:
    """One replica of one stage: what one lcore runs (an lcore may run several)."""

    index: int
    stage: int
    replica: int
    core: int


@dataclass
class PipelineModel:
    chain: str
    source_name: str  # the .chain file's base name, for the generated header
    nodes: list[NodeModel]
    ports: list[PortModel]
    stages: list[StageModel]
    rings: list[RingModel]
    workers: list[WorkerModel] = field(default_factory=list)
    plan: Plan | None = None

    @property
    def max_outputs(self) -> int:
        return max([len(n.targets) for n in self.nodes] + [1])

    @property
    def n_cores(self) -> int:
        return max((w.core for w in self.workers), default=0) + 1

    @property
    def n_physical_rings(self) -> int:
        return sum(r.count for r in self.rings)

    def node(self, node_id: str) -> NodeModel:
        return next(n for n in self.nodes if n.node.id == node_id)

    def core_workers(self, core: int) -> list[WorkerModel]:
        return [w for w in self.workers if w.core == core]


def c_identifier(text: str) -> str:
    """A readable C identifier fragment for comments and symbol suffixes."""
    return _C_NAME.sub("_", text)[:40]


def build_model(graph: ChainGraph, plan: Plan | None = None) -> PipelineModel:
    """The model of `plan` (by default the plan of the chain as written: see
    chainc.passes.pinned_plan). Raises CompileError if no plan can run it."""
    if plan is None:
        plan = pinned_plan(graph)
    graph = plan.graph
    main = graph.source_path or graph.name
    stage_of = {node_id: st.index for st in plan.stages for node_id in st.nodes}
    stages = [StageModel(st.index, list(st.cores)) for st in plan.stages]
    workers: list[WorkerModel] = []
    for st in stages:
        for r, core in enumerate(st.cores):
            st.workers.append(len(workers))
            workers.append(WorkerModel(len(workers), st.index, r, core))

    nodes: list[NodeModel] = []
    index_of: dict[str, int] = {}
    for n in graph.topological_order():
        idx = len(nodes)
        index_of[n.id] = idx
        stage = stage_of.get(n.id)
        replicas = stages[stage].replicas if stage is not None else 1
        nodes.append(NodeModel(idx, n, f"n{idx}", stage, source_of(n.span, main), replicas))
        if stage is not None:
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
            p.rx_queues = stages[nm.stage].replicas
            p.parse_depth = plan.parse_depth.get(p.name, Depth.L4)
            p.rss = plan.rss.get(p.name)
            stages[nm.stage].rx_ports.append(p.index)
        elif nm.kind is NodeKind.PORT_OUT:
            ports[port_index[nm.node.port]].tx_node = nm.index

    rings: list[RingModel] = []
    between: dict[tuple[int, int], RingModel] = {}  # (from stage, to stage) -> its rings
    ring_of = {(r.src, r.out_port): r for r in plan.rings}
    for nm in nodes:
        for out_port in nm.node.outputs if nm.kind is not NodeKind.PORT_OUT else ():
            edge = graph.edge_from(nm.node.id, out_port)
            if edge is None:  # verify rejects this; keep codegen total anyway
                nm.targets.append((out_port, ("drop", None)))
                continue
            dst = nodes[index_of[edge.dst]]
            in_idx = dst.node.inputs.index(edge.in_port) if edge.in_port in dst.node.inputs else 0
            if dst.kind is NodeKind.DROP:  # dropping is local to every stage: never a ring
                nm.targets.append((out_port, ("drop", dst.index)))
            elif dst.kind is NodeKind.PORT_OUT:
                p = ports[port_index[dst.node.port]]
                if nm.stage not in stages_sending(p, workers):
                    p.tx_workers.extend(stages[nm.stage].workers)
                if p.index not in stages[nm.stage].tx_ports:
                    stages[nm.stage].tx_ports.append(p.index)
                nm.targets.append((out_port, ("tx", p.index)))
            elif (nm.node.id, out_port) in ring_of:
                ring = between.get((nm.stage, dst.stage))
                if ring is None:
                    src = stages[nm.stage]
                    first = sum(r.count for r in rings)
                    ring = RingModel(len(rings), nm.stage, dst.stage, first, src.replicas)
                    between[(nm.stage, dst.stage)] = ring
                    rings.append(ring)
                    src.rings_out.append(ring.index)
                    stages[dst.stage].rings_in.append(ring.index)
                    stages[dst.stage].upstream.append(nm.stage)
                nm.targets.append((out_port, ("ring", ring.index, dst.index, in_idx)))
            else:
                nm.targets.append((out_port, ("node", dst.index, in_idx)))

    for st in stages:  # poll inputs in declaration order, as `chainc sim` serves them
        st.rx_ports.sort()
        st.tx_ports.sort()
    source = graph.source_path or graph.name
    return PipelineModel(graph.name, os.path.basename(source), nodes, ports, stages, rings,
                         workers, plan)


def stages_sending(port: PortModel, workers: list[WorkerModel]) -> set[int]:
    return {workers[w].stage for w in port.tx_workers}
