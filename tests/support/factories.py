"""Plain-dict builders of the objects the operator reads: Deployments, ReplicaSets, Jobs, RVs (tests/core, tests/operator)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

Obj = dict[str, Any]

NOW = datetime(2026, 11, 24, 21, 0, 0, tzinfo=UTC)
DEP_UID = "dep-uid-1"
RV_UID = "rv-uid-1"


def template(image: str = "shop:1.0", env: list[Obj] | None = None) -> Obj:
    return {
        "metadata": {"labels": {"app": "shop"}},
        "spec": {
            "containers": [
                {
                    "name": "shop",
                    "image": image,
                    "env": env or [{"name": "PORT", "value": "8080"}],
                    "ports": [{"containerPort": 8080}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/shop"}],
                }
            ],
            "volumes": [{"name": "config", "configMap": {"name": "shop"}}],
        },
    }


def deployment(
    revision: int | None = 1,
    replicas: int = 2,
    complete: bool = True,
    image: str = "shop:1.0",
    generation: int = 1,
    paused: bool = False,
    stalled: bool = False,
    annotations: Obj | None = None,
) -> Obj:
    notes = dict(annotations or {})
    if revision is not None:
        notes["deployment.kubernetes.io/revision"] = str(revision)
    status: Obj = {"observedGeneration": generation, "replicas": replicas}
    if complete:
        status.update(updatedReplicas=replicas, availableReplicas=replicas, readyReplicas=replicas)
    else:
        status.update(updatedReplicas=max(replicas - 1, 0), availableReplicas=replicas - 1)
    if stalled:
        status["conditions"] = [
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "shop-2" has timed out progressing.',
            }
        ]
    spec: Obj = {"replicas": replicas, "selector": {"matchLabels": {"app": "shop"}}, "template": template(image)}
    if paused:
        spec["paused"] = True
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "shop",
            "namespace": "default",
            "uid": DEP_UID,
            "generation": generation,
            "annotations": notes,
        },
        "spec": spec,
        "status": status,
    }


def replicaset(revision: int, image: str, owner_uid: str = DEP_UID, annotations: Obj | None = None) -> Obj:
    tpl = template(image)
    tpl["metadata"]["labels"]["pod-template-hash"] = f"hash{revision}"
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"shop-hash{revision}",
            "namespace": "default",
            "annotations": {"deployment.kubernetes.io/revision": str(revision), **(annotations or {})},
            "ownerReferences": [{"kind": "Deployment", "name": "shop", "uid": owner_uid, "controller": True}],
        },
        "spec": {"template": tpl},
    }


def http_check(name: str = "home", critical: bool = True) -> Obj:
    return {"name": name, "critical": critical, "http": {"url": "http://shop.default.svc:8080/"}}


def rv_body(
    checks: list[Obj] | None = None,
    policy: str = "Automatic",
    status: Obj | None = None,
    delay: int = 0,
    timeout: int = 60,
    extra_spec: Obj | None = None,
) -> Obj:
    spec: Obj = {
        "targetRef": {"name": "shop"},
        "delaySeconds": delay,
        "timeoutSeconds": timeout,
        "rollback": {"policy": policy},
        "checks": checks or [http_check()],
        **(extra_spec or {}),
    }
    body: Obj = {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": "shop", "namespace": "default", "uid": RV_UID, "generation": 1},
        "spec": spec,
    }
    if status is not None:
        body["status"] = copy.deepcopy(status)
    return body


def finished_job(job: Obj, succeeded: bool = True, at: datetime = NOW) -> Obj:
    out = copy.deepcopy(job)
    condition = {"type": "Complete" if succeeded else "Failed", "status": "True"}
    if not succeeded:
        condition.update(reason="DeadlineExceeded", message="Job was active longer than specified deadline")
    out["status"] = {
        "conditions": [condition],
        "startTime": (at - timedelta(seconds=1)).isoformat(),
        "completionTime": at.isoformat(),
    }
    return out


def report(checks: list[tuple[str, str, bool]]) -> str:
    """A probe report's JSON: (name, result, critical) per check."""
    failed = [n for n, r, c in checks if c and r in ("Failed", "Error")]
    return json.dumps(
        {
            "apiVersion": "releaseguard.io/v1alpha1",
            "kind": "ProbeReport",
            "verdict": "Failed" if failed else "Passed",
            "failedCritical": failed,
            "message": f"{len(failed)} critical checks failed" if failed else "all passed",
            "summary": {
                "total": len(checks),
                "passed": sum(1 for _, r, _ in checks if r == "Passed"),
                "failed": sum(1 for _, r, _ in checks if r == "Failed"),
            },
            "checks": [
                {"name": n, "type": "http", "critical": c, "result": r, "message": f"{n} {r.lower()}"}
                for n, r, c in checks
            ],
        }
    )
