"""pytest fixtures that build the native test extensions once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from .build import build_module

HERE = Path(__file__).resolve().parent


def cache_dir(config: pytest.Config) -> Path:
    return Path(config.cache.mkdir("chainc-native"))


@pytest.fixture(scope="session")
def native_meta(request):
    """The C metadata parser, wrapped: `parse(data, pkt_len) -> dict`."""
    return build_module("meta_ext", (HERE / "meta_ext.pyx").read_text(), cache_dir(request.config))
