from __future__ import annotations

import hashlib
import json
import re

import pytest

from releaseguard.api import parse_release_verification
from releaseguard.core.jobs import (
    REVISION_LABEL,
    RV_LABEL,
    build_jobs,
    group_checks,
    job_finished,
    job_name,
    launcher_source,
    restricted_container_context,
    script_configmap,
    script_configmap_name,
    script_sha256,
    uses_script,
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
    configmap = script_configmap_name("shop")
    assert pod["volumes"] == [
        {"name": "config", "configMap": {"name": "shop"}},
        {"name": "releaseguard-check-script", "configMap": {"name": configmap, "defaultMode": 0o444}},
    ]
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # what a person reads in `kubectl get job -o yaml`: the interpreter and the launcher, the mounted
    # script with the digest it must have and the ConfigMap it comes from, then the check
    command = container["command"]
    assert command[:3] == ["python", "-c", launcher_source()]
    assert command[3:6] == ["/etc/releaseguard/check.py", script_sha256(), configmap]
    assert command[6] == "run"
    assert json.loads(command[7])["command"]["command"] == ["shop", "--selftest"]
    assert command[8:] == ["/dev/termination-log"]
    assert len(launcher_source()) < 2500 and not launcher_source().startswith('"""')
    assert len(json.dumps(target)) < 5500


def test_the_check_script_configmap_is_immutable_named_after_its_digest_and_owned_by_the_rv() -> None:
    from releaseguard.probe.checks.standalone import script_source

    rv = parse_release_verification(rv_body(checks=[{"name": "smoke", "command": {"command": ["true"]}}]))
    configmap = script_configmap(rv, RV_UID)
    digest = hashlib.sha256(script_source().encode()).hexdigest()
    assert script_sha256() == digest
    assert configmap["metadata"]["name"] == f"rv-shop-check-script-{digest[:12]}" == script_configmap_name("shop")
    assert configmap["immutable"] is True
    assert configmap["metadata"]["ownerReferences"][0]["uid"] == RV_UID
    assert configmap["metadata"]["ownerReferences"][0]["controller"] is True
    assert configmap["metadata"]["labels"][RV_LABEL] == "shop"
    assert REVISION_LABEL not in configmap["metadata"]["labels"]
    assert configmap["data"] == {"check.py": script_source()}
    # the Jobs mount exactly this ConfigMap and check exactly this content
    [job] = build_jobs(rv, RV_UID, deployment(), 1)
    assert uses_script(job)
    pod = job["spec"]["template"]["spec"]
    assert {
        "name": "releaseguard-check-script",
        "configMap": {"name": configmap["metadata"]["name"], "defaultMode": 0o444},
    } in pod["volumes"]
    assert hashlib.sha256(configmap["data"]["check.py"].encode()).hexdigest() in pod["containers"][0]["command"]


DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@pytest.mark.parametrize(
    "rv_name",
    ["shop", "a" * 253, "a" * 223, "a" * 224, "a" * 225, "x." + "b" * 240, "team-" * 50 + "x", "a.b" + "-c" * 100],
)
def test_the_script_configmap_name_is_a_valid_deterministic_dns_subdomain(rv_name: str) -> None:
    name = script_configmap_name(rv_name)
    assert name == script_configmap_name(rv_name)
    assert len(name) <= 253 and DNS_SUBDOMAIN.match(name), name
    assert name.endswith(f"-check-script-{script_sha256()[:12]}")
    if len(rv_name) <= 224:
        assert name == f"rv-{rv_name}-check-script-{script_sha256()[:12]}"


def test_long_rv_names_sharing_a_prefix_and_script_versions_get_their_own_configmap() -> None:
    assert script_configmap_name("a" * 240 + "x") != script_configmap_name("a" * 240 + "y")
    assert script_configmap_name("shop", "0" * 64) != script_configmap_name("shop", "1" * 64)
    assert script_configmap_name("shop", "0" * 64) == "rv-shop-check-script-000000000000"


def test_job_finished_reads_conditions_and_counts() -> None:
    assert job_finished({"status": {}}) is None
    assert job_finished({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}) == "Complete"
    assert job_finished({"status": {"conditions": [{"type": "Failed", "status": "True"}]}}) == "Failed"
    assert job_finished({"status": {"conditions": [{"type": "Failed", "status": "False"}]}}) is None
    assert job_finished({"status": {"succeeded": 1}}) == "Complete"
    assert job_finished({"status": {"failed": 1}}) == "Failed"
