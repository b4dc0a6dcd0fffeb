"""The cost model: cycles per packet of NFs, stages and cores, and the Mpps they allow.

Costs are in CPU cycles per packet received by the chain (an NF that sees a
third of the traffic costs a third of its cycles). They come from:

- each NF's spec (`cycles`, a hint) or, better, a measured profile
  (`chainc profile`, see profile.py) that gives every NF's cycles and every
  output's share of the traffic;
- the framework's own costs below (receive, parse, call, transmit, ring),
  measured on the project's bench machine (docs/optimiser.md says how); a
  profile rescales them to the machine and traffic it was taken on.

Without a profile, an NF with k outputs is assumed to send 1/k of its
packets to each, and several receiving ports to share the input equally.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chainc.ir.graph import ChainGraph, Edge, NfNode, NodeKind

from .plan import Depth
from .profile import Profile

# Framework costs in cycles per packet (net_pcap replaying 64-byte frames, tx
# into net_null, bursts of 32: bench/run_bench.py's `forward` runs at about 12
# Mpps at 2.45 GHz); bench/bench_optimiser.py --calibrate measures them again.
# Larger frames cost net_pcap more (it copies each one): a profile measures that.
RX = 160.0  # receive: the driver's burst, the loop, the packet's first cache misses
TX = 40.0  # buffered transmit
DROP = 10.0  # bulk free of a dropped packet
NF_CALL = 4.0  # per NF a packet visits: the output counter and the switch
# A packet crossing a ring costs both cores. The receiver misses on the lines
# the sender's core wrote (mbuf, metadata, headers; the stage prefetches them
# a burst ahead). The sender pays for the enqueue and, above all, for the
# buffer coming back cold: the receiver frees the mbuf into its own cache, so
# the core that receives from the port later allocates buffers another core
# wrote last. Measured on the bench machine's two cores with bench chains
# (docs/optimiser.md): about 450 cycles on each side.
RING_OUT = 450.0
RING_IN = 450.0
PARSE = {Depth.NONE: 2.0, Depth.L2: 6.0, Depth.L3: 14.0, Depth.L4: 20.0}
DEFAULT_HZ = 2.5e9


def machine_hz() -> float:
    """This machine's clock, from /proc/cpuinfo (the TSC runs at about that rate)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return float(line.split(":")[1]) * 1e6
    except (OSError, ValueError):
        pass
    return DEFAULT_HZ


@dataclass
class CostModel:
    """Shares of the traffic and cycles of every node of one graph."""

    graph: ChainGraph
    profile: Profile | None = None
    hz: float = field(default_factory=machine_hz)
    scale: float = 1.0  # framework costs x scale (1 without a profile)
    share: dict[str, float] = field(default_factory=dict)  # node id -> share of input packets
    edge_share: dict[tuple[str, str], float] = field(default_factory=dict)  # (src, out_port)
    missing: list[str] = field(default_factory=list)  # NFs the profile does not know

    def __post_init__(self) -> None:
        if self.profile is not None and self.profile.tsc_hz:
            self.hz = self.profile.tsc_hz
        self._shares()

    # -- traffic --------------------------------------------------------
    def _fraction(self, node: NfNode, port: str) -> float:
        measured = self.profile.node(node.id) if self.profile else None
        if measured is not None and measured.packets_in:
            return measured.out.get(port, 0) / measured.packets_in
        if node.spec is not None and node.spec.native is not None and node.spec.native.emits:
            return 1.0  # each output carries the packet or its copy
        return 1.0 / max(1, len(node.outputs))

    def _shares(self) -> None:
        g = self.graph
        rx = g.nodes(NodeKind.PORT_IN)
        measured_rx = self.profile.rx_shares() if self.profile else {}
        for n in g.topological_order():
            if n.kind is NodeKind.PORT_IN:
                share = measured_rx.get(n.port, 1.0 / max(1, len(rx)))
            else:
                share = sum(self.edge_share.get((e.src, e.out_port), 0.0) for e in g.in_edges(n.id))
            self.share[n.id] = share
            if n.kind is NodeKind.PORT_IN:
                for e in g.out_edges(n.id):
                    self.edge_share[(e.src, e.out_port)] = share
            elif n.kind is NodeKind.NF:
                for e in g.out_edges(n.id):
                    self.edge_share[(e.src, e.out_port)] = share * self._fraction(n, e.out_port)
        if self.profile is not None:
            self.missing = [n.id for n in g.nodes(NodeKind.NF) if self.profile.node(n.id) is None]

    # -- cycles ---------------------------------------------------------
    def nf_cycles(self, node: NfNode) -> float:
        """The NF's own cycles per packet it sees."""
        measured = self.profile.node(node.id) if self.profile else None
        if measured is not None and measured.cycles is not None:
            return measured.cycles
        return float(node.spec.cycles) if node.spec is not None else 0.0

    def edge_cost(self, edge: Edge) -> float:
        """Where an edge ends on the same core: transmit or free, per input packet."""
        dst = self.graph.node(edge.dst)
        share = self.edge_share.get((edge.src, edge.out_port), 0.0)
        if dst.kind is NodeKind.PORT_OUT:
            return share * TX * self.scale
        if dst.kind is NodeKind.DROP:
            return share * DROP * self.scale
        return 0.0

    def node_cost(self, node: NfNode, depth: Depth = Depth.L4) -> float:
        """Cycles per input packet of a node and of the edges leaving it to ports and drop."""
        share = self.share.get(node.id, 0.0)
        if node.kind is NodeKind.PORT_IN:
            own = share * (RX + PARSE[depth]) * self.scale
        elif node.kind is NodeKind.NF:
            own = share * (self.nf_cycles(node) + NF_CALL * self.scale)
        else:
            return 0.0
        return own + sum(self.edge_cost(e) for e in self.graph.out_edges(node.id))

    def ring_cost(self, edge: Edge, receiving: bool) -> float:
        """What a ring on `edge` costs the sending or the receiving stage, per input packet.

        Not rescaled by a profile: the scale absorbs what receiving this traffic
        costs (net_pcap copies every frame), which a crossing does not repeat."""
        return self.edge_share.get((edge.src, edge.out_port), 0.0) * (RING_IN if receiving else RING_OUT)

    def mpps(self, cycles: float, cores: float = 1.0) -> float:
        """Million packets per second `cores` cores sustain at `cycles` per packet each."""
        return cores * self.hz / cycles / 1e6 if cycles > 0 else float("inf")

    def framework_cycles(self, depths: dict[str, Depth]) -> float:
        """The framework's share of one input packet when everything runs on one core."""
        total = 0.0
        for n in self.graph.nodes():
            share = self.share.get(n.id, 0.0)
            if n.kind is NodeKind.PORT_IN:
                total += share * (RX + PARSE[depths.get(n.port, Depth.L4)])
            elif n.kind is NodeKind.NF:
                total += share * NF_CALL
            for e in self.graph.out_edges(n.id) if n.kind is not NodeKind.PORT_OUT else ():
                dst = self.graph.node(e.dst)
                es = self.edge_share.get((e.src, e.out_port), 0.0)
                total += es * (TX if dst.kind is NodeKind.PORT_OUT else DROP if dst.kind is NodeKind.DROP else 0.0)
        return total

    def calibrate(self, depths: dict[str, Depth]) -> None:
        """Rescale the framework costs so the one-core cost matches the profile's measurement."""
        if self.profile is None or not self.profile.overhead_cycles:
            return
        model = self.framework_cycles(depths)
        if model > 0:
            self.scale = self.profile.overhead_cycles / model

