"""deploy/: valid Kubernetes objects, restricted pod security, and RBAC that covers exactly the
API calls kube.py and kopf make."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
Obj = dict[str, Any]


def _render_module() -> Any:
    spec = importlib.util.spec_from_file_location("deploy_render", DEPLOY / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def manifests() -> list[Obj]:
    docs = list(yaml.safe_load_all((ROOT / "crds" / "releaseverifications.releaseguard.io.yaml").read_text()))
    docs += yaml.safe_load_all((ROOT / "crds" / "verificationruns.releaseguard.io.yaml").read_text())
    docs += yaml.safe_load_all((DEPLOY / "releaseguard.yaml").read_text())
    docs += yaml.safe_load_all((DEPLOY / "admission-policy.yaml").read_text())
    return [d for d in docs if d]


def test_deploy_is_the_chart_rendered_with_its_defaults() -> None:
    assert (DEPLOY / "releaseguard.yaml").read_text() == _render_module().render(), (
        "deploy/ is stale: run `make manifests`"
    )


def test_the_admission_policy_is_rendered_apart_from_the_chart() -> None:
    assert (DEPLOY / "admission-policy.yaml").read_text() == _render_module().render(admission_policy=True), (
        "deploy/ is stale: run `make manifests`"
    )
    assert "ValidatingAdmissionPolicy" not in (DEPLOY / "releaseguard.yaml").read_text()


@pytest.mark.slow
def test_the_readme_install_command_applies_cleanly(tmp_path: Path) -> None:
    """`kubectl apply -f crds/ -f deploy/`, as the README says, against kubesim."""
    from kubesim.testing import KubeSim

    with KubeSim(tmp_path, kubelet=False, controllers=False, strict_crds=True) as sim:
        result = sim.kubectl("apply", "-f", str(ROOT / "crds"), "-f", str(DEPLOY), check=False)
        assert result.returncode == 0, result.stderr
        assert "deployment.apps/releaseguard created" in result.stdout
        assert "clusterrole.rbac.authorization.k8s.io/releaseguard created" in result.stdout
        policy = "releaseverifications.releaseguard.io created"
        assert f"validatingadmissionpolicy.admissionregistration.k8s.io/{policy}" in result.stdout
        assert f"validatingadmissionpolicybinding.admissionregistration.k8s.io/{policy}" in result.stdout
        again = sim.kubectl("apply", "-f", str(ROOT / "crds"), "-f", str(DEPLOY)).stdout
        assert "created" not in again and "configured" not in again, again


def _one(manifests: list[Obj], kind: str, name: str) -> Obj:
    return next(m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name)


def test_every_object_validates_against_kubernetes_1_32(manifests: list[Obj]) -> None:
    kinds = {m["kind"] for m in manifests}
    assert {"CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole", "Deployment"} <= kinds
    for obj in manifests:
        if obj["apiVersion"].startswith("kopf.dev"):
            continue  # a custom resource: its schema is the CRD above
        kubernetes_validate.validate(obj, "1.32", strict=True)


def test_the_crd_comes_from_crds(manifests: list[Obj]) -> None:
    crd = _one(manifests, "CustomResourceDefinition", "releaseverifications.releaseguard.io")
    generated = yaml.safe_load((ROOT / "crds" / "releaseverifications.releaseguard.io.yaml").read_text())
    assert crd == generated


def test_operator_pod_is_restricted_and_probed_on_the_health_port(manifests: list[Obj]) -> None:
    dep = _one(manifests, "Deployment", "releaseguard")
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = pod["containers"]
    ctx = container["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert "--health-port=8081" in container["args"] and ports["health"] == 8081
    assert "--metrics-port=8000" in container["args"] and ports["metrics"] == 8000
    assert "--standalone" in container["args"] and "--all-namespaces" in container["args"]
    assert dep["spec"]["replicas"] == 1
    assert pod["serviceAccountName"] == "releaseguard"


def _allowed(rules: list[Obj], group: str, resource: str, verb: str) -> bool:
    return any(
        group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] and "*" not in r["verbs"]
        for r in rules
    )


# Every call kube.py makes (and kopf's watches), as (group, resource, verb).
NEEDED = [
    ("releaseguard.io", "releaseverifications", "list"),
    ("releaseguard.io", "releaseverifications", "watch"),
    ("releaseguard.io", "releaseverifications/status", "patch"),
    ("releaseguard.io", "verificationruns", "create"),  # the record of each run
    ("releaseguard.io", "verificationruns", "get"),
    ("releaseguard.io", "verificationruns", "list"),  # retention
    ("releaseguard.io", "verificationruns", "delete"),
    ("releaseguard.io", "verificationruns/status", "patch"),  # the verdict, once
    ("apps", "deployments", "watch"),
    ("apps", "deployments", "patch"),
    ("apps", "replicasets", "list"),
    ("batch", "jobs", "create"),
    ("batch", "jobs", "delete"),
    ("batch", "jobs", "watch"),
    ("", "pods", "list"),
    ("", "pods/log", "get"),  # the last words of a stalled rollout's crashing container
    ("", "configmaps", "create"),  # the check script of Jobs in the target's image
    ("", "events", "create"),
]  # kopf's peering objects only with two replicas or more (deploy/ runs one, --standalone): tests/chart


def test_rbac_covers_what_the_operator_does_and_no_more(manifests: list[Obj]) -> None:
    role = _one(manifests, "ClusterRole", "releaseguard")
    rules = role["rules"]
    for group, resource, verb in NEEDED:
        assert _allowed(rules, group, resource, verb), (group, resource, verb)
    for forbidden in [
        ("", "secrets", "get"),
        ("", "configmaps", "get"),
        ("", "configmaps", "delete"),
        ("apps", "deployments", "delete"),
        ("apps", "deployments", "update"),
        ("", "pods", "delete"),
        ("releaseguard.io", "releaseverifications", "patch"),
        ("releaseguard.io", "verificationruns", "patch"),
        ("releaseguard.io", "verificationruns", "update"),
        ("kopf.dev", "clusterkopfpeerings", "patch"),
        ("", "namespaces", "list"),
    ]:
        assert not _allowed(rules, *forbidden), forbidden
    binding = _one(manifests, "ClusterRoleBinding", "releaseguard")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "releaseguard", "namespace": "releaseguard"}]
