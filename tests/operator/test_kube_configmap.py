"""The operator's API adapter only ever creates the check-script ConfigMap: over real HTTP to kubesim,
the first create makes it (immutable, owned by the rv), and a ConfigMap of that name made by someone
else is answered 409 and left exactly as it is: not read, patched or adopted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from kubesim.testing import KubeSim
from releaseguard.api import parse_release_verification
from releaseguard.core.jobs import script_configmap
from releaseguard.operator.kube import Kube
from support.factories import RV_UID, rv_body

pytestmark = pytest.mark.slow


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[KubeSim]:
    with KubeSim(tmp_path, kubelet=False, controllers=False) as server:
        yield server


@pytest.fixture
def kube(sim: KubeSim) -> Iterator[Kube]:
    previous = client.Configuration.get_default_copy()
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(sim.kubeconfig), client_configuration=configuration)  # type: ignore[no-untyped-call]
    client.Configuration.set_default(configuration)
    try:
        adapter = Kube()
    finally:
        client.Configuration.set_default(previous)
    yield adapter
    adapter.close()


def _configmap() -> dict[str, Any]:
    rv = parse_release_verification(rv_body(checks=[{"name": "smoke", "command": {"command": ["true"]}}]))
    return script_configmap(rv, RV_UID)


def test_the_script_configmap_is_created_once_and_never_patched(sim: KubeSim, kube: Kube) -> None:
    wanted = _configmap()
    name = wanted["metadata"]["name"]
    sim.reset_request_counts()
    created = asyncio.run(kube.create_configmap("default", wanted))
    assert created is not None and created["immutable"] is True
    assert created["metadata"]["ownerReferences"][0]["uid"] == RV_UID
    assert asyncio.run(kube.create_configmap("default", wanted)) is None  # a restart: it exists, fine
    assert sim.request_counts() == {("create", "configmaps"): 2}, sim.request_counts()
    stored = sim.kubectl("get", "configmap", name, "-o", "jsonpath={.data.check\\.py}").stdout
    assert stored == wanted["data"]["check.py"]


def test_a_configmap_someone_else_made_under_that_name_is_left_as_it_is(sim: KubeSim, kube: Kube) -> None:
    wanted = _configmap()
    name = wanted["metadata"]["name"]
    sim.kubectl("create", "configmap", name, "--from-literal=check.py=print('not yours')")
    before = sim.kubectl("get", "configmap", name, "-o", "json").stdout
    sim.reset_request_counts()
    assert asyncio.run(kube.create_configmap("default", wanted)) is None
    # no read, no patch, no update: only the refused create
    assert sim.request_counts() == {("create", "configmaps"): 1}, sim.request_counts()
    assert sim.kubectl("get", "configmap", name, "-o", "json").stdout == before
