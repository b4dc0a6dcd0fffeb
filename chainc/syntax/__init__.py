"""The .chain language front end: syntax tree, parser and printer.

`string_span(literal_span, start, end)` maps offsets inside a decoded string
literal back to a span of the source (see chainc.syntax.literals).
"""

from chainc.syntax.literals import string_span

__all__ = ["string_span"]
