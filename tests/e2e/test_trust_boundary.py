"""The trust boundary on kubesim, with the operator as a real subprocess: a planted secret appears
nowhere; the hostile corpus is refused by the API server or reported SpecValid=False naming the
field, creates no Job, and leaves the operator serving a good rv next to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from rg_harness import Cluster, Operator, health_check, release_verification, shop_deployment, shop_service

from kubesim.testing import KubeSim
from support import eventually
from support.hostile_corpus import ALLOWED_IMAGES, corpus

pytestmark = pytest.mark.slow
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def policy_operator(sim: KubeSim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    op = Operator(sim, tmp_path_factory.mktemp("operator"), "--allowed-image", ALLOWED_IMAGES).start()
    yield op
    op.stop()


def test_a_planted_secret_appears_in_no_status_event_log_metric_job_or_report(
    cluster: Cluster, policy_operator: Operator
) -> None:
    token = "pl4nted-Secret-Value-7c1e"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "shop-smoke"},
        "stringData": {"token": f"{token}\n"},  # what `kubectl create secret --from-file` gives
    }
    header = {"name": "X-Api-Key", "valueFrom": {"secretKeyRef": {"name": "shop-smoke", "key": "token"}}}
    leaky = {
        "name": "leaky",
        "critical": False,
        "http": {
            "url": f"http://shop.{cluster.ns}.svc:8080/api/echo",
            "headers": [header],
            "json": [
                {"path": "$.headers['x-api-key']", "equals": "something else"},
                {"path": "$.headers['x-api-key']", "matches": "^nothing$"},
            ],
        },
    }
    sent = {
        "name": "sent",
        "http": {
            "url": f"http://shop.{cluster.ns}.svc:8080/api/echo",
            "headers": [header],
            "json": [{"path": "$.headers['x-api-key']", "matches": "^pl4nted-Secret-Value-7c1[e]$"}],
        },
    }
    cluster.apply(
        secret,
        shop_service(),
        shop_deployment("shop:1.0"),
        release_verification(cluster.ns, [sent, leaky, health_check(cluster.ns)], policy="Never"),
    )
    status = cluster.wait_phase("Verified", revision=1)
    results = {c["name"]: (c["result"], c.get("message", "")) for c in status["lastRun"]["checks"]}
    assert results["sent"][0] == "Passed"  # the value, without its newline, reached the app
    assert results["leaky"][0] == "Failed" and "***" in results["leaky"][1]

    pods = json.loads(cluster.kubectl("get", "pods", "-o", "json").stdout)["items"]
    probe_pods = [
        p["metadata"]["name"] for p in pods if "releaseguard.io/releaseverification" in p["metadata"]["labels"]
    ]
    assert probe_pods
    seen = {
        "rv": cluster.kubectl("get", "rv", "shop", "-o", "json").stdout,
        "events": cluster.kubectl("get", "events", "-o", "json").stdout,
        "jobs": cluster.kubectl("get", "jobs", "-o", "json").stdout,
        "pods (termination messages: the reports)": json.dumps(pods),
        "probe pod logs": "".join(cluster.kubectl("logs", name, check=False).stdout for name in probe_pods),
        "operator log": policy_operator.log(),
        "metrics": policy_operator.metrics(),
    }
    assert "terminated" in seen["pods (termination messages: the reports)"]
    for where, text in seen.items():
        for form in (token, json.dumps(token + "\n")[1:-1], repr(token + "\n")[1:-1]):
            assert form not in text, f"the secret leaked into {where}"


def test_the_hostile_corpus_is_refused_naming_the_field_and_runs_nothing(
    cluster: Cluster, policy_operator: Operator
) -> None:
    entries = corpus(cluster.ns)
    good = release_verification(cluster.ns, [health_check(cluster.ns)], name="shop")
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), good)
    # one create per document: a 400 (an object where a list belongs is "unknown fields" to the
    # real server's strict decoding) does not name the object it refuses
    refused: dict[str, str] = {}
    created: set[str] = set()
    for name, doc, _ in entries:
        result = cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(doc, width=1 << 30), check=False)
        if result.returncode == 0:
            created.add(name)
        else:
            refused[name] = result.stderr
    for name, _, field in entries:
        if name in refused:
            assert field in refused[name], (name, field, refused[name][:500])
    accepted = [(name, field) for name, _, field in entries if name in created]

    def all_reported() -> bool:
        for name, field in accepted:
            condition = cluster.condition("SpecValid", rv=name)
            if condition.get("status") != "False":
                return False
            assert field in condition["message"], (name, field, condition["message"][:500])
        return True

    eventually(all_reported, 60, "SpecValid=False on every accepted hostile rv")
    cluster.wait_phase("Verified", revision=1)  # the good rv next to them is served
    invalid = {name for name, _, _ in entries}
    labels = [j["metadata"]["labels"].get("releaseguard.io/releaseverification") for j in cluster.jobs()]
    assert not invalid & set(labels)
    print(f"hostile corpus: {len(refused)} refused by the API server, {len(accepted)} by the operator")


def test_a_target_that_cannot_run_restricted_and_a_pod_that_never_ran_end_error_not_failed(
    cluster: Cluster, policy_operator: Operator
) -> None:
    root = shop_deployment("shop:1.0")
    root["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"runAsUser": 0}
    checks = [
        health_check(cluster.ns),
        {"name": "as-root", "command": {"command": ["true"]}},
        {
            "name": "no-image",
            "timeoutSeconds": 2,
            "command": {"command": ["true"], "image": "ghcr.io/releaseguard/nope:1"},
        },
    ]
    # The app itself runs as root here, which a namespace enforcing restricted would refuse (the
    # real API server's PodSecurity does): relax this namespace to baseline for the app's sake.
    cluster.kubectl("label", "namespace", cluster.ns, "pod-security.kubernetes.io/enforce=baseline", "--overwrite")
    cluster.apply(shop_service(), root, release_verification(cluster.ns, checks, timeoutSeconds=8))
    status = cluster.wait_phase("Error", revision=1, timeout=90)
    results = {c["name"]: c for c in status["lastRun"]["checks"]}
    assert results["health"]["result"] == "Passed"
    assert results["as-root"]["result"] == "Error"
    assert "spec.template.spec.containers[0].securityContext.runAsUser" in results["as-root"]["message"]
    assert results["no-image"]["result"] == "Error", results["no-image"]
    assert status["lastRun"]["verdict"] == "Error"
    assert "RolledBack" not in cluster.event_reasons("ReleaseVerification", "shop")
    job_checks = [j["metadata"]["annotations"]["releaseguard.io/checks"] for j in cluster.jobs()]
    assert "as-root" not in job_checks  # never run with more than restricted allows
