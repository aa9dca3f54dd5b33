"""Discovery (legacy and aggregated), OpenAPI v3, server-side Tables and pod logs, over raw HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from simhelpers import CRD, apply, deployment

from kubesim.testing import KubeSim

pytestmark = pytest.mark.slow

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def test_starts_well_under_a_second(tmp_path: Path) -> None:
    start = time.monotonic()
    with KubeSim(tmp_path) as sim:
        elapsed = time.monotonic() - start
        assert httpx.get(f"{sim.url}/version").status_code == 200
    assert elapsed < 1.0


def test_discovery_documents(sim: KubeSim) -> None:
    sim.kubectl("apply", "-f", str(CRD))
    core = httpx.get(f"{sim.url}/api/v1").json()
    pods = next(r for r in core["resources"] if r["name"] == "pods")
    assert pods["namespaced"] and pods["kind"] == "Pod" and "watch" in pods["verbs"] and "po" in pods["shortNames"]
    assert {"pods/status", "pods/log"} <= {r["name"] for r in core["resources"]}
    groups = {g["name"] for g in httpx.get(f"{sim.url}/apis").json()["groups"]}
    assert {
        "apps",
        "batch",
        "events.k8s.io",
        "coordination.k8s.io",
        "apiextensions.k8s.io",
        "releaseguard.io",
    } <= groups
    rv = httpx.get(f"{sim.url}/apis/releaseguard.io/v1alpha1").json()["resources"]
    main = next(r for r in rv if r["name"] == "releaseverifications")
    assert main["shortNames"] == ["rv", "relver"] and main["categories"] == ["releaseguard"]
    assert any(r["name"] == "releaseverifications/status" for r in rv)
    agg = httpx.get(f"{sim.url}/apis", headers={"Accept": AGGREGATED})
    assert "as=APIGroupDiscoveryList" in agg.headers["Content-Type"]
    apps = next(i for i in agg.json()["items"] if i["metadata"]["name"] == "apps")
    deploy = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert {s["subresource"] for s in deploy["subresources"]} == {"status", "scale"}
    assert httpx.get(f"{sim.url}/apis/nope.io/v1").status_code == 404


def test_openapi_v3_carries_gvk_and_field_validation(sim: KubeSim) -> None:
    sim.kubectl("apply", "-f", str(CRD))
    index = httpx.get(f"{sim.url}/openapi/v3").json()["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/releaseguard.io/v1alpha1"} <= set(index)
    doc = httpx.get(f"{sim.url}{index['apis/releaseguard.io/v1alpha1']['serverRelativeURL']}").json()
    patch = doc["paths"]["/apis/releaseguard.io/v1alpha1/namespaces/{namespace}/releaseverifications/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "releaseguard.io",
        "version": "v1alpha1",
        "kind": "ReleaseVerification",
    }
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]


def test_server_side_tables(sim: KubeSim) -> None:
    apply(sim, deployment("web", replicas=2))
    sim.kubectl("rollout", "status", "deploy/web", "--timeout=20s")
    table = httpx.get(f"{sim.url}/apis/apps/v1/namespaces/default/deployments", headers={"Accept": TABLE}).json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert table["rows"][0]["cells"][:4] == ["web", "2/2", 2, 2]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    full = httpx.get(
        f"{sim.url}/api/v1/namespaces/default/pods", params={"includeObject": "Object"}, headers={"Accept": TABLE}
    ).json()
    assert full["rows"][0]["object"]["kind"] == "Pod" and full["rows"][0]["cells"][2] == "Running"
    out = sim.kubectl("get", "pods").stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] and len(out) == 3


def test_pod_log_comes_from_the_kubelet(kubesim: KubeSim) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "talker"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": "main", "image": "releaseguard:dev", "command": ["python", "-c", "print('one'); print('two')"]}
            ],
        },
    }
    apply(kubesim, pod)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = kubesim.kubectl("logs", "talker", check=False)
        if out.returncode == 0 and "two" in out.stdout:
            break
        time.sleep(0.1)
    assert kubesim.kubectl("logs", "talker").stdout.split() == ["one", "two"]
    assert kubesim.kubectl("logs", "talker", "--tail=1").stdout.split() == ["two"]


def test_crds_a_real_server_rejects_get_a_warning_or_are_rejected_when_strict(tmp_path: Path) -> None:
    bad = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Thing", "plural": "things"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {"a": {"type": "string"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    with KubeSim(tmp_path / "lenient", kubelet=False) as sim:
        proc = sim.kubectl("apply", "-f", "-", input=json.dumps(bad))
        assert "Warning: a real apiserver rejects this CRD" in proc.stderr
        assert "additionalProperties and properties are mutual exclusive" in proc.stderr
    with KubeSim(tmp_path / "strict", kubelet=False, strict_crds=True) as sim:
        proc = sim.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
        assert proc.returncode != 0 and "is invalid" in proc.stderr and "mutual exclusive" in proc.stderr


def test_follow_logs_streams_until_the_pod_finishes(kubesim: KubeSim) -> None:
    script = "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.3)\n"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "counter"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "releaseguard:dev", "command": ["python", "-c", script]}],
        },
    }
    apply(kubesim, pod)
    deadline = time.monotonic() + 20
    while kubesim.kubectl("logs", "counter", check=False).returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    out = kubesim.kubectl("logs", "-f", "counter", timeout=30).stdout
    assert out.split() == ["0", "1", "2"]


def test_pod_logs_refuse_text_plain_as_the_real_server_does(tmp_path: Path) -> None:
    """kube-apiserver 1.37 answers `Accept: text/plain` on pods/log with 406 (seen when the
    operator read a crashed container's log on the real control plane)."""
    import urllib.error
    import urllib.request

    with KubeSim(tmp_path / "sim", kubelet=False, fake_node=True) as sim:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        }
        sim.kubectl("apply", "-f", "-", input=json.dumps(pod))
        request = urllib.request.Request(
            f"{sim.url}/api/v1/namespaces/default/pods/p/log", headers={"Accept": "text/plain"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 406
        assert b"only the following media types are accepted" in refused.value.read()
