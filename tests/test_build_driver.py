"""The build driver's failure messages (no DPDK needed)."""

from __future__ import annotations

import pytest

from chainc.backends.dpdk import build as dpdk_build


def test_missing_pkg_config_names_the_packages(monkeypatch):
    monkeypatch.setattr(dpdk_build.shutil, "which", lambda name: None)
    with pytest.raises(dpdk_build.BuildError, match="apt-get install libdpdk-dev pkg-config"):
        dpdk_build.dpdk_flags()


def test_missing_libdpdk_names_the_packages(monkeypatch):
    monkeypatch.setenv("PKG_CONFIG_PATH", "/nonexistent")
    monkeypatch.setenv("PKG_CONFIG_LIBDIR", "/nonexistent")
    with pytest.raises(dpdk_build.BuildError, match="libdpdk-dev"):
        dpdk_build.dpdk_flags()
