"""Golden diagnostics: each tests/diagnostics/NAME.chain beside NAME.expected,
the exact output of `chainc check NAME.chain` run in that folder.

To regenerate the goldens after an intended change of a message:

    CHAINC_UPDATE_GOLDENS=1 python -m pytest tests/test_diagnostics.py

then read the diff. A .chain file without its .expected fails: goldens are
never created silently. Files under tests/diagnostics/lib/ are only imported.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chainc.driver import check_file, load_registry

HERE = Path(__file__).parent / "diagnostics"
CASES = sorted(HERE.glob("*.chain"))
UPDATE = os.environ.get("CHAINC_UPDATE_GOLDENS") == "1"


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def check_output(name: str, registry) -> str:
    """What `chainc check NAME` prints (diagnostics, then the ok line), and its exit status."""
    outcome = check_file(name, registry)
    lines = [d.render() for d in outcome.diagnostics]
    if outcome.ok:
        lines.append(outcome.summary())
    lines.append(f"[exit {0 if outcome.ok else 1}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_golden(case: Path, registry, monkeypatch):
    monkeypatch.chdir(HERE)
    actual = check_output(case.name, registry)
    golden = case.with_suffix(".expected")
    if UPDATE:
        golden.write_text(actual)
        return
    assert golden.exists(), (f"{golden.name} is missing; write it, or run with "
                             f"CHAINC_UPDATE_GOLDENS=1 and review it")
    assert actual == golden.read_text()


def test_every_golden_has_its_chain_file():
    for golden in HERE.glob("*.expected"):
        assert golden.with_suffix(".chain").exists(), f"{golden.name} has no .chain file"


def test_error_goldens_report_errors_and_never_an_internal_error():
    for golden in HERE.glob("*.expected"):
        text = golden.read_text()
        assert "internal compiler error" not in text
        assert "Traceback" not in text
