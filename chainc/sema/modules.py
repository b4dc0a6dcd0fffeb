"""Files and imports: read a .chain file, parse it, and load what it imports.

Every file is parsed once, however many files import it. An import is
relative to the importing file. Imported files are libraries: they may only
hold `import`, `const` and `chain` statements. A module's namespace holds its
own constants and sub-chains plus everything its imports provide, so a name
defined twice (in two files, or twice in one) is an error at the second
definition.

Paths shown to users are the path the user gave for the main file joined with
the import strings (`examples/lib/scrub.chain`), never an absolute path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from chainc.diagnostics import Note, Reporter, did_you_mean
from chainc.source import SourceFile, Span
from chainc.syntax import ast
from chainc.syntax.parser import parse

MAX_FILE_BYTES = 16 * 1024 * 1024
_NEWLINE = re.compile("\n")


class FastSourceFile(SourceFile):
    """A SourceFile whose line index is built by a regular expression (large files)."""

    def __post_init__(self) -> None:
        self._line_starts = [0] + [m.end() for m in _NEWLINE.finditer(self.text)]


@dataclass
class Definition:
    """A module-level name: a constant or a sub-chain, and the module defining it."""

    node: Union[ast.Const, ast.ChainDef]
    module: "Module"

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def span(self) -> Span:
        return self.node.name_span


@dataclass(eq=False)
class Module:
    display: str  # the path as the user would write it
    real: Path  # absolute, resolved
    source: SourceFile
    program: ast.Program
    names: dict[str, Definition] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)  # names whose statements did not parse
    incomplete: bool = False  # an import failed: names it would define are unknown

    @property
    def directory(self) -> Path:
        return self.real.parent

    def consts(self) -> dict[str, Definition]:
        return {n: d for n, d in self.names.items() if isinstance(d.node, ast.Const)}

    def chains(self) -> dict[str, Definition]:
        return {n: d for n, d in self.names.items() if isinstance(d.node, ast.ChainDef)}


def read_source(path: str | Path, display: str, reporter: Reporter,
                span: Span | None = None) -> SourceFile | None:
    """Read a file as UTF-8 text; report (at `span`, or at the file) why not."""
    def fail(message: str, hint: str | None = None) -> None:
        if span is not None:
            reporter.error(message, span, hint=hint)
        else:
            reporter.error(message, file=display, hint=hint)

    try:
        p = Path(path)
        if p.is_dir():
            fail(f"'{display}' is a directory, not a .chain file")
            return None
        if p.exists() and not p.is_file():
            fail(f"'{display}' is not a regular file")  # a device or a pipe: never read it
            return None
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            fail(f"'{display}' is too large ({size} bytes; the limit is {MAX_FILE_BYTES})")
            return None
        raw = p.read_bytes()
    except FileNotFoundError:
        fail(f"cannot read '{display}': no such file")
        return None
    except OSError as exc:
        fail(f"cannot read '{display}': {exc.strerror or exc}")
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", errors="replace")
        source = FastSourceFile(display, text)
        offset = len(raw[:exc.start].decode("utf-8", errors="replace"))
        reporter.error(f"this file is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                       Span(source, offset, offset + 1),
                       hint="save the file as UTF-8")
        return None
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # a byte-order mark: keep offsets, ignore it
    return FastSourceFile(display, text)


class ModuleLoader:
    """Loads a main file and, transitively, what it imports."""

    def __init__(self, reporter: Reporter):
        self.reporter = reporter
        self.modules: dict[Path, Module] = {}  # by resolved path, in load order
        self.dirs: dict[int, Path] = {}  # id(SourceFile) -> directory of the real file

    # -- entry points -------------------------------------------------------
    def load_main(self, path: str) -> Module | None:
        real = Path(path).resolve()
        source = read_source(path, path, self.reporter)
        if source is None:
            return None
        return self._load_source(source, real, stack=[])

    def load_text(self, text: str, display: str, directory: str | Path = ".") -> Module:
        """A main module from text (tests, tools); imports are relative to `directory`."""
        real = (Path(directory) / os.path.basename(display or "chain.chain")).resolve()
        return self._load_source(FastSourceFile(display, text), real, stack=[])

    def directory_of(self, source: SourceFile) -> Path | None:
        return self.dirs.get(id(source))

    # -- loading ------------------------------------------------------------
    def _load_source(self, source: SourceFile, real: Path, stack: list[tuple[Path, str]]) -> Module:
        program = parse(source, self.reporter)
        module = Module(source.path, real, source, program, broken=set(program.broken_names))
        self.modules[real] = module
        self.dirs[id(source)] = real.parent
        stack = [*stack, (real, source.path)]
        # Imports first: a module's own definitions may shadow nothing it imports.
        for stmt in program.stmts:
            if isinstance(stmt, ast.Import):
                self._import(module, stmt, stack)
        for stmt in program.stmts:
            if isinstance(stmt, (ast.Const, ast.ChainDef)):
                self._define(module, Definition(stmt, module))
        return module

    def _import(self, module: Module, stmt: ast.Import, stack: list[tuple[Path, str]]) -> None:
        if stmt.path is None:  # a bad escape, already reported
            return
        if not stmt.path:
            self.reporter.error("empty import path", stmt.path_span)
            return
        target = (module.directory / stmt.path).resolve()
        display = os.path.normpath(os.path.join(os.path.dirname(module.display), stmt.path))
        on_stack = [p for p, _ in stack]
        if target in on_stack:
            names = [d for _, d in stack[on_stack.index(target):]] + [display]
            self.reporter.error(f"import cycle: {' -> '.join(names)}", stmt.path_span,
                                hint="a file cannot import itself, directly or through other files")
            module.incomplete = True
            return
        imported = self.modules.get(target)
        if imported is None:
            if not target.exists():
                hint = _similar_file(target)
                looked = f" (looked for '{display}')" if display != os.path.normpath(stmt.path) else ""
                self.reporter.error(f"cannot import '{stmt.path}': no such file{looked}",
                                    stmt.path_span, hint=hint)
                module.incomplete = True
                return
            source = read_source(target, display, self.reporter, span=stmt.path_span)
            if source is None:
                module.incomplete = True
                return
            imported = self._load_source(source, target, stack)
            self._check_library(imported, stmt)
        for name, definition in imported.names.items():
            self._define(module, definition, import_span=stmt.path_span)
        module.broken |= imported.broken - {"*"}
        module.incomplete |= imported.incomplete or "*" in imported.broken

    def _check_library(self, module: Module, stmt: ast.Import) -> None:
        for s in module.program.stmts:
            if not isinstance(s, (ast.Import, ast.Const, ast.ChainDef)):
                what = {ast.PortDecl: "a port declaration", ast.NfDecl: "an NF declaration",
                        ast.Connection: "a connection"}[type(s)]
                self.reporter.error(
                    f"{what} in an imported file: '{module.display}' is imported, so it may "
                    f"only define constants and sub-chains", s.span,
                    notes=[Note("imported here", stmt.span)],
                    hint="move it into the file that imports this one, or wrap it in a `chain`")
                return

    def _define(self, module: Module, definition: Definition, import_span: Span | None = None) -> None:
        name = definition.name
        old = module.names.get(name)
        if old is None:
            if name in ("in", "out", "drop"):
                if import_span is None:
                    self.reporter.error(f"'{name}' is a reserved name", definition.span)
                return
            module.names[name] = definition
            return
        if old.node is definition.node:
            return  # the same definition reached through two imports
        where = import_span or definition.span
        kind = "constant" if isinstance(definition.node, ast.Const) else "sub-chain"
        if import_span is not None:
            message = f"'{name}' imported from '{definition.module.display}' is already defined"
        else:
            message = f"{kind} '{name}' is already defined"
        self.reporter.error(message, where, notes=[Note(f"'{name}' was first defined here", old.span)])


def _similar_file(target: Path) -> str | None:
    folder = target.parent
    if not folder.is_dir():
        return None
    try:
        names = sorted(p.name for p in folder.iterdir() if p.suffix == ".chain")
    except OSError:
        return None
    return did_you_mean(target.name, names)
