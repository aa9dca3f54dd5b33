"""Immutable ConfigMaps and Secrets, and SelfSubjectReview (`kubectl auth whoami`), driven by the
same kubectl and the same assertions on kubesim and on the real kube-apiserver (`RG_BACKENDS`), so
the two agree on what ReleaseGuard relies on: an immutable object's data cannot change (its labels
can, and it can be deleted), and the API server, not the client, says who a request comes from."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client import ApiException

from kubesim import backends
from kubesim.real.cluster import NamespacedView, RealCluster
from kubesim.testing import KubeSim

pytestmark = pytest.mark.slow
Cluster = KubeSim | NamespacedView
IMMUTABLE = "Forbidden: field is immutable when `immutable` is set"
ADMIN = {"username": "kubesim-admin", "groups": ["system:masters", "system:authenticated"]}
_names = itertools.count()


@pytest.fixture(params=backends.selected())
def sim(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """kubesim, or the real control plane seen from a namespace of its own."""
    if request.param == "real":
        real: RealCluster = request.getfixturevalue("real_cluster")
        view = real.namespaced(f"immutable-{next(_names)}", tmp_path)
        yield view
        view.close()
        return
    with KubeSim(tmp_path / "sim", kubelet=False) as s:
        yield s


def namespace_of(sim: Cluster) -> str:
    return sim.namespace if isinstance(sim, NamespacedView) else "default"


def create(sim: Cluster, obj: dict[str, Any]) -> None:
    sim.kubectl("create", "-f", "-", input=json.dumps(obj))


def get(sim: Cluster, kind: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(sim.kubectl("get", kind, name, "-o", "json").stdout)
    return obj


def refused(sim: Cluster, *args: str) -> str:
    proc = sim.kubectl(*args, check=False)
    assert proc.returncode != 0, f"kubectl {' '.join(args)} was allowed: {proc.stdout}"
    return proc.stderr


def python_client(kubeconfig: Path, headers: dict[str, str] | None = None) -> Any:
    """The official client (what the operator and the CLI's libraries speak), with extra headers."""
    api: Any = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    for name, value in (headers or {}).items():
        api.set_default_header(name, value)
    return api


def review_through_client(kubeconfig: Path, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """POST a SelfSubjectReview; the answer's status.userInfo (ApiException when refused)."""
    api = python_client(kubeconfig, headers)
    try:
        body = client.V1SelfSubjectReview(api_version="authentication.k8s.io/v1", kind="SelfSubjectReview")
        answer = api.sanitize_for_serialization(client.AuthenticationV1Api(api).create_self_subject_review(body))
    finally:
        api.close()
    info: dict[str, Any] = answer["status"]["userInfo"]
    return info


def status_of(caught: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(caught.value.body or "{}")
    return status


def configmap(name: str, immutable: bool | None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"check.py": "print('ok')"},
        "binaryData": {"blob": "AAE="},
    }
    if immutable is not None:
        obj["immutable"] = immutable
    return obj


def secret(name: str, immutable: bool | None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": {"t": "1"}}
    if immutable is not None:
        obj["immutable"] = immutable
    return obj


# ---- immutable ConfigMaps ----------------------------------------------------------------------


def test_an_immutable_configmap_refuses_every_change_to_its_data_with_the_real_message(sim: Cluster) -> None:
    create(sim, configmap("script", immutable=True))
    invalid = 'The ConfigMap "script" is invalid: '
    err = refused(sim, "patch", "configmap", "script", "-p", '{"data":{"check.py":"import os"}}')
    assert f"{invalid}data: {IMMUTABLE}" in err, err
    err = refused(sim, "patch", "configmap", "script", "-p", '{"data":{"extra":"x"}}')
    assert f"{invalid}data: {IMMUTABLE}" in err, err
    err = refused(sim, "patch", "configmap", "script", "--type=json", "-p", '[{"op":"remove","path":"/data"}]')
    assert f"{invalid}data: {IMMUTABLE}" in err, err
    err = refused(sim, "patch", "configmap", "script", "-p", '{"binaryData":{"blob":"AAI="}}')
    assert f"{invalid}binaryData: {IMMUTABLE}" in err, err
    err = refused(sim, "patch", "configmap", "script", "-p", '{"immutable":false}')
    assert f"{invalid}immutable: {IMMUTABLE}" in err, err
    err = refused(sim, "patch", "configmap", "script", "--type=json", "-p", '[{"op":"remove","path":"/immutable"}]')
    assert f"{invalid}immutable: {IMMUTABLE}" in err, err
    # several at once: kubectl lists the causes one a line
    err = refused(sim, "patch", "configmap", "script", "-p", '{"immutable":false,"data":{"check.py":"x"}}')
    assert f"* immutable: {IMMUTABLE}\n* data: {IMMUTABLE}" in err, err
    # a PUT (kubectl replace) with other data is refused the same way
    replaced = configmap("script", immutable=True) | {"data": {"check.py": "import os"}}
    proc = sim.kubectl("replace", "-f", "-", input=json.dumps(replaced), check=False)
    assert proc.returncode != 0 and f"{invalid}data: {IMMUTABLE}" in proc.stderr, proc.stderr

    stored = get(sim, "configmap", "script")
    assert stored["data"] == {"check.py": "print('ok')"} and stored["binaryData"] == {"blob": "AAE="}
    assert stored["immutable"] is True


def test_an_immutable_configmap_takes_metadata_changes_and_can_be_deleted(sim: Cluster) -> None:
    create(sim, configmap("script", immutable=True))
    rv = get(sim, "configmap", "script")["metadata"]["resourceVersion"]
    sim.kubectl("label", "configmap", "script", "releaseguard.io/owner=rv-1")
    sim.kubectl("annotate", "configmap", "script", "releaseguard.io/digest=abc")
    out = sim.kubectl("patch", "configmap", "script", "-p", '{"data":{"check.py":"print(\'ok\')"}}').stdout
    assert "(no change)" in out  # the same data again is no change, not a refusal
    stored = get(sim, "configmap", "script")
    assert stored["metadata"]["labels"] == {"releaseguard.io/owner": "rv-1"}
    assert stored["metadata"]["annotations"] == {"releaseguard.io/digest": "abc"}
    assert stored["metadata"]["resourceVersion"] != rv
    assert stored["data"] == {"check.py": "print('ok')"}
    sim.kubectl("delete", "configmap", "script")
    assert sim.kubectl("get", "configmap", "script", check=False).returncode != 0


def test_a_mutable_configmap_may_be_patched_then_frozen(sim: Cluster) -> None:
    create(sim, configmap("script", immutable=None))
    sim.kubectl("patch", "configmap", "script", "-p", '{"data":{"check.py":"v2"},"binaryData":{"blob":"AAI="}}')
    create(sim, configmap("explicit", immutable=False))
    sim.kubectl("patch", "configmap", "explicit", "-p", '{"data":{"check.py":"v2"}}')
    assert get(sim, "configmap", "explicit")["data"] == {"check.py": "v2"}
    # data and `immutable: true` in one write: the old object was mutable, so it is allowed
    sim.kubectl("patch", "configmap", "script", "-p", '{"data":{"check.py":"v3"},"immutable":true}')
    stored = get(sim, "configmap", "script")
    assert stored["data"] == {"check.py": "v3"} and stored["binaryData"] == {"blob": "AAI="}
    assert stored["immutable"] is True
    err = refused(sim, "patch", "configmap", "script", "-p", '{"data":{"check.py":"v4"}}')
    assert f'The ConfigMap "script" is invalid: data: {IMMUTABLE}' in err, err


# ---- immutable Secrets -------------------------------------------------------------------------


def test_an_immutable_secret_refuses_data_and_string_data_changes_with_the_real_message(sim: Cluster) -> None:
    create(sim, secret("token", immutable=True))
    invalid = 'The Secret "token" is invalid: '
    err = refused(sim, "patch", "secret", "token", "-p", '{"stringData":{"t":"2"}}')
    assert f"{invalid}data: {IMMUTABLE}" in err, err
    err = refused(sim, "patch", "secret", "token", "-p", '{"data":{"t":"Mg=="}}')
    assert f"{invalid}data: {IMMUTABLE}" in err, err
    err = refused(sim, "patch", "secret", "token", "-p", '{"immutable":false}')
    assert f"{invalid}immutable: {IMMUTABLE}" in err, err
    err = refused(sim, "patch", "secret", "token", "-p", '{"type":"Other","immutable":false,"stringData":{"t":"2"}}')
    assert f'* type: Invalid value: "Other": field is immutable\n* immutable: {IMMUTABLE}\n* data: {IMMUTABLE}' in err
    stored = get(sim, "secret", "token")
    assert stored["data"] == {"t": "MQ=="} and stored["immutable"] is True and stored["type"] == "Opaque"


def test_an_immutable_secret_takes_metadata_changes_and_can_be_deleted(sim: Cluster) -> None:
    create(sim, secret("token", immutable=True))
    sim.kubectl("annotate", "secret", "token", "releaseguard.io/rotated=no")
    out = sim.kubectl("patch", "secret", "token", "-p", '{"stringData":{"t":"1"}}').stdout
    assert "(no change)" in out  # stringData equal to the stored data changes nothing
    stored = get(sim, "secret", "token")
    assert stored["metadata"]["annotations"] == {"releaseguard.io/rotated": "no"}
    sim.kubectl("delete", "secret", "token")
    assert sim.kubectl("get", "secret", "token", check=False).returncode != 0


def test_a_mutable_secret_may_be_patched_but_never_change_its_type(sim: Cluster) -> None:
    create(sim, secret("token", immutable=None))
    sim.kubectl("patch", "secret", "token", "-p", '{"stringData":{"t":"2"}}')
    sim.kubectl("patch", "secret", "token", "-p", '{"data":{"u":"Mw=="}}')
    assert get(sim, "secret", "token")["data"] == {"t": "Mg==", "u": "Mw=="}
    err = refused(sim, "patch", "secret", "token", "-p", '{"type":"Other"}')
    assert 'The Secret "token" is invalid: type: Invalid value: "Other": field is immutable' in err, err


def test_the_refusal_status_is_the_real_servers(sim: Cluster) -> None:
    """What the operator's Python client sees: 422 Invalid, the aggregated message, one cause a field."""
    create(sim, configmap("script", immutable=True))
    api = python_client(sim.kubeconfig)
    try:
        with pytest.raises(ApiException) as caught:
            client.CoreV1Api(api).patch_namespaced_config_map(
                "script", namespace_of(sim), {"immutable": False, "data": {"check.py": "x"}}
            )
    finally:
        api.close()
    assert caught.value.status == 422
    status = status_of(caught)
    assert status["reason"] == "Invalid"
    assert status["message"] == f'ConfigMap "script" is invalid: [immutable: {IMMUTABLE}, data: {IMMUTABLE}]'
    causes = [(c["field"], c["reason"], c["message"]) for c in status["details"]["causes"]]
    assert causes == [
        ("immutable", "FieldValueForbidden", IMMUTABLE),
        ("data", "FieldValueForbidden", IMMUTABLE),
    ]


# ---- SelfSubjectReview -------------------------------------------------------------------------


def whoami(sim: Cluster, *args: str) -> dict[str, Any]:
    review = json.loads(sim.kubectl("auth", "whoami", "-o", "json", *args).stdout)
    assert review["kind"] == "SelfSubjectReview" and review["apiVersion"] == "authentication.k8s.io/v1"
    info: dict[str, Any] = review["status"]["userInfo"]
    info.pop("extra", None)  # the real server adds the admin certificate's or the token's credential id
    return info


def test_whoami_names_the_admin_as_the_real_control_plane_does(sim: Cluster) -> None:
    assert whoami(sim) == ADMIN
    table = sim.kubectl("auth", "whoami").stdout
    assert "kubesim-admin" in table and "[system:masters system:authenticated]" in table


def test_whoami_names_the_impersonated_user_and_groups(sim: Cluster) -> None:
    assert whoami(sim, "--as=alice", "--as-group=team") == {
        "username": "alice",
        "groups": ["team", "system:authenticated"],
    }
    assert whoami(sim, "--as=alice") == {"username": "alice", "groups": ["system:authenticated"]}
    assert whoami(sim, "--as=alice", "--as-group=a", "--as-group=b", "--as-uid=u-1") == {
        "username": "alice",
        "uid": "u-1",
        "groups": ["a", "b", "system:authenticated"],
    }
    assert whoami(sim, "--as=bob", "--as-group=system:authenticated") == {
        "username": "bob",
        "groups": ["system:authenticated"],
    }
    ns = namespace_of(sim)
    assert whoami(sim, f"--as=system:serviceaccount:{ns}:probe") == {
        "username": f"system:serviceaccount:{ns}:probe",
        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
    }


def test_whoami_is_refused_to_an_unauthenticated_identity(sim: Cluster) -> None:
    proc = sim.kubectl("auth", "whoami", "--as=alice", "--as-group=system:unauthenticated", check=False)
    assert proc.returncode != 0
    assert "the selfsubjectreviews API is not enabled in the cluster or you do not have permission" in proc.stderr
    # the allowed case for the same name: authenticated
    assert whoami(sim, "--as=alice")["username"] == "alice"


def token_kubeconfig(sim: Cluster, token: str, path: Path) -> Path:
    """A kubeconfig whose only credential is `token` (no client certificate to take precedence)."""
    if isinstance(sim, NamespacedView):
        return sim.cluster.control_plane.write_kubeconfig(path, token=token, namespace=sim.namespace)
    doc = yaml.safe_load(sim.kubeconfig.read_text())
    doc["users"][0]["user"] = {"token": token}
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_service_account_token_is_named_as_its_service_account(sim: Cluster, tmp_path: Path) -> None:
    """Through the Python client (kubectl sends no token over kubesim's plain http): the token from
    the TokenRequest API names the ServiceAccount, whichever backend issued it."""
    ns = namespace_of(sim)
    sim.kubectl("create", "serviceaccount", "probe")
    token = sim.kubectl("create", "token", "probe").stdout.strip()
    info = review_through_client(token_kubeconfig(sim, token, tmp_path / "probe.kubeconfig"))
    assert info["username"] == f"system:serviceaccount:{ns}:probe"
    assert info["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]


def test_selfsubjectreviews_are_discovered_created_and_never_stored(sim: Cluster) -> None:
    resources = sim.kubectl("api-resources", "--api-group=authentication.k8s.io", "-o", "wide").stdout
    line = next(row.split() for row in resources.splitlines() if row.startswith("selfsubjectreviews "))
    assert line == ["selfsubjectreviews", "authentication.k8s.io/v1", "false", "SelfSubjectReview", "create"]
    # a review's content is not believed: the answer is who asked
    forged = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "SelfSubjectReview",
        "status": {"userInfo": {"username": "mallory", "groups": ["system:masters"]}},
    }
    answer = json.loads(sim.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(forged)).stdout)
    answer["status"]["userInfo"].pop("extra", None)
    assert answer["status"]["userInfo"] == ADMIN
    err = sim.kubectl("get", "selfsubjectreviews", check=False).stderr
    assert "(MethodNotAllowed): the server does not allow this method on the requested resource" in err, err


def test_impersonating_groups_without_a_user_is_a_bad_request(sim: Cluster) -> None:
    """kubectl refuses `--as-group` without `--as` itself; the server's own answer, through the client."""
    with pytest.raises(ApiException) as caught:
        review_through_client(sim.kubeconfig, {"Impersonate-Group": "team"})
    assert caught.value.status == 400
    assert status_of(caught)["message"] == (
        'requested &user.DefaultInfo{Name:"", UID:"", Groups:[]string{"team"}, '
        "Extra:map[string][]string(nil)} without impersonating a user name"
    )
    # the allowed case: the same client with a user
    info = review_through_client(sim.kubeconfig, {"Impersonate-User": "alice", "Impersonate-Group": "team"})
    assert info == {"username": "alice", "groups": ["team", "system:authenticated"]}
