"""docs/language.md cannot rot: every ```chain block in it compiles, as a file of
examples/ would, and is already in the layout `chainc fmt` gives (unless the
block is marked `free-layout`, to show a layout of the author's)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chainc.driver import load_registry, load_text
from chainc.syntax.printer import format_text

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "language.md"
FOUND = re.findall(r"^```chain( free-layout)?\n(.*?)^```", DOC.read_text(encoding="utf-8"),
                   re.S | re.M)
BLOCKS = [text for _, text in FOUND]
FREE = [bool(flag) for flag, _ in FOUND]


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def test_the_reference_has_examples_of_every_construct():
    text = "\n".join(BLOCKS)
    assert len(BLOCKS) >= 8
    for construct in ("import ", "const ", "port ", "nf ", "chain ", "->", "#", "@core(",
                      "@replicas(", "in.", "out.", "drop", "{", "..", "Gbps", "KiB", "[",
                      "pcap(out:", "null()", "tap(", "af_packet(", "pci(", "vdev(", "ring()"):
        assert construct in text, construct


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_chain_blocks_compile_and_are_formatted(index, registry):
    block = BLOCKS[index]
    result = load_text(block, f"language.md#block{index + 1}", registry=registry,
                       directory=str(ROOT / "examples"))
    assert result.graph is not None
    assert [d.render() for d in result.warnings] == []
    if not FREE[index]:
        assert format_text(block) == block
    else:
        assert format_text(block) != block  # it shows a layout fmt would change
