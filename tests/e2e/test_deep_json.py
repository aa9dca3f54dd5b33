"""JSON nested as deep as the API server stores (sigs.k8s.io/json refuses only beyond 10,000 levels)
in one rv's `equals` must not stop the operator: Python's decoder gives up at 1,000 levels by
default, and one such object in a list or watch response would break every rv's watch. The deep rv
is reported SpecValid=False naming the field, and a healthy rv beside it is verified."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rg_harness import Backend, Cluster, Operator, health_check, release_verification, shop_deployment, shop_service

from support import eventually

pytestmark = pytest.mark.slow

SERVER_MAX_DEPTH = 10_000


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def deep_rv(ns: str, name: str, depth: int) -> dict[str, Any]:
    check = health_check(ns)
    check["http"]["json"] = [{"path": "$.status", "equals": nested(depth)}]
    rv = release_verification(ns, [check], name=name)
    rv["spec"]["targetRef"] = {"name": "shop"}
    return rv


@pytest.fixture
def fresh_operator(sim: Backend, tmp_path: Path) -> Iterator[Operator]:
    op = Operator(sim, tmp_path)
    yield op
    op.stop()


@pytest.fixture
def deep_decoding() -> Iterator[None]:
    """This test reads the deep rvs back too (kubectl's output, decoded here)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(SERVER_MAX_DEPTH * 2)
    yield
    sys.setrecursionlimit(limit)


def test_json_as_deep_as_the_server_stores_is_reported_and_stops_nothing(
    cluster: Cluster, fresh_operator: Operator, deep_decoding: None
) -> None:
    # Created before the operator starts, so its first list holds it, and after, so a watch event does.
    cluster.kubectl("create", "-f", "-", input=json.dumps(deep_rv(cluster.ns, "deep-listed", SERVER_MAX_DEPTH - 20)))
    fresh_operator.start()
    cluster.kubectl("create", "-f", "-", input=json.dumps(deep_rv(cluster.ns, "deep-watched", 1_500)))
    cluster.apply(
        shop_service(), shop_deployment("shop:1.0"), release_verification(cluster.ns, [health_check(cluster.ns)])
    )
    status = cluster.wait_phase("Verified", revision=1, timeout=90)
    assert status["lastRun"]["revision"] == 1

    def reported(name: str) -> str | None:
        condition = cluster.condition("SpecValid", rv=name)
        return condition.get("message") if condition.get("status") == "False" else None

    for name in ("deep-listed", "deep-watched"):
        message = eventually(lambda n=name: reported(n), 60, f"SpecValid=False on {name}")  # type: ignore[misc]
        assert "spec.checks[0].http.json[0].equals" in message and "deeper than" in message, message
    assert "RecursionError" not in fresh_operator.log()
    jobs = [
        j
        for j in cluster.jobs()
        if j["metadata"]["labels"].get("releaseguard.io/releaseverification", "").startswith("deep")
    ]
    assert jobs == []


def test_deeper_than_the_server_takes_is_a_bad_request(cluster: Cluster, deep_decoding: None, tmp_path: Path) -> None:
    body = tmp_path / "deep.json"
    body.write_text(json.dumps(deep_rv(cluster.ns, "too-deep", SERVER_MAX_DEPTH + 10)))
    path = f"/apis/releaseguard.io/v1alpha1/namespaces/{cluster.ns}/releaseverifications"
    result = cluster.kubectl("create", "--raw", path, "-f", str(body), check=False)
    assert result.returncode != 0
    assert "BadRequest" in result.stderr and "exceeded max depth" in result.stderr, result.stderr
