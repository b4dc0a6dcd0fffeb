"""The NF contract: what an NF declares about itself.

A spec is plain data, importable without Cython or DPDK, so the front end, the
optimiser, the simulator and the docs can all read it. The native body
(`native.pxd`) and the reference body (`reference.py`) live beside the spec in
the NF's folder; `NativeBody` says how the generated pipeline calls the former.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from chainc.values import ParamType

if TYPE_CHECKING:
    from chainc.diagnostics import Reporter
    from chainc.ir.graph import NfNode


class StateKind(enum.Enum):
    NONE = "none"          # stateless: replicate freely
    PER_FLOW = "per-flow"  # state keyed by a flow: replicate with RSS on state_key
    GLOBAL = "global"      # one state for all packets: never replicated


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: ParamType
    default: Any = REQUIRED
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class NativeBody:
    """How generated code calls an NF's Cython body (see docs/nf-contract.md).

    `process` names a `cdef inline int NAME(STATE* st, rte_mbuf* m, pkt_meta* meta,
    int in_port, ARGS...) noexcept nogil` that returns the index of the output
    port the packet leaves on, or -(1 + i) to drop it for `drop_reasons[i]`.
    `{sym}` in a name is replaced by the instance's C symbol, for NFs whose
    body is generated per instance (`generate`).
    """

    process: str
    pxd: str | None = "native.pxd"
    state: str | None = None
    init: str | None = None  # cdef int NAME(STATE* st, INIT_ARGS...) except -1, run at start-up
    process_args: Callable[["NfNode"], list[str]] | None = None  # C literals, so cc specialises
    init_args: Callable[["NfNode"], list[str]] | None = None
    # cdef int NAME(STATE* st, FINISH_ARGS...) except -1, run once at exit after the
    # last packet, before the statistics are read (export flows, close logs).
    finish: str | None = None
    finish_args: Callable[["NfNode"], list[str]] | None = None
    # The NF may send a second packet besides the one it returns (a Tee's copy):
    # `process` then takes a `chainc_emit* emit` right after `in_port`.
    emits: bool = False
    generate: Callable[["NfNode", str], str] | None = None  # extra Cython per instance
    # uint64 fields of the state struct reported as the NF's own statistics
    # (a reference body keeps the same names in its `counters` dict).
    counters: tuple[str, ...] = ()
    # pkg-config packages of C libraries the body calls (e.g. "libhs"): their
    # --cflags and --libs join the chain's build flags.
    pkg_config: tuple[str, ...] = ()


@dataclass(frozen=True)
class NfSpec:
    name: str
    doc: str  # one line, shown by `chainc nfs`
    params: tuple[ParamSpec, ...] = ()
    inputs: tuple[str, ...] = ("in",)
    outputs: tuple[str, ...] = ("out",)
    # Outputs that depend on parameters (Classifier arms, Router route ports).
    outputs_from: Callable[[dict[str, Any]], tuple[str, ...]] | None = None
    block_param: str | None = None  # the param a trailing `{ ... }` block fills
    state: StateKind = StateKind.NONE
    state_key: str | None = None  # e.g. "5-tuple", "symmetric 5-tuple"
    reads: tuple[str, ...] = ()  # header fields, e.g. "ip.dst", "tcp.flags"
    writes: tuple[str, ...] = ()
    cycles: int = 50  # cost hint: cycles per packet on one core
    side_effects: bool = False  # observable beyond its outputs (counters, logs): never eliminated
    drop_reasons: tuple[str, ...] = ()
    description: str = ""  # longer docs: theory of operation, semantics
    example: str = ""  # a .chain snippet
    # Deeper checks than types (match expressions, rule files), reported on the node's spans.
    validate: Callable[["NfNode", "Reporter"], None] | None = None
    native: NativeBody | None = None
    folder: Path | None = field(default=None, compare=False)

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    def output_ports(self, params: dict[str, Any]) -> tuple[str, ...]:
        return self.outputs_from(params) if self.outputs_from else self.outputs
