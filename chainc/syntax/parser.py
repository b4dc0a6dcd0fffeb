"""The .chain parser: lark LALR(1) over grammar/chain.lark, building chainc.syntax.ast.

The syntax tree is built while parsing (an embedded lark Transformer), so no
lark tree is ever materialised. Syntax errors are turned into diagnostics in
the user's words ("expected an NF, a port or `drop` after `->`"); lark's
terminal names never reach the user.

Recovery: a file is first parsed whole. If that fails, it is cut into
top-level statements (by newlines outside brackets) and each statement is
parsed alone, so every broken statement is reported once and the rest of the
file is still checked. Names declared by broken statements are recorded in
`Program.broken_names`, so later uses of them are not reported again.
"""

from __future__ import annotations

import bisect
import importlib.resources
import re
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer
from lark.utils import TextSlice

from chainc.diagnostics import Note, Reporter
from chainc.source import SourceFile, Span
from chainc.syntax import ast
from chainc.syntax.literals import (LiteralError, decode_string, parse_int, parse_ip, parse_mac,
                                    parse_quantity, parse_range)

MAX_NESTING = 64  # brackets deeper than this are refused (the front end recurses over values)
MAX_SYNTAX_ERRORS = 20


# ---------------------------------------------------------------- the lark parser

_LARK: Lark | None = None


def grammar_text() -> str:
    return (importlib.resources.files("chainc.grammar") / "chain.lark").read_text(encoding="utf-8")


class _Context:
    """What the tree builder needs while one piece of text is parsed."""

    def __init__(self, source: SourceFile, reporter: Reporter):
        self.source = source
        self.reporter = reporter


def _lark() -> Lark:
    global _LARK
    if _LARK is None:
        _LARK = Lark(grammar_text(), parser="lalr", lexer=_ContextualLexer, keep_all_tokens=True,
                     maybe_placeholders=False, transformer=_Builder(), cache=_cache_path())
    return _LARK


class _ContextualLexer(Lexer):
    """lark's contextual lexing, done with one regular expression.

    The terminals of grammar/chain.lark are tried in lark's order (priority,
    then length) as one alternation; the parser state then decides what a
    match means, as lark's contextual lexer would:

      * a keyword (`nf`, `true`) is a keyword only where the parser accepts
        that keyword, and a name elsewhere;
      * a newline ends a statement (`_NL`) only where the parser accepts one
        and not directly inside `(...)` or `[...]`; elsewhere it is skipped.
        (LALR merges the states after a value in different contexts, so
        without the bracket rule `Foo(a: 1` + newline would end a statement.)

    It is several times faster than lark's own lexer, which matters for
    chains of thousands of NFs.
    """

    __future_interface__ = 2

    def __init__(self, lexer_conf):
        terminals = sorted(lexer_conf.terminals,
                           key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name))
        name_re = next(t for t in terminals if t.name == "NAME").pattern.to_regexp()
        self.keywords: dict[str, str] = {}
        parts = []
        for t in terminals:
            if t.pattern.type == "str" and re.fullmatch(name_re, t.pattern.value):
                self.keywords[t.pattern.value] = t.name
                continue
            parts.append(f"(?P<{t.name}>{t.pattern.to_regexp()})")
        # Spaces before a token are matched with it: fewer turns of the loop.
        self.scanner = re.compile(r"[ \t\f\r]*(?:" + "|".join(parts) + ")")
        self.ignore = frozenset(lexer_conf.ignore)
        self.newline_ignored = next(n for n in self.ignore if n == "NEWLINE")

    def lex(self, lexer_state, parser_state):
        text_slice = lexer_state.text
        text, pos, end = text_slice.text, text_slice.start, text_slice.end
        match = self.scanner.match
        ignore = self.ignore
        keywords = self.keywords
        states = parser_state.parse_conf.states
        stack = parser_state.state_stack
        brackets: list[str] = []
        new = Token._future_new
        while pos < end:
            m = match(text, pos, end)
            if m is None:
                accepted = {k for k in states[stack[-1]] if k.isupper() or k == "_NL"}
                line = text.count("\n", 0, pos) + 1
                col = pos - text.rfind("\n", 0, pos)
                raise UnexpectedCharacters(text, pos, line, col, allowed=accepted,
                                           state=stack[-1])
            kind = m.lastgroup
            start, pos = m.start(kind), m.end()
            value = text[start:pos]
            if kind == "_NL":
                if "_NL" not in states[stack[-1]] or (brackets and brackets[-1] != "{"):
                    continue
            elif kind in ignore:
                continue
            elif kind == "NAME":
                keyword = keywords.get(value)
                if keyword is not None and keyword in states[stack[-1]]:
                    kind = keyword
            elif value in "([{":
                brackets.append(value)
            elif value in ")]}":
                if brackets:
                    brackets.pop()
            yield new(kind, value, start, None, None, None, None, pos)


def _cache_path() -> str | bool:
    """Cache lark's parse tables next to other user caches (falls back to no cache)."""
    import os
    import tempfile

    try:
        import lark
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "chainc")
        os.makedirs(folder, exist_ok=True)
        import hashlib
        digest = hashlib.sha256((grammar_text() + lark.__version__).encode()).hexdigest()[:16]
        return os.path.join(folder, f"grammar-{digest}.lark-cache")
    except OSError:
        try:
            return os.path.join(tempfile.gettempdir(), "chainc-grammar.lark-cache")
        except OSError:
            return False


# The builder is shared by the cached lark object; the context of the parse in
# progress is set around each call (parsing is not re-entrant).
_CTX: _Context | None = None


def _tok_span(tok: Token) -> Span:
    return Span(_CTX.source, tok.start_pos, tok.end_pos)  # type: ignore[union-attr]


def _bounds(it: Any) -> tuple[int, int] | None:
    if it is None or isinstance(it, (list, tuple)):
        return None
    if isinstance(it, Token):
        return None if it.type == "_NL" else (it.start_pos, it.end_pos)
    s = it if isinstance(it, Span) else it.span
    return s.start, s.end


def _span_of(items: list[Any]) -> Span:
    """The span from the first to the last token or node of a rule."""
    first = last = None
    for it in items:
        first = _bounds(it)
        if first is not None:
            break
    for it in reversed(items):
        last = _bounds(it)
        if last is not None:
            break
    assert first is not None and last is not None
    return Span(_CTX.source, first[0], last[1])  # type: ignore[union-attr]


def _nodes(children: list[Any]) -> list[Any]:
    return [c for c in children if c is not None and not isinstance(c, Token)]


def _names(children: list[Any]) -> list[Token]:
    return [c for c in children if isinstance(c, Token) and c.type == "NAME"]


class _Builder(Transformer):
    """Builds chainc.syntax.ast nodes bottom-up as lark reduces rules."""

    # -- statements --------------------------------------------------------
    def start(self, children):
        return _nodes(children)

    def import_stmt(self, children):
        tok = children[1]
        return ast.Import(self._string(tok), _tok_span(tok), _span_of(children))

    def const_stmt(self, children):
        name = _names(children)[0]
        value = children[-1]
        return ast.Const(str(name), _tok_span(name), value, _span_of(children))

    def port_stmt(self, children):
        name, driver = _names(children)[:2]
        args = next((c for c in children if isinstance(c, list)), [])
        return ast.PortDecl(str(name), _tok_span(name), str(driver), _tok_span(driver), args,
                            _span_of(children))

    def nf_stmt(self, children):
        name = _names(children)[0]
        call = children[-1]
        return ast.NfDecl(str(name), _tok_span(name), call, _span_of(children))

    def chain_stmt(self, children):
        name = _names(children)[0]
        params = next((c for c in children if isinstance(c, list)), [])
        body_stmts, body_span = children[-1]
        return ast.ChainDef(str(name), _tok_span(name), params, body_stmts, body_span,
                            _span_of([children[0], body_span]))

    def params(self, children):
        return _nodes(children)

    def param(self, children):
        names = _names(children)
        values = _nodes(children)
        default = values[0] if values else None
        # `name : type = default`: the default, when a bare name, is a node not a token
        return ast.ChainParam(str(names[0]), _tok_span(names[0]), str(names[1]),
                              _tok_span(names[1]), default, _span_of(children))

    def body(self, children):
        return _nodes(children), _span_of([children[0], children[-1]])

    # -- connections -------------------------------------------------------
    def connection(self, children):
        endpoints = _nodes(children)
        arrows = [_tok_span(c) for c in children if isinstance(c, Token) and c.type == "ARROW"]
        return ast.Connection(endpoints, arrows, _span_of(children))

    def ep_name(self, children):
        tok = children[0]
        span = _tok_span(tok)
        return ast.RefEndpoint(str(tok), span, None, None, span)

    def ep_port(self, children):
        name, port = _names(children)
        return ast.RefEndpoint(str(name), _tok_span(name), str(port), _tok_span(port),
                               _span_of(children))

    def ep_call(self, children):
        return ast.CallEndpoint(children[0])

    def call(self, children):
        type_tok = children[0]
        args = None
        block = None
        hints: list[ast.Hint] = []
        end = type_tok
        for c in children[1:]:
            if isinstance(c, Token):
                if c.type == "LPAR" and args is None:
                    args = []
                elif c.type == "RPAR":
                    end = c
            elif isinstance(c, list):
                args = c
            elif isinstance(c, ast.BlockExpr):
                block = c
                end = c
            elif isinstance(c, ast.Hint):
                hints.append(c)
        return ast.Call(str(type_tok), _tok_span(type_tok), args, block, hints,
                        _span_of([type_tok, end]))

    def hint(self, children):
        name = _names(children)[0]
        args = next((c for c in children if isinstance(c, list)), [])
        return ast.Hint(str(name), _tok_span(name), args, _span_of(children))

    def args(self, children):
        return _nodes(children)

    def named_arg(self, children):
        name = children[0]
        return ast.Arg(str(name), _tok_span(name), children[-1], _span_of(children))

    def pos_arg(self, children):
        value = children[0]
        return ast.Arg(None, None, value, value.span)

    # -- values ------------------------------------------------------------
    def _string(self, tok: Token) -> str | None:
        try:
            return decode_string(str(tok))
        except LiteralError as exc:
            self._literal_error(exc, tok)
            return None

    def _literal_error(self, exc: LiteralError, tok: Token) -> None:
        span = _tok_span(tok)
        if exc.start is not None:
            span = span.sub(exc.start, exc.end if exc.end is not None else exc.start + 1)
        assert _CTX is not None
        _CTX.reporter.error(exc.message, span, hint=exc.hint)

    def v_string(self, children):
        tok = children[0]
        return ast.Literal("string", self._string(tok), str(tok), _tok_span(tok))

    def v_int(self, children):
        tok = children[0]
        return ast.Literal("int", parse_int(str(tok)), str(tok), _tok_span(tok))

    def v_float(self, children):
        tok = children[0]
        return ast.Literal("float", float(str(tok)), str(tok), _tok_span(tok))

    def v_bool(self, children):
        tok = children[0]
        return ast.Literal("bool", tok.type == "TRUE", str(tok), _tok_span(tok))

    def _ip(self, tok: Token, version: int):
        try:
            kind, value = parse_ip(str(tok), version)
        except LiteralError as exc:
            self._literal_error(exc, tok)
            kind, value = ("prefix" if "/" in tok else f"ipv{version}"), None
        return ast.Literal(kind, value, str(tok), _tok_span(tok))

    def v_ipv4(self, children):
        return self._ip(children[0], 4)

    def v_ipv6(self, children):
        return self._ip(children[0], 6)

    def v_mac(self, children):
        tok = children[0]
        return ast.Literal("mac", parse_mac(str(tok)), str(tok), _tok_span(tok))

    def v_quantity(self, children):
        tok = children[0]
        try:
            kind, value = parse_quantity(str(tok))
        except LiteralError as exc:
            self._literal_error(exc, tok)
            kind, value = "quantity", None
        return ast.Literal(kind, value, str(tok), _tok_span(tok))

    def v_range(self, children):
        lo, _, hi = children
        text = f"{lo}..{hi}"
        span = _span_of(children)
        try:
            value = parse_range(str(lo), str(hi))
        except LiteralError as exc:
            assert _CTX is not None
            _CTX.reporter.error(exc.message, span, hint=exc.hint)
            value = None
        return ast.Literal("range", value, text, span)

    def v_name(self, children):
        tok = children[0]
        return ast.NameRef(str(tok), _tok_span(tok))

    def v_wildcard(self, children):
        return ast.WildcardExpr(_tok_span(children[0]))

    def v_list(self, children):
        return ast.ListExpr(_nodes(children), _span_of(children))

    def block(self, children):
        return ast.BlockExpr(_nodes(children), _span_of(children))

    def entry(self, children):
        key = children[0]
        value = children[-1]
        return ast.Entry(str(key), _tok_span(key), value, _span_of(children))


# ---------------------------------------------------------------- public API


def parse(source: SourceFile, reporter: Reporter) -> ast.Program:
    """Parse a whole file; syntax errors go to `reporter`, the good statements
    come back in the Program."""
    program = ast.Program(source, [], comments=_comments(source))
    if not _check_nesting(source, reporter):
        program.broken_names.add("*")
        return program
    mark = len(reporter.diagnostics)
    try:
        program.stmts = _parse_piece(source, reporter, 0, len(source.text))
        return program
    except UnexpectedInput:
        del reporter.diagnostics[mark:]  # literal errors are reported again per statement
    pieces = _statement_pieces(source.text)
    starts = [p[0] for p in pieces]
    errors = 0

    def parse_pieces(lo: int, hi: int) -> bool:
        """Parse pieces[lo:hi] as one text; split them in halves where that fails.
        With a few broken statements among many, most of the file is parsed in
        a few large pieces. Returns False once there are too many errors."""
        nonlocal errors
        start, end = pieces[lo][0], pieces[hi - 1][1]
        mark = len(reporter.diagnostics)
        try:
            program.stmts.extend(_parse_piece(source, reporter, start, end))
            return True
        except UnexpectedInput as exc:
            del reporter.diagnostics[mark:]
            if hi - lo > 1:
                # Split at the statement where the parser stopped: what comes
                # before it most likely parses, and so does what follows it.
                at = _error_offset(exc, end)
                k = max(lo, bisect.bisect_right(starts, at, lo, hi) - 1)
                if k == lo:
                    return parse_pieces(lo, lo + 1) and parse_pieces(lo + 1, hi)
                return parse_pieces(lo, k) and parse_pieces(k, hi)
            errors += 1
            if errors > MAX_SYNTAX_ERRORS:
                reporter.error("too many syntax errors; stopping here", Span(source, start, start + 1))
                program.broken_names.add("*")
                return False
            # the statement again, alone, for the literal errors it also has
            try:
                _parse_piece(source, reporter, start, end)
            except UnexpectedInput:
                pass
            _report_syntax_error(exc, source, reporter, start, end)
            text = source.text[start:end]
            program.broken_names.update(_declared_names(text))
            program.broken_words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
            return True

    if pieces:
        parse_pieces(0, len(pieces))
    return program


def _error_offset(exc: UnexpectedInput, end: int) -> int:
    if isinstance(exc, UnexpectedCharacters):
        return exc.pos_in_stream
    tok = getattr(exc, "token", None)
    if tok is None or tok.type == "$END" or tok.start_pos is None:
        return end
    return tok.start_pos


def parse_text(text: str, path: str = "<string>", reporter: Reporter | None = None) -> ast.Program:
    """Parse text; raises CompileError on a syntax error unless a reporter is given."""
    own = reporter is None
    reporter = reporter or Reporter()
    program = parse(SourceFile(path, text), reporter)
    if own:
        reporter.raise_if_errors()
    return program


def _parse_piece(source: SourceFile, reporter: Reporter, start: int, end: int) -> list[ast.Stmt]:
    global _CTX
    parser = _lark()
    previous = _CTX
    _CTX = _Context(source, reporter)
    try:
        return parser.parse(TextSlice(source.text, start, end))
    finally:
        _CTX = previous


# ---------------------------------------------------------------- comments

_COMMENT_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"?|(#[^\n]*)')


def _comments(source: SourceFile) -> list[ast.Comment]:
    """Every `#` comment outside string literals, in order."""
    out = []
    text = source.text
    if "#" not in text:
        return out
    for m in _COMMENT_SCAN.finditer(text):
        if m.group(1) is not None:
            out.append(ast.Comment(m.group(1).rstrip(), Span(source, m.start(1), m.end(1))))
    return out


# ---------------------------------------------------------------- recovery

_PIECE_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|->|[()\[\]{}]|\n|[^"#()\[\]{}\n-]+|-')
_NEW_STATEMENT = re.compile(
    r"(?:import|const|port|nf|chain)\b|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?[ \t]*->")
_CONTINUES = re.compile(r"[ \t]*(?:#[^\n]*)?\n?[ \t]*->")


def _check_nesting(source: SourceFile, reporter: Reporter) -> bool:
    depth = 0
    for m in re.finditer(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|([(\[{])|([)\]}])', source.text):
        if m.group(1):
            depth += 1
            if depth > MAX_NESTING:
                reporter.error(f"brackets nested too deeply (more than {MAX_NESTING} levels)",
                               Span(source, m.start(), m.end()))
                return False
        elif m.group(2):
            depth = max(0, depth - 1)
    return True


def _statement_pieces(text: str) -> list[tuple[int, int]]:
    """Cut a file into top-level statements, as well as a broken file allows.

    A statement ends at a newline outside brackets, unless the line ends with
    `->` or the next one starts with it. A line starting at column 0 with a
    keyword or `name ->` always starts a new statement, so an unclosed bracket
    swallows at most the rest of its statement.
    """
    pieces = []
    start = 0
    depth = 0
    last = ""
    for m in _PIECE_SCAN.finditer(text):
        tok = m.group()
        if tok == "\n":
            nxt = m.end()
            new_stmt = _NEW_STATEMENT.match(text, nxt) is not None
            if new_stmt or (depth == 0 and last != "->" and not _CONTINUES.match(text, nxt)):
                if text[start:nxt].strip():
                    pieces.append((start, nxt))
                start = nxt
                depth = 0
                last = ""
            continue
        if tok[0] in "([{":
            depth += 1
        elif tok[0] in ")]}":
            depth = max(0, depth - 1)
        if tok[0] != "#" and tok.strip():
            last = tok.strip()
    if text[start:].strip():
        pieces.append((start, len(text)))
    return pieces


_DECL = re.compile(r"\s*(?:nf|port|const|chain)\s+([A-Za-z_][A-Za-z0-9_]*)")


def _declared_names(text: str) -> set[str]:
    # Skip leading comment lines.
    body = re.sub(r"^(?:[ \t]*(?:#[^\n]*)?\n)*", "", text)
    m = _DECL.match(body)
    return {m.group(1)} if m else set()


# ---------------------------------------------------------------- error messages

_PUNCT = {
    "ARROW": "`->`", "DOTDOT": "`..`", "COMMA": "`,`", "LPAR": "`(`", "RPAR": "`)`",
    "LBRACE": "`{`", "RBRACE": "`}`", "LSQB": "`[`", "RSQB": "`]`", "COLON": "`:`",
    "DOT": "`.`", "EQUAL": "`=`", "AT": "`@`", "STAR": "`*`",
}
_KEYWORDS = {"IMPORT": "import", "CONST": "const", "PORT": "port", "NF": "nf", "CHAIN": "chain"}
_VALUES = {"STRING", "INT", "HEX", "FLOAT", "TRUE", "FALSE", "IPV4", "IPV6", "MAC", "QUANTITY"}


def _describe_expected(expected: set[str], before: str) -> str:
    exp = set(expected)
    if len(exp) > 1:
        exp.discard("DOTDOT")  # only ever valid inside a range; rarely what the user meant
    m = re.search(r"\b(nf|port|const|chain)$", before)
    if m and exp == {"NAME"}:
        return f"a name after `{m.group(1)}`"
    if before.endswith("->") and "NAME" in exp:
        return "an NF, a port or `drop` after `->`"
    if before.endswith("=") and exp <= {"NAME"} and re.search(r"\bnf\s+\w+\s*=$", before):
        return "an NF type after `=`, such as `Counter()`"
    if before.endswith("=") and exp <= {"NAME"} and re.search(r"\bport\s+\w+\s*=$", before):
        return "a port driver after `=`, such as `pcap(\"in.pcap\")`"
    if re.search(r"\bimport$", before):
        return "a file name in double quotes after `import`"
    words: list[str] = []
    if set(_KEYWORDS) & exp:
        words.append("a statement (`nf`, `port`, `const`, `chain`, `import` or a connection `a -> b`)")
        exp -= set(_KEYWORDS)
        exp.discard("NAME")
    if _VALUES & exp:
        words.append("a value")
        exp -= _VALUES
        exp -= {"NAME", "LSQB", "LBRACE", "STAR"}
    if "NAME" in exp:
        words.append("a name")
        exp.discard("NAME")
    for term in ("ARROW", "COLON", "EQUAL", "COMMA", "DOT", "LPAR", "RPAR", "LBRACE", "RBRACE",
                 "LSQB", "RSQB", "AT", "DOTDOT", "STAR"):
        if term in exp:
            words.append(_PUNCT[term])
            exp.discard(term)
    if "_NL" in exp or "$END" in exp:
        words.append("the end of the line")
        exp -= {"_NL", "$END"}
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _describe_token(tok: Token) -> str:
    if tok.type in ("$END", "_NL"):
        return "the end of the line"
    if tok.type == "STRING":
        return "a string"
    text = str(tok)
    if len(text) > 30:
        text = text[:27] + "..."
    return f"'{text}'"


def _unclosed_note(source: SourceFile, start: int, pos: int) -> Note | None:
    """A note at the innermost bracket still open at `pos`, if any."""
    stack = []
    for m in re.finditer(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|([(\[{])|([)\]}])', source.text[start:pos]):
        if m.group(1):
            stack.append(start + m.start())
        elif m.group(2) and stack:
            stack.pop()
    if not stack:
        return None
    at = stack[-1]
    return Note(f"the `{source.text[at]}` opened here is not closed", Span(source, at, at + 1))


def _report_syntax_error(exc: UnexpectedInput, source: SourceFile, reporter: Reporter,
                         start: int, end: int) -> None:
    text = source.text
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = text[pos] if pos < len(text) else ""
        if ch == '"':
            line_end = text.find("\n", pos)
            line_end = len(text) if line_end < 0 else line_end
            reporter.error("unterminated string", Span(source, pos, line_end),
                           hint='a string ends with `"` on the same line; write \\" for a quote inside it')
            return
        shown = ch if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}" if ch else "end of file"
        if ch == "\ufffd":
            message = "unexpected byte that is not valid UTF-8 text"
        else:
            message = f"unexpected character '{shown}'"
        hint = None
        if ch == "'":
            hint = 'strings use double quotes: "text"'
        elif ch == ";":
            hint = "statements end at the end of the line; no `;` is needed"
        before = text[start:pos].rstrip()
        allowed = set(getattr(exc, "allowed", None) or ())
        if allowed and not hint:
            hint = f"expected {_describe_expected(allowed, before)}"
        reporter.error(message, Span(source, pos, pos + 1), hint=hint)
        return
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        expected = set(exc.expected)
        try:
            if exc.interactive_parser is not None:
                expected = set(exc.interactive_parser.accepts()) or expected
        except Exception:  # the exact set is a refinement; lark's own set will do
            pass
        if tok.type == "$END":
            pos = end
            stripped = text[start:end].rstrip()
            pos = start + len(stripped)
        else:
            pos = tok.start_pos
        before = text[start:pos].rstrip()
        message = f"expected {_describe_expected(expected, before)}, got {_describe_token(tok)}"
        if tok.type in ("$END", "_NL"):
            span = Span(source, pos, pos + 1)
        else:
            span = Span(source, pos, tok.end_pos)
        hint = _syntax_hint(tok, expected, before)
        note = _unclosed_note(source, start, pos) if tok.type in ("$END", "NF", "PORT", "CONST",
                                                                   "CHAIN", "IMPORT", "_NL") else None
        reporter.error(message, span, hint=hint, notes=[note] if note else ())
        return
    if isinstance(exc, UnexpectedEOF):
        pos = start + len(text[start:end].rstrip())
        reporter.error("unexpected end of the file", Span(source, pos, pos + 1),
                       notes=[n for n in [_unclosed_note(source, start, pos)] if n])
        return
    reporter.error("syntax error", Span(source, start, start + 1))  # pragma: no cover


def _syntax_hint(tok: Token, expected: set[str], before: str) -> str | None:
    if tok.type == "NAME" and "ARROW" in expected and ("_NL" in expected or "$END" in expected):
        return "connect NFs with `->`, or start a new statement on a new line"
    if tok.type == "NAME" and "COMMA" in expected:
        return "separate items with `,`"
    if tok.type == "EQUAL" and "COLON" in expected:
        return "parameters are written `name: value`"
    if tok.type == "COLON" and "EQUAL" in expected:
        return "declarations are written `nf name = Type(...)`"
    return None
