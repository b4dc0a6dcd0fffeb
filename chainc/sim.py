"""The reference interpreter: run a ChainGraph in Python with the NFs' reference bodies.

It follows the native binary's single-core schedule so that both leave the
same packets, in the same order, on the same ports: input ports are served
round-robin in declaration order, a burst of up to 32 packets at a time, and
each packet runs to completion before the next one starts. A packet enters
at its port's PORT_IN node and moves edge by edge: an NF's reference body
returns an output index (-> `node.outputs[i]` -> the edge from that output ->
the next node and its input index) or -(1 + i) to drop it for the spec's
`drop_reasons[i]`. It leaves the chain on a PORT_OUT node or is dropped.

Statistics have the shape the native binary writes (see chainc/stats.py),
so the same renderer and the same differential checks apply to both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from chainc.diagnostics import CompileError, Diagnostic, Severity
from chainc.ir.graph import ChainGraph, NfNode, NodeKind
from chainc.nfs.registry import FRAMEWORK_DROP_REASONS

if TYPE_CHECKING:
    from chainc.nfs.reference import ReferenceNf
    from chainc.nfs.registry import Registry

BURST = 32
# Reasons every NF node has beyond its spec's, as in the native binary:
# DROPPED: a negative return past the listed reasons; BAD_OUTPUT: an output
# index the node does not have, or an unconnected output.
DROPPED, BAD_OUTPUT = FRAMEWORK_DROP_REASONS


class SimError(Exception):
    """The simulation cannot go on: a reference body broke the NF contract."""


@dataclass
class SimResult:
    outputs: dict[str, list[bytes]]  # port -> packets transmitted, in order
    timestamps: dict[str, list[int]]  # port -> the input timestamp of each transmitted packet
    drops: dict[tuple[str, str], int]  # (node id, reason) -> packets dropped
    stats: dict[str, Any]  # the JSON stats (chainc/stats.py shape)
    instances: dict[str, "ReferenceNf"] = field(default_factory=dict)  # node id -> body


@dataclass
class _NodeStats:
    node: NfNode
    packets_in: int = 0
    out: dict[str, int] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)
    emitted: int = 0  # packets the NF made (a Tee's copies)


def simulate(graph: ChainGraph, inputs: Mapping[str, Iterable[bytes | tuple[int, bytes]]],
             registry: "Registry") -> SimResult:
    """Run every input packet through the graph; `inputs` maps a port name to its frames.

    A frame is `bytes`, or `(ts_ns, bytes)` to carry a capture timestamp through
    to the output. Raises CompileError if an NF has no reference body, SimError if
    a reference body returns something other than an int. An output index the
    NF does not have is counted as a `bad-output` drop, as the native binary does.
    """
    from chainc.packet import Packet

    bodies = _instantiate(graph, registry)
    order = graph.topological_order()
    stats = {n.id: _NodeStats(n, out={p: 0 for p in _out_ports(n)},
                              drops={r: 0 for r in _drop_reasons(n)}) for n in order}
    entry: dict[str, NfNode] = {}
    for n in graph.nodes(NodeKind.PORT_IN):
        entry.setdefault(n.port, n)
    ports = graph.ports()
    unknown = sorted(set(inputs) - set(entry))
    if unknown:
        known = ", ".join(sorted(entry)) or "none"
        raise SimError(f"no input port named {', '.join(repr(u) for u in unknown)} "
                       f"(input ports: {known})")

    queues = {p: _normalise(inputs.get(p, ())) for p in ports if p in entry}
    rx = {p: 0 for p in ports}
    tx = {p: 0 for p in ports}
    outputs: dict[str, list[bytes]] = {p: [] for p in ports}
    stamps: dict[str, list[int]] = {p: [] for p in ports}
    drops: dict[tuple[str, str], int] = {}
    limit = len(graph) + 1  # a DAG path visits each node at most once

    def count_drop(node: NfNode, reason: str) -> None:
        st = stats[node.id]
        st.drops[reason] = st.drops.get(reason, 0) + 1
        drops[(node.id, reason)] = drops.get((node.id, reason), 0) + 1

    def follow(node: NfNode, index: int) -> tuple[NfNode, int] | None:
        """The node and input index behind output `index` of `node`; None (and a
        `bad-output` drop) when the NF has no such output."""
        outs = _out_ports(node)
        edge = graph.edge_from(node.id, outs[index]) if 0 <= index < len(outs) else None
        if edge is None:
            count_drop(node, BAD_OUTPUT)
            return None
        stats[node.id].out[outs[index]] += 1
        nxt = graph.node(edge.dst)
        return nxt, (nxt.inputs.index(edge.in_port) if edge.in_port in nxt.inputs else 0)

    def walk(pkt: "Packet", node: NfNode, in_port: int, depth: int) -> None:
        """Move one packet node by node until it leaves on a port or is dropped."""
        while True:
            depth += 1
            if depth > limit:
                raise SimError(f"a packet from port '{pkt.port}' passed {limit} nodes: "
                               f"the graph has a cycle")
            st = stats[node.id]
            st.packets_in += 1
            if node.kind is NodeKind.PORT_OUT:
                outputs[node.port].append(bytes(pkt.data))
                stamps[node.port].append(pkt.ts_ns)
                tx[node.port] += 1
                return
            if node.kind is NodeKind.DROP:
                drops[(node.id, DROPPED)] = drops.get((node.id, DROPPED), 0) + 1
                return
            if node.kind is NodeKind.PORT_IN:
                index = 0
            else:
                body = bodies[node.id]
                index = body.process(pkt, in_port)
                if not isinstance(index, int) or isinstance(index, bool):
                    raise SimError(f"NF '{node.id}' ({node.type_name}): process() returned "
                                   f"{index!r}, not an int")
                # Packets the NF emitted go first, as in the native stage.
                made, body.emitted = body.emitted, []
                for out, twin in made:
                    st.emitted += 1
                    nxt = follow(node, out)
                    if nxt is not None:
                        walk(twin, nxt[0], nxt[1], depth)
            if index < 0:
                count_drop(node, _reason(node, index))
                return
            nxt = follow(node, index)
            if nxt is None:
                return
            node, in_port = nxt

    cursor = {p: 0 for p in queues}
    while any(cursor[p] < len(queues[p]) for p in queues):
        for port in queues:
            burst = queues[port][cursor[port]:cursor[port] + BURST]
            cursor[port] += len(burst)
            for ts, frame in burst:
                rx[port] += 1
                walk(Packet(frame, port=port, ts_ns=ts), entry[port], 0, 0)

    for body in bodies.values():
        body.finish()

    node_stats = []
    for n in order:
        st = stats[n.id]
        body = bodies.get(n.id)
        node_stats.append({
            "id": n.id, "type": n.type_name, "core": 0, "in": st.packets_in,
            "out": st.out, "drops": st.drops, "emitted": st.emitted, "cycles": 0, "cycle_samples": 0,
            "counters": dict(body.counters) if body is not None else {},
        })
    port_stats = [{"name": p, "rx": rx[p], "tx": tx[p], "tx_dropped": 0} for p in ports]
    result_stats = {"chain": graph.name, "nodes": node_stats, "ports": port_stats}
    return SimResult(outputs, stamps, drops, result_stats, bodies)


def _normalise(frames: Iterable[bytes | tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    out = []
    for f in frames:
        if isinstance(f, tuple):
            out.append((int(f[0]), bytes(f[1])))
        elif hasattr(f, "ts_ns") and hasattr(f, "data"):  # a PcapPacket
            out.append((f.ts_ns, bytes(f.data)))
        else:
            out.append((0, bytes(f)))
    return out


def _out_ports(node: NfNode) -> tuple[str, ...]:
    if node.kind in (NodeKind.PORT_OUT, NodeKind.DROP):
        return ()
    return tuple(node.outputs)


def _drop_reasons(node: NfNode) -> tuple[str, ...]:
    if node.kind is not NodeKind.NF or node.spec is None:
        return ()
    return tuple(node.spec.drop_reasons) + (DROPPED, BAD_OUTPUT)


def _reason(node: NfNode, index: int) -> str:
    reasons = node.spec.drop_reasons if node.spec is not None else ()
    i = -index - 1
    return reasons[i] if i < len(reasons) else DROPPED


def _instantiate(graph: ChainGraph, registry: "Registry") -> dict[str, "ReferenceNf"]:
    """One reference body per NF node; every NF without one is reported at once."""
    bodies: dict[str, "ReferenceNf"] = {}
    missing: list[Diagnostic] = []
    reported: set[str] = set()
    for node in graph.nodes(NodeKind.NF):
        spec = node.spec
        if spec is None:
            raise SimError(f"node '{node.id}' has no NF spec")
        cls = registry.reference_class(spec)
        if cls is None:
            if spec.name not in reported:
                reported.add(spec.name)
                missing.append(Diagnostic(
                    Severity.ERROR,
                    f"NF '{spec.name}' has no reference body yet; `chainc sim` cannot run it",
                    node.span, hint="`chainc nfs` lists which NFs can be simulated"))
            continue
        bodies[node.id] = cls(node)
    if missing:
        raise CompileError(missing)
    return bodies


# ---------------------------------------------------------------------------
# pcap in, pcap out


def run_sim(graph: ChainGraph, in_files: Mapping[str, str], out_files: Mapping[str, str],
            registry: "Registry") -> dict[str, Any]:
    """Simulate with each input port reading a pcap and each output port writing one.

    Ports missing from `out_files` are simulated but not written. Returns the
    stats dict. Raises chainc.pcapfile.PcapError for unreadable files.
    """
    from chainc.pcapfile import PcapPacket, read_pcap, write_pcap

    inputs = {port: [(p.ts_ns, p.data) for p in read_pcap(path)] for port, path in in_files.items()}
    result = simulate(graph, inputs, registry)
    for port, path in out_files.items():
        frames = result.outputs.get(port, [])
        stamps = result.timestamps.get(port, [])
        write_pcap(path, [PcapPacket(ts, data) for ts, data in zip(stamps, frames)])
    return result.stats


def default_files(graph: ChainGraph) -> tuple[dict[str, str], dict[str, str]]:
    """The pcap files the ports' declared bindings name: (in_files, out_files)."""
    in_files: dict[str, str] = {}
    out_files: dict[str, str] = {}
    for name, binding in graph.port_bindings.items():
        if binding.driver != "pcap":
            continue
        if binding.args.get("in"):
            in_files[name] = str(binding.args["in"])
        if binding.args.get("out"):
            out_files[name] = str(binding.args["out"])
    return in_files, out_files
