"""What every view shows of a node: its name, type, key parameters, hints and source line.

The DOT picture, the HTML details and `chainc show` all take their words
from here, so a node reads the same everywhere. Values are written as in a
.chain file; file paths relative to the chain's folder, as the user wrote
them (the IR keeps them absolute).
"""

from __future__ import annotations

import os
from typing import Any

from chainc.ir.export import is_path_param, value_text
from chainc.ir.graph import ChainGraph, NfNode, NodeKind

KEY_PARAMS = 3  # parameters shown on a node in a picture; the details show all
VALUE_WIDTH = 36  # longer values are cut with '…' in pictures


def clip(text: str, width: int) -> str:
    """`text` on one line of at most `width` characters."""
    flat = "".join(c if c.isprintable() else " " for c in text)
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def short_name(node: NfNode) -> str:
    """The name inside its sub-chain (`RateLimiter#1` of `Scrubber#1/RateLimiter#1`)."""
    if node.port is not None:
        return node.port
    return node.id.rsplit("/", 1)[-1]


def shows_type(node: NfNode) -> bool:
    """False when the name already says the type (`Counter#1`)."""
    return node.kind is NodeKind.NF and not short_name(node).startswith(node.type_name + "#")


def source_text(node: NfNode) -> str:
    """`edge.chain:15`, or '' for a node made without source text."""
    span = node.span
    if span is None:
        return ""
    return f"{os.path.basename(span.file.path)}:{span.line}"


def param_value(graph: ChainGraph, node: NfNode, name: str) -> str:
    """A parameter's value as written in a .chain file; paths relative to the chain's folder."""
    value = node.params[name]
    return value_text(relative_to_chain(graph, value) if is_path_param(node, name) else value)


def relative_to_chain(graph: ChainGraph, value: Any) -> Any:
    """Absolute paths in `value` made relative to the chain file's folder."""
    if isinstance(value, str) and os.path.isabs(value):
        base = os.path.dirname(os.path.abspath(graph.source_path or "."))
        try:
            return os.path.relpath(value, base)
        except ValueError:  # another drive (Windows)
            return value
    if isinstance(value, (list, tuple)):
        return [relative_to_chain(graph, v) for v in value]
    return value


def all_params(graph: ChainGraph, node: NfNode) -> list[tuple[str, str]]:
    """Every parameter, defaults included, in the NF's declared order."""
    return [(name, param_value(graph, node, name)) for name in node.params]


def key_params(graph: ChainGraph, node: NfNode) -> list[str]:
    """The parameters the user wrote, at most KEY_PARAMS, as `name: value` lines.

    The block parameter (a Classifier's arms) is left out: its names label the edges.
    """
    block = node.spec.block_param if node.spec is not None else None
    written = [n for n in node.params if n in node.param_spans and n != block]
    lines = [clip(f"{n}: {param_value(graph, node, n)}", VALUE_WIDTH) for n in written[:KEY_PARAMS]]
    if len(written) > KEY_PARAMS:
        lines.append(f"+{len(written) - KEY_PARAMS} more")
    return lines


def hints_text(node: NfNode) -> str:
    """The placement hints as written: `@core(1) @replicas(2)`."""
    parts = []
    if node.core is not None:
        parts.append(f"@core({node.core})")
    if node.replicas is not None:
        parts.append(f"@replicas({node.replicas})")
    return " ".join(parts)


def doc_text(node: NfNode) -> str:
    return node.spec.doc if node.spec is not None else ""


def subchain_label(graph: ChainGraph, scope: tuple[str, ...]) -> str:
    """`Scrubber#1` for an anonymous instance, `s: Scrubber` for `nf s = Scrubber(...)`."""
    instance = scope[-1]
    chain = graph.subchains.get(scope)
    if chain is None or instance.startswith(chain + "#"):
        return instance
    return f"{instance}: {chain}"


# ---------------------------------------------------------------- numbers


def _si(x: float, units: tuple[tuple[str, float], ...]) -> str | None:
    """`x` in the largest unit that keeps it >= 1 after rounding to three digits."""
    for unit, scale in units:
        value = float(f"{x / scale:.3g}")
        if value >= 1:
            return f"{value:g}{unit}"
    return None


def fmt_count(n: int) -> str:
    """Exact up to 99,999, then three significant digits: 123k, 1.23M, 4.56G."""
    if n < 100_000:
        return f"{n:,}"
    return _si(n, (("G", 1e9), ("M", 1e6), ("k", 1e3))) or str(n)


def fmt_rate(pps: float) -> str:
    """Packets per second: 950 pps, 12.3 kpps, 1.23 Mpps."""
    return _si(pps, ((" Gpps", 1e9), (" Mpps", 1e6), (" kpps", 1e3))) or f"{pps:.0f} pps"


def count_pairs(counts: dict[str, int]) -> str:
    """The nonzero counts as `name 1,234, other 5`, in their order."""
    return ", ".join(f"{k} {fmt_count(v)}" for k, v in counts.items() if v)
