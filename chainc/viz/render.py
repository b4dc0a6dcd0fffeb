"""Graphviz's `dot` turns the DOT text into .svg, .png or .pdf.

`dot` runs with an argument list and the DOT text on its standard input,
never through a shell.
"""

from __future__ import annotations

import re
import shutil
import subprocess

FORMATS = ("svg", "png", "pdf")


class RenderError(Exception):
    """Graphviz is missing or failed; the message says what to do."""


def render(dot_text: str, fmt: str) -> bytes:
    """The picture in `fmt` (one of FORMATS)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown picture format {fmt!r}")
    exe = shutil.which("dot")
    if exe is None:
        raise RenderError("Graphviz's `dot` was not found: install Graphviz "
                          "(Debian: apt-get install graphviz), or write .dot and render it elsewhere")
    # No time limit: a chain of 2,000 NFs takes dot about 30 s of CPU.
    proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True,
                          check=False)
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"Graphviz's `dot` failed: {message}")
    return proc.stdout


def svg_for_html(svg: bytes) -> str:
    """An SVG document as an element to inline in HTML: no XML prolog, DOCTYPE or comments.

    The namespace declarations go too: HTML puts <svg> in its namespace by
    itself, and the page then names no outside address at all.
    """
    text = svg.decode("utf-8")
    text = re.sub(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    return text.strip()
