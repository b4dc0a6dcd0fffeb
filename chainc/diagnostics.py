"""Diagnostics: errors and warnings with a source location, a caret and a hint.

Rendering follows GCC's layout so editors and CI log parsers pick it up:

    examples/edge.chain:14:9: error: 'cls' has no output 'wbe'
        cls.wbe -> lb
            ^^^
    hint: did you mean 'web'?
"""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass, field
from typing import Iterable

from chainc.source import Span


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Note:
    message: str
    span: Span | None = None


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    message: str
    span: Span | None = None
    hint: str | None = None
    notes: tuple[Note, ...] = ()
    file: str | None = None  # used when there is no span (e.g. an unreadable file)

    def render(self) -> str:
        out: list[str] = []
        out.append(_headline(self.severity.value, self.message, self.span, self.file))
        if self.span is not None:
            out.extend(_excerpt(self.span))
        for note in self.notes:
            out.append(_headline("note", note.message, note.span, None))
            if note.span is not None:
                out.extend(_excerpt(note.span))
        if self.hint:
            out.append(f"hint: {self.hint}")
        return "\n".join(out)


def _headline(kind: str, message: str, span: Span | None, file: str | None) -> str:
    if span is not None:
        return f"{span.location()}: {kind}: {message}"
    if file is not None:
        return f"{file}: {kind}: {message}"
    return f"chainc: {kind}: {message}"


def _excerpt(span: Span) -> list[str]:
    """The source line of a span and carets under it (clipped to that line)."""
    line, col = span.file.line_col(span.start)
    text = span.file.line_text(line).replace("\t", " ")
    width = max(1, min(span.end - span.start, len(text) - col + 1))
    return ["    " + text, "    " + " " * (col - 1) + "^" * width]


class CompileError(Exception):
    """Raised at a stage boundary when a stage reported errors."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))


@dataclass
class Reporter:
    """Collects the diagnostics of a run so that every error is reported at once."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, message: str, span: Span | None = None, hint: str | None = None,
              notes: Iterable[Note] = (), file: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(Severity.ERROR, message, span, hint, tuple(notes), file))

    def warning(self, message: str, span: Span | None = None, hint: str | None = None,
                notes: Iterable[Note] = (), file: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(Severity.WARNING, message, span, hint, tuple(notes), file))

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics.extend(diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)

    def raise_if_errors(self) -> None:
        """The stage-boundary check: stop the pipeline if this stage found errors."""
        if self.has_errors():
            raise CompileError(self.diagnostics)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A `did you mean 'x'?` hint for the closest candidate, if one is close."""
    pool = sorted(set(candidates))
    match = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in pool}
        if name.lower() in lowered:
            match = [lowered[name.lower()]]
    return f"did you mean '{match[0]}'?" if match else None
