from __future__ import annotations

import json

import pytest

from releaseguard.api import parse_release_verification
from releaseguard.core.jobs import (
    REVISION_LABEL,
    RV_LABEL,
    build_jobs,
    group_checks,
    job_finished,
    job_name,
    restricted_container_context,
)
from support.factories import RV_UID, deployment, http_check, rv_body


def _rv(**kwargs: object) -> object:
    return parse_release_verification(rv_body(**kwargs))  # type: ignore[arg-type]


def test_job_names_are_deterministic_and_valid_labels() -> None:
    name = job_name("shop", 3, "runner")
    assert name == job_name("shop", 3, "runner")
    assert name.startswith("rv-shop-r3-")
    assert name != job_name("shop", 4, "runner") != job_name("shop", 3, "smoke")
    long = job_name("a" * 253, 12345, "runner")
    assert len(long) <= 63
    assert long.endswith(long.rsplit("-", 1)[1])


def test_network_checks_share_one_runner_job() -> None:
    rv = parse_release_verification(
        rv_body(checks=[http_check("a"), http_check("b"), {"name": "t", "tcp": {"host": "x", "port": 1}}])
    )
    groups = group_checks(rv.spec.checks)
    assert [g.key for g in groups] == ["runner"]
    assert [c.name for c in groups[0].checks] == ["a", "b", "t"]


def test_runner_job_shape() -> None:
    rv = parse_release_verification(rv_body(extra_spec={"parallelism": 3}))
    [job] = build_jobs(rv, RV_UID, deployment(), 2, runner_image="runner:1", ttl_seconds=120)
    meta, spec = job["metadata"], job["spec"]
    assert meta["labels"][RV_LABEL] == "shop"
    assert meta["labels"][REVISION_LABEL] == "2"
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "releaseguard"
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "releaseguard.io/v1alpha1",
            "kind": "ReleaseVerification",
            "name": "shop",
            "uid": RV_UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 60
    assert spec["ttlSecondsAfterFinished"] == 120
    pod = spec["template"]["spec"]
    assert spec["template"]["metadata"]["labels"][RV_LABEL] == "shop"
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    assert container["image"] == "runner:1"
    ctx = container["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"]["drop"] == ["ALL"]
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["runAsUser"] == 65532
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    command = container["command"]
    assert command[:2] == ["releaseguard", "probe"]
    assert command[command.index("--parallelism") + 1] == "3"
    assert command[command.index("--termination-log") + 1] == "/dev/termination-log"
    checks = json.loads(command[command.index("--checks-json") + 1])["checks"]
    assert checks[0]["name"] == "home"


def test_spec_runner_image_wins() -> None:
    rv = parse_release_verification(rv_body(extra_spec={"runner": {"image": "mine:2", "serviceAccountName": "probe"}}))
    [job] = build_jobs(rv, RV_UID, deployment(), 1, runner_image="default:1")
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "mine:2"
    assert pod["serviceAccountName"] == "probe"
    assert pod["automountServiceAccountToken"] is False  # a custom image never gets the token
    rv = parse_release_verification(rv_body(extra_spec={"runner": {"serviceAccountName": "probe"}}))
    [job] = build_jobs(rv, RV_UID, deployment(), 1, runner_image="default:1")
    assert job["spec"]["template"]["spec"]["automountServiceAccountToken"] is True


def test_secret_headers_become_env_vars_never_values() -> None:
    check = {
        "name": "api",
        "http": {
            "url": "http://shop.default.svc/",
            "headers": [
                {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "bearer"}}},
                {"name": "X-Plain", "value": "1"},
            ],
        },
    }
    rv = parse_release_verification(rv_body(checks=[check]))
    [job] = build_jobs(rv, RV_UID, deployment(), 1)
    container = job["spec"]["template"]["spec"]["containers"][0]
    [env] = [e for e in container["env"] if e["name"].startswith("RG_SECRET_")]
    assert env["name"].startswith("RG_SECRET_TOK_BEARER_")
    assert env["valueFrom"] == {"secretKeyRef": {"name": "tok", "key": "bearer"}}
    checks = json.loads(container["command"][container["command"].index("--checks-json") + 1])["checks"]
    headers = checks[0]["http"]["headers"]
    assert headers[0]["valueFrom"] == {"secretKeyRef": {"name": "tok", "key": "bearer"}}
    assert headers[1]["value"] == "1"


def test_restricted_context_keeps_harmless_fields_and_forces_the_rest() -> None:
    ctx = restricted_container_context({"runAsUser": 1000, "capabilities": {"drop": ["NET_RAW"]}}, read_only_root=False)
    assert ctx["runAsUser"] == 1000
    assert ctx["capabilities"]["drop"] == ["ALL"]
    assert "readOnlyRootFilesystem" not in ctx
    assert restricted_container_context({"allowPrivilegeEscalation": True}, False)["allowPrivilegeEscalation"] is False


def test_target_image_check_runs_in_the_targets_pod_template() -> None:
    pytest.importorskip("releaseguard.probe.checks.standalone")
    check = {"name": "smoke", "command": {"command": ["shop", "--selftest"]}}
    rv = parse_release_verification(rv_body(checks=[check, http_check()]))
    jobs = build_jobs(rv, RV_UID, deployment(image="shop:9"), 4)
    assert len(jobs) == 2
    target = next(j for j in jobs if j["metadata"]["annotations"]["releaseguard.io/checks"] == "smoke")
    pod = target["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == "shop:9"
    assert container["env"] == [{"name": "PORT", "value": "8080"}]
    script = {"name": "releaseguard-check-script", "mountPath": "/etc/releaseguard", "readOnly": True}
    assert container["volumeMounts"] == [{"name": "config", "mountPath": "/etc/shop"}, script]
    assert "ports" not in container and "readinessProbe" not in container
    assert pod["volumes"] == [
        {"name": "config", "configMap": {"name": "shop"}},
        {"name": "releaseguard-check-script", "configMap": {"name": "rv-shop-check-script", "defaultMode": 0o444}},
    ]
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # what a person reads in `kubectl get job -o yaml`: the interpreter, the mounted script, the check
    command = container["command"]
    assert command[:3] == ["python", "/etc/releaseguard/check.py", "run"]
    assert json.loads(command[3])["command"]["command"] == ["shop", "--selftest"]
    assert command[4:] == ["/dev/termination-log"]
    assert len(json.dumps(target)) < 3000


def test_the_check_script_configmap_is_owned_by_the_rv() -> None:
    from releaseguard.core.jobs import script_configmap
    from releaseguard.probe.checks.standalone import script_source

    rv = parse_release_verification(rv_body(checks=[{"name": "smoke", "command": {"command": ["true"]}}]))
    configmap = script_configmap(rv, RV_UID)
    assert configmap["metadata"]["name"] == "rv-shop-check-script"
    assert configmap["metadata"]["ownerReferences"][0]["uid"] == RV_UID
    assert configmap["data"] == {"check.py": script_source()}


def test_job_finished_reads_conditions_and_counts() -> None:
    assert job_finished({"status": {}}) is None
    assert job_finished({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}) == "Complete"
    assert job_finished({"status": {"conditions": [{"type": "Failed", "status": "True"}]}}) == "Failed"
    assert job_finished({"status": {"conditions": [{"type": "Failed", "status": "False"}]}}) is None
    assert job_finished({"status": {"succeeded": 1}}) == "Complete"
    assert job_finished({"status": {"failed": 1}}) == "Failed"
