"""The NF registry: finds NF folders and loads their specs.

An NF is a folder holding `spec.py` (which defines `SPEC = NfSpec(...)`), and
optionally `reference.py` (`class Reference(ReferenceNf)`), `native.pxd` and
`README.md`. The standard library's folders and a user's `--nf-path DIR`
folders are loaded the same way: by file path, never as installed packages.

Each folder is given its own synthetic package name derived from its resolved
path (`chainc_nf_<folder>_<hash>`), so two folders never share module names and
an NF's files may import each other relatively (`from .rules import parse`).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import keyword
import re
import sys
import traceback
import types
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

from chainc.diagnostics import Diagnostic, Severity
from chainc.nfs.reference import ReferenceNf
from chainc.nfs.spec import NfSpec

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Reasons every NF node has besides its own: a drop past its listed reasons,
# and an output index it does not have (chainc.sim and the native binary).
FRAMEWORK_DROP_REASONS = ("dropped", "bad-output")


class RegistryError(Exception):
    """A broken NF folder: the message names the file and what is wrong."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = str(path) if path is not None else None
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(Severity.ERROR, self.message, file=self.path)


def stdlib_dir() -> Path:
    """The folder of the standard NF library, wherever chainc is installed."""
    return Path(str(importlib.resources.files("chainc.stdlib_nfs")))


def _package_name(folder: Path) -> str:
    digest = hashlib.sha1(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9_]", "_", folder.name) or "nf"
    return f"chainc_nf_{stem}_{digest}"


def _ensure_package(folder: Path) -> str:
    """Register a synthetic package for an NF folder so its modules can import each other."""
    name = _package_name(folder)
    if name not in sys.modules:
        pkg = types.ModuleType(name, f"NF folder {folder}")
        pkg.__path__ = [str(folder)]  # type: ignore[attr-defined]
        pkg.__package__ = name
        pkg.__file__ = None
        sys.modules[name] = pkg
    return name


def _load_module(folder: Path, stem: str) -> types.ModuleType:
    """Import `folder/stem.py` as `<package of folder>.<stem>`; errors name the file."""
    path = folder / f"{stem}.py"
    pkg = _ensure_package(folder)
    mod_name = f"{pkg}.{stem}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise RegistryError("cannot be loaded as a Python module", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[mod_name]
        where = f"{exc.filename or path}:{exc.lineno}" if exc.lineno else str(exc.filename or path)
        raise RegistryError(f"syntax error: {exc.msg}", where) from None
    except Exception as exc:  # any error in user code: report it, never a traceback
        del sys.modules[mod_name]
        raise RegistryError(f"error while loading: {_describe_exc(exc, path)}", path) from None
    return module


def _describe_exc(exc: BaseException, path: Path) -> str:
    """`ExcType: message (line N)`, with the line in the failing file when known."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    text = f"{type(exc).__name__}: {exc}"
    return f"{text} (line {line})" if line else text


def _check_spec(spec: NfSpec, path: Path) -> None:
    """Structural checks a type checker cannot do: names, ports, params."""
    def bad(msg: str) -> RegistryError:
        return RegistryError(f"NF '{spec.name}': {msg}", path)

    if not isinstance(spec.name, str) or not _NAME_RE.match(spec.name) or keyword.iskeyword(spec.name):
        raise RegistryError(f"SPEC.name {spec.name!r} is not a valid NF name (letters, digits, '_')", path)
    if not spec.doc or "\n" in spec.doc.strip():
        raise bad("`doc` must be one non-empty line")
    for what, ports in (("input", spec.inputs), ("output", spec.outputs)):
        for p in ports:
            if not isinstance(p, str) or not _NAME_RE.match(p):
                raise bad(f"{what} port {p!r} is not a valid name")
        if len(set(ports)) != len(ports):
            raise bad(f"duplicate {what} port names in {ports}")
    if not spec.inputs:
        raise bad("an NF needs at least one input port")
    names = [p.name for p in spec.params]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise bad(f"duplicate parameter(s): {', '.join(dupes)}")
    reasons = list(spec.drop_reasons)
    if len(set(reasons)) != len(reasons):
        raise bad(f"duplicate drop reasons in {spec.drop_reasons}")
    reserved = sorted(set(reasons) & set(FRAMEWORK_DROP_REASONS))
    if reserved:
        raise bad(f"drop reason(s) {', '.join(reserved)} are the framework's own; return a "
                  f"negative index past drop_reasons to count a drop as 'dropped'")
    if spec.block_param is not None and spec.block_param not in names:
        raise bad(f"block_param '{spec.block_param}' is not one of its parameters")


class Registry:
    """All NFs known to one compiler run: the standard library plus `--nf-path` folders."""

    def __init__(self, specs: Iterable[NfSpec] = ()):
        self._specs: dict[str, NfSpec] = {}
        self._refs: dict[Path, type[ReferenceNf] | None] = {}
        for spec in specs:
            self.add(spec)

    # -- loading ----------------------------------------------------------
    @classmethod
    def load(cls, extra_paths: Sequence[str | Path] = ()) -> "Registry":
        """Load the standard library, then each extra path.

        An extra path is either an NF folder (it holds `spec.py`) or a folder
        of NF folders. A broken folder raises RegistryError naming the file.
        """
        reg = cls()
        for folder in _nf_folders(stdlib_dir()):
            reg.add(load_spec(folder))
        for extra in extra_paths:
            path = Path(extra)
            if not path.is_dir():
                raise RegistryError("NF path is not a directory", path)
            folders = [path] if (path / "spec.py").is_file() else _nf_folders(path)
            if not folders:
                raise RegistryError("no NF folders found (an NF folder holds a spec.py)", path)
            for folder in folders:
                reg.add(load_spec(folder))
        return reg

    def add(self, spec: NfSpec) -> None:
        old = self._specs.get(spec.name)
        if old is not None:
            where = spec.folder / "spec.py" if spec.folder else None
            first = old.folder / "spec.py" if old.folder else "an earlier definition"
            raise RegistryError(f"NF '{spec.name}' is already defined by {first}", where)
        self._specs[spec.name] = spec

    # -- reading ----------------------------------------------------------
    def get(self, name: str) -> NfSpec | None:
        return self._specs.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._specs

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def specs(self) -> list[NfSpec]:
        """Specs sorted by name."""
        return [self._specs[n] for n in self.names()]

    def reference_class(self, spec: NfSpec) -> type[ReferenceNf] | None:
        """The NF's reference body (imported on first use), or None if it has none."""
        folder = spec.folder
        if folder is None:
            return None
        if folder not in self._refs:
            self._refs[folder] = _load_reference(folder)
        return self._refs[folder]

    def native_pxd(self, spec: NfSpec) -> Path | None:
        """The `.pxd` holding the NF's native body, or None (no native body, or generated)."""
        if spec.native is None or spec.native.pxd is None or spec.folder is None:
            return None
        path = spec.folder / spec.native.pxd
        return path if path.is_file() else None


def _nf_folders(root: Path) -> list[Path]:
    """Sub-folders of `root` that hold a spec.py, sorted by name."""
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and (p / "spec.py").is_file()),
                  key=lambda p: p.name)


def load_spec(folder: str | Path) -> NfSpec:
    """Load one NF folder's spec.py and return its SPEC with `folder` set."""
    folder = Path(folder).resolve()
    path = folder / "spec.py"
    if not path.is_file():
        raise RegistryError("missing spec.py", folder)
    module = _load_module(folder, "spec")
    spec = getattr(module, "SPEC", None)
    if spec is None:
        raise RegistryError("defines no SPEC (expected `SPEC = NfSpec(...)`)", path)
    if not isinstance(spec, NfSpec):
        raise RegistryError(f"SPEC is {type(spec).__name__}, not an NfSpec", path)
    _check_spec(spec, path)
    if spec.native is not None and spec.native.pxd is not None and not (folder / spec.native.pxd).is_file():
        raise RegistryError(f"NF '{spec.name}' declares a native body in '{spec.native.pxd}', "
                            f"which does not exist", folder)
    return replace(spec, folder=folder)


def _load_reference(folder: Path) -> type[ReferenceNf] | None:
    path = folder / "reference.py"
    if not path.is_file():
        return None
    module = _load_module(folder, "reference")
    ref = getattr(module, "Reference", None)
    if ref is None:
        raise RegistryError("defines no `Reference` class", path)
    if not (isinstance(ref, type) and issubclass(ref, ReferenceNf)):
        raise RegistryError("`Reference` must be a subclass of chainc.nfs.reference.ReferenceNf", path)
    return ref
