"""Helpers shared by the standard NFs' specs: spans inside literals, files named by params.

Not an NF folder: the registry only loads sub-folders that hold a spec.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainc.values import Duration, ParamType, Size, TypeMismatch, describe

if TYPE_CHECKING:
    from chainc.diagnostics import Reporter
    from chainc.ir.graph import NfNode
    from chainc.source import Span


def param_span(node: "NfNode", name: str) -> "Span":
    """The span of a parameter's value, else the NF's own span."""
    return node.param_spans.get(name) or node.span


def read_param_file(node: "NfNode", name: str, reporter: "Reporter", what: str) -> str | None:
    """The text of the file a PATH parameter names, or None after reporting why not."""
    value = node.params.get(name)
    if value is None:
        return None
    try:
        return Path(value).read_text(encoding="utf-8")
    except FileNotFoundError:
        reporter.error(f"{what} '{value}' does not exist", param_span(node, name))
    except IsADirectoryError:
        reporter.error(f"{what} '{value}' is a directory, not a file", param_span(node, name))
    except (OSError, UnicodeDecodeError) as exc:
        reporter.error(f"cannot read {what} '{value}': {exc}", param_span(node, name))
    return None


def runtime_path(node: "NfNode", name: str) -> str | None:
    """A PATH parameter as a native binary opens it at run time: relative to the
    chain file's directory (the binary resolves it against its --chain-dir), so
    generated code holds no absolute path."""
    value = node.params.get(name)
    if value is None:
        return None
    base = Path(node.span.file.path).resolve().parent if node.span else Path(".").resolve()
    return os.path.relpath(value, base)


def check_int_range(node: "NfNode", name: str, lo: int, hi: int, reporter: "Reporter") -> None:
    value = node.params.get(name)
    if isinstance(value, int) and not lo <= value <= hi:
        reporter.error(f"'{name}' must be between {lo} and {hi}, got {value}", param_span(node, name))


def check_snaplen(node: "NfNode", reporter: "Reporter") -> None:
    """`snaplen` of an NF that copies packets: 0 (the whole packet) or a length."""
    snap = node.params.get("snaplen")
    if isinstance(snap, int) and snap < 0:
        reporter.error("'snaplen' must be 0 (whole packet) or positive", param_span(node, "snaplen"))


def check_positive(node: "NfNode", names: tuple[str, ...], reporter: "Reporter") -> None:
    """Durations, sizes and counts that must be greater than zero."""
    for name in names:
        value = node.params.get(name)
        amount = (value.nanoseconds if isinstance(value, Duration) else
                  value.bytes if isinstance(value, Size) else value)
        if isinstance(amount, (int, float)) and not isinstance(amount, bool) and amount <= 0:
            reporter.error(f"'{name}' must be greater than zero", param_span(node, name))


def dur(text: str) -> Duration:
    """A Duration default from its literal text ('30s', '100ms', '2h')."""
    units = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "min": 60 * 10**9,
             "h": 3600 * 10**9, "d": 86400 * 10**9}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit) and text[: -len(unit)].isdigit():
            return Duration(int(text[: -len(unit)]) * units[unit], text)
    raise ValueError(f"bad duration literal {text!r}")


def size(text: str) -> Size:
    """A Size default from its literal text ('64KiB', '1500B')."""
    units = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "KB": 1000, "MB": 1000**2}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit) and text[: -len(unit)].isdigit():
            return Size(int(text[: -len(unit)]) * units[unit], text)
    raise ValueError(f"bad size literal {text!r}")


class OneOrList(ParamType):
    """One value of a type, or a list of them; always accepted as a tuple."""

    def __init__(self, item: ParamType, min_len: int = 1):
        self.item = item
        self.min_len = min_len
        self.name = f"{item.name} or list of {item.name}"

    def accept(self, value: Any) -> Any:
        values = value if isinstance(value, (tuple, list)) else (value,)
        out = []
        for i, v in enumerate(values):
            try:
                out.append(self.item.accept(v))
            except TypeMismatch as exc:
                if isinstance(value, (tuple, list)):
                    raise TypeMismatch(f"item {i + 1}: {exc}") from None
                raise TypeMismatch(f"expected {self.name}, got {describe(value)}") from None
        if len(out) < self.min_len:
            raise TypeMismatch(f"expected at least {self.min_len} item(s), got {len(out)}")
        return tuple(out)


class SizeOrCount(ParamType):
    """A size in bytes (`64KiB`) or a count of packets (`32`)."""

    name = "size | int"

    def accept(self, value: Any) -> Any:
        if isinstance(value, Size) or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise TypeMismatch(f"expected a size such as 64KiB or a packet count, got {describe(value)}")


def report_file_errors(node: "NfNode", name: str, text: str, errors, reporter: "Reporter",
                       what: str, limit: int = 20) -> None:
    """Report errors found in a file a parameter names, each at its line in that file.

    `errors` hold `line`, `col` (1-based), `length`, `message` and `hint`; a note
    points back at the parameter in the .chain file.
    """
    from chainc.diagnostics import Note
    from chainc.source import SourceFile

    source = SourceFile(str(node.params.get(name)), text)
    note = Note(f"{what} named here", param_span(node, name))
    starts = [0]
    for raw in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(raw))
    for err in errors[:limit]:
        line = max(1, min(err.line, len(starts)))
        start = min(starts[line - 1] + err.col - 1, len(text))
        reporter.error(err.message, source.span(start, start + max(1, err.length)),
                       hint=err.hint, notes=(note,))
    if len(errors) > limit:
        reporter.error(f"{len(errors) - limit} more error(s) in {what} '{source.path}'",
                       param_span(node, name))
