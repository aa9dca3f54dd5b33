"""The demo's path through the kubelet: the shop app as a Deployment from the example image registry,
a Service in front of it, and a real `releaseguard probe` Job shaped like the operator's runner pod
that reaches the Service by name (HTTP and raw TCP) and reports through its termination message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim.testing import KubeSim
from support import eventually

REGISTRY = Path(__file__).parents[2] / "examples" / "kubesim-images.yaml"
NS = "demo"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    with KubeSim(tmp_path_factory.mktemp("kubesim"), images=REGISTRY) as server:
        yield server


def get_json(sim: KubeSim, *args: str) -> Any:
    return json.loads(sim.kubectl("get", "-n", NS, *args, "-o", "json").stdout)


SHOP = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shop"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "shop"}},
            "template": {
                "metadata": {"labels": {"app": "shop"}},
                "spec": {
                    "containers": [
                        {
                            "name": "shop",
                            "image": "shop:1.0",
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1},
                        }
                    ]
                },
            },
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "shop"},
        "spec": {"selector": {"app": "shop"}, "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]},
    },
]


def probe_job(name: str, checks: list[dict[str, Any]]) -> dict[str, Any]:
    command = ["releaseguard", "probe", "--checks-json", json.dumps({"checks": checks})]
    command += ["--termination-log", "/dev/termination-log"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "probe",
                            "image": "ghcr.io/releaseguard/releaseguard:v0.1.0",
                            "command": command,
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                }
            },
        },
    }


def test_probe_job_checks_the_shop_through_its_service(sim: KubeSim) -> None:
    sim.kubectl("apply", "-n", NS, "-f", "-", input=yaml.safe_dump_all(SHOP))

    def ready_pods() -> list[dict[str, Any]] | None:
        pods = get_json(sim, "pods", "-l", "app=shop")["items"]
        ready = [
            p
            for p in pods
            if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        ]
        return ready if len(ready) == 2 else None

    pods = eventually(ready_pods, what="two Ready shop replicas", interval=0.02)
    assert len({p["status"]["podIP"] for p in pods}) == 2
    checks = [
        {"name": "health", "http": {"url": f"http://shop.{NS}.svc:8080/healthz"}},
        {"name": "orders", "http": {"url": "http://shop:8080/api/orders"}},
        {"name": "port", "tcp": {"host": f"shop.{NS}.svc.cluster.local", "port": 8080}},
    ]
    sim.kubectl("apply", "-n", NS, "-f", "-", input=yaml.safe_dump(probe_job("verify", checks)))

    def finished_pod() -> dict[str, Any] | None:
        items = get_json(sim, "pods", "-l", "job-name=verify")["items"]
        done = [p for p in items if p["status"].get("phase") in ("Succeeded", "Failed")]
        return done[0] if done else None

    pod = eventually(finished_pod, what="the probe pod to finish", interval=0.02)
    state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    logs = sim.kubectl("logs", "-n", NS, pod["metadata"]["name"]).stdout
    assert state["exitCode"] == 0, (state, logs)
    report = json.loads(state["message"])
    assert report["kind"] == "ProbeReport"
    assert report["failedCritical"] == [], report
    assert sorted(c["name"] for c in report["checks"]) == ["health", "orders", "port"]
    eventually(
        lambda: get_json(sim, "job", "verify")["status"].get("succeeded") == 1, what="the Job to succeed", interval=0.02
    )
