"""Build a Cython test extension that cimports the runtime's `meta.pxd`.

No DPDK is involved: `meta.pxd` cimports only libc. The build is cached by
the hash of everything that goes into it (the .pyx text, meta.pxd, the Cython
version, the compiler flags), so a test session that did not change those
reuses the module built by the previous one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import ModuleType

import Cython

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "backends" / "dpdk" / "runtime"
CFLAGS = ["-O1", "-fPIC", "-shared", "-fno-strict-aliasing", "-w"]


class BuildError(RuntimeError):
    pass


def _compiler() -> str:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or "cc"


def build_module(name: str, pyx: str, cache_dir: Path) -> ModuleType:
    """Cythonize and compile `pyx` as module `name` in `cache_dir`, then import it."""
    key = hashlib.sha256()
    for part in (pyx, (RUNTIME / "meta.pxd").read_text(), Cython.__version__,
                 " ".join(CFLAGS), sys.version):
        key.update(part.encode())
        key.update(b"\0")
    # The digest goes into the module name too: two builds in one process
    # must not collide in sys.modules.
    modname = f"{name}_{key.hexdigest()[:16]}"
    workdir = Path(cache_dir) / modname
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / (modname + sysconfig.get_config_var("EXT_SUFFIX"))
    if not target.exists():
        # Build in a private directory and rename the result into place, so that
        # concurrent test processes never read each other's half-written files.
        scratch = Path(tempfile.mkdtemp(prefix="build-", dir=workdir))
        src = scratch / f"{modname}.pyx"
        src.write_text(pyx)
        csrc = scratch / f"{modname}.c"
        run([sys.executable, "-m", "cython", "-3", "-I", str(RUNTIME), "-o", str(csrc), str(src)])
        built = scratch / target.name
        run([_compiler(), *CFLAGS, f"-I{sysconfig.get_paths()['include']}", f"-I{RUNTIME}",
             "-o", str(built), str(csrc)])
        shutil.copy(csrc, workdir / csrc.name)  # kept for reading when a test fails
        os.replace(built, target)
        shutil.rmtree(scratch, ignore_errors=True)
    spec = importlib.util.spec_from_file_location(modname, target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
