"""The generated CRD applied to the real kube-apiserver and to kubesim in strict mode (which refuses
what a real API server refuses), then ReleaseVerifications applied with kubectl: the server's schema
and CEL rules reject bad specs at the same field paths the models name, with the same words."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim import backends
from kubesim.real.cluster import RealCluster
from kubesim.testing import KubeSim

pytestmark = pytest.mark.slow

Backend = KubeSim | RealCluster

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((ROOT / "examples" / "releaseguard.io_v1alpha1_releaseverification.yaml").read_text())


def _install(sim: Backend) -> None:
    result = sim.kubectl("apply", "-f", str(ROOT / "crds"), check=False)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    sim.kubectl("wait", "--for=condition=Established", "crd/releaseverifications.releaseguard.io")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}
    sim.kubectl("apply", "-f", "-", input=yaml.safe_dump(namespace))


@pytest.fixture(scope="module", params=backends.selected())
def sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    if request.param == "real":
        real: RealCluster = request.getfixturevalue("real_cluster")
        _install(real)
        yield real
        real.kubectl("delete", "rv", "--all", "-n", "demo", check=False)
        return
    with KubeSim(tmp_path_factory.mktemp("sim"), kubelet=False, controllers=False, strict_crds=True) as sim:
        _install(sim)
        yield sim


def apply(sim: Backend, document: dict[str, Any]) -> Any:
    return sim.kubectl("apply", "-f", "-", input=yaml.safe_dump(document), check=False)


def test_the_example_is_accepted_and_printed_with_our_columns(sim: Backend) -> None:
    result = apply(sim, EXAMPLE)
    assert result.returncode == 0, result.stderr
    table = sim.kubectl("get", "rv", "-n", "demo").stdout
    assert table.split("\n")[0].split() == ["NAME", "TARGET", "REVISION", "PHASE", "CHECKS", "LAST", "VERIFIED", "AGE"]
    assert table.split("\n")[1].split()[:2] == ["shop", "shop"]


def edited(edit: Any) -> dict[str, Any]:
    document = copy.deepcopy(EXAMPLE)
    document["metadata"]["name"] = "bad"
    edit(document["spec"])
    return document


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (lambda s: s["checks"][2].update(http={"url": "http://x"}), "spec.checks[2]", "exactly one of http, tcp"),
        (
            lambda s: s["checks"][0]["http"]["json"][0].update(exists=True),
            "spec.checks[0].http.json[0]",
            "must validate one and only one schema (oneOf). Found 2 valid alternatives",
        ),
        (
            lambda s: s["checks"][3]["prometheus"].pop("lessThan"),
            "spec.checks[3].prometheus",
            "exactly one of lessThan",
        ),
        (
            lambda s: s["checks"][3]["prometheus"].update(count=3),
            "spec.checks[3].prometheus",
            "intervalSeconds is required when count is more than 1",
        ),
        (
            lambda s: s["checks"][3]["prometheus"].update(baseline={"alpha": 0.05}),
            "spec.checks[3].prometheus.baseline",
            "a baseline needs maxIncrease or maxIncreasePercent",
        ),
        (lambda s: s["checks"][4].update(python={}), "spec.checks[4].python", "at least one of imports"),
        (lambda s: s["rollback"].update(policy="Sometimes"), "spec.rollback.policy", "Unsupported value"),
        (lambda s: s["checks"][0].update(name="Bad_Name"), "spec.checks[0].name", "should match"),
        (lambda s: s["checks"][2]["tcp"].update(port=70000), "spec.checks[2].tcp.port", "less than or equal to 65535"),
        (lambda s: s.pop("targetRef"), "spec.targetRef", "Required value"),
    ],
    ids=[
        "two-types",
        "two-assertion-ops",
        "no-threshold",
        "count-without-interval",
        "baseline-without-limit",
        "empty-python",
        "policy-enum",
        "name-pattern",
        "port-max",
        "no-target",
    ],
)
def test_the_server_rejects_bad_specs_at_the_field(sim: Backend, edit: Any, field: str, words: str) -> None:
    result = apply(sim, edited(edit))
    assert result.returncode != 0
    assert field in result.stderr and words in result.stderr, result.stderr


def test_unknown_fields_are_refused_by_kubectl_strict_validation(sim: Backend) -> None:
    result = apply(sim, edited(lambda s: s["checks"][0].update(retrys=3)))
    assert result.returncode != 0
    assert 'unknown field "spec.checks[0].retrys"' in result.stderr, result.stderr


def test_a_repeated_compared_prometheus_check_is_accepted(sim: Backend) -> None:
    def edit(spec: dict[str, Any]) -> None:
        prometheus = spec["checks"][3]["prometheus"]
        prometheus.pop("lessThan", None)
        prometheus.update(
            query='sum(errors{pod_template_hash="{{ .PodTemplateHash }}"})',
            count=3,
            intervalSeconds=10,
            failureLimit=1,
            baseline={"maxIncrease": 0.01, "maxIncreasePercent": 20},
        )

    document = edited(edit)
    document["metadata"]["name"] = "compared"
    result = apply(sim, document)
    assert result.returncode == 0, result.stderr
