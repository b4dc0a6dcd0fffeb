"""The canonical layout of a .chain file (`chainc fmt`).

Printing a parsed file gives the same program back (the IR of the output is
the IR of the input) in one layout:

  * one statement per line, 4-space indents inside `{ }`;
  * `name: value` arguments separated by `, `; `a -> b -> c` with one space
    around each arrow; literals exactly as written (`0x10`, `64KiB`);
  * alignment, as gofmt does it: in a run of declarations of one kind on
    consecutive lines the `=` line up, and in a run of connections from the
    same NF (`cls.web -> ...`, `cls.dns -> ...`) the first arrows line up;
  * the block of an NF (and a block constant) one entry per line, with the
    colons aligned; blocks inside values inline: `{ a: 1, b: 2 }`;
  * a line longer than 100 columns is wrapped: arguments one per line, or a
    connection broken before each `->`;
  * at most one blank line between statements, where the source had some;
  * every comment kept: comments on their own line stay before the
    statement that follows them, end-of-line comments stay at the end of
    their line, and a comment inside a statement that is joined onto one
    line moves just before that statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chainc.diagnostics import Reporter
from chainc.source import SourceFile
from chainc.syntax import ast
from chainc.syntax.parser import parse

INDENT = "    "
WIDTH = 100
_BLANK_LINE = re.compile(r"\n[ \t\r\f]*\n")


def format_source(source: SourceFile) -> str:
    """The canonical text of a file; raises CompileError if it has syntax errors."""
    reporter = Reporter()
    program = parse(source, reporter)
    reporter.raise_if_errors()
    return format_program(program)


def format_text(text: str, path: str = "<string>") -> str:
    return format_source(SourceFile(path, text))


def format_program(program: ast.Program) -> str:
    return _Printer(program).run()


# ---------------------------------------------------------------- expressions


def expr_text(e: ast.Expr) -> str:
    if isinstance(e, ast.Literal):
        return e.text
    if isinstance(e, ast.NameRef):
        return e.name
    if isinstance(e, ast.WildcardExpr):
        return "*"
    if isinstance(e, ast.ListExpr):
        return "[" + ", ".join(expr_text(i) for i in e.items) + "]"
    if isinstance(e, ast.BlockExpr):
        if not e.entries:
            return "{}"
        return "{ " + ", ".join(f"{x.key}: {expr_text(x.value)}" for x in e.entries) + " }"
    raise TypeError(f"not an expression: {e!r}")


def arg_text(a: ast.Arg) -> str:
    return f"{a.name}: {expr_text(a.value)}" if a.name is not None else expr_text(a.value)


def hints_text(hints: list[ast.Hint]) -> str:
    return "".join(f" @{h.name}(" + ", ".join(arg_text(a) for a in h.args) + ")" for h in hints)


def call_text(c: ast.Call) -> str:
    """An inline call: `Type(args) { a: 1 } @core(1)`."""
    text = c.type
    if c.args is not None:
        text += "(" + ", ".join(arg_text(a) for a in c.args) + ")"
    if c.block is not None:
        text += " " + expr_text(c.block)
    return text + hints_text(c.hints)


def endpoint_text(ep: ast.Endpoint) -> str:
    if isinstance(ep, ast.CallEndpoint):
        return call_text(ep.call)
    return ep.name if ep.port is None else f"{ep.name}.{ep.port}"


# ---------------------------------------------------------------- statements


@dataclass
class _Out:
    lines: list[str]


class _Printer:
    def __init__(self, program: ast.Program):
        self.text = program.source.text
        self.source = program.source
        self.program = program
        self.comments = sorted(program.comments, key=lambda c: c.span.start)
        self.ci = 0
        self.lines: list[str] = []
        self.last_end = 0  # source offset of the last thing printed
        self.at_start = True  # no line printed yet in the current container
        self.pad: dict[int, object] = {}  # id(stmt) -> name width, or arrow columns

    def run(self) -> str:
        self._items(self.program.stmts, "", len(self.text))
        self._flush_before(len(self.text) + 1, "")
        out = "\n".join(self.lines).rstrip("\n")
        return out + "\n" if out else ""

    # -- comments and blank lines ------------------------------------------
    def _blank_before(self, start: int) -> None:
        if not self.at_start and _BLANK_LINE.search(self.text, self.last_end, max(self.last_end, start)):
            self.lines.append("")

    def _flush_before(self, offset: int, indent: str, blanks: bool = True) -> None:
        """Own-line comments starting before `offset`."""
        while self.ci < len(self.comments) and self.comments[self.ci].span.start < offset:
            c = self.comments[self.ci]
            if blanks:
                self._blank_before(c.span.start)
            self.lines.append(indent + c.text)
            self.last_end = c.span.end
            self.at_start = False
            self.ci += 1

    def _trailing(self, end: int, limit: int) -> None:
        """A comment on the same source line after `end` (and before `limit`) ends the last line."""
        if self.ci >= len(self.comments):
            return
        c = self.comments[self.ci]
        line_end = self.text.find("\n", end)
        line_end = len(self.text) if line_end < 0 else line_end
        if end <= c.span.start < min(line_end, limit):
            self.lines[-1] += "  " + c.text
            self.last_end = c.span.end
            self.ci += 1

    # -- containers --------------------------------------------------------
    def _items(self, stmts: list[ast.Stmt], indent: str, end: int) -> None:
        self._align(stmts, indent)
        for i, stmt in enumerate(stmts):
            limit = stmts[i + 1].span.start if i + 1 < len(stmts) else end
            self._flush_before(stmt.span.start, indent)
            self._blank_before(stmt.span.start)
            self._stmt(stmt, indent, limit)
            self.at_start = False

    def _stmt(self, stmt: ast.Stmt, indent: str, limit: int) -> None:
        if isinstance(stmt, ast.ChainDef):
            self._chain(stmt, indent, limit)
            return
        block = self._tail_block(stmt)
        if block is not None:
            self._with_block(stmt, block, indent, limit)
            return
        self._flush_before(stmt.span.end, indent, blanks=False)  # inside a joined statement
        for line in self._leaf_lines(stmt, indent):
            self.lines.append(line)
        self.last_end = stmt.span.end
        self._trailing(stmt.span.end, limit)

    # -- alignment ---------------------------------------------------------
    def _align_key(self, stmt: ast.Stmt, indent: str) -> str | None:
        """Statements with the same key on consecutive lines are aligned."""
        if any(stmt.span.start <= c.span.start < stmt.span.end for c in self.comments):
            return None  # a comment inside moves before it and breaks the run
        if isinstance(stmt, ast.Connection):
            first = stmt.endpoints[0]
            if isinstance(first, ast.RefEndpoint) and first.port is not None and \
                    len(self._leaf_lines(stmt, indent)) == 1:
                return "conn " + first.name
            return None
        if isinstance(stmt, (ast.NfDecl, ast.PortDecl, ast.Const)):
            if self._tail_block(stmt) is None and len(self._leaf_lines(stmt, indent)) > 1:
                return None
            if isinstance(stmt, ast.NfDecl) and stmt.call.args and self._tail_block(stmt) and \
                    len(self._wrapped("", stmt.call.args, "", indent)) > 1:
                return None
            return {ast.NfDecl: "nf", ast.PortDecl: "port", ast.Const: "const"}[type(stmt)]
        return None

    def _adjacent(self, a: ast.Stmt, b: ast.Stmt) -> bool:
        between = self.text[a.span.end:b.span.start]
        return re.fullmatch(r"[ \t\r\f]*(?:#[^\n]*)?\n[ \t\r\f]*", between) is not None

    def _align(self, stmts: list[ast.Stmt], indent: str) -> None:
        keys = [self._align_key(s, indent) for s in stmts]
        i = 0
        while i < len(stmts):
            j = i + 1
            while (j < len(stmts) and keys[i] is not None and keys[j] == keys[i]
                   and self._adjacent(stmts[j - 1], stmts[j])):
                j += 1
            run = stmts[i:j]
            if len(run) > 1:
                if keys[i].startswith("conn "):
                    cols: dict[int, int] = {}
                    for st in run:  # the first arrows line up
                        cols[0] = max(cols.get(0, 0), len(endpoint_text(st.endpoints[0])))
                    for st in run:
                        self.pad[id(st)] = cols
                else:
                    width = max(len(st.name) for st in run)
                    for st in run:
                        self.pad[id(st)] = width
            i = j

    def _tail_block(self, stmt: ast.Stmt) -> ast.BlockExpr | None:
        if isinstance(stmt, ast.NfDecl) and stmt.call.block is not None and stmt.call.block.entries:
            return stmt.call.block
        if isinstance(stmt, ast.Const) and isinstance(stmt.value, ast.BlockExpr) and stmt.value.entries:
            return stmt.value
        return None

    def _name(self, stmt: ast.Stmt) -> str:
        width = self.pad.get(id(stmt))
        return f"{stmt.name:<{width}}" if isinstance(width, int) else stmt.name

    def _leaf_lines(self, stmt: ast.Stmt, indent: str) -> list[str]:
        if isinstance(stmt, ast.Import):
            return [f"{indent}import {stmt.path_span.text}"]
        if isinstance(stmt, ast.Const):
            return [f"{indent}const {self._name(stmt)} = {expr_text(stmt.value)}"]
        if isinstance(stmt, ast.PortDecl):
            return self._wrapped(f"{indent}port {self._name(stmt)} = {stmt.driver}", stmt.args, "",
                                 indent)
        if isinstance(stmt, ast.NfDecl):
            c = stmt.call
            head = f"{indent}nf {self._name(stmt)} = {c.type}"
            tail = (" " + expr_text(c.block) if c.block is not None else "") + hints_text(c.hints)
            if c.args is None:
                return [head + tail]
            return self._wrapped(head, c.args, tail, indent)
        if isinstance(stmt, ast.Connection):
            parts = [endpoint_text(ep) for ep in stmt.endpoints]
            line = indent + " -> ".join(parts)
            cols = self.pad.get(id(stmt))
            if isinstance(cols, dict):
                padded = [f"{p:<{cols[k]}}" if k in cols else p for k, p in enumerate(parts[:-1])]
                padded += parts[-1:]
                return [indent + " -> ".join(padded)]
            if len(line) <= WIDTH:
                return [line]
            return [indent + parts[0]] + [f"{indent}{INDENT}-> {p}" for p in parts[1:]]
        raise TypeError(f"not a statement: {stmt!r}")

    def _wrapped(self, head: str, args: list[ast.Arg], tail: str, indent: str) -> list[str]:
        """`head(args)tail` on one line, or with one argument per line if too long."""
        line = head + "(" + ", ".join(arg_text(a) for a in args) + ")" + tail
        if len(line) <= WIDTH or not args:
            return [line]
        return ([head + "("] + [f"{indent}{INDENT}{arg_text(a)}," for a in args]
                + [f"{indent})" + tail])

    def _with_block(self, stmt: ast.Stmt, block: ast.BlockExpr, indent: str, limit: int) -> None:
        """A statement ending in a multi-line block: `nf cls = Classifier {` ... `}`."""
        self._flush_before(block.span.start, indent, blanks=False)
        if isinstance(stmt, ast.NfDecl):
            c = stmt.call
            head = f"{indent}nf {self._name(stmt)} = {c.type}"
            if c.args is not None:
                lines = self._wrapped(head, c.args, " {", indent)
            else:
                lines = [head + " {"]
            after = hints_text(c.hints)
        else:
            assert isinstance(stmt, ast.Const)
            lines = [f"{indent}const {self._name(stmt)} = {{"]
            after = ""
        self.lines.extend(lines)
        self.last_end = block.span.start + 1
        first = block.entries[0].span.start
        self._trailing(block.span.start + 1, first)
        self.at_start = True
        inner = indent + INDENT
        width = max(len(e.key) for e in block.entries)
        for i, e in enumerate(block.entries):
            nxt = block.entries[i + 1].span.start if i + 1 < len(block.entries) else block.span.end - 1
            self._flush_before(e.span.start, inner)
            self._blank_before(e.span.start)
            self._flush_before(e.span.end, inner, blanks=False)
            self.lines.append(f"{inner}{e.key:<{width}} : {expr_text(e.value)}")
            self.last_end = e.span.end
            self._trailing(e.span.end, nxt)
            self.at_start = False
        self._flush_before(block.span.end - 1, inner)
        self.lines.append(f"{indent}}}{after}")
        self.last_end = stmt.span.end
        self._flush_before(stmt.span.end, indent, blanks=False)  # inside the hints (rare)
        self._trailing(stmt.span.end, limit)

    def _chain(self, stmt: ast.ChainDef, indent: str, limit: int) -> None:
        self._flush_before(stmt.body_span.start, indent, blanks=False)
        params = []
        for p in stmt.params:
            text = f"{p.name}: {p.type_name}"
            if p.default is not None:
                text += f" = {expr_text(p.default)}"
            params.append(text)
        self.lines.append(f"{indent}chain {stmt.name}(" + ", ".join(params) + ") {")
        self.last_end = stmt.body_span.start + 1
        first = stmt.body[0].span.start if stmt.body else stmt.body_span.end - 1
        self._trailing(stmt.body_span.start + 1, first)
        self.at_start = True
        self._items(stmt.body, indent + INDENT, stmt.body_span.end - 1)
        self._flush_before(stmt.body_span.end - 1, indent + INDENT)
        self.lines.append(f"{indent}}}")
        self.last_end = stmt.span.end
        self._trailing(stmt.span.end, limit)
