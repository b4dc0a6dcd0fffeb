"""The build driver: generated .pyx -> `cython --embed` -> cc -> native binary.

Builds are cached by a hash of everything that affects the binary (the
generated source, the runtime files, the NF bodies, the compiler flags and
tool versions). No shell is ever run: every command is an argument list, so
user text cannot become a command.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from chainc import pcapfile, stats
from chainc.ir.graph import ChainGraph
from chainc.passes import Plan, pinned_plan

from . import sanitize as sanitizer
from .codegen import nf_module_name, render
from .model import build_model

RUNTIME = Path(__file__).parent / "runtime"
RUNTIME_FILES = ("dpdk.pxd", "meta.pxd", "flowtable.pxd", "chainc_rt.h", "chainc_native.pxi")
# Plain-Python modules the binary carries as source for its control plane: the
# same files chainc uses, so the binary and `chainc sim` report alike.
EMBEDDED = {"chainc_stats": Path(stats.__file__), "chainc_pcapfile": Path(pcapfile.__file__),
            "chainc_control": RUNTIME / "control.py"}


class BuildError(Exception):
    """The build cannot proceed; the message says what to do."""


@dataclass
class BuildResult:
    binary: Path
    pyx: Path
    c_source: Path
    cached: bool
    key: str
    plan: Plan


def default_cache_dir() -> Path:
    env = os.environ.get("CHAINC_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "chainc"


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise BuildError(f"{what}: '{cmd[0]}' not found") from None
    if proc.returncode != 0:
        raise BuildError(f"{what} failed:\n{proc.stdout}{proc.stderr}".rstrip())
    return proc.stdout


def dpdk_flags() -> tuple[list[str], list[str]]:
    """C flags and linker flags of libdpdk, from pkg-config."""
    missing = ("DPDK development files not found: install them with "
               "`apt-get install libdpdk-dev pkg-config` (Debian/Ubuntu)")
    if shutil.which("pkg-config") is None:
        raise BuildError(missing)
    try:
        cflags = _run(["pkg-config", "--cflags", "libdpdk"], "pkg-config").split()
        libs = _run(["pkg-config", "--libs", "libdpdk"], "pkg-config").split()
    except BuildError:
        raise BuildError(missing) from None
    return cflags, libs


def nf_packages(graph: ChainGraph) -> list[str]:
    """The pkg-config packages the chain's NF bodies link (NativeBody.pkg_config), sorted."""
    return sorted({p for n in graph.nodes() if n.spec is not None and n.spec.native is not None
                   for p in n.spec.native.pkg_config})


def _pkg_config(package: str, what: str) -> list[str]:
    try:
        return _run(["pkg-config", what, package], "pkg-config").split()
    except BuildError:
        raise BuildError(f"the C library '{package}' that an NF of this chain needs is not "
                         f"installed (pkg-config {package} failed)") from None


def python_embed_flags() -> tuple[list[str], list[str]]:
    include = sysconfig.get_paths()["include"]
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    version = sysconfig.get_config_var("LDVERSION") or sysconfig.get_python_version()
    ldflags = [f"-L{libdir}", f"-lpython{version}", f"-Wl,-rpath,{libdir}", "-ldl", "-lm", "-lpthread"]
    return [f"-I{include}"], ldflags


def _compiler() -> str:
    return os.environ.get("CC") or "cc"


def _tool_version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def collect_sources(graph: ChainGraph, plan: Plan | None = None) -> dict[str, str]:
    """Every file of the build of `plan` (by default the chain as written), by its
    name in the build directory."""
    base_dir = os.path.dirname(graph.source_path) or "."
    model = build_model(graph, plan)
    pyx, nf_modules = render(model, base_dir, {name: path.read_text() for name, path in EMBEDDED.items()})
    files = {"chain.pyx": pyx}
    for name in RUNTIME_FILES:
        files[name] = (RUNTIME / name).read_text()
    for nm in model.nodes:
        spec = nm.node.spec
        if spec is None or spec.native is None or not spec.native.pxd:
            continue
        pxd = Path(spec.folder or ".") / spec.native.pxd
        if not pxd.is_file():
            raise BuildError(f"NF {spec.name}: native body {pxd.name} not found in its folder")
        files[nf_module_name(nm) + ".pxd"] = pxd.read_text()
    assert all(m + ".pxd" in files for m in nf_modules)
    return files


def build(graph: ChainGraph, output: Path | None = None, cache_dir: Path | None = None,
          emit_dir: Path | None = None, extra_cflags: tuple[str, ...] = (),
          extra_ldflags: tuple[str, ...] = (), sanitize: bool = False,
          plan: Plan | None = None) -> BuildResult:
    """Build (or fetch from the cache) the native binary of a chain's plan (by
    default the plan of the chain as written: chainc.passes.pinned_plan).

    `sanitize` builds it with ASan and UBSan (see sanitize.py); the flags and
    the extra source are part of the cache key like everything else.
    """
    plan = plan or pinned_plan(graph)
    files = collect_sources(graph, plan)  # CodegenError: the chain's fault, with a span
    sources = ["chain.c"]
    if sanitize:
        files[sanitizer.SOURCE] = (RUNTIME / sanitizer.SOURCE).read_text()
        sources.append(sanitizer.SOURCE)
        extra_cflags = (*extra_cflags, *sanitizer.CFLAGS)
        extra_ldflags = (*extra_ldflags, *sanitizer.LDFLAGS)
    d_cflags, d_libs = dpdk_flags()
    for package in nf_packages(graph):
        d_cflags += _pkg_config(package, "--cflags")
        d_libs += _pkg_config(package, "--libs")
    p_cflags, p_libs = python_embed_flags()
    cflags = ["-O3", "-g", "-Wno-unused-function", "-Wno-unused-variable", "-fno-strict-aliasing",
              *d_cflags, *p_cflags, "-I.", *extra_cflags]
    ldflags = [*p_libs, *d_libs, *extra_ldflags]
    cc = _compiler()

    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    for part in (cflags, ldflags, [cc, _tool_version([cc, "--version"]), _cython_version(), sys.version]):
        h.update("\0".join(part).encode() + b"\1")
    key = h.hexdigest()[:24]

    root = (cache_dir or default_cache_dir()) / key
    binary = root / graph.name
    cached = binary.is_file()
    if not cached:
        work = root.with_name(root.name + f".tmp{os.getpid()}")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        for name, text in files.items():
            (work / name).write_text(text)
        _run([sys.executable, "-m", "cython", "--embed", "-3", "-I", ".", "chain.pyx", "-o", "chain.c"],
             "cython (generated code did not compile: internal compiler error)", cwd=work)
        _run([cc, *cflags, *sources, "-o", graph.name, *ldflags], "C compiler", cwd=work)
        if root.exists():
            shutil.rmtree(root, ignore_errors=True)
        os.replace(work, root)
    if emit_dir is not None:
        emit_dir.mkdir(parents=True, exist_ok=True)
        for name in sorted(os.listdir(root)):
            if name.endswith((".pyx", ".c", ".pxd", ".pxi", ".h")):
                shutil.copyfile(root / name, emit_dir / name)
    final = binary
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(output.name + ".tmp")
        shutil.copyfile(binary, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, output)
        final = output
    return BuildResult(final, root / "chain.pyx", root / "chain.c", cached, key, plan)


def _cython_version() -> str:
    import Cython

    return Cython.__version__
