"""The Helm chart, rendered by Helm's own Go engine (helm-python-sdk) and checked like a cluster would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "releaseguard"
BUILT_IN_GROUPS = ("v1", "apps/v1", "rbac.authorization.k8s.io/v1", "apiextensions.k8s.io/v1", "networking.k8s.io/v1")


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    manifests = helm.Chart.load(CHART).render(values, name="rg", namespace="releaseguard", is_install=True)
    return [doc for text in manifests.values() for doc in yaml.safe_load_all(text) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def operator_args(docs: list[dict[str, Any]]) -> list[str]:
    (deployment,) = of_kind(docs, "Deployment")
    return list(deployment["spec"]["template"]["spec"]["containers"][0]["args"])


def operator_cluster_roles(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The operator's ClusterRole (not the aggregated ones for people, which nothing binds)."""
    return [r for r in of_kind(docs, "ClusterRole") if "aggregate" not in " ".join(r["metadata"]["labels"])]


def test_lint_is_clean() -> None:
    report = helm.lint(CHART, strict=True)
    assert report["errors"] == []
    assert not [m for m in report["messages"] if m["severity"] >= 2], report["messages"]


@pytest.mark.parametrize(
    "values",
    [
        None,
        {
            "watch": {"allNamespaces": False, "namespaces": ["shop", "payments"]},
            "probeNetworkPolicy": {"enabled": True},
        },
        {"replicaCount": 2, "prometheusRule": {"enabled": True}, "metrics": {"serviceMonitor": {"enabled": True}}},
    ],
    ids=["default", "namespaced", "ha-monitoring"],
)
def test_built_in_objects_are_valid_for_kubernetes_1_32(values: dict[str, Any] | None) -> None:
    docs = render(values)
    checked = 0
    for doc in docs:
        if doc["apiVersion"] in BUILT_IN_GROUPS:
            kubernetes_validate.validate(doc, "1.32", strict=True)
            checked += 1
    assert checked >= 5
    for doc in docs:
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/name") == "releaseguard", doc["metadata"]
        assert labels.get("app.kubernetes.io/part-of") == "releaseguard"


def test_operator_pod_is_restricted() -> None:
    (deployment,) = of_kind(render(), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["containers"][0]["securityContext"]
    assert container == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def test_default_install_watches_all_namespaces_with_a_cluster_role() -> None:
    docs = render()
    assert "--all-namespaces" in operator_args(docs)
    assert "--standalone" in operator_args(docs)
    assert [r["metadata"]["name"] for r in operator_cluster_roles(docs)] == ["rg-releaseguard"]
    assert not of_kind(docs, "Role")
    (binding,) = of_kind(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "rg-releaseguard", "namespace": "releaseguard"}]


def test_namespaced_install_gets_one_role_per_namespace_and_no_cluster_role() -> None:
    docs = render({"watch": {"allNamespaces": False, "namespaces": ["shop", "payments"]}})
    assert not operator_cluster_roles(docs) and not of_kind(docs, "ClusterRoleBinding")
    assert sorted(r["metadata"]["namespace"] for r in of_kind(docs, "Role")) == ["payments", "shop"]
    assert sorted(r["metadata"]["namespace"] for r in of_kind(docs, "RoleBinding")) == ["payments", "shop"]
    assert {"--namespace=shop", "--namespace=payments"} <= set(operator_args(docs))
    assert "--all-namespaces" not in operator_args(docs)


def test_rbac_never_reads_secrets_or_writes_what_it_only_watches() -> None:
    (role,) = operator_cluster_roles(render())
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert not [g for g in granted if g[1] == "secrets"]
    assert not [g for g in granted if "*" in g]
    assert ("apps", "deployments", "patch") in granted
    assert ("apps", "deployments", "delete") not in granted
    assert ("apps", "replicasets", "list") in granted and ("apps", "replicasets", "patch") not in granted
    assert ("batch", "jobs", "create") in granted


def test_two_replicas_use_kopf_peering() -> None:
    docs = render({"replicaCount": 2})
    assert "--peering=releaseguard" in operator_args(docs)
    assert [p["metadata"]["name"] for p in of_kind(docs, "ClusterKopfPeering")] == ["releaseguard"]
    crds = {c["metadata"]["name"] for c in of_kind(docs, "CustomResourceDefinition")}
    assert crds == {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}


def test_prometheus_rule_carries_the_tested_alert_rules() -> None:
    (rule,) = of_kind(render({"prometheusRule": {"enabled": True}}), "PrometheusRule")
    assert rule["spec"] == yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    assert not of_kind(render(), "PrometheusRule")


def test_runner_image_defaults_to_the_operator_image_and_can_be_overridden() -> None:
    assert "--runner-image=ghcr.io/releaseguard/releaseguard:0.1.0" in operator_args(render())
    args = operator_args(render({"runnerImage": "registry.local/rg:dev", "image": {"tag": "0.2.0"}}))
    assert "--runner-image=registry.local/rg:dev" in args


def test_chart_crd_is_the_generated_crd() -> None:
    chart_crd = (CHART / "crds" / "releaseverifications.releaseguard.io.yaml").read_text()
    assert chart_crd == (ROOT / "crds" / "releaseverifications.releaseguard.io.yaml").read_text(), (
        "charts/releaseguard/crds is stale: run `make manifests`"
    )


def test_policy_values_become_operator_flags_and_the_admission_policy_can_be_left_out() -> None:
    args = operator_args(render())
    assert "--excluded-namespace=kube-system" in args
    assert "--denied-network=169.254.0.0/16" in args
    assert not [a for a in args if a.startswith(("--allowed-image", "--allowed-service-account"))]
    docs = render(
        {
            "policy": {
                "allowedImages": ["registry.local/*"],
                "allowedServiceAccounts": ["probe"],
                "excludedNamespaces": [],
                "deniedNetworks": [],
            },
            "admissionPolicy": {"enabled": False},
        }
    )
    args = operator_args(docs)
    assert "--allowed-image=registry.local/*" in args and "--allowed-service-account=probe" in args
    assert "--excluded-namespace=" in args and "--denied-network=" in args  # explicitly none
    assert of_kind(docs, "ValidatingAdmissionPolicy") == []
    assert len(of_kind(render(), "ValidatingAdmissionPolicy")) == 2


def test_notification_channels_go_into_a_mounted_secret_the_operator_accepts() -> None:
    import base64

    from releaseguard.notify.config import ChannelKind, parse_config

    values = {
        "notifications": {
            "channels": {
                "team-chat": {"urls": ["mmosts://mattermost.example.com/abcdef0123456789"]},
                "tracker": {"urls": ["https://tracker.example.com/hooks/releases"], "kind": "incident"},
            },
            "links": {"dashboard": "https://grafana.example.com/d/releaseguard?var-namespace={namespace}"},
        }
    }
    docs = render(values)
    (secret,) = of_kind(docs, "Secret")
    assert secret["metadata"] == {
        **secret["metadata"],
        "name": "rg-releaseguard-notifications",
        "namespace": "releaseguard",
    }
    config = parse_config(yaml.safe_load(base64.b64decode(secret["data"]["notifications.yaml"])))
    assert config.channels["tracker"].kind is ChannelKind.INCIDENT
    assert config.retry.attempts == 5
    (deployment,) = of_kind(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert {"name": "notifications", "secret": {"secretName": "rg-releaseguard-notifications"}} in pod["volumes"]
    assert "--notifications-config=/etc/releaseguard/notifications/notifications.yaml" in operator_args(docs)
    own = render({"notifications": {"existingSecret": "my-channels"}})
    assert not of_kind(own, "Secret")
    (deployment,) = of_kind(own, "Deployment")
    assert {"name": "notifications", "secret": {"secretName": "my-channels"}} in deployment["spec"]["template"]["spec"][
        "volumes"
    ]


def test_dashboard_configmap_carries_the_generated_dashboard_for_grafanas_sidecar() -> None:
    import json

    (config_map,) = of_kind(render(), "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads(config_map["data"]["releaseguard.json"])
    assert shipped == json.loads((ROOT / "dashboards" / "releaseguard.json").read_text())
    assert shipped["uid"] == "releaseguard"
    assert not of_kind(render({"dashboard": {"enabled": False}}), "ConfigMap")
