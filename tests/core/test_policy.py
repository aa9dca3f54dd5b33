"""The cluster admin's policy: an rv outside it gets SpecValid=False naming the field; nothing runs."""

from __future__ import annotations

import argparse
import socket
import threading
from typing import Any

import pytest

from releaseguard.api import parse_checks
from releaseguard.api.status import CheckResultKind as R
from releaseguard.commands.run import configure
from releaseguard.core.decide import Settings
from releaseguard.core.policy import DEFAULT_DENIED_NETWORKS, Policy
from releaseguard.operator.settings import from_args
from releaseguard.probe.checks import run_checks
from support.driver import SETTINGS, Driver
from support.factories import deployment, http_check, rv_body

Obj = dict[str, Any]
STRICT = Settings(
    runner_image="runner:test",
    policy=Policy(allowed_images=("registry.example/*",), allowed_service_accounts=("probe",)),
)


def _refused(body: Obj, settings: Settings = STRICT) -> tuple[str, Any]:
    driver = Driver(body, settings)
    plan = driver.step(deployment())
    condition = driver.condition("SpecValid")
    assert condition["status"] == "False" and condition["reason"] == "PolicyViolation", condition
    assert driver.status["phase"] == "Error"
    assert plan.create_jobs == []
    return condition["message"], plan


@pytest.mark.parametrize(
    ("extra", "checks", "field"),
    [
        ({"runner": {"image": "evil:1"}}, None, "spec.runner.image"),
        ({"runner": {"serviceAccountName": "admin"}}, None, "spec.runner.serviceAccountName"),
        ({}, [{"name": "x", "command": {"command": ["id"], "image": "evil:1"}}], "spec.checks[0].command.image"),
        ({}, [{"name": "x", "pytest": {"image": "evil:1"}}], "spec.checks[0].pytest.image"),
        ({}, [{"name": "m", "http": {"url": "http://169.254.169.254/latest/meta-data/"}}], "spec.checks[0].http.url"),
        ({}, [{"name": "m", "http": {"url": "http://[fe80::1]:80/"}}], "spec.checks[0].http.url"),
        ({}, [{"name": "m", "http": {"url": "http://[::ffff:169.254.169.254]/"}}], "spec.checks[0].http.url"),
        ({}, [{"name": "t", "tcp": {"host": "100.100.100.200", "port": 80}}], "spec.checks[0].tcp.host"),
        (
            {},
            [{"name": "p", "prometheus": {"address": "http://169.254.1.1:9090", "query": "up", "lessThan": 1}}],
            "spec.checks[0].prometheus.address",
        ),
    ],
)
def test_an_rv_outside_the_policy_is_refused_naming_the_field(extra: Obj, checks: Any, field: str) -> None:
    message, _ = _refused(rv_body(checks=checks, extra_spec=extra))
    assert message.startswith(field + ":"), message


def test_excluded_namespaces_are_never_verified_and_kube_system_is_by_default() -> None:
    body = rv_body()
    body["metadata"]["namespace"] = "kube-system"
    message, _ = _refused(body, SETTINGS)
    assert message.startswith("metadata.namespace:")


def test_allowed_images_and_accounts_pass() -> None:
    body = rv_body(
        checks=[http_check("home"), {"name": "x", "command": {"command": ["id"], "image": "registry.example/tools:1"}}],
        extra_spec={"runner": {"image": "registry.example/runner:2", "serviceAccountName": "probe"}},
    )
    driver = Driver(body, STRICT)
    plan = driver.step(deployment())
    assert driver.condition("SpecValid")["status"] == "True"
    assert len(plan.create_jobs) == 2


def test_the_runner_job_carries_the_denied_networks() -> None:
    driver = Driver(rv_body(), SETTINGS)
    [job] = driver.step(deployment()).create_jobs
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["RG_DENIED_NETWORKS"].split(",") == list(DEFAULT_DENIED_NETWORKS)


def test_flags_make_the_policy_and_a_bad_network_is_refused() -> None:
    parser = argparse.ArgumentParser()
    configure(parser)
    default = from_args(parser.parse_args([])).policy
    assert default.excluded_namespaces == ("kube-system",)
    assert default.denied_networks == DEFAULT_DENIED_NETWORKS
    args = parser.parse_args(
        ["--allowed-image", "r/*", "--excluded-namespace", "", "--denied-network", "10.0.0.0/8", "--denied-network", ""]
    )
    policy = from_args(args).policy
    assert policy.allowed_images == ("r/*",) and policy.excluded_namespaces == ()
    assert policy.denied_networks == ("10.0.0.0/8",)
    with pytest.raises(ValueError, match="--denied-network 'nope'"):
        from_args(parser.parse_args(["--denied-network", "nope"]))


@pytest.mark.slow
async def test_a_host_name_resolving_into_a_denied_network_is_never_connected_to() -> None:
    accepted: list[bool] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(3)
    port = server.getsockname()[1]

    def accept() -> None:
        try:
            conn, _ = server.accept()
            accepted.append(True)
            conn.close()
        except OSError:
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        report = await run_checks(
            parse_checks(
                {
                    "checks": [
                        {"name": "web", "http": {"url": f"http://localhost:{port}/"}},
                        {"name": "raw", "tcp": {"host": "localhost", "port": port}},
                    ]
                }
            ),
            environ={"RG_DENIED_NETWORKS": "127.0.0.0/8,::1/128"},
        )
    finally:
        server.close()
        thread.join(5)
    for name in ("web", "raw"):
        check = report.check(name)
        assert check.result is R.ERROR and "denies to network checks" in check.message, check
    assert accepted == []
