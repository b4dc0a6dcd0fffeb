"""The Plan: what the optimiser decided and everything the backend needs.

A plan is made by the passes (chainc/passes/pipeline.py) from a ChainGraph.
It holds the rewritten graph, the stages (NFs that run to completion
together), the logical cores each stage's replicas run on, the rings at
cross-stage edges, the RSS settings of ports received by replicated stages,
how deep each port's headers are parsed, the cost model's predictions, and
every decision with its reason and source line.

Logical core `i` is the i-th lcore given to the binary (`-l`); `cpus` are
the CPU ids the plan was made for (`--cores`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from chainc.ir.graph import ChainGraph
from chainc.source import Span


class Depth(enum.IntEnum):
    """How far a port's headers are parsed into the metadata at ingress."""

    NONE = 0  # nothing (metadata zeroed): no NF reads a header
    L2 = 2  # Ethernet and VLAN tags
    L3 = 3  # and the IPv4/IPv6 header
    L4 = 4  # and the TCP/UDP/ICMP header: everything

    @property
    def label(self) -> str:
        return {0: "none", 2: "L2 (Ethernet, VLAN)", 3: "L3 (IP)", 4: "L4 (TCP/UDP/ICMP)"}[self.value]


@dataclass(frozen=True)
class Decision:
    """One choice of a pass, with the reason, as `chainc plan` prints it."""

    pass_name: str
    text: str
    span: Span | None = None
    severity: str = "note"  # "note", or "warning" for a hint that is not honoured


@dataclass
class StagePlan:
    """NFs that run to completion on one core; `replicas` copies of them over RSS queues."""

    index: int
    nodes: list[str]  # port-in and NF node ids, in topological order
    cores: list[int] = field(default_factory=list)  # logical core of each replica
    cycles: float = 0.0  # predicted cycles per chain input packet on one core
    predicted_mpps: float = 0.0  # input packets per second the stage keeps up with, all replicas

    @property
    def replicas(self) -> int:
        return max(1, len(self.cores))


@dataclass(frozen=True)
class RingPlan:
    """An edge between stages: one single-producer ring per replica of `src_stage`."""

    index: int
    src: str
    out_port: str
    dst: str
    in_port: str
    src_stage: int
    dst_stage: int


# The symmetric Toeplitz key (0x6d5a repeated): hash(a -> b) == hash(b -> a), so both
# directions of a connection reach the same queue (Woo and Park, 2012).
SYMMETRIC_KEY = bytes([0x6D, 0x5A] * 20)
# The key most NICs start with (Microsoft's RSS specification).
DEFAULT_KEY = bytes.fromhex("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c"
                            "6a42b73bbeac01fa")


@dataclass(frozen=True)
class RssPlan:
    """How a port spreads received packets over the queues of a replicated stage."""

    port: str
    queues: int
    symmetric: bool
    reason: str

    @property
    def key(self) -> bytes:
        return SYMMETRIC_KEY if self.symmetric else DEFAULT_KEY

    def describe(self) -> str:
        key = "symmetric Toeplitz key (6d5a repeated)" if self.symmetric else "default Toeplitz key"
        return f"{self.queues} queues, {key}, on IPv4/IPv6 addresses and TCP/UDP ports"


@dataclass
class Plan:
    graph: ChainGraph  # after the graph passes (dead NFs removed, lookups merged)
    cpus: tuple[int, ...]  # CPU ids the plan may use; logical core i runs on cpus[i]
    stages: list[StagePlan] = field(default_factory=list)
    rings: list[RingPlan] = field(default_factory=list)
    rss: dict[str, RssPlan] = field(default_factory=dict)  # by port name
    parse_depth: dict[str, Depth] = field(default_factory=dict)  # by receiving port name
    decisions: list[Decision] = field(default_factory=list)
    hz: float = 0.0  # the clock the predictions assume
    cost_source: str = "the NFs' cycle hints"
    nf_cycles: dict[str, float] = field(default_factory=dict)  # the model's cycles per packet, by NF
    passes: tuple[str, ...] = ()  # the passes that ran, in order

    @property
    def n_cores(self) -> int:
        """Logical cores the plan uses (the binary needs this many lcores)."""
        return max((c for s in self.stages for c in s.cores), default=0) + 1

    @property
    def used_cpus(self) -> tuple[int, ...]:
        return self.cpus[:self.n_cores]

    @property
    def predicted_mpps(self) -> float:
        return min((s.predicted_mpps for s in self.stages), default=0.0)

    @property
    def bottleneck(self) -> int | None:
        if not self.stages:
            return None
        return min(self.stages, key=lambda s: (s.predicted_mpps, s.index)).index

    def stage_of(self, node_id: str) -> StagePlan | None:
        return next((s for s in self.stages if node_id in s.nodes), None)

    def note(self, pass_name: str, text: str, span: Span | None = None) -> None:
        self.decisions.append(Decision(pass_name, text, span))

    def warn(self, pass_name: str, text: str, span: Span | None = None) -> None:
        self.decisions.append(Decision(pass_name, text, span, "warning"))
