"""Fixtures for kubesim's own tests: a server per test (`kubesim`, from kubesim.pytest_fixtures) and
`sim`, a server without the kubelet whose pods a stand-in node marks Ready at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesim.pytest_fixtures import kubesim, kubesim_factory  # noqa: F401
from kubesim.testing import KubeSim


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[KubeSim]:
    """Controllers on, no kubelet: pods become Running/Ready at once; a pod counts as available 0.1 s later."""
    with KubeSim(tmp_path / "sim", kubelet=False, fake_node=True, rollout_delay_seconds=0.1) as s:
        yield s
