"""A check naming a pod runs once per pod in RG_TARGET_PODS; one result, the first failing pod's."""

from __future__ import annotations

import pytest

from releaseguard.api import parse_checks
from releaseguard.api.status import CheckResultKind
from releaseguard.errors import SpecInvalidError
from releaseguard.probe.checks.runner import for_pod, merge_pod_reports, prepare
from releaseguard.report import CheckReport


def test_a_pod_naming_check_is_filled_in_per_pod_and_merged() -> None:
    [check] = parse_checks({"checks": [{"name": "h", "http": {"url": "http://{{ .PodIP }}:8080/{{ .PodName }}"}}]})
    assert check.names_a_pod
    assert for_pod(check, "p-1", "10.0.0.3").http.url == "http://10.0.0.3:8080/p-1"  # type: ignore[union-attr]
    ok = CheckReport(name="h", result=CheckResultKind.PASSED, message="HTTP 200")
    bad = CheckReport(name="h", result=CheckResultKind.FAILED, message="HTTP 500")
    merged = merge_pod_reports(check, [("a", ok), ("b", bad)])
    assert merged.result is CheckResultKind.FAILED and merged.message == "pod b: HTTP 500 (1 of 2 pods failed)"
    assert merge_pod_reports(check, [("a", ok)]).message == "1 pods: HTTP 200"
    assert merge_pod_reports(check, []).result is CheckResultKind.ERROR


def test_the_pods_come_from_the_environment() -> None:
    [check] = parse_checks({"checks": [{"name": "h", "tcp": {"host": "{{ .PodIP }}", "port": 80}}]})
    ctx = prepare([check], environ={"RG_TARGET_PODS": '[{"name": "a", "ip": "10.0.0.1"}]'})
    assert ctx.target_pods == [("a", "10.0.0.1")]
    with pytest.raises(SpecInvalidError):
        prepare([check], environ={"RG_TARGET_PODS": "{"})
