"""Every verification on the record: VerificationRuns created by the operator, frozen at their
verdict, kept by retention, read with `releaseguard history/report` and `kubectl releaseguard`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from rg_harness import RELEASEGUARD, Cluster, Operator, release_verification, shop_deployment, shop_service

from kubesim.real.cluster import RealCluster
from support import eventually

pytestmark = pytest.mark.slow
Obj = dict[str, Any]
BIN = Path(RELEASEGUARD).parent


def vruns(cluster: Cluster, rv: str = "shop") -> list[Obj]:
    out = cluster.kubectl("get", "vrun", "-l", f"releaseguard.io/rv={rv}", "-o", "json").stdout
    items: list[Obj] = json.loads(out)["items"]
    return sorted(items, key=lambda r: (r["metadata"]["creationTimestamp"], r["spec"]["revision"]))


def finished(cluster: Cluster, count: int, rv: str = "shop") -> list[Obj]:
    def check() -> list[Obj] | None:
        items = vruns(cluster, rv)
        done = [r for r in items if (r.get("status") or {}).get("verdict")]
        return items if len(done) >= count and len(done) == len(items) else None

    return eventually(check, 90, f"{count} finished VerificationRuns of {rv}")


def cli(cluster: Cluster, *args: str, plugin: bool = False) -> subprocess.CompletedProcess[str]:
    """The CLI as a user types it: `releaseguard ...`, or `kubectl releaseguard ...` found on PATH."""
    env = dict(os.environ, KUBECONFIG=str(cluster.sim.kubeconfig), PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    argv = ["kubectl", "releaseguard", *args] if plugin else [RELEASEGUARD, *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def test_each_run_is_recorded_and_outlives_its_jobs(cluster: Cluster, operator: Operator) -> None:
    ns = cluster.ns
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(ns, policy="Manual"))
    cluster.wait_phase("Verified", revision=1)
    v2 = shop_deployment("shop:1.1-error500")
    v2["metadata"]["annotations"] = {"kubernetes.io/change-cause": "ship 1.1 (CHG-42)"}
    cluster.apply(v2)
    cluster.wait_phase("Failed", revision=2, timeout=90)
    first, second = finished(cluster, 2)

    rv = cluster.get("releaseverification", "shop") or {}
    assert rv["status"]["lastRun"]["record"] == second["metadata"]["name"]
    for record in (first, second):
        meta = record["metadata"]
        assert meta["labels"]["releaseguard.io/rv"] == "shop"
        assert meta["ownerReferences"][0]["uid"] == rv["metadata"]["uid"]
        assert record["spec"]["target"] == "shop"
        assert record["spec"]["targetUID"] == rv["status"]["targetUID"]
        assert record["spec"]["podTemplateHash"]
        assert [c["name"] for c in record["spec"]["checks"]] == ["health", "orders"]
    assert first["spec"]["revision"] == 1 and first["status"]["verdict"] == "Passed"
    assert first["spec"]["image"] == "shop:1.0"
    assert first["spec"]["images"][0]["digest"].startswith("shop:1.0@sha256:")
    assert second["spec"]["revision"] == 2 and second["spec"]["trigger"] == "NewRevision"
    assert second["spec"]["changes"] == {
        "previousRevision": 1,
        "images": ["shop: shop:1.0 -> shop:1.1-error500"],
        "env": [],
        "fields": [],
    }
    changed_by = second["spec"]["changedBy"]
    assert changed_by["changeCause"] == "ship 1.1 (CHG-42)"
    if isinstance(cluster.sim, RealCluster):  # kubesim keeps no managedFields
        assert (changed_by["manager"], changed_by["operation"]) == ("kubectl-client-side-apply", "Update")
    else:
        assert "manager" not in changed_by
    assert second["status"]["verdict"] == "Failed"
    assert second["status"]["reason"] == "CriticalChecksFailed"
    assert second["status"]["checksSummary"] == "1/2"
    orders = next(c for c in second["status"]["checks"] if c["name"] == "orders")
    assert orders["result"] == "Failed"
    assert orders["expected"] == "HTTP 200"
    assert orders["observed"] == "HTTP 500"
    assert orders["attempts"] == 4  # retries: 3
    assert len(orders["attemptDetails"]) == 4
    assert second["status"]["rollback"] == {
        "fromRevision": 2,
        "toRevision": 1,
        "reason": "CriticalChecksFailed",
        "applied": False,
    }
    # the printer columns
    table = cluster.kubectl("get", "vrun", "-l", "releaseguard.io/rv=shop").stdout.splitlines()
    assert table[0].split() == ["NAME", "RV", "REVISION", "VERDICT", "CHECKS", "IMAGE", "DURATION", "AGE"]
    assert any(line.split()[1:6] == ["shop", "2", "Failed", "1/2", "shop:1.1-error500"] for line in table[1:])

    # the record is frozen: the spec is immutable, and outlives the Jobs
    refused = cluster.kubectl(
        "patch", "vrun", first["metadata"]["name"], "--type=merge", "-p", '{"spec":{"revision":9}}', check=False
    )
    assert refused.returncode != 0 and "immutable" in refused.stderr
    cluster.kubectl("delete", "jobs", "--all", "--wait=true")
    assert not cluster.jobs()
    again = vruns(cluster)
    assert [r["metadata"]["name"] for r in again] == [first["metadata"]["name"], second["metadata"]["name"]]
    assert again[1]["status"] == second["status"]

    # history and report, as a user types them, and as a kubectl plugin
    history = cli(cluster, "history", "shop", "-n", ns)
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    assert lines[0].split()[:5] == ["RUN", "REVISION", "IMAGE", "VERDICT", "FAILED"]
    assert lines[1].split()[1:5] == ["2", "shop:1.1-error500", "Failed", "orders"]
    assert lines[2].split()[1:5] == ["1", "shop:1.0", "Passed", "-"]
    as_plugin = cli(cluster, "history", "shop", "--namespace", ns, plugin=True)
    assert as_plugin.returncode == 0, as_plugin.stderr
    assert as_plugin.stdout == history.stdout
    context = cluster.sim.kubectl("config", "current-context").stdout.strip()
    with_context = cli(cluster, "history", "shop", "-n", ns, "--context", context, plugin=True)
    assert with_context.returncode == 0 and with_context.stdout == history.stdout, with_context.stderr
    no_context = cli(cluster, "history", "shop", "-n", ns, "--context", "nope", plugin=True)
    assert no_context.returncode == 3 and "nope" in no_context.stderr
    as_json = json.loads(cli(cluster, "history", "shop", "-n", ns, "-o", "json").stdout)
    assert [r["revision"] for r in as_json["runs"]] == [2, 1]
    report = cli(cluster, "report", second["metadata"]["name"], "-n", ns, plugin=True)
    assert report.returncode == 0, report.stderr
    assert "orders" in report.stdout and "expected: HTTP 200" in report.stdout and "observed: HTTP 500" in report.stdout
    as_yaml = yaml.safe_load(cli(cluster, "report", second["metadata"]["name"], "-n", ns, "-o", "yaml").stdout)
    assert as_yaml["status"] == second["status"]
    missing = cli(cluster, "report", "nope", "-n", ns)
    assert missing.returncode == 3 and "nope" in missing.stderr


def test_retention_keeps_what_it_promises(cluster: Cluster, operator: Operator) -> None:
    ns = cluster.ns
    rv = release_verification(ns, policy="Never", retention={"count": 2})
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), rv)
    cluster.wait_phase("Verified", revision=1)
    cluster.apply(shop_deployment("shop:1.1-error500"))
    cluster.wait_phase("Failed", revision=2, timeout=90)
    for revision, image in ((3, "shop:1.0"), (4, "shop:1.0")):
        dep = shop_deployment(image)
        dep["spec"]["template"]["metadata"]["annotations"] = {"release": str(revision)}
        cluster.apply(dep)
        cluster.wait_phase("Verified", revision=revision, timeout=90)

    def kept() -> list[int] | None:
        items = vruns(cluster)
        revisions = sorted(r["spec"]["revision"] for r in items)
        return revisions if revisions == [2, 3, 4] else None

    # count 2: revisions 4 and 3 (the newest two) and 2 (the last failed, always kept) stay; 1 goes
    eventually(kept, 30, "retention to keep revisions 2, 3 and 4")


def test_rerun_and_approve_as_a_user_types_them(cluster: Cluster, operator: Operator) -> None:
    ns = cluster.ns
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(ns, policy="Manual"))
    cluster.wait_phase("Verified", revision=1)
    cluster.apply(shop_deployment("shop:1.1-error500"))
    cluster.wait_phase("Failed", revision=2, timeout=90)
    finished(cluster, 2)

    # a re-run, asked twice before the operator acts (it is stopped meanwhile, so a slow machine
    # cannot let it finish the first before the second is asked): one new run of revision 2
    assert operator.proc is not None
    operator.proc.send_signal(signal.SIGSTOP)
    try:
        first = cli(cluster, "rerun", "shop", "-n", ns, plugin=True)
        second = cli(cluster, "rerun", "shop", "-n", ns)
    finally:
        operator.proc.send_signal(signal.SIGCONT)
    assert first.returncode == 0 and "requested" in first.stdout, first.stderr
    assert second.returncode == 0, second.stderr
    records = finished(cluster, 3)
    assert [(r["spec"]["revision"], r["spec"]["trigger"]) for r in records] == [
        (1, "NewRevision"),
        (2, "NewRevision"),
        (2, "Rerun"),
    ]
    assert records[2]["status"]["verdict"] == "Failed"
    status = cluster.wait_phase("Failed", revision=2)
    assert status["lastRun"]["trigger"] == "Rerun"
    assert cluster.condition("RolledBack")["reason"] == "Rerun"
    assert cluster.deployment_revision() == 2  # a re-run never rolls back
    assert len(vruns(cluster)) == 3  # and the second command asked for nothing more

    # approve the recommended rollback: done once, recorded with who approved it
    approved = cli(cluster, "approve", "shop", "-n", ns, plugin=True)
    assert approved.returncode == 0, approved.stderr
    status = cluster.wait_phase("Verified", revision=3, timeout=90)
    assert cluster.image() == "shop:1.0"
    last = status["lastRollback"]
    assert (last["fromRevision"], last["toRevision"], last["applied"]) == (2, 1, True)
    assert last["appliedBy"].startswith("approved:")
    assert last["appliedBy"] == "approved:kubesim-admin", last  # the user the API server authenticated
    rolled = cluster.condition("RolledBack")
    assert rolled["reason"] == "RollbackApproved" and "approved by" in rolled["message"]
    approved_run = next(r for r in finished(cluster, 4) if r["spec"]["revision"] == 3)
    assert approved_run["spec"]["rollbackOf"]["fromRevision"] == 2
    assert approved_run["spec"]["rollbackOf"]["appliedBy"] == last["appliedBy"]
    again = cli(cluster, "approve", "shop", "-n", ns)
    assert again.returncode == 1 and "already done" in again.stderr
    assert cluster.deployment_revision() == 3
    assert cluster.event_reasons("ReleaseVerification", "shop").count("RolledBack") == 1


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"chromium-profile-{len(list(tmp.iterdir()))}"
    argv = ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)


def test_html_report_renders_in_chromium_with_the_records_numbers(
    cluster: Cluster, operator: Operator, tmp_path: Path
) -> None:
    import re

    ns = cluster.ns
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(ns, policy="Never"))
    cluster.wait_phase("Verified", revision=1)
    cluster.apply(shop_deployment("shop:1.1-flaky"))
    cluster.wait_phase("Verified", revision=2, timeout=90)
    cluster.apply(shop_deployment("shop:1.1-error500"))
    cluster.wait_phase("Failed", revision=3, timeout=90)
    records = finished(cluster, 3)
    verdicts = [r["status"]["verdict"] for r in records]
    assert verdicts == ["Passed", "Passed", "Failed"]

    page = tmp_path / "shop.html"
    made = cli(cluster, "report", "--html", str(page), "shop", "-n", ns)
    assert made.returncode == 0, made.stderr
    text = page.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), "the page must not load anything"

    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert 'data-rendered="true"' in dom  # the page's script ran in the browser
    assert re.search(r'id="total">(\d+)<', dom).group(1) == str(len(records))  # type: ignore[union-attr]
    for verdict in ("Passed", "Failed", "Error"):
        shown = re.search(rf'id="count-{verdict}">(\d+)<', dom).group(1)  # type: ignore[union-attr]
        assert int(shown) == verdicts.count(verdict), verdict
    bars = re.findall(r'class="run-bar" data-verdict="(\w+)"', dom)
    assert bars == verdicts  # oldest first
    assert sorted(re.findall(r'class="duration-line" data-check="([\w-]+)"', dom)) == ["health", "orders"]
    flaky_checks = {c["name"] for r in records for c in r["status"]["checks"] if c["result"] == "Flaky"}
    assert flaky_checks, "shop:1.1-flaky makes a check pass only on a retry"
    rows = re.findall(r'<tr class="flaky"><td>([\w-]+)</td><td>(\d+)/(\d+)</td>', dom)
    assert {name for name, _, _ in rows} == flaky_checks
    for name, flaky_runs, runs in rows:
        assert int(flaky_runs) == sum(
            1 for r in records for c in r["status"]["checks"] if c["name"] == name and c["result"] == "Flaky"
        )
        assert int(runs) == len(records)
    assert len(re.findall(r'<tr class="run">', dom)) == len(records)
    # the same flakiness in the rv's status, and a Warning once the check crossed the threshold (30%, 3 runs)
    flakiness = eventually(lambda: cluster.status().get("flakiness"), 30, "status.flakiness")
    assert {f["name"] for f in flakiness} == flaky_checks
    warned = eventually(
        lambda: [e for e in cluster.events("ReleaseVerification", "shop") if e["reason"] == "FlakyCheck"],
        30,
        "a FlakyCheck Event",
    )
    assert len(warned) == 1 and warned[0]["type"] == "Warning" and "passed only on a retry" in warned[0]["message"]

    shot = tmp_path / "shop.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=900,1100", "--hide-scrollbars", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    keep = os.environ.get("RG_KEEP_SCREENSHOT")
    if keep:
        Path(keep).write_bytes(shot.read_bytes())
