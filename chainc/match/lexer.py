"""Tokens of a match expression, each with its character offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chainc.match.errors import MatchSyntaxError

WORD, LPAREN, RPAREN, LBRACK, RBRACK, AND, OR, NOT, AMP, PIPE, RELOP, END = (
    "word", "(", ")", "[", "]", "&&", "||", "!", "&", "|", "relop", "end")

# A word is anything made of these characters: keywords, numbers, addresses
# (10.0.0.0/8, 2001:db8::1, 02:00:00:00:00:01), port ranges (1-1024), names
# with dashes (ftp-data, tcp-syn) and pcap's backslash escapes (\ip).
_WORD = re.compile(r"[A-Za-z0-9_.:/\\-]+")
_PUNCT = [("&&", AND), ("||", OR), ("==", RELOP), ("!=", RELOP), ("<=", RELOP), (">=", RELOP),
          ("(", LPAREN), (")", RPAREN), ("[", LBRACK), ("]", RBRACK), ("!", NOT), ("&", AMP),
          ("|", PIPE), ("=", RELOP), ("<", RELOP), (">", RELOP)]


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int

    @property
    def word(self) -> str:
        """The token's text lower-cased if it is a word ('' otherwise): keywords are
        matched without regard to case."""
        return self.text.lower() if self.kind == WORD else ""

    def describe(self) -> str:
        return "the end of the expression" if self.kind == END else f"'{self.text}'"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        m = _WORD.match(text, i)
        if m:
            tokens.append(Token(WORD, m.group(), i, m.end()))
            i = m.end()
            continue
        for punct, kind in _PUNCT:
            if text.startswith(punct, i):
                tokens.append(Token(kind, punct, i, i + len(punct)))
                i += len(punct)
                break
        else:
            shown = ch if ch.isprintable() else repr(ch)
            raise MatchSyntaxError(f"unexpected character '{shown}'", i, i + 1)
    tokens.append(Token(END, "", n, n))
    return tokens
