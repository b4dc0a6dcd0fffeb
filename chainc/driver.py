"""The front-end pipeline: a .chain file in, a verified ChainGraph out.

    parse    read the file and what it imports; syntax trees
    resolve  names, constants, sub-chains, NF specs, typed parameters -> ChainGraph
    verify   the graph is a DAG, every output connected, every NF reachable

Each stage reports into one Reporter and the pipeline goes on after errors
(a later stage is told, through `Suppressed`, what an earlier error already
explains), so a run reports every error of a file. At the end, diagnostics
are de-duplicated (a mistake inside a sub-chain is the same mistake in every
instance), sorted by file and position, and raised as one CompileError.

An exception escaping a stage is a compiler bug, raised as InternalError
naming the stage; the CLI prints it as an internal compiler error.
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from chainc.diagnostics import CompileError, Diagnostic, Reporter, Severity
from chainc.ir.export import show_path
from chainc.ir.graph import ChainGraph
from chainc.ir.verify import Suppressed, verify
from chainc.sema.modules import Module, ModuleLoader
from chainc.sema.resolver import Resolver


class InternalError(Exception):
    """An unexpected exception inside a compiler stage (a bug in chainc or in an NF's spec)."""

    def __init__(self, stage: str, exc: BaseException):
        self.stage = stage
        self.exc = exc
        super().__init__(f"internal compiler error in {stage}: {type(exc).__name__}: {exc}")


@dataclass
class LoadResult:
    graph: ChainGraph
    warnings: list[Diagnostic] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds


@dataclass
class Compilation:
    """The state the stages pass along."""

    path: str
    registry: Any
    reporter: Reporter = field(default_factory=Reporter)
    text: str | None = None  # compile this text instead of reading `path`
    directory: str = "."  # where imports of `text` are looked up
    loader: ModuleLoader | None = None
    module: Module | None = None
    graph: ChainGraph | None = None
    suppressed: Suppressed = field(default_factory=Suppressed)
    timings: dict[str, float] = field(default_factory=dict)


def stage_parse(c: Compilation) -> bool:
    """Read and parse the file and, transitively, its imports."""
    c.loader = ModuleLoader(c.reporter)
    if c.text is not None:
        c.module = c.loader.load_text(c.text, c.path, c.directory)
    else:
        c.module = c.loader.load_main(c.path)
    # Without a file, or with a file too broken to make sense of, stop here.
    return c.module is not None and "*" not in c.module.broken


def stage_resolve(c: Compilation) -> bool:
    assert c.module is not None and c.loader is not None
    result = Resolver(c.registry, c.reporter, c.loader).resolve(c.module)
    c.graph, c.suppressed = result.graph, result.suppressed
    return True


def stage_verify(c: Compilation) -> bool:
    assert c.graph is not None
    verify(c.graph, c.reporter, c.suppressed)
    return True


# The pipeline, in order. A stage returns False to stop the run (its errors say why).
STAGES: list[tuple[str, Callable[[Compilation], bool]]] = [
    ("parse", stage_parse),
    ("resolve", stage_resolve),
    ("verify", stage_verify),
]


def load_registry(nf_paths: Sequence[str] = ()) -> Any:
    """The NF registry: the standard library plus `--nf-path` folders.

    A broken NF folder raises CompileError with a diagnostic naming the file.
    """
    from chainc.nfs.registry import Registry, RegistryError

    try:
        return Registry.load(list(nf_paths))
    except RegistryError as exc:
        d = exc.diagnostic()
        if d.file and os.path.isabs(d.file):
            d = replace(d, file=show_path(d.file))
        raise CompileError([d]) from None


def run_pipeline(c: Compilation) -> LoadResult:
    # The front end allocates many small objects and frees few: the cyclic
    # garbage collector would only slow it down.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(c)
    finally:
        if was_enabled:
            gc.enable()


def _run(c: Compilation) -> LoadResult:
    for name, stage in STAGES:
        start = time.perf_counter()
        try:
            go_on = stage(c)
        except (CompileError, InternalError):
            raise
        except RecursionError as exc:
            raise InternalError(name, exc) from exc
        except Exception as exc:
            raise InternalError(name, exc) from exc
        finally:
            c.timings[name] = time.perf_counter() - start
        if not go_on:
            break
    diagnostics = tidy(c.reporter.diagnostics, c.loader)
    if any(d.severity is Severity.ERROR for d in diagnostics) or c.graph is None:
        raise CompileError(diagnostics)
    return LoadResult(c.graph, diagnostics, dict(c.timings))


def load_chain(path: str, nf_paths: Sequence[str] = (), registry: Any = None) -> LoadResult:
    """Parse, resolve and verify the .chain file at `path`.

    Returns the graph and the warnings; raises CompileError holding every
    diagnostic (errors and warnings) if there is any error. `path` is shown
    to the user as given, so pass it relative when it was given relative.
    """
    if registry is None:
        registry = load_registry(nf_paths)
    return run_pipeline(Compilation(path, registry))


def load_text(text: str, path: str = "<string>", registry: Any = None,
              directory: str = ".", nf_paths: Sequence[str] = ()) -> LoadResult:
    """Like load_chain, for text that is not (or not yet) in a file."""
    if registry is None:
        registry = load_registry(nf_paths)
    return run_pipeline(Compilation(path, registry, text=text, directory=directory))


def tidy(diagnostics: list[Diagnostic], loader: ModuleLoader | None) -> list[Diagnostic]:
    """Drop repeated diagnostics and sort them by file (main file first) and position."""
    files: dict[int, int] = {}
    if loader is not None:
        for i, m in enumerate(loader.modules.values()):
            files[id(m.source)] = i
    # Files an NF opened itself (a rule file named by a parameter, absolute in
    # the IR) are shown relative to the current directory, as users name them.
    for d in diagnostics:
        for span in [d.span, *(n.span for n in d.notes)]:
            if span is not None and id(span.file) not in files and os.path.isabs(span.file.path):
                span.file.path = show_path(span.file.path)
    seen: set[str] = set()
    unique = []
    for d in diagnostics:
        key = d.render()
        if key not in seen:
            seen.add(key)
            unique.append(d)

    def anchor(d: Diagnostic) -> tuple[int, int, int]:
        spans = [d.span] + [n.span for n in d.notes]
        for s in spans:
            if s is not None and id(s.file) in files:
                return (1, files[id(s.file)], s.start)
        return (0, 0, 0) if d.span is None else (2, 0, 0)

    return sorted(unique, key=anchor)


# ---------------------------------------------------------------- front-end commands


@dataclass
class CheckOutcome:
    path: str
    diagnostics: list[Diagnostic]
    graph: ChainGraph | None = None

    @property
    def ok(self) -> bool:
        return self.graph is not None

    def summary(self) -> str:
        assert self.graph is not None
        from chainc.ir.graph import NodeKind

        nfs = len(self.graph.nodes(NodeKind.NF))
        edges = len(self.graph.edges())
        return f"{self.path}: ok ({nfs} NF{'s' if nfs != 1 else ''}, {edges} edge{'s' if edges != 1 else ''})"


def check_file(path: str, registry: Any) -> CheckOutcome:
    """`chainc check` for one file: every diagnostic, and the graph if there was no error."""
    try:
        result = load_chain(path, registry=registry)
    except CompileError as exc:
        return CheckOutcome(path, exc.diagnostics)
    return CheckOutcome(path, result.warnings, result.graph)


def format_file_text(text: str, path: str) -> str:
    """The canonical layout of a file's text; raises CompileError on a syntax error."""
    from chainc.source import SourceFile
    from chainc.syntax.printer import format_source

    try:
        return format_source(SourceFile(path, text))
    except CompileError:
        raise
    except Exception as exc:
        raise InternalError("fmt", exc) from exc


def read_text(path: str) -> str:
    """A .chain file's text, or CompileError saying why it cannot be read."""
    from chainc.sema.modules import read_source

    reporter = Reporter()
    source = read_source(path, path, reporter)
    if source is None:
        raise CompileError(reporter.diagnostics)
    return source.text
