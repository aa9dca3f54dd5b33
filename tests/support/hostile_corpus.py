"""A corpus of hostile ReleaseVerifications: each entry is (id, document, the field it must be refused at).

Every entry is refused either by the API server (the CRD's schema and CEL rules: 422 naming the
field) or by the operator (the models, or the admin's policy: SpecValid=False naming the field).
The operator running the corpus is started with --allowed-image 'ghcr.io/releaseguard/*'."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
MB = "x" * (1024 * 1024)
ALLOWED_IMAGES = "ghcr.io/releaseguard/*"


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


def base(namespace: str, name: str) -> Obj:
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "targetRef": {"kind": "Deployment", "name": "shop"},
            "timeoutSeconds": 60,
            "checks": [{"name": "health", "http": {"url": f"http://shop.{namespace}.svc:8080/healthz"}}],
        },
    }


Edit = Callable[[Obj], None]


def _check(**fields: Any) -> Edit:
    def edit(spec: Obj) -> None:
        spec["checks"] = [{"name": "c", **fields}]

    return edit


def _http(**fields: Any) -> Edit:
    return _check(http={"url": "http://shop:8080/", **fields})


def _set(key: str, value: Any) -> Edit:
    def edit(spec: Obj) -> None:
        spec[key] = value

    return edit


HEADER_SECRET = {"secretKeyRef": {"name": "s", "key": "k"}}
PROM = {"address": "http://prom:9090", "query": "up"}
C0 = "spec.checks[0]"

ENTRIES: list[tuple[str, Edit, str]] = [
    # the list of checks
    ("no-checks", _set("checks", []), "spec.checks"),
    ("checks-not-a-list", _set("checks", {"name": "x"}), "spec.checks"),
    (
        "too-many-checks",
        _set("checks", [{"name": f"c{i}", "tcp": {"host": "h", "port": 1}} for i in range(65)]),
        "spec.checks",
    ),
    ("duplicate-names", _set("checks", [{"name": "a", "tcp": {"host": "h", "port": 1}}] * 2), "spec.checks"),
    ("name-underscore", _check(name="a_b", tcp={"host": "h", "port": 1}), f"{C0}.name"),
    ("name-64", _check(name="a" * 64, tcp={"host": "h", "port": 1}), f"{C0}.name"),
    ("name-empty", _check(name="", tcp={"host": "h", "port": 1}), f"{C0}.name"),
    ("name-unicode", _check(name="prüfung", tcp={"host": "h", "port": 1}), f"{C0}.name"),
    ("name-1mb", _check(name=MB, tcp={"host": "h", "port": 1}), f"{C0}.name"),
    ("no-type", _check(), C0),
    ("two-types", _check(http={"url": "http://x"}, tcp={"host": "h", "port": 1}), C0),
    ("timeout-zero", _check(timeoutSeconds=0, tcp={"host": "h", "port": 1}), f"{C0}.timeoutSeconds"),
    ("timeout-huge", _check(timeoutSeconds=3601, tcp={"host": "h", "port": 1}), f"{C0}.timeoutSeconds"),
    ("retries-11", _check(retries=11, tcp={"host": "h", "port": 1}), f"{C0}.retries"),
    ("retries-negative", _check(retries=-1, tcp={"host": "h", "port": 1}), f"{C0}.retries"),
    ("critical-string", _check(critical="yes", tcp={"host": "h", "port": 1}), f"{C0}.critical"),
    # http
    ("url-ftp", _check(http={"url": "ftp://shop/"}), f"{C0}.http.url"),
    ("url-no-host", _check(http={"url": "http:///x"}), f"{C0}.http.url"),
    ("url-space", _check(http={"url": "http://shop/a b"}), f"{C0}.http.url"),
    ("url-port", _check(http={"url": "http://shop:99999/"}), f"{C0}.http.url"),
    ("url-1mb", _check(http={"url": "http://shop/" + MB}), f"{C0}.http.url"),
    ("url-number", _check(http={"url": 42}), f"{C0}.http.url"),
    ("method-trace", _http(method="TRACE"), f"{C0}.http.method"),
    ("body-on-get", _http(body="{}"), f"{C0}.http"),
    ("body-1mb", _http(method="POST", body=MB), f"{C0}.http.body"),
    ("status-99", _http(expectStatus=[99]), f"{C0}.http.expectStatus[0]"),
    ("status-empty", _http(expectStatus=[]), f"{C0}.http.expectStatus"),
    ("status-string", _http(expectStatus="200"), f"{C0}.http.expectStatus"),
    ("status-many", _http(expectStatus=[200] * 65), f"{C0}.http.expectStatus"),
    ("latency-zero", _http(maxLatencyMs=0), f"{C0}.http.maxLatencyMs"),
    ("latency-string", _http(maxLatencyMs="fast"), f"{C0}.http.maxLatencyMs"),
    ("headers-33", _http(headers=[{"name": f"H{i}", "value": "v"} for i in range(33)]), f"{C0}.http.headers"),
    ("header-name-space", _http(headers=[{"name": "Bad Header", "value": "v"}]), f"{C0}.http.headers[0].name"),
    ("header-name-newline", _http(headers=[{"name": "X\nInjected", "value": "v"}]), f"{C0}.http.headers[0].name"),
    (
        "header-two-values",
        _http(headers=[{"name": "X", "value": "v", "valueFrom": HEADER_SECRET}]),
        f"{C0}.http.headers[0]",
    ),
    ("header-no-value", _http(headers=[{"name": "X"}]), f"{C0}.http.headers[0]"),
    ("header-value-1mb", _http(headers=[{"name": "X", "value": MB}]), f"{C0}.http.headers[0].value"),
    (
        "value-from-two",
        _http(headers=[{"name": "X", "valueFrom": {"env": "A", "file": "/f"}}]),
        f"{C0}.http.headers[0].valueFrom",
    ),
    (
        "secret-name-bad",
        _http(headers=[{"name": "X", "valueFrom": {"secretKeyRef": {"name": "Bad_Name", "key": "k"}}}]),
        f"{C0}.http.headers[0].valueFrom.secretKeyRef.name",
    ),
    (
        "secret-key-slash",
        _http(headers=[{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "a/b"}}}]),
        f"{C0}.http.headers[0].valueFrom.secretKeyRef.key",
    ),
    ("json-path-garbage", _http(json=[{"path": "not a path", "exists": True}]), f"{C0}.http.json[0].path"),
    ("json-path-empty", _http(json=[{"path": "", "exists": True}]), f"{C0}.http.json[0].path"),
    ("json-path-1mb", _http(json=[{"path": "$." + MB, "exists": True}]), f"{C0}.http.json[0].path"),
    ("json-no-op", _http(json=[{"path": "$.a"}]), f"{C0}.http.json[0]"),
    ("json-two-ops", _http(json=[{"path": "$.a", "exists": True, "matches": "x"}]), f"{C0}.http.json[0]"),
    ("regex-open", _http(json=[{"path": "$.a", "matches": "("}]), f"{C0}.http.json[0].matches"),
    ("regex-2k", _http(json=[{"path": "$.a", "matches": "a" * 2000}]), f"{C0}.http.json[0].matches"),
    ("one-of-empty", _http(json=[{"path": "$.a", "oneOf": []}]), f"{C0}.http.json[0].oneOf"),
    ("one-of-257", _http(json=[{"path": "$.a", "oneOf": list(range(257))}]), f"{C0}.http.json[0].oneOf"),
    ("one-of-deep", _http(json=[{"path": "$.a", "oneOf": [nested(60)]}]), f"{C0}.http.json[0].oneOf"),
    ("equals-deep", _http(json=[{"path": "$.a", "equals": nested(60)}]), f"{C0}.http.json[0].equals"),
    ("equals-huge", _http(json=[{"path": "$.a", "equals": ["y" * 1000] * 100}]), f"{C0}.http.json[0].equals"),
    ("json-65", _http(json=[{"path": "$.a", "exists": True}] * 65), f"{C0}.http.json"),
    ("schema-invalid", _http(jsonSchema={"type": 5}), f"{C0}.http.jsonSchema"),
    ("schema-deep", _http(jsonSchema={"properties": {"a": nested(60)}}), f"{C0}.http.jsonSchema"),
    ("schema-huge", _http(jsonSchema={"description": "d" * 70000}), f"{C0}.http.jsonSchema"),
    ("redirects-string", _http(followRedirects="yes"), f"{C0}.http.followRedirects"),
    ("tls-string", _http(tls={"insecureSkipVerify": "no"}), f"{C0}.http.tls.insecureSkipVerify"),
    # tcp
    ("port-zero", _check(tcp={"host": "h", "port": 0}), f"{C0}.tcp.port"),
    ("port-70000", _check(tcp={"host": "h", "port": 70000}), f"{C0}.tcp.port"),
    ("port-string", _check(tcp={"host": "h", "port": "x"}), f"{C0}.tcp.port"),
    ("host-empty", _check(tcp={"host": "", "port": 1}), f"{C0}.tcp.host"),
    ("host-300", _check(tcp={"host": "h" * 300, "port": 1}), f"{C0}.tcp.host"),
    # prometheus
    ("prom-no-threshold", _check(prometheus=PROM), f"{C0}.prometheus"),
    ("prom-two-thresholds", _check(prometheus={**PROM, "lessThan": 1, "greaterThan": 0}), f"{C0}.prometheus"),
    ("prom-min-gt-max", _check(prometheus={**PROM, "between": {"min": 2, "max": 1}}), f"{C0}.prometheus.between"),
    ("prom-address-ftp", _check(prometheus={**PROM, "address": "ftp://p", "lessThan": 1}), f"{C0}.prometheus.address"),
    ("prom-query-empty", _check(prometheus={**PROM, "query": "", "lessThan": 1}), f"{C0}.prometheus.query"),
    ("prom-query-1mb", _check(prometheus={**PROM, "query": MB, "lessThan": 1}), f"{C0}.prometheus.query"),
    ("prom-on-empty", _check(prometheus={**PROM, "lessThan": 1, "onEmpty": "Maybe"}), f"{C0}.prometheus.onEmpty"),
    # command / python / pytest
    ("command-empty", _check(command={"command": []}), f"{C0}.command.command"),
    ("command-missing", _check(command={}), f"{C0}.command.command"),
    ("exit-256", _check(command={"command": ["x"], "expectExitCode": 256}), f"{C0}.command.expectExitCode"),
    ("stdout-regex", _check(command={"command": ["x"], "stdoutMatches": "["}), f"{C0}.command.stdoutMatches"),
    ("argv-257", _check(command={"command": ["x"] * 257}), f"{C0}.command.command"),
    ("argv-1mb", _check(command={"command": [MB]}), f"{C0}.command.command[0]"),
    ("python-nothing", _check(python={}), f"{C0}.python"),
    ("python-import", _check(python={"imports": ["not-a-module"]}), f"{C0}.python.imports[0]"),
    ("python-env", _check(python={"env": ["1BAD"]}), f"{C0}.python.env[0]"),
    ("python-config", _check(python={"configFiles": ["/bin/sh"]}), f"{C0}.python.configFiles[0]"),
    ("pytest-arg-1mb", _check(pytest={"args": [MB]}), f"{C0}.pytest.args[0]"),
    # the spec around the checks
    ("spec-timeout-zero", _set("timeoutSeconds", 0), "spec.timeoutSeconds"),
    ("spec-timeout-huge", _set("timeoutSeconds", 86401), "spec.timeoutSeconds"),
    ("delay-negative", _set("delaySeconds", -1), "spec.delaySeconds"),
    ("delay-huge", _set("delaySeconds", 3601), "spec.delaySeconds"),
    ("parallelism-zero", _set("parallelism", 0), "spec.parallelism"),
    ("parallelism-65", _set("parallelism", 65), "spec.parallelism"),
    ("history-51", _set("historyLimit", 51), "spec.historyLimit"),
    ("policy-enum", _set("rollback", {"policy": "Sometimes"}), "spec.rollback.policy"),
    ("target-kind", _set("targetRef", {"kind": "StatefulSet", "name": "shop"}), "spec.targetRef.kind"),
    ("target-name", _set("targetRef", {"name": "Bad_Name"}), "spec.targetRef.name"),
    ("target-name-300", _set("targetRef", {"name": "a" * 300}), "spec.targetRef.name"),
    ("runner-account", _set("runner", {"serviceAccountName": "Bad_SA"}), "spec.runner.serviceAccountName"),
    ("runner-tolerations", _set("runner", {"tolerations": [{"key": "k"}] * 65}), "spec.runner.tolerations"),
    ("runner-effect", _set("runner", {"tolerations": [{"effect": "Sometimes"}]}), "spec.runner.tolerations[0].effect"),
    # the admin's policy (the operator refuses these; the API server cannot know)
    ("metadata-url", _http(url="http://169.254.169.254/latest/meta-data/"), f"{C0}.http.url"),
    ("metadata-mapped", _http(url="http://[::ffff:169.254.169.254]/"), f"{C0}.http.url"),
    ("link-local-tcp", _check(tcp={"host": "fe80::1", "port": 80}), f"{C0}.tcp.host"),
    (
        "metadata-prom",
        _check(prometheus={**PROM, "address": "http://169.254.169.254", "lessThan": 1}),
        f"{C0}.prometheus.address",
    ),
    ("runner-image", _set("runner", {"image": "evil.example/miner:1"}), "spec.runner.image"),
    ("check-image", _check(command={"command": ["id"], "image": "evil.example/root:1"}), f"{C0}.command.image"),
]


def corpus(namespace: str) -> list[tuple[str, Obj, str]]:
    """(rv name, document, field) for every entry, in `namespace`."""
    out = []
    for index, (ident, edit, field) in enumerate(ENTRIES):
        document = base(namespace, f"h{index:03d}-{ident}"[:63].rstrip("-"))
        edit(document["spec"])
        out.append((document["metadata"]["name"], copy.deepcopy(document), field))
    return out
