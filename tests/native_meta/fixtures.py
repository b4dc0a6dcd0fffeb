"""pytest fixtures that build the native test extensions once per session."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from .build import build_module

HERE = Path(__file__).resolve().parent


def cache_dir(config: pytest.Config) -> Path:
    """pytest's cache directory (kept across runs), or a temporary one when the
    cache plugin is off (`-p no:cacheprovider`)."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("chainc-native"))
    return Path(tempfile.mkdtemp(prefix="chainc-native-"))


@pytest.fixture(scope="session")
def native_meta(request):
    """The C metadata parser, wrapped: `parse(data, pkt_len) -> dict`."""
    return build_module("meta_ext", (HERE / "meta_ext.pyx").read_text(), cache_dir(request.config))
