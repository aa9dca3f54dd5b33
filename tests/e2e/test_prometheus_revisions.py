"""Issue 15 end to end: a prometheus check that measures several times and compares the new revision
with the last verified one, through the operator, its runner Job and a real Prometheus on loopback.

The queries are constant vectors built from the template variables, so what Prometheus answers is
exactly what the operator passed to the runner: `vector({{ .Revision }})` labelled with the
`{{ .PodTemplateHash }}` the Job carried; the baseline is the same query with the last verified
revision's values. Revision 1 has no baseline (Inconclusive, not failing); revision 2 measures 2
against 1 and fails the limit of +0.5, on the record with every measurement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from rg_harness import Cluster, Operator, release_verification, shop_deployment, shop_service
from rg_monitoring import Daemon

from support import eventually, free_port
from system_tools import require_tool

pytestmark = pytest.mark.slow
Obj = dict[str, Any]

LABELLED = 'label_replace(vector({{ .Revision }}), "hash", "{{ .PodTemplateHash }}", "", "")'


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Any:
    workdir = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    (workdir / "prometheus.yml").write_text(yaml.safe_dump({"global": {"evaluation_interval": "1s"}}))
    argv = [
        require_tool("prometheus"),
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    url = f"http://127.0.0.1:{port}"
    daemon = Daemon(argv, Path(workdir), "prometheus", url + "/-/ready")
    yield url
    daemon.stop()


def records(cluster: Cluster, count: int) -> list[Obj]:
    def check() -> list[Obj] | None:
        out = cluster.kubectl("get", "vrun", "-l", "releaseguard.io/rv=shop", "-o", "json").stdout
        items = [r for r in json.loads(out)["items"] if (r.get("status") or {}).get("verdict")]
        return sorted(items, key=lambda r: r["spec"]["revision"]) if len(items) >= count else None

    return eventually(check, 90, f"{count} finished VerificationRuns")


def test_a_templated_check_compares_each_revision_with_the_last_verified_one(
    cluster: Cluster, operator: Operator, prometheus: str
) -> None:
    checks = [
        {
            "name": "revision",
            "prometheus": {"address": prometheus, "query": LABELLED, "baseline": {"maxIncrease": 0.5}},
        },
        {
            "name": "repeated",
            "prometheus": {
                "address": prometheus,
                "query": "vector({{ .Revision }})",
                "lessThan": 10,
                "count": 3,
                "intervalSeconds": 1,
            },
        },
    ]
    cluster.apply(shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns, checks, "Never"))
    cluster.wait_phase("Verified", revision=1, timeout=90)
    cluster.apply(shop_deployment("shop:1.1-shape"))  # serves, and rolls out
    cluster.wait_phase("Failed", revision=2, timeout=90)
    first, second = records(cluster, 2)

    hash1, hash2 = first["spec"]["podTemplateHash"], second["spec"]["podTemplateHash"]
    assert hash1 and hash2 and hash1 != hash2
    by_name = {c["name"]: c for c in first["status"]["checks"]}
    assert by_name["revision"]["result"] == "Inconclusive"
    assert by_name["revision"]["message"].startswith("no baseline: no verified revision of the Deployment yet")
    assert f'"hash", "{hash1}"' in by_name["revision"]["message"], "the Job carried revision 1's hash"
    assert first["status"]["verdict"] == "Passed"

    by_name = {c["name"]: c for c in second["status"]["checks"]}
    compared = by_name["revision"]
    assert compared["result"] == "Failed"
    assert compared["message"].startswith("revision 2 vs 1 in revision 1 (+1, limit +0.5); ")
    assert f'"hash", "{hash2}"' in compared["message"]
    assert [(m["value"], m["baselineValue"], m["result"]) for m in compared["measurements"]] == [("2", "1", "Passed")]
    repeated = by_name["repeated"]
    assert repeated["result"] == "Passed" and repeated["observed"] == "0/3 failed"
    times = [m["time"] for m in repeated["measurements"]]
    assert [(m["value"], m["result"]) for m in repeated["measurements"]] == [("2", "Passed")] * 3
    assert len(set(times)) == 3 and times == sorted(times)
    assert second["status"]["verdict"] == "Failed"
