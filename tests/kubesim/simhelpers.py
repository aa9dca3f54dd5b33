"""Helpers shared by kubesim's tests (imported as a top-level module: tests/ has no packages)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from kubesim.testing import KubeSim

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "crds" / "releaseverifications.releaseguard.io.yaml"


def wait_for(fn: Callable[[], T | None], what: str, timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")


def apply(sim: KubeSim, *objects: dict[str, Any], namespace: str = "default") -> str:
    return sim.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(objects)).stdout


def get(sim: KubeSim, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
    assert sim.server is not None
    api = sim.server.api
    return sim.call(lambda: api.get(api_version, plural, namespace, name))


def listing(
    sim: KubeSim, api_version: str, plural: str, namespace: str | None = None, labels: str | None = None
) -> list[dict[str, Any]]:
    assert sim.server is not None
    api = sim.server.api
    return sim.call(lambda: api.list(api_version, plural, namespace, labels))


def deployment(name: str, image: str = "app:1", replicas: int = 2, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}, "annotations": spec.pop("annotations", {})},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image, "env": [{"name": "X", "value": "1"}]}]},
            },
            **spec,
        },
    }
