"""The base of reference bodies: plain Python with the native body's semantics.

`chainc sim` runs these, and the differential tests use them as the oracle of
the native bodies. They are written from the NF's documentation, not
translated from its Cython, so that a shared misreading is unlikely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chainc.ir.graph import NfNode
    from chainc.packet import Packet


class ReferenceNf:
    """One NF instance. Subclasses override `process` (and `finish` for state reports)."""

    def __init__(self, node: "NfNode"):
        self.node = node
        self.params = node.params
        self.counters: dict[str, int] = {}  # same names as NativeBody.counters
        # Packets made by `emit` during the current `process` call, as
        # (output index, packet); the simulator routes them before the packet
        # that `process` returns moves on, as the native stage does.
        self.emitted: list[tuple[int, "Packet"]] = []

    def emit(self, pkt: "Packet", output: int) -> None:
        """Send a second packet (a copy made with `pkt.copy()`) out of `output`."""
        self.emitted.append((output, pkt))

    def process(self, pkt: "Packet", in_port: int) -> int:
        """Return the output port index the packet leaves on, or -(1 + i) to
        drop it for the spec's `drop_reasons[i]` (-1: dropped, no reason listed)."""
        raise NotImplementedError

    def finish(self) -> None:
        """Called once after the last packet (flush logs, export flows)."""
