"""`releaseguard wait` against an API server that answers 429 with Retry-After (kubesim's fault
switch, for the official client's requests only: kubectl, used to set the scene, is not throttled).
The CLI asks again, no sooner than the server says (and the client library does not sleep it out on
its own), until its timeout, and still reports the verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kubesim.apiserver.faults import Faults
from kubesim.testing import KubeSim

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).parent / "releaseguard"
RETRY_AFTER = 1
THROTTLED_SECONDS = 6.0
RV = {
    "apiVersion": "releaseguard.io/v1alpha1",
    "kind": "ReleaseVerification",
    "metadata": {"name": "shop", "namespace": "default"},
    "spec": {"targetRef": {"name": "shop"}, "checks": [{"name": "home", "http": {"url": "http://shop/"}}]},
}
VERIFIED = {
    "status": {
        "phase": "Verified",
        "currentRevision": 1,
        "lastRun": {"revision": 1, "verdict": "Passed", "reason": "ChecksPassed", "message": "1/1 checks passed"},
    }
}


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[KubeSim]:
    faults = Faults(user_agents=("OpenAPI-Generator",))
    with KubeSim(tmp_path / "sim", kubelet=False, controllers=False, faults=faults) as sim:
        sim.kubectl("apply", "-f", str(ROOT / "crds"))
        sim.kubectl("wait", "--for=condition=Established", "crd/releaseverifications.releaseguard.io")
        sim.kubectl("apply", "-f", "-", input=yaml.safe_dump(RV))
        sim.kubectl("patch", "rv", "shop", "--subresource=status", "--type=merge", "-p", json.dumps(VERIFIED))
        yield sim


def wait(sim: KubeSim, timeout: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KUBECONFIG=str(sim.kubeconfig))
    return subprocess.run(
        [str(EXE), "wait", "shop", "-n", "default", "--revision", "1", "--timeout", str(timeout)],
        capture_output=True,
        text=True,
        timeout=timeout + 30,
        env=env,
    )


def throttle(sim: KubeSim) -> None:
    sim.faults.retry_after_seconds = RETRY_AFTER
    sim.faults.throttle_rate = 1.0


def test_wait_asks_a_throttling_server_again_after_its_retry_after_and_reports_the_verdict(sim: KubeSim) -> None:
    throttle(sim)
    threading.Timer(THROTTLED_SECONDS, lambda: setattr(sim.faults, "throttle_rate", 0.0)).start()
    started = time.monotonic()
    result = wait(sim, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "revision 1 verified" in result.stdout
    throttled = sim.faults.injected.get(429, 0)
    # about once a Retry-After, never sooner
    assert 5 <= throttled <= THROTTLED_SECONDS / RETRY_AFTER + 2, throttled
    assert time.monotonic() - started >= THROTTLED_SECONDS - 1


def test_wait_on_a_server_that_stays_busy_times_out_and_says_what_it_answered(sim: KubeSim) -> None:
    throttle(sim)
    result = wait(sim, timeout=5)
    assert result.returncode == 2, result.stderr
    assert "no verdict within 5s; the API server last answered" in result.stderr
    assert "429" in result.stderr or "TooManyRequests" in result.stderr or "try again" in result.stderr
