"""Source files and spans: every IR object points back at the text it came from."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(eq=False)
class SourceFile:
    """One .chain file's text, with a line index for offset -> line/column."""

    path: str
    text: str
    _line_starts: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        for i, ch in enumerate(self.text):
            if ch == "\n":
                starts.append(i + 1)
        self._line_starts = starts

    @classmethod
    def read(cls, path: str | Path, display: str | None = None) -> "SourceFile":
        raw = Path(path).read_bytes()
        return cls(display or str(path), raw.decode("utf-8", errors="replace"))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def span(self, start: int, end: int) -> "Span":
        return Span(self, start, end)


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) of a source file."""

    file: SourceFile
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.file.line_col(self.start)[0]

    @property
    def col(self) -> int:
        return self.file.line_col(self.start)[1]

    @property
    def text(self) -> str:
        return self.file.text[self.start:self.end]

    def location(self) -> str:
        """`file:line:col`, the prefix editors and CI parsers understand."""
        line, col = self.file.line_col(self.start)
        return f"{self.file.path}:{line}:{col}"

    def sub(self, start: int, end: int) -> "Span":
        """A span inside this one, by offsets relative to its start."""
        return Span(self.file, self.start + start, self.start + end)

    def union(self, other: "Span") -> "Span":
        if other.file is not self.file:
            return self
        return Span(self.file, min(self.start, other.start), max(self.end, other.end))

    def __repr__(self) -> str:
        return f"Span({self.location()}+{self.end - self.start})"
