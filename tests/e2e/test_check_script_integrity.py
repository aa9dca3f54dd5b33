"""The probe pod runs exactly the check script the operator generated, on kubesim and on the real control
plane, with the operator as a real subprocess (the chart's RBAC on the real one).

Someone who may create (and delete) ConfigMaps in the namespace, but nothing else, plants a script
under the name the operator uses: before the operator made its own, or in place of it. The check then
ends Error naming the ConfigMap, the planted script never runs (it would leave a marker file and fail
the check, which would roll the release back), the Deployment is not rolled back, and the planted
ConfigMap is left exactly as it was (never adopted). Next to it, the operator's own script runs
command and python checks in the target's image and they pass."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rg_harness import Backend, Cluster, Operator, health_check, release_verification, shop_deployment, shop_service

from releaseguard.core.jobs import script_configmap_name

pytestmark = pytest.mark.slow
Obj = dict[str, Any]
EDITOR = "cm-editor"  # may read, create and delete ConfigMaps in the test's namespace, nothing else
# if it ran: a marker, then a failed check without a report (Failed: the release would be rolled back)
HOSTILE = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\nraise SystemExit(1)\n"
SMOKE = {"name": "smoke", "command": {"command": ["true"]}}


@pytest.fixture
def markers() -> Iterator[Path]:
    """A directory every probe pod may write to (the node runs pods as local processes on this host)."""
    directory = Path(tempfile.mkdtemp(prefix="rg-script-integrity-", dir="/tmp"))
    directory.chmod(0o777)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def grant_configmap_editor(cluster: Cluster) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "configmap-editor"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "delete"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "configmap-editor"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-editor"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": EDITOR}],
    }
    cluster.apply(role, binding)


def plant(cluster: Cluster, name: str, marker: Path) -> Obj:
    """The editor's ConfigMap under `name`, with a script of their own; as stored."""
    planted = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"check.py": HOSTILE.format(marker=str(marker))},
    }
    cluster.kubectl("create", f"--as={EDITOR}", "-f", "-", input=json.dumps(planted))
    stored = cluster.get("configmap", name)
    assert stored is not None
    return stored


def second_revision() -> Obj:
    """The same healthy app, a new revision."""
    deployment = shop_deployment("shop:1.0")
    deployment["spec"]["template"]["metadata"]["annotations"] = {"example.com/release": "2"}
    return deployment


def assert_refused_and_not_rolled_back(cluster: Cluster, name: str, marker: Path) -> None:
    status = cluster.wait_phase("Error", revision=2, timeout=120)
    results = {c["name"]: c for c in status["lastRun"]["checks"]}
    assert results["health"]["result"] == "Passed"
    assert results["smoke"]["result"] == "Error", results["smoke"]
    message = results["smoke"]["message"]
    assert f"ConfigMap {name}" in message and "is not the one the operator generated" in message, message
    assert "nothing of it was run" in message
    assert status["lastRun"]["verdict"] == "Error"
    assert not marker.exists(), "the planted script ran"
    deployment = cluster.get("deployment", "shop") or {}
    assert cluster.deployment_revision() == 2
    assert deployment["spec"]["template"]["metadata"]["annotations"] == {"example.com/release": "2"}
    assert not deployment["spec"].get("paused")
    assert "RolledBack" not in cluster.event_reasons("ReleaseVerification", "shop")


def test_a_configmap_planted_under_the_script_name_runs_nothing_and_rolls_nothing_back(
    cluster: Cluster, operator: Operator, markers: Path
) -> None:
    grant_configmap_editor(cluster)
    name = script_configmap_name("shop")
    marker = markers / "planted-ran"
    cluster.apply(
        shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns, [health_check(cluster.ns)])
    )
    cluster.wait_phase("Verified", revision=1)  # a good revision to roll back to, no ConfigMap made yet
    planted = plant(cluster, name, marker)
    cluster.apply(release_verification(cluster.ns, [health_check(cluster.ns), SMOKE]), second_revision())
    assert_refused_and_not_rolled_back(cluster, name, marker)
    after = cluster.get("configmap", name) or {}
    assert after["metadata"]["resourceVersion"] == planted["metadata"]["resourceVersion"]  # never written
    assert "ownerReferences" not in after["metadata"] and after["data"] == planted["data"]  # never adopted


def test_the_operators_own_script_runs_command_and_python_checks(
    sim: Backend, cluster: Cluster, operator: Operator, markers: Path
) -> None:
    marker = markers / "smoke-ran"
    smoke = {
        "name": "smoke",
        "command": {"command": ["python", "-c", f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')"]},
    }
    env = {"name": "env", "python": {"imports": ["json", "shop"], "env": ["SHOP_RELEASE"]}}
    rv = release_verification(cluster.ns, [health_check(cluster.ns), smoke, env])
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), rv)
    status = cluster.wait_phase("Verified", revision=1, timeout=120)
    assert {c["name"]: c["result"] for c in status["lastRun"]["checks"]} == {
        "health": "Passed",
        "smoke": "Passed",
        "env": "Passed",
    }
    assert marker.read_text() == "ran"  # probe pods reach the markers' directory: an absent marker means something

    name = script_configmap_name("shop")
    configmap = cluster.get("configmap", name) or {}
    owner = cluster.get("releaseverification", "shop") or {}
    assert configmap.get("immutable") is True
    [ref] = configmap["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["uid"]) == ("ReleaseVerification", "shop", owner["metadata"]["uid"])
    digest = hashlib.sha256(configmap["data"]["check.py"].encode()).hexdigest()
    jobs = {j["metadata"]["name"]: j["spec"]["template"]["spec"]["containers"][0]["command"] for j in cluster.jobs()}
    checked = {n: c for n, c in jobs.items() if "/etc/releaseguard/check.py" in c}
    assert len(checked) == 2 and all(c[3:6] == ["/etc/releaseguard/check.py", digest, name] for c in checked.values())
    for job in checked:  # the launcher and the digest, never the script itself, in what people read
        shown = cluster.kubectl("get", "job", job, "-o", "yaml").stdout
        print(f"kubectl get job {job} -o yaml: {len(shown)} characters")
        assert len(shown) < 7000 and "def junit_failures" not in shown, len(shown)
    changed = cluster.kubectl(
        "patch", "configmap", name, "--type=merge", "-p", '{"data": {"check.py": "pass"}}', check=False
    )
    assert changed.returncode != 0 and "immutable" in changed.stderr, changed.stderr


def test_the_operators_configmap_replaced_by_someone_else_runs_nothing(
    cluster: Cluster, operator: Operator, markers: Path
) -> None:
    grant_configmap_editor(cluster)
    name = script_configmap_name("shop")
    marker = markers / "replacement-ran"
    rv = release_verification(cluster.ns, [health_check(cluster.ns), SMOKE])
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), rv)
    cluster.wait_phase("Verified", revision=1, timeout=120)  # with the operator's own ConfigMap
    cluster.kubectl("delete", "configmap", name, f"--as={EDITOR}")
    plant(cluster, name, marker)
    cluster.apply(second_revision())
    assert_refused_and_not_rolled_back(cluster, name, marker)
