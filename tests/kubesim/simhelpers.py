"""Helpers of kubesim's own tests (a top-level module, beside them); what every folder shares is in tests/support."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kubesim.testing import KubeSim

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "crds" / "releaseverifications.releaseguard.io.yaml"


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
