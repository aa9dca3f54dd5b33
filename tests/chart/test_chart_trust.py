"""What the chart ships for who may make the operator act: the operator's own rights (exactly the
calls it makes, per namespace in the recommended shape, never in an excluded namespace), the
aggregated roles people get through `view`/`edit`/`admin`, the operator's username in the outputs
policy, and the opt-in egress NetworkPolicy of the probe pods. Rendered by Helm's own engine; that
the real API server enforces them is proven in tests/e2e/test_trust_*_real.py."""

from __future__ import annotations

import ipaddress
from typing import Any

import helm_python as helm
import pytest
import yaml
from test_chart import CHART, of_kind, operator_cluster_roles, render

from releaseguard.core.jobs import labels_for

ROOT = CHART.parents[1]
Obj = dict[str, Any]
Grant = tuple[str, str, str]
NAMESPACED = {"watch": {"allNamespaces": False, "namespaces": ["shop", "payments"]}}


def granted(role: Obj) -> set[Grant]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


# Every call in operator/releaseguard/operator/kube.py, and what kopf lists and watches for the
# handlers (rvs, Deployments, Jobs) and posts (Events): nothing more.
OPERATOR_NAMESPACED: set[Grant] = {
    ("releaseguard.io", "releaseverifications", "get"),  # get_rv
    ("releaseguard.io", "releaseverifications", "list"),  # kopf
    ("releaseguard.io", "releaseverifications", "watch"),  # kopf
    ("releaseguard.io", "releaseverifications/status", "patch"),  # patch_rv_status, patch_rv_flakiness
    ("releaseguard.io", "releaseverifications/finalizers", "update"),  # blockOwnerDeletion (see _helpers.tpl)
    ("releaseguard.io", "verificationruns", "get"),  # get_vrun
    ("releaseguard.io", "verificationruns", "list"),  # list_vruns
    ("releaseguard.io", "verificationruns", "create"),  # create_vrun
    ("releaseguard.io", "verificationruns", "delete"),  # delete_vrun (retention)
    ("releaseguard.io", "verificationruns/status", "patch"),  # patch_vrun_status
    ("apps", "deployments", "get"),  # get_deployment
    ("apps", "deployments", "list"),  # kopf
    ("apps", "deployments", "watch"),  # kopf
    ("apps", "deployments", "patch"),  # json_patch_deployment: roll back, pause, un-pause
    ("apps", "replicasets", "list"),  # replicasets_of
    ("batch", "jobs", "get"),  # get_job
    ("batch", "jobs", "list"),  # kopf
    ("batch", "jobs", "watch"),  # kopf
    ("batch", "jobs", "create"),  # create_job
    ("batch", "jobs", "delete"),  # delete_job
    ("", "pods", "list"),  # pods_matching, probe_pods, pods_of
    ("", "pods/log", "get"),  # pod_log (sampled checks), log_tail (crash line): rbac.podLogs
    ("", "configmaps", "create"),  # the check scripts, create only
    ("", "events", "create"),  # post_event, kopf's warnings
}


def test_the_operator_gets_exactly_the_calls_it_makes() -> None:
    (role,) = operator_cluster_roles(render())
    cluster_only = {("apiextensions.k8s.io", "customresourcedefinitions", v) for v in ("get", "list", "watch")}
    assert granted(role) == OPERATOR_NAMESPACED | cluster_only
    for namespaced in of_kind(render(NAMESPACED), "Role"):
        assert granted(namespaced) == OPERATOR_NAMESPACED


def test_pod_logs_only_when_asked_and_config_maps_only_created() -> None:
    for values in ({}, NAMESPACED):
        roles = operator_cluster_roles(render(values)) + of_kind(render(values), "Role")
        assert roles
        for role in roles:
            assert ("", "pods/log", "get") in granted(role)
            assert {g for g in granted(role) if g[1] == "configmaps"} == {("", "configmaps", "create")}
        off = {**values, "rbac": {"podLogs": False}}
        for role in operator_cluster_roles(render(off)) + of_kind(render(off), "Role"):
            assert not [g for g in granted(role) if g[1] == "pods/log"]


def test_peering_rights_only_with_two_replicas() -> None:
    def peering(values: Obj) -> set[Grant]:
        docs = render(values)
        return {
            g for r in operator_cluster_roles(docs) + of_kind(docs, "Role") for g in granted(r) if g[0] == "kopf.dev"
        }

    assert peering({}) == set() and peering(NAMESPACED) == set()
    assert {g[1] for g in peering({"replicaCount": 2})} == {"clusterkopfpeerings"}
    assert {g[1] for g in peering({**NAMESPACED, "replicaCount": 2})} == {"kopfpeerings"}


def test_the_namespaced_shape_binds_nothing_cluster_wide_and_only_where_listed() -> None:
    docs = render(NAMESPACED)
    assert not of_kind(docs, "ClusterRoleBinding") and not operator_cluster_roles(docs)
    for binding in of_kind(docs, "RoleBinding"):
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "rg-releaseguard",
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "rg-releaseguard", "namespace": "releaseguard"}
        ]
    assert sorted(b["metadata"]["namespace"] for b in of_kind(docs, "RoleBinding")) == ["payments", "shop"]


@pytest.mark.parametrize(
    "values",
    [
        {"watch": {"allNamespaces": False, "namespaces": ["shop", "kube-system"]}},
        {"watch": {"allNamespaces": False, "namespaces": ["shop"]}, "policy": {"excludedNamespaces": ["shop"]}},
    ],
)
def test_an_excluded_namespace_never_gets_a_role_the_render_fails_naming_it(values: Obj) -> None:
    with pytest.raises(Exception, match=r"watch.namespaces: (kube-system|shop) is in policy.excludedNamespaces"):
        render(values)


def test_the_release_namespace_by_default_must_not_be_excluded_either() -> None:
    with pytest.raises(Exception, match=r"kube-system is in policy\.excludedNamespaces"):
        helm.Chart.load(CHART).render(
            {"watch": {"allNamespaces": False}}, name="rg", namespace="kube-system", is_install=True
        )


# --- the aggregated roles for people ---------------------------------------------------------------

RECORD = ("releaseverifications", "releaseverifications/status", "verificationruns", "verificationruns/status")
READ = {("releaseguard.io", r, v) for r in RECORD for v in ("get", "list", "watch")}
WRITE_RVS = {
    ("releaseguard.io", "releaseverifications", v) for v in ("create", "update", "patch", "delete", "deletecollection")
}
DELETE_RUNS = {("releaseguard.io", "verificationruns", v) for v in ("delete", "deletecollection")}


@pytest.mark.parametrize("values", [{}, NAMESPACED])
def test_view_edit_and_admin_aggregate_exactly_the_safe_rights(values: Obj) -> None:
    roles = {r["metadata"]["name"]: r for r in of_kind(render(values), "ClusterRole")}
    expected = {
        "rg-releaseguard-view": ("aggregate-to-view", READ),
        "rg-releaseguard-edit": ("aggregate-to-edit", READ | WRITE_RVS),
        "rg-releaseguard-admin": ("aggregate-to-admin", READ | WRITE_RVS | DELETE_RUNS),
    }
    for name, (label, rights) in expected.items():
        role = roles[name]
        assert role["metadata"]["labels"][f"rbac.authorization.k8s.io/{label}"] == "true"
        assert granted(role) == rights
        # nobody but the operator writes the record: no status, no creating or changing runs
        writes = {"create", "update", "patch"}
        assert not [g for g in granted(role) if g[1].endswith("/status") and g[2] != "get" and g[2] in writes]
        assert not [g for g in granted(role) if g[1] == "verificationruns" and g[2] in writes]


def test_the_aggregated_roles_are_in_the_plain_install() -> None:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "releaseguard.yaml").read_text()) if d]
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole"}
    assert {"releaseguard-view", "releaseguard-edit", "releaseguard-admin"} <= names


# --- the outputs policy names the chart's ServiceAccount ------------------------------------------


@pytest.mark.parametrize(
    ("values", "username"),
    [
        ({}, "system:serviceaccount:releaseguard:rg-releaseguard"),
        ({"serviceAccount": {"name": "rg-op"}}, "system:serviceaccount:releaseguard:rg-op"),
        ({"serviceAccount": {"create": False}}, "system:serviceaccount:releaseguard:default"),
    ],
)
def test_only_the_charts_service_account_writes_the_record(values: Obj, username: str) -> None:
    docs = render(values)
    (outputs,) = [
        p for p in of_kind(docs, "ValidatingAdmissionPolicy") if p["metadata"]["name"] == "outputs.releaseguard.io"
    ]
    (condition,) = [c for c in outputs["spec"]["matchConditions"] if c["name"] == "not-the-operator"]
    assert condition["expression"] == f"request.userInfo.username != '{username}'"
    (deployment,) = of_kind(docs, "Deployment")
    sa = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    assert username.endswith(f":{sa}")
    rules = outputs["spec"]["matchConstraints"]["resourceRules"]
    assert {(op, r) for rule in rules for op in rule["operations"] for r in rule["resources"]} == {
        ("UPDATE", "releaseverifications/status"),
        ("UPDATE", "verificationruns/status"),
        ("CREATE", "verificationruns"),
        ("UPDATE", "verificationruns"),
    }


# --- the probe pods' egress -------------------------------------------------------------------------


def test_no_network_policy_unless_asked() -> None:
    assert not of_kind(render(), "NetworkPolicy") and not of_kind(render(NAMESPACED), "NetworkPolicy")


def test_the_probe_network_policy_selects_the_probe_pods_and_denies_the_denied_networks() -> None:
    docs = render({**NAMESPACED, "probeNetworkPolicy": {"enabled": True}})
    policies = of_kind(docs, "NetworkPolicy")
    assert sorted(p["metadata"]["namespace"] for p in policies) == ["payments", "shop"]
    for policy in policies:
        spec = policy["spec"]
        selector = spec["podSelector"]["matchLabels"]
        # a subset of every probe pod's labels (any rv, any revision) and of nothing else the operator runs
        assert selector.items() <= labels_for("any-rv", 7).items()
        assert selector["app.kubernetes.io/name"] == "releaseguard-probe"
        assert spec["policyTypes"] == ["Egress"]
        (rule,) = spec["egress"]
        assert "ports" not in rule
        blocks = [peer["ipBlock"] for peer in rule["to"]]
        assert blocks == [
            {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16", "100.100.100.200/32"]},
            {"cidr": "::/0", "except": ["fe80::/10", "fd00:ec2::254/128"]},
        ]
        for block in blocks:
            for cidr in block["except"]:
                assert ipaddress.ip_network(cidr).subnet_of(ipaddress.ip_network(block["cidr"]))  # type: ignore[arg-type]


def test_the_probe_network_policy_follows_the_denied_networks_and_its_namespaces() -> None:
    values = {
        **NAMESPACED,
        "policy": {"deniedNetworks": ["10.0.0.0/8"]},
        "probeNetworkPolicy": {"enabled": True, "namespaces": ["shop"]},
    }
    (policy,) = of_kind(render(values), "NetworkPolicy")
    assert policy["metadata"]["namespace"] == "shop"
    assert [p["ipBlock"] for p in policy["spec"]["egress"][0]["to"]] == [
        {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]},
        {"cidr": "::/0"},
    ]


def test_with_all_namespaces_the_probe_network_policy_needs_its_namespaces_listed() -> None:
    with pytest.raises(Exception, match=r"probeNetworkPolicy\.namespaces"):
        render({"probeNetworkPolicy": {"enabled": True}})
    docs = render({"probeNetworkPolicy": {"enabled": True, "namespaces": ["a", "b"]}})
    assert sorted(p["metadata"]["namespace"] for p in of_kind(docs, "NetworkPolicy")) == ["a", "b"]
