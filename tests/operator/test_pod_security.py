"""Every pod the operator builds satisfies `restricted`, for a matrix of hostile target templates."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pss_restricted import violations

from kubesim import backends
from kubesim.real.cluster import RealCluster
from releaseguard.api import parse_release_verification
from releaseguard.core.jobs import build_jobs, refused_checks
from support.factories import RV_UID, deployment, http_check, rv_body

Obj = dict[str, Any]

CHECKS = [
    http_check("web"),
    {"name": "tcp", "tcp": {"host": "db", "port": 5432}},
    {"name": "cmd", "command": {"command": ["true"]}},
    {"name": "own-image", "command": {"command": ["true"], "image": "tools:1"}},
    {"name": "env", "python": {"env": ["PORT"]}},
    {"name": "suite", "pytest": {"args": ["-q"]}},
]

_DANGEROUS_CONTAINER_CTX: Obj = {
    "privileged": True,
    "allowPrivilegeEscalation": True,
    "runAsNonRoot": False,
    "capabilities": {"add": ["SYS_ADMIN", "NET_ADMIN", "NET_BIND_SERVICE"], "drop": []},
    "seccompProfile": {"type": "Unconfined"},
    "appArmorProfile": {"type": "Unconfined"},
    "seLinuxOptions": {"user": "system_u", "role": "system_r", "type": "spc_t", "level": "s0"},
    "procMount": "Unmasked",
    "windowsOptions": {"hostProcess": True},
}
_DANGEROUS_POD: Obj = {
    "hostNetwork": True,
    "hostPID": True,
    "hostIPC": True,
    "shareProcessNamespace": True,
    "securityContext": {
        "runAsNonRoot": False,
        "seccompProfile": {"type": "Unconfined"},
        "sysctls": [{"name": "kernel.msgmax", "value": "1"}, {"name": "net.ipv4.tcp_syncookies", "value": "1"}],
        "seLinuxOptions": {"type": "unconfined_t"},
        "appArmorProfile": {"type": "Unconfined"},
        "windowsOptions": {"hostProcess": True},
    },
}


def _hostile(mutate: Any) -> Obj:
    dep = deployment()
    spec = dep["spec"]["template"]["spec"]
    mutate(spec, spec["containers"][0])
    return dep


def _every_dangerous_thing(spec: Obj, container: Obj) -> None:
    spec.update(copy.deepcopy(_DANGEROUS_POD))
    container["securityContext"] = copy.deepcopy(_DANGEROUS_CONTAINER_CTX)
    container["ports"] = [{"containerPort": 80, "hostPort": 80}]
    container["volumeMounts"].append({"name": "cache", "mountPath": "/cache", "mountPropagation": "Bidirectional"})
    spec["volumes"] += [{"name": "cache", "emptyDir": {}}, {"name": "unused-host", "hostPath": {"path": "/"}}]
    spec["initContainers"] = [{"name": "init", "image": "x", "securityContext": {"privileged": True}}]
    spec["ephemeralContainers"] = [{"name": "debug", "image": "x", "securityContext": {"privileged": True}}]


HOSTILE: dict[str, Any] = {
    "plain": lambda spec, c: None,
    "privileged": lambda spec, c: c.update(securityContext={"privileged": True}),
    "escalation": lambda spec, c: c.update(securityContext={"allowPrivilegeEscalation": True}),
    "caps-added": lambda spec, c: c.update(securityContext={"capabilities": {"add": ["SYS_ADMIN", "ALL"]}}),
    "caps-not-dropped": lambda spec, c: c.update(securityContext={"capabilities": {"drop": ["NET_RAW"]}}),
    "host-namespaces": lambda spec, c: spec.update(hostNetwork=True, hostPID=True, hostIPC=True),
    "host-ports": lambda spec, c: c.update(ports=[{"containerPort": 8080, "hostPort": 8080}]),
    "unsafe-sysctls": lambda spec, c: spec.update(
        securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "9"}]}
    ),
    "selinux": lambda spec, c: c.update(securityContext={"seLinuxOptions": {"type": "spc_t", "user": "root"}}),
    "apparmor": lambda spec, c: c.update(securityContext={"appArmorProfile": {"type": "Unconfined"}}),
    "proc-mount": lambda spec, c: c.update(securityContext={"procMount": "Unmasked"}),
    "seccomp-unconfined": lambda spec, c: spec.update(securityContext={"seccompProfile": {"type": "Unconfined"}}),
    "run-as-non-root-false": lambda spec, c: c.update(securityContext={"runAsNonRoot": False}),
    "host-process": lambda spec, c: c.update(securityContext={"windowsOptions": {"hostProcess": True}}),
    "unmounted-host-path": lambda spec, c: spec["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
    "unmounted-nfs": lambda spec, c: spec["volumes"].append({"name": "n", "nfs": {"server": "x", "path": "/"}}),
    "bidirectional-mount": lambda spec, c: c["volumeMounts"][0].update(mountPropagation="Bidirectional"),
    "garbage-types": lambda spec, c: c.update(securityContext={"capabilities": "ALL", "seLinuxOptions": 7}),
    "everything": _every_dangerous_thing,
}

REFUSED: dict[str, tuple[Any, str]] = {
    "user-not-a-number": (
        lambda spec, c: c.update(securityContext={"runAsUser": "root"}),
        "spec.template.spec.containers[0].securityContext.runAsUser",
    ),
    "root-container": (
        lambda spec, c: c.update(securityContext={"runAsUser": 0}),
        "spec.template.spec.containers[0].securityContext.runAsUser",
    ),
    "root-pod": (
        lambda spec, c: spec.update(securityContext={"runAsUser": 0}),
        "spec.template.spec.securityContext.runAsUser",
    ),
    "mounted-host-path": (
        lambda spec, c: spec.update(volumes=[{"name": "config", "hostPath": {"path": "/etc/shop"}}]),
        "spec.template.spec.volumes[0].hostPath",
    ),
    "mounted-nfs": (
        lambda spec, c: spec.update(volumes=[{"name": "config", "nfs": {"server": "10.0.0.1", "path": "/"}}]),
        "spec.template.spec.volumes[0].nfs",
    ),
}

TARGET_CHECKS = {"cmd", "env", "suite"}


def _pods(dep: Obj, **spec: Any) -> list[tuple[str, Obj]]:
    rv = parse_release_verification(rv_body(checks=CHECKS, extra_spec=spec))
    return [
        (job["metadata"]["annotations"]["releaseguard.io/checks"], job["spec"]["template"])
        for job in build_jobs(rv, RV_UID, dep, 3)
    ]


def test_the_checker_catches_what_it_should() -> None:
    dep = _hostile(_every_dangerous_thing)
    found = violations(dep["spec"]["template"]["spec"])
    for control in ("host namespaces", "privileged", "capabilities", "hostPath", "sysctls", "SELinux", "AppArmor"):
        assert any(v.startswith(control) for v in found), control
    for control in ("procMount", "seccomp", "privilege escalation", "runAsNonRoot", "host ports", "HostProcess"):
        assert any(v.startswith(control) for v in found), control


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_built_pod_is_restricted(name: str) -> None:
    dep = _hostile(HOSTILE[name])
    pods = _pods(dep)
    assert {checks for checks, _ in pods} == {"web,tcp", "cmd", "own-image", "env", "suite"}
    for checks, template in pods:
        assert violations(template["spec"], template.get("metadata", {}).get("annotations")) == [], (name, checks)
        for key in ("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace", "initContainers"):
            assert key not in template["spec"]
    assert refused_checks(parse_release_verification(rv_body(checks=CHECKS)), dep) == {}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_target_that_cannot_run_restricted_is_refused_naming_the_field(name: str) -> None:
    mutate, field = REFUSED[name]
    dep = _hostile(mutate)
    rv = parse_release_verification(rv_body(checks=CHECKS))
    refused = refused_checks(rv, dep)
    assert set(refused) == TARGET_CHECKS
    assert {e.field for e in refused.values()} == {field}
    pods = _pods(dep)
    assert {checks for checks, _ in pods} == {"web,tcp", "own-image"}
    for _, template in pods:
        assert violations(template["spec"]) == []


def test_service_account_token_follows_the_target_and_is_off_for_other_images() -> None:
    def no_token(spec: Obj, container: Obj) -> None:
        spec["automountServiceAccountToken"] = False

    pods = dict(_pods(_hostile(no_token)))
    assert pods["cmd"]["spec"]["automountServiceAccountToken"] is False
    assert pods["own-image"]["spec"]["automountServiceAccountToken"] is False
    assert pods["web,tcp"]["spec"]["automountServiceAccountToken"] is False
    plain = dict(_pods(deployment()))
    assert "automountServiceAccountToken" not in plain["cmd"]["spec"]  # as the target: the default
    assert plain["own-image"]["spec"]["automountServiceAccountToken"] is False


def test_harmless_settings_of_the_target_are_kept() -> None:
    def tuned(spec: Obj, container: Obj) -> None:
        spec["securityContext"] = {
            "runAsUser": 1000,
            "fsGroup": 2000,
            "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"},
        }
        container["securityContext"] = {
            "runAsUser": 1001,
            "readOnlyRootFilesystem": True,
            "capabilities": {"add": ["NET_BIND_SERVICE"]},
        }

    pod = dict(_pods(_hostile(tuned)))["cmd"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 1000 and pod["securityContext"]["fsGroup"] == 2000
    assert pod["securityContext"]["seccompProfile"] == {"type": "Localhost", "localhostProfile": "p.json"}
    ctx = pod["containers"][0]["securityContext"]
    assert ctx["runAsUser"] == 1001 and ctx["readOnlyRootFilesystem"] is True
    assert ctx["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}


@pytest.fixture(scope="module")
def restricted_namespace(request: pytest.FixtureRequest) -> Iterator[tuple[RealCluster, str]]:
    if "real" not in backends.selected():
        pytest.skip("RG_BACKENDS excludes the real control plane, whose PodSecurity admission is the proof")
    real: RealCluster = request.getfixturevalue("real_cluster")
    name = "pss-restricted"
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            },
        },
    }
    real.kubectl("apply", "-f", "-", input=json.dumps(namespace))
    yield real, name
    real.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_real_api_server_admits_every_built_pod_under_restricted(
    restricted_namespace: tuple[RealCluster, str], name: str
) -> None:
    """The proof is the real kube-apiserver's PodSecurity admission (a server-side dry run, so
    nothing runs): every pod the operator builds from a hostile target template is admitted in a
    namespace enforcing restricted, with no warning, while the target's own template is refused."""
    real, namespace = restricted_namespace
    dep = _hostile(HOSTILE[name])
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"probe-{i}", "namespace": namespace, **template.get("metadata", {})},
            "spec": template["spec"],
        }
        for i, (_, template) in enumerate(_pods(dep))
    ]
    admitted = real.kubectl(
        "create",
        "--dry-run=server",
        "-f",
        "-",
        input=json.dumps({"kind": "List", "apiVersion": "v1", "items": pods}),
        check=False,
    )
    assert admitted.returncode == 0, (name, admitted.stderr)
    assert "Warning" not in admitted.stderr, admitted.stderr
    target = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "target", "namespace": namespace}}
    refused = real.kubectl(
        "create",
        "--dry-run=server",
        "-f",
        "-",
        input=json.dumps({**target, "spec": dep["spec"]["template"]["spec"]}),
        check=False,
    )
    # (the hostile templates are refused as pods: by PodSecurity, or already by validation)
    assert refused.returncode != 0, (name, refused.stdout)
