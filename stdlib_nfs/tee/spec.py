"""Tee: copy every packet to a second output."""

from __future__ import annotations

from chainc.nfs.spec import NativeBody, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import check_snaplen
from chainc.values import INT


SPEC = NfSpec(
    name="Tee",
    doc="Send every packet to `out` and a copy of it to `copy` (port mirroring).",
    params=(
        ParamSpec("snaplen", INT, 0, "Copy at most this many bytes of each packet (0: all)."),
    ),
    inputs=("in",),
    outputs=("out", "copy"),
    state=StateKind.NONE,
    reads=(),
    writes=(),
    cycles=400,  # measured: bench/bench_nf_costs.py (a whole 64-byte frame copied)
    side_effects=True,  # its counters are observable
    drop_reasons=(),
    description=(
        "The packet itself leaves on `out`; a deep copy (its own data, made with "
        "rte_pktmbuf_copy, so rewrites on one path never show on the other) leaves on "
        "`copy`, truncated to `snaplen` bytes when set. The copy leaves first: it runs "
        "to completion through the NFs behind `copy` before the original goes on. Its "
        "headers are parsed afresh, so a truncated copy is seen as truncated. If no mbuf "
        "is free for the copy, the copy is skipped and counted (`copy_failed`); the "
        "original is never held back. `copied` counts the copies made."
    ),
    example="nf t = Tee()\nwan -> t -> lan\nt.copy -> monitor",
    validate=check_snaplen,
    native=NativeBody(
        process="tee_process",
        state="tee_state",
        emits=True,
        # snaplen 0 copies everything: rte_pktmbuf_copy stops at the packet's end.
        process_args=lambda node: [f"{node.params['snaplen'] or 0xFFFFFFFF}u"],
        counters=("copied", "copy_failed"),
    ),
)
