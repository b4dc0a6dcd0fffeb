"""The one error a match expression can raise."""

from __future__ import annotations


class MatchSyntaxError(ValueError):
    """A match expression that cannot be parsed or does not make sense.

    `start` and `end` are character offsets into the expression's text (the
    front end maps them to a span inside the string literal); `hint`, when
    set, is one more line for the user ("did you mean 'http'?").
    """

    def __init__(self, message: str, start: int, end: int, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = max(end, start)
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"MatchSyntaxError({self.message!r}, {self.start}, {self.end}, hint={self.hint!r})"
