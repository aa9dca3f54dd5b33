"""A corpus of invalid ReleaseVerifications: each must fail with an error at one exact field path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from releaseguard.api import parse_release_verification
from releaseguard.errors import SpecInvalidError

DELETE = object()


def base() -> dict[str, Any]:
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": "shop", "namespace": "demo"},
        "spec": {
            "targetRef": {"kind": "Deployment", "name": "shop"},
            "checks": [
                {"name": "health", "http": {"url": "http://shop.demo.svc:8080/healthz"}},
                {"name": "db", "tcp": {"host": "postgres.demo.svc", "port": 5432}},
                {
                    "name": "errors",
                    "prometheus": {"address": "http://prom:9090", "query": "up", "lessThan": 1},
                },
                {"name": "env", "python": {"imports": ["shop.app"]}},
                {"name": "cmd", "command": {"command": ["true"]}},
            ],
        },
    }


def edited(path: str, value: Any) -> dict[str, Any]:
    """The base RV with the value at a dotted path (list indexes as numbers) replaced or deleted."""
    doc = base()
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = copy.deepcopy(value)
    return doc


HTTP = "spec.checks.0.http"

# (id, edit path, new value, expected error path, a word the message must contain)
CASES: list[tuple[str, str, Any, str, str]] = [
    ("wrong-api-version", "apiVersion", "releaseguard.io/v1", "apiVersion", "releaseguard.io/v1alpha1"),
    ("wrong-kind", "kind", "Verification", "kind", "ReleaseVerification"),
    ("no-spec", "spec", DELETE, "spec", "required"),
    ("spec-not-object", "spec", [], "spec", "object"),
    ("no-target", "spec.targetRef", DELETE, "spec.targetRef", "required"),
    ("target-kind", "spec.targetRef.kind", "StatefulSet", "spec.targetRef.kind", "Deployment"),
    ("target-name-upper", "spec.targetRef.name", "Shop", "spec.targetRef.name", "DNS subdomain"),
    ("target-namespace", "spec.targetRef.namespace", "other", "spec.targetRef.namespace", "unknown field"),
    ("negative-delay", "spec.delaySeconds", -1, "spec.delaySeconds", "greater than or equal"),
    ("zero-timeout", "spec.timeoutSeconds", 0, "spec.timeoutSeconds", "greater than or equal"),
    ("parallelism-too-big", "spec.parallelism", 1000, "spec.parallelism", "less than or equal"),
    ("parallelism-string", "spec.parallelism", "four", "spec.parallelism", "integer"),
    ("policy-enum", "spec.rollback", {"policy": "Sometimes"}, "spec.rollback.policy", "Automatic"),
    ("rollback-unknown", "spec.rollback", {"policy": "Never", "auto": True}, "spec.rollback.auto", "unknown field"),
    ("no-checks", "spec.checks", [], "spec.checks", "at least 1"),
    ("checks-not-list", "spec.checks", {"name": "x"}, "spec.checks", "list"),
    ("check-no-name", "spec.checks.1.name", DELETE, "spec.checks[1].name", "required"),
    ("check-name-underscore", "spec.checks.1.name", "db_port", "spec.checks[1].name", "DNS label"),
    ("check-name-long", "spec.checks.1.name", "a" * 64, "spec.checks[1].name", "at most 63"),
    ("check-no-type", "spec.checks.1.tcp", DELETE, "spec.checks[1]", "exactly one of"),
    (
        "check-two-types",
        "spec.checks.1.http",
        {"url": "http://x"},
        "spec.checks[1]",
        "got http, tcp",
    ),
    ("check-unknown-type", "spec.checks.1.grpc", {"host": "x"}, "spec.checks[1].grpc", "unknown field"),
    ("retries-negative", "spec.checks.1.retries", -2, "spec.checks[1].retries", "greater than or equal"),
    ("retries-too-many", "spec.checks.1.retries", 11, "spec.checks[1].retries", "less than or equal"),
    ("check-timeout-zero", "spec.checks.1.timeoutSeconds", 0, "spec.checks[1].timeoutSeconds", "greater than"),
    ("critical-not-bool", "spec.checks.1.critical", "maybe", "spec.checks[1].critical", "boolean"),
    ("http-url-scheme", f"{HTTP}.url", "ftp://shop/healthz", "spec.checks[0].http.url", "scheme"),
    ("http-url-no-host", f"{HTTP}.url", "http:///healthz", "spec.checks[0].http.url", "host"),
    ("http-url-bad-port", f"{HTTP}.url", "http://shop:99999/", "spec.checks[0].http.url", "port"),
    ("http-url-missing", f"{HTTP}.url", DELETE, "spec.checks[0].http.url", "required"),
    ("http-method", f"{HTTP}.method", "FETCH", "spec.checks[0].http.method", "GET"),
    ("http-status-range", f"{HTTP}.expectStatus", [200, 700], "spec.checks[0].http.expectStatus[1]", "599"),
    ("http-status-empty", f"{HTTP}.expectStatus", [], "spec.checks[0].http.expectStatus", "at least 1"),
    ("http-latency-zero", f"{HTTP}.maxLatencyMs", 0, "spec.checks[0].http.maxLatencyMs", "greater than"),
    ("http-body-on-get", f"{HTTP}.body", "{}", "spec.checks[0].http", "body is not allowed"),
    (
        "http-json-bad-path",
        f"{HTTP}.json",
        [{"path": "$.items[", "exists": True}],
        "spec.checks[0].http.json[0].path",
        "invalid JSON path",
    ),
    (
        "http-json-path-no-dollar",
        f"{HTTP}.json",
        [{"path": "status", "equals": "ok"}],
        "spec.checks[0].http.json[0].path",
        "must start with '$'",
    ),
    (
        "http-json-bad-regex",
        f"{HTTP}.json",
        [{"path": "$.status", "matches": "ok("}],
        "spec.checks[0].http.json[0].matches",
        "invalid regular expression",
    ),
    (
        "http-json-no-op",
        f"{HTTP}.json",
        [{"path": "$.status"}],
        "spec.checks[0].http.json[0]",
        "exactly one of equals, exists, matches, oneOf",
    ),
    (
        "http-json-two-ops",
        f"{HTTP}.json",
        [{"path": "$.status", "equals": "ok", "exists": True}],
        "spec.checks[0].http.json[0]",
        "got equals, exists",
    ),
    (
        "http-json-empty-one-of",
        f"{HTTP}.json",
        [{"path": "$.status", "oneOf": []}],
        "spec.checks[0].http.json[0].oneOf",
        "at least 1",
    ),
    (
        "http-json-schema-invalid",
        f"{HTTP}.jsonSchema",
        {"type": "objekt"},
        "spec.checks[0].http.jsonSchema",
        "not a valid JSON Schema",
    ),
    (
        "http-header-no-value",
        f"{HTTP}.headers",
        [{"name": "Authorization"}],
        "spec.checks[0].http.headers[0]",
        "exactly one of value, valueFrom",
    ),
    (
        "http-header-bad-name",
        f"{HTTP}.headers",
        [{"name": "X Bad", "value": "1"}],
        "spec.checks[0].http.headers[0].name",
        "HTTP header name",
    ),
    (
        "http-header-secret-no-key",
        f"{HTTP}.headers",
        [{"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "s"}}}],
        "spec.checks[0].http.headers[0].valueFrom.secretKeyRef.key",
        "required",
    ),
    (
        "http-header-two-sources",
        f"{HTTP}.headers",
        [{"name": "A", "valueFrom": {"env": "TOKEN", "file": "/t"}}],
        "spec.checks[0].http.headers[0].valueFrom",
        "exactly one of secretKeyRef, env, file",
    ),
    ("http-tls-unknown", f"{HTTP}.tls", {"verify": False}, "spec.checks[0].http.tls.verify", "unknown field"),
    ("tcp-port-zero", "spec.checks.1.tcp.port", 0, "spec.checks[1].tcp.port", "greater than or equal"),
    ("tcp-port-high", "spec.checks.1.tcp.port", 70000, "spec.checks[1].tcp.port", "less than or equal"),
    ("tcp-no-host", "spec.checks.1.tcp.host", DELETE, "spec.checks[1].tcp.host", "required"),
    (
        "prom-no-threshold",
        "spec.checks.2.prometheus.lessThan",
        DELETE,
        "spec.checks[2].prometheus",
        "exactly one of lessThan, greaterThan, between",
    ),
    (
        "prom-between-reversed",
        "spec.checks.2.prometheus",
        {"address": "http://prom:9090", "query": "up", "between": {"min": 5, "max": 1}},
        "spec.checks[2].prometheus.between",
        "must not be greater",
    ),
    (
        "prom-bad-address",
        "spec.checks.2.prometheus.address",
        "prom:9090",
        "spec.checks[2].prometheus.address",
        "scheme",
    ),
    ("prom-empty-query", "spec.checks.2.prometheus.query", "", "spec.checks[2].prometheus.query", "at least 1"),
    ("prom-on-empty", "spec.checks.2.prometheus.onEmpty", "Maybe", "spec.checks[2].prometheus.onEmpty", "Inconclusive"),
    ("python-empty", "spec.checks.3.python", {}, "spec.checks[3].python", "at least one of imports"),
    ("python-bad-module", "spec.checks.3.python.imports", ["shop app"], "spec.checks[3].python.imports[0]", "module"),
    ("python-bad-env", "spec.checks.3.python.env", ["1BAD"], "spec.checks[3].python.env[0]", "environment variable"),
    (
        "python-config-ext",
        "spec.checks.3.python.configFiles",
        ["/etc/shop/config.xml"],
        "spec.checks[3].python.configFiles[0]",
        ".yaml",
    ),
    ("command-empty", "spec.checks.4.command.command", [], "spec.checks[4].command.command", "at least 1"),
    ("command-exit-code", "spec.checks.4.command.expectExitCode", 300, "spec.checks[4].command.expectExitCode", "255"),
    (
        "command-bad-regex",
        "spec.checks.4.command.stdoutMatches",
        "[unclosed",
        "spec.checks[4].command.stdoutMatches",
        "invalid regular expression",
    ),
    ("duplicate-names", "spec.checks.1.name", "health", "spec.checks[1].name", "duplicate check name 'health'"),
    ("runner-sa", "spec.runner", {"serviceAccountName": "Bad_SA"}, "spec.runner.serviceAccountName", "DNS subdomain"),
    (
        "runner-toleration-op",
        "spec.runner",
        {"tolerations": [{"operator": "Maybe"}]},
        "spec.runner.tolerations[0].operator",
        "Exists",
    ),
    ("history-limit", "spec.historyLimit", 0, "spec.historyLimit", "greater than or equal"),
    ("unknown-spec-field", "spec.checkz", [], "spec.checkz", "unknown field"),
]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(("path", "value", "expected_path", "word"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_spec_names_the_field(path: str, value: Any, expected_path: str, word: str) -> None:
    with pytest.raises(SpecInvalidError) as caught:
        parse_release_verification(edited(path, value))
    errors = {e.path: e.message for e in caught.value.errors}
    assert expected_path in errors, f"expected an error at {expected_path}, got {errors}"
    assert word.lower() in errors[expected_path].lower(), errors[expected_path]


def test_base_is_valid() -> None:
    assert parse_release_verification(base()).spec.checks[0].type == "http"


def test_non_object_is_rejected_with_a_sentence() -> None:
    with pytest.raises(SpecInvalidError, match="expected a ReleaseVerification object, got a list"):
        parse_release_verification([])


def test_a_key_of_unicode_digits_is_a_field_error_not_a_crash() -> None:
    """Found by hypothesis: '¹'.isdigit() is True, and sorting the errors by path called int() on it."""
    with pytest.raises(SpecInvalidError) as refused:
        parse_release_verification(
            {
                "apiVersion": "releaseguard.io/v1alpha1",
                "kind": "ReleaseVerification",
                "metadata": {"name": "x"},
                "spec": {"targetRef": {"¹": None}, "checks": [{"name": "٣", "tcp": {"port": "²"}}]},
            }
        )
    assert any(e.path.startswith("spec.targetRef") for e in refused.value.errors)
