"""Helpers for NF tests: NF nodes without the parser, packets from scapy."""

from __future__ import annotations

import functools
from typing import Any

from chainc.diagnostics import Reporter
from chainc.ir.graph import NfNode, NodeKind
from chainc.nfs.registry import Registry
from chainc.nfs.spec import NfSpec
from chainc.source import SourceFile


@functools.lru_cache(maxsize=None)
def stdlib() -> Registry:
    return Registry.load()


def make_node(spec: NfSpec | str, params: dict[str, Any] | None = None, node_id: str = "nf",
              text: str | None = None, param_spans: dict[str, tuple[int, int]] | None = None) -> NfNode:
    """An NF node as sema would build it: params type-checked, defaults filled in.

    `text` is the .chain source the node's spans point into; `param_spans`
    maps a parameter name to the (start, end) offsets of its value in `text`.
    """
    if isinstance(spec, str):
        spec = stdlib().get(spec)
    source = SourceFile("test.chain", text if text is not None else f"nf {node_id} = {spec.name}()")
    given = dict(params or {})
    typed: dict[str, Any] = {}
    for p in spec.params:
        if p.name in given:
            typed[p.name] = p.type.accept(given.pop(p.name))
        elif not p.required:
            typed[p.name] = p.default
        else:
            raise AssertionError(f"missing required param {p.name}")
    assert not given, f"unknown params {sorted(given)}"
    spans = {k: source.span(*v) for k, v in (param_spans or {}).items()}
    return NfNode(id=node_id, kind=NodeKind.NF, span=source.span(0, len(source.text)), spec=spec,
                  params=typed, param_spans=spans, inputs=spec.inputs,
                  outputs=spec.output_ports(typed))


def validate(node: NfNode) -> Reporter:
    reporter = Reporter()
    if node.spec.validate is not None:
        node.spec.validate(node, reporter)
    return reporter


def reference(node: NfNode):
    cls = stdlib().reference_class(node.spec) if node.spec.folder else None
    assert cls is not None, f"{node.spec.name} has no reference body"
    return cls(node)


def packet(frame) -> "Packet":  # noqa: F821
    from chainc.packet import Packet
    return Packet(bytearray(bytes(frame)))
