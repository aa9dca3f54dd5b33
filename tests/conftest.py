"""Fixtures shared by every test folder: the real control plane, started once per session and only
when a test asks for it (`RG_BACKENDS` chooses the backends; see kubesim.backends). tests/ is on
pytest's `pythonpath` (pyproject.toml), so every test folder can `from system_tools import require_tool`
and `from support import eventually, free_port`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesim.real.cluster import RealCluster

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "tests" / "kubesim-images.yaml"


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    """The real kube-apiserver, controller-manager, scheduler and etcd, with kubesim's process node."""
    with RealCluster(tmp_path_factory.mktemp("real"), images=IMAGES) as cluster:
        yield cluster
