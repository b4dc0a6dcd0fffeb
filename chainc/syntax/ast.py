"""The syntax tree of a .chain file: plain dataclasses, each with its source span.

The parser builds these; the resolver (chainc.sema) turns them into a
ChainGraph and the printer (chainc.syntax.printer) turns them back into text.
A literal keeps both its typed value (an int, an IPv4Address, a Rate, ...) and
the text it was written as, so the printer never changes how a number looks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from chainc.source import SourceFile, Span


# ----------------------------------------------------------------- values


@dataclass
class Literal:
    """A literal value. `kind` is one of: string int float bool ipv4 ipv6 prefix
    mac range rate duration size. `value` is None if the literal was malformed
    (the parser has reported why)."""

    kind: str
    value: Any
    text: str
    span: Span


@dataclass
class NameRef:
    """A bare name in a value position: a constant, a sub-chain parameter, or a
    symbol such as `drop` in `default: drop`."""

    name: str
    span: Span


@dataclass
class WildcardExpr:
    """`*`: the catch-all value of a block entry (`other : *`)."""

    span: Span


@dataclass
class ListExpr:
    items: list["Expr"]
    span: Span


@dataclass
class Entry:
    key: str
    key_span: Span
    value: "Expr"
    span: Span


@dataclass
class BlockExpr:
    """`{ key : value ... }`: an ordered key/value block."""

    entries: list[Entry]
    span: Span


Expr = Union[Literal, NameRef, WildcardExpr, ListExpr, BlockExpr]


# ----------------------------------------------------------------- calls


@dataclass
class Arg:
    """`name: value`, or a positional `value` (name None)."""

    name: str | None
    name_span: Span | None
    value: Expr
    span: Span


@dataclass
class Hint:
    """A placement hint after an instance: `@core(1)`, `@replicas(4)`."""

    name: str
    name_span: Span
    args: list[Arg]
    span: Span


@dataclass
class Call:
    """An NF or sub-chain instance: `Type(args) { block } @hints`.

    `args` is None when there are no parentheses (`Classifier { ... }`).
    `span` covers the type name to the closing `)` or `}` (not the hints).
    """

    type: str
    type_span: Span
    args: list[Arg] | None
    block: BlockExpr | None
    hints: list[Hint]
    span: Span

    @property
    def full_span(self) -> Span:
        return self.span.union(self.hints[-1].span) if self.hints else self.span


# ----------------------------------------------------------------- endpoints


@dataclass
class RefEndpoint:
    """A named endpoint of a connection: `fw`, `cls.web`, `nat.outside`, `in`,
    `out.web`, `drop`, a port name."""

    name: str
    name_span: Span
    port: str | None
    port_span: Span | None
    span: Span


@dataclass
class CallEndpoint:
    """An anonymous instance written inline in a connection."""

    call: Call

    @property
    def span(self) -> Span:
        return self.call.full_span


Endpoint = Union[RefEndpoint, CallEndpoint]


# ----------------------------------------------------------------- statements


@dataclass
class Import:
    path: str
    path_span: Span
    span: Span


@dataclass
class Const:
    name: str
    name_span: Span
    value: Expr
    span: Span


@dataclass
class PortDecl:
    """`port wan = pcap("traffic/wan.pcap")`."""

    name: str
    name_span: Span
    driver: str
    driver_span: Span
    args: list[Arg]
    span: Span


@dataclass
class NfDecl:
    """`nf fw = Firewall(...)`: a named instance of an NF or a sub-chain."""

    name: str
    name_span: Span
    call: Call
    span: Span


@dataclass
class Connection:
    """`a -> b -> c`: one edge per arrow."""

    endpoints: list[Endpoint]
    arrow_spans: list[Span]
    span: Span


@dataclass
class ChainParam:
    """`limit: rate` or `burst: size = 64KiB` in a sub-chain's header."""

    name: str
    name_span: Span
    type_name: str
    type_span: Span
    default: Expr | None
    span: Span


@dataclass
class ChainDef:
    """`chain Name(params) { body }`: a reusable sub-chain."""

    name: str
    name_span: Span
    params: list[ChainParam]
    body: list["Stmt"]
    body_span: Span  # from `{` to `}`
    span: Span


Stmt = Union[Import, Const, PortDecl, NfDecl, Connection, ChainDef]


@dataclass
class Comment:
    text: str  # with its leading '#'
    span: Span


@dataclass
class Program:
    """One parsed .chain file.

    `broken_names` are the names declared by statements that did not parse;
    the resolver treats them as known so one syntax error does not turn every
    later use of the name into a second error. `broken_words` are all the
    names written in those statements: an NF or port named there may well be
    connected by the broken statement, so it is not reported as unconnected.
    """

    source: SourceFile
    stmts: list[Stmt]
    comments: list[Comment] = field(default_factory=list)
    broken_names: set[str] = field(default_factory=set)
    broken_words: set[str] = field(default_factory=set)
