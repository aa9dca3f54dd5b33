"""A new user's first hour (issue 14), as that user does it: kubectl against kubesim, the operator
as a subprocess, `releaseguard` commands as typed; each test asserts what the user now sees."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest
from rg_harness import (
    RELEASEGUARD,
    Cluster,
    Operator,
    health_check,
    release_verification,
    shop_deployment,
    shop_service,
)

from kubesim.real.cluster import RealCluster
from releaseguard.core.jobs import script_configmap_name, script_sha256
from support import eventually

pytestmark = pytest.mark.slow


def releaseguard(cluster: Cluster, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KUBECONFIG=str(cluster.sim.kubeconfig))
    return subprocess.run([RELEASEGUARD, *args], env=env, capture_output=True, text=True, timeout=timeout)


def secret_header_check(ns: str, secret: str = "smoke-token", key: str = "token") -> dict[str, object]:
    return {
        "name": "auth",
        "http": {
            "url": f"http://shop.{ns}.svc:8080/api/echo",
            "headers": [{"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}],
        },
    }


def test_a_missing_secret_ends_the_run_at_once_with_the_pods_message(cluster: Cluster, operator: Operator) -> None:
    rv = release_verification(cluster.ns, [secret_header_check(cluster.ns)], timeoutSeconds=600)
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), rv)
    started = time.monotonic()
    status = cluster.wait_phase("Error", revision=1, timeout=30)
    assert time.monotonic() - started < 30  # not after timeoutSeconds (600 s)
    run = status["lastRun"]
    assert (run["verdict"], run["reason"]) == ("Error", "ProbeCannotStart")
    assert 'CreateContainerConfigError: secret "smoke-token" not found' in run["message"]
    assert "rolledBackTo" not in status["history"][0]
    verified = cluster.condition("Verified")
    assert verified["reason"] == "ProbeCannotStart" and 'secret "smoke-token" not found' in verified["message"]
    events = [e for e in cluster.events("ReleaseVerification", "shop") if e["reason"] == "VerificationFailed"]
    assert events and events[0]["type"] == "Warning" and "smoke-token" in events[0]["message"]
    assert not [j for j in cluster.jobs() if not (j.get("status") or {}).get("conditions")]  # none left running


def test_a_missing_secret_key_and_an_unpullable_runner_image_fail_fast(cluster: Cluster, operator: Operator) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "smoke-token"}, "stringData": {"tok": "x"}}
    rv = release_verification(cluster.ns, [secret_header_check(cluster.ns)], timeoutSeconds=600)
    cluster.apply(secret, shop_service(), shop_deployment("shop:1.0"), rv)
    status = cluster.wait_phase("Error", revision=1, timeout=30)
    assert f"couldn't find key token in Secret {cluster.ns}/smoke-token" in status["lastRun"]["message"]

    rv = release_verification(cluster.ns, [health_check(cluster.ns)], timeoutSeconds=600, name="shop")
    rv["spec"]["runner"] = {"image": "registry.example/nope:1"}
    cluster.apply(rv)
    cluster.apply(shop_deployment("shop:1.0", replicas=2))  # a scale is not a release: force one
    cluster.kubectl("rollout", "restart", "deployment/shop")
    status = cluster.wait_phase("Error", revision=2, timeout=40)
    assert status["lastRun"]["reason"] == "ProbeCannotStart"
    assert "registry.example/nope:1" in status["lastRun"]["message"]
    assert "ErrImagePull" in status["lastRun"]["message"] or "ImagePullBackOff" in status["lastRun"]["message"]


def test_a_check_that_ran_and_failed_leaves_its_job_complete(cluster: Cluster, operator: Operator) -> None:
    checks = [
        health_check(cluster.ns, "orders", "/api/orders"),
        {"name": "release", "command": {"command": ["python", "-c", "raise SystemExit(4)"]}},
    ]
    cluster.apply(shop_service(), shop_deployment("shop:1.1-error500"), release_verification(cluster.ns, checks))
    status = cluster.wait_phase("Failed", revision=1, timeout=60)
    assert {c["name"]: c["result"] for c in status["lastRun"]["checks"]} == {"orders": "Failed", "release": "Failed"}
    jobs = cluster.jobs()
    assert len(jobs) == 2
    for job in jobs:
        conditions = {c["type"]: c["status"] for c in job["status"]["conditions"]}
        assert conditions.get("Complete") == "True" and "Failed" not in conditions, job["status"]
    reasons = [e["reason"] for e in json.loads(cluster.kubectl("get", "events", "-o", "json").stdout)["items"]]
    assert "BackoffLimitExceeded" not in reasons


def test_an_invalid_spec_is_an_event_and_the_message_column(cluster: Cluster, operator: Operator) -> None:
    checks = [
        health_check(cluster.ns) | {"http": {"url": "http://x/", "json": [{"path": "$.a", "matches": "("}]}},
        health_check(cluster.ns),
    ]
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns, checks))
    status = cluster.wait_phase("Error", timeout=30)
    assert status["message"].startswith("spec.checks[0].http.json[0].matches: invalid regular expression '('")
    assert "spec.checks[1].name: duplicate check name 'health'" in status["message"]  # both at once
    [event] = [e for e in cluster.events("ReleaseVerification", "shop") if e["reason"] == "InvalidSpec"]
    assert event["type"] == "Warning" and "duplicate check name" in event["message"]
    wide = cluster.kubectl("get", "rv", "shop", "-o", "wide").stdout
    assert "MESSAGE" in wide.splitlines()[0] and "invalid regular expression" in wide, wide
    fixed = release_verification(cluster.ns, [health_check(cluster.ns)])
    cluster.apply(fixed)
    cluster.wait_phase("Verified", revision=1)
    wide = cluster.kubectl("get", "rv", "shop", "-o", "wide").stdout
    assert "revision 1: 1 of 1 checks passed" in wide, wide


def test_kubectl_explain_describes_the_status(cluster: Cluster) -> None:
    explained = cluster.kubectl("explain", "rv.status.lastRun.reason").stdout
    assert "ProbeCannotStart" in explained and "<no description>" not in explained, explained
    explained = cluster.kubectl("explain", "rv.status", "--recursive").stdout
    assert "lastGoodRevision" in explained
    for field in ("lastRollback", "history", "message"):
        text = cluster.kubectl("explain", f"rv.status.{field}").stdout
        assert "<no description>" not in text.split("FIELDS:")[0], text


def test_a_stalled_rollout_says_why_its_containers_crash(cluster: Cluster, operator: Operator) -> None:
    rv = release_verification(cluster.ns, diagnostics={"crashLog": True})  # the log's words: opted in
    cluster.apply(shop_service(), shop_deployment("shop:1.0", progressDeadlineSeconds=2), rv)
    cluster.wait_phase("Verified", revision=1)
    cluster.apply(shop_deployment("shop:1.1-broken-import", progressDeadlineSeconds=2))
    status = cluster.wait_phase("Verified", revision=3, timeout=60)
    stalled = next(h for h in status["history"] if h["revision"] == 2)
    assert stalled["reason"] == "RolloutStalled"
    assert "has timed out progressing" in stalled["message"]
    assert "container shop:" in stalled["message"]
    assert "ModuleNotFoundError" in stalled["message"], stalled["message"]  # the crash's own words, from its log
    events = [e["message"] for e in cluster.events("ReleaseVerification", "shop") if e["reason"] == "RolloutStalled"]
    assert events and "ModuleNotFoundError" in events[0]


def test_a_stalled_rollout_shows_no_log_unless_the_rv_opts_in(cluster: Cluster, operator: Operator) -> None:
    cluster.apply(
        shop_service(), shop_deployment("shop:1.0", progressDeadlineSeconds=2), release_verification(cluster.ns)
    )
    cluster.wait_phase("Verified", revision=1)
    cluster.apply(shop_deployment("shop:1.1-broken-import", progressDeadlineSeconds=2))
    status = cluster.wait_phase("Verified", revision=3, timeout=60)
    stalled = next(h for h in status["history"] if h["revision"] == 2)
    assert stalled["reason"] == "RolloutStalled"
    assert "container shop:" in stalled["message"] and "last exit 1 (Error)" in stalled["message"], stalled["message"]
    events = [e["message"] for e in cluster.events("ReleaseVerification", "shop") if e["reason"] == "RolloutStalled"]
    assert events and "container shop:" in events[0]
    for said in (stalled["message"], *events, json.dumps(status)):
        assert "ModuleNotFoundError" not in said and "Traceback" not in said


def test_manual_policy_says_what_to_type_and_records_the_rollback_done_by_hand(
    cluster: Cluster, operator: Operator
) -> None:
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns, policy="Manual"))
    cluster.wait_phase("Verified", revision=1)
    cluster.apply(shop_deployment("shop:1.1-error500"))
    cluster.wait_phase("Failed", revision=2)
    command = f"kubectl rollout undo deployment/shop --to-revision=1 -n {cluster.ns}"
    assert command in cluster.condition("RolledBack")["message"]
    waited = releaseguard(cluster, "wait", "shop", "-n", cluster.ns, "--revision", "2", "--timeout", "10")
    assert waited.returncode == 1
    assert f"to roll back, run: {command}" in waited.stdout, waited.stdout
    assert command in cluster.kubectl("get", "rv", "shop", "-o", "wide").stdout

    cluster.sim.kubectl(*command.removeprefix("kubectl ").split())  # the user does as told
    status = cluster.wait_phase("Verified", revision=3)
    rolled = cluster.condition("RolledBack")
    assert (rolled["status"], rolled["reason"]) == ("True", "RolledBackByHand")
    assert "rolled back by hand from revision 2 to revision 1 (now revision 3)" in rolled["message"]
    assert status["lastRollback"]["applied"] is True and status["lastRollback"]["appliedBy"] == "user"
    assert next(h for h in status["history"] if h["revision"] == 2)["rolledBackTo"] == 1
    assert "RolledBackByHand" in cluster.event_reasons("ReleaseVerification", "shop")


def test_releaseguard_wait_on_a_missing_rv_exits_3_at_once(cluster: Cluster) -> None:
    started = time.monotonic()
    done = releaseguard(cluster, "wait", "nope", "-n", cluster.ns, "--timeout", "60")
    assert done.returncode == 3, done.stdout + done.stderr
    assert time.monotonic() - started < 10
    assert f"ReleaseVerification 'nope' not found in namespace {cluster.ns}" in done.stderr


def test_releaseguard_wait_prints_changes_in_order_and_one_failure_summary(
    cluster: Cluster, operator: Operator
) -> None:
    checks = [
        health_check(cluster.ns),
        health_check(cluster.ns, "orders", "/api/orders"),
        health_check(cluster.ns, "orders-soft", "/api/orders", critical=False),
    ]
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns, checks))
    cluster.wait_phase("Verified", revision=1)
    env = dict(os.environ, KUBECONFIG=str(cluster.sim.kubeconfig))
    argv = [RELEASEGUARD, "wait", "shop", "-n", cluster.ns, "--revision", "2", "--timeout", "60"]
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as waiting:
        cluster.apply(shop_deployment("shop:1.1-error500"))
        out, err = waiting.communicate(timeout=90)
    assert waiting.returncode == 1, out + err
    lines = out.splitlines()
    verdict = next(i for i, line in enumerate(lines) if line.startswith("shop: revision 2 Failed"))
    assert all("revision 3" not in line for line in lines[:verdict]), out  # nothing of the rollback before
    assert len(lines[:verdict]) == len(set(lines[:verdict])), out  # one line per change
    assert lines[verdict] == (
        "shop: revision 2 Failed (CriticalChecksFailed): 1 critical check failed, 1 non-critical (orders-soft): "
        f"orders: GET http://shop.{cluster.ns}.svc:8080/api/orders -> 500 (expected 200) after 4 attempts"
    ), out
    assert [line for line in lines[verdict + 1 :] if not line.startswith("    ")] == [
        "  critical checks failed: orders",
        "  non-critical checks failed: orders-soft",
        "  rolled back to revision 1",
    ], out
    details = [line for line in lines[verdict + 1 :] if line.startswith("    ")]
    assert all(line.startswith(("    orders: Failed: GET ", "    orders-soft: Failed: GET ")) for line in details), out


def test_a_python_check_job_reads_short_and_its_script_is_a_configmap_of_the_rv(
    cluster: Cluster, operator: Operator
) -> None:
    checks = [{"name": "imports", "python": {"imports": ["shop.app"]}}]
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns, checks))
    cluster.wait_phase("Verified", revision=1)
    [job] = cluster.jobs()
    name = job["metadata"]["name"]
    shown = cluster.kubectl("get", "job", name, "-o", "yaml").stdout
    assert len(shown) < 7000, len(shown)  # was ~20 KB with the script inlined
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    script = script_configmap_name("shop")  # rv-shop-check-script-<digest of the script>
    assert command[:2] == ["python", "-c"]
    assert command[3:7] == ["/etc/releaseguard/check.py", script_sha256(), script, "run"]
    configmap = cluster.get("configmap", script) or {}
    assert "def main(" in configmap["data"]["check.py"]
    rv_uid = (cluster.get("rv", "shop") or {})["metadata"]["uid"]
    assert [r["uid"] for r in configmap["metadata"]["ownerReferences"]] == [rv_uid]
    cluster.kubectl("delete", "rv", "shop")
    deadline = time.monotonic() + 20
    while cluster.get("configmap", script) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cluster.get("configmap", script) is None  # garbage-collected with the rv


def test_releaseguard_wait_follows_every_state_and_notices_a_deleted_rv(cluster: Cluster, operator: Operator) -> None:
    env = dict(os.environ, KUBECONFIG=str(cluster.sim.kubeconfig))
    argv = [RELEASEGUARD, "wait", "shop", "-n", cluster.ns, "--timeout", "60"]
    rv = release_verification(cluster.ns, [health_check(cluster.ns)], delaySeconds=1)
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), rv)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    reasons = re.findall(r"^shop: revision 1 \w+ \((\w+):", done.stdout, re.MULTILINE)
    assert reasons[-2:] == ["Delaying", "ChecksRunning"], done.stdout  # watched, not sampled: none skipped
    assert done.stdout.splitlines()[-1] == "shop: revision 1 verified (1/1)"

    slow = release_verification(cluster.ns, [health_check(cluster.ns)], delaySeconds=60)
    cluster.apply(slow)
    cluster.kubectl("rollout", "restart", "deployment/shop")
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as waiting:
        time.sleep(2)
        cluster.kubectl("delete", "rv", "shop")
        out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 3, out + err
    assert f"ReleaseVerification {cluster.ns}/shop was deleted" in err


def test_a_job_the_api_server_refuses_ends_the_run_with_its_words(cluster: Cluster, operator: Operator) -> None:
    """On the real API server a ResourceQuota of zero Jobs refuses the create (403); kubesim has
    no quota, so there its fault switch refuses every create as invalid (422)."""
    rv = release_verification(cluster.ns, [health_check(cluster.ns)], delaySeconds=2, timeoutSeconds=600)
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), rv)
    eventually(lambda: cluster.condition("Verified").get("reason") == "Delaying", 30, "the delay before the checks")
    if isinstance(cluster.sim, RealCluster):
        quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "no-jobs"}}
        cluster.apply({**quota, "spec": {"hard": {"count/jobs.batch": "0"}}})
        status = cluster.wait_phase("Error", revision=1, timeout=20)
        refusal = "exceeded quota: no-jobs"
    else:
        cluster.sim.faults.error_code = 422  # every create is refused as invalid, as admission would
        cluster.sim.faults.error_rate = {"create": 1.0}
        try:
            status = cluster.wait_phase("Error", revision=1, timeout=20)
        finally:
            cluster.sim.faults.clear()
        refusal = "injected fault for verb create"
    assert status["lastRun"]["reason"] == "ProbeCannotStart"
    assert "creating Job" in status["lastRun"]["message"]
    assert refusal in status["lastRun"]["message"]
