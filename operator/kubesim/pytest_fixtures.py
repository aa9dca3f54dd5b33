"""pytest fixtures for kubesim. In a conftest: `from kubesim.pytest_fixtures import kubesim  # noqa: F401`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesim.testing import KubeSim


@pytest.fixture
def kubesim(tmp_path: Path) -> Iterator[KubeSim]:
    """A started KubeSim with controllers and (when present) the kubelet; stopped after the test."""
    with KubeSim(tmp_path / "kubesim") as sim:
        yield sim


@pytest.fixture
def kubesim_factory(tmp_path: Path) -> Iterator[type[KubeSim]]:
    """Start KubeSims with custom options: `kubesim_factory(rollout_delay_seconds=0.2)`; all stopped after."""
    started: list[KubeSim] = []

    def make(**kwargs: object) -> KubeSim:
        sim = KubeSim(tmp_path / f"kubesim-{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(sim)
        return sim.start()

    yield make  # type: ignore[misc]
    for sim in started:
        sim.stop()
