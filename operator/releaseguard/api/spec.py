"""The spec of a ReleaseVerification: what to verify after each rollout and what to do on failure.

It also holds the check-type registry, `CHECK_TYPE_TABLE`: one `CheckType` per type (its name, its
model and where it runs, `Placement.RUNNER` or `Placement.TARGET_IMAGE`). Everything that needs to
know the check types (the `Check` model and its CRD rule, the Job builders, the in-image script's
test, `releaseguard probe`) reads that table; the runner-side half (type name -> CheckRunner) is
`checks/registry.py`, which refuses to load unless it covers exactly these names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StrictBool, field_validator, model_validator

from .base import SpecModel
from .notifications import NotificationSubscription

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ENV_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"


def _exactly_one_rule(fields: tuple[str, ...], what: str) -> dict[str, Any]:
    """A CEL rule (x-kubernetes-validations) that exactly one of `fields` is set."""
    listed = ", ".join(f"has(self.{f})" for f in fields)
    rule = f"[{listed}].filter(x, x).size() == 1"
    return {"rule": rule, "message": f"exactly one of {', '.join(fields)} must be set in {what}"}


def _set_fields(model: SpecModel, fields: tuple[str, ...]) -> list[str]:
    return [f for f in fields if getattr(model, _attr(f)) is not None]


def _attr(wire_name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), wire_name)


def _require_exactly_one(model: SpecModel, fields: tuple[str, ...], what: str) -> None:
    present = _set_fields(model, fields)
    if len(present) != 1:
        got = ", ".join(present) if present else "none"
        raise ValueError(f"exactly one of {', '.join(fields)} must be set in {what} (got {got})")


def validate_url(value: str) -> str:
    """An absolute http(s) URL with a host (and a valid port, if any)."""
    schemes = ("http", "https")
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ValueError(f"expected a URL with scheme {' or '.join(schemes)}, got {value!r}")
    if not parts.hostname:
        raise ValueError(f"expected a URL with a host, got {value!r}")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise ValueError(f"invalid port in URL {value!r}") from exc
    if any(c.isspace() for c in value):
        raise ValueError(f"URL must not contain whitespace, got {value!r}")
    return value


POD_TEMPLATE = re.compile(r"\{\{\s*\.(PodIP|PodName)\s*\}\}")
"""The placeholders an http url or a tcp host may hold: `{{ .PodIP }}` and `{{ .PodName }}`
(spaces inside the braces optional). Such a check runs once per ready pod of the new revision."""
_SAMPLE = {"PodIP": "10.0.0.1", "PodName": "pod-0"}


def uses_pod_template(value: str) -> bool:
    return POD_TEMPLATE.search(value) is not None


def expand_pod_template(value: str, pod_name: str, pod_ip: str) -> str:
    """`value` with `{{ .PodIP }}` and `{{ .PodName }}` replaced by one pod's (an IPv6 address is
    bracketed, as a URL's host must be)."""
    ip = f"[{pod_ip}]" if ":" in pod_ip and not pod_ip.startswith("[") else pod_ip
    return POD_TEMPLATE.sub(lambda m: ip if m.group(1) == "PodIP" else pod_name, value)


def validate_pod_template(value: str) -> str:
    """Only the known placeholders; any other `{{` or `}}` is refused."""
    rest = POD_TEMPLATE.sub("", value)
    if "{{" in rest or "}}" in rest:
        raise ValueError(f"unknown template in {value!r}: only {{{{ .PodIP }}}} and {{{{ .PodName }}}} are allowed")
    return value


def validate_templated_url(value: str) -> str:
    """validate_url for an http check's url, which may hold pod placeholders."""
    validate_pod_template(value)
    validate_url(POD_TEMPLATE.sub(lambda m: _SAMPLE[m.group(1)], value))
    return value


def validate_regex(value: str) -> str:
    """A pattern both `re` (the in-image script) and `regex` (the runner) compile."""
    import regex

    try:
        re.compile(value)
        regex.compile(value)
    except (re.error, regex.error) as exc:
        raise ValueError(f"invalid regular expression {value[:200]!r}: {exc}") from exc
    return value


MAX_REGEX = 1024
MAX_JSON_DEPTH = 32
MAX_JSON_BYTES = 64 * 1024


def bounded_json(value: Any) -> Any:
    """A free-form JSON value (equals, oneOf, jsonSchema) no deeper than MAX_JSON_DEPTH and no
    larger than MAX_JSON_BYTES: deep nesting breaks JSON decoders' recursion limits."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    import json

    size = len(json.dumps(value, separators=(",", ":"), default=str))
    if size > MAX_JSON_BYTES:
        raise ValueError(f"JSON of {size} bytes, more than {MAX_JSON_BYTES}")
    return value


def validate_json_path(value: str) -> str:
    from ..jsonpath import parse_json_path

    parse_json_path(value)  # JsonPathError is a ValueError
    return value


# --- target ---------------------------------------------------------------------------------


class TargetRef(SpecModel):
    """The Deployment to verify. Always in the ReleaseVerification's own namespace."""

    kind: Literal["Deployment"] = "Deployment"
    """Kind of the target; only Deployment is supported."""
    name: Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]
    """Name of the Deployment, in the ReleaseVerification's own namespace."""


# --- header values ---------------------------------------------------------------------------


class SecretKeySelector(SpecModel):
    name: Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]
    """Name of the Secret, in the same namespace."""
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]
    """Key within the Secret."""


class ValueSource(SpecModel):
    """Where a secret value comes from: a Secret key (in a cluster), an env var or a file (in the runner)."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [_exactly_one_rule(("secretKeyRef", "env", "file"), "valueFrom")]
        }
    }

    secret_key_ref: SecretKeySelector | None = None
    """A key of a Secret; the probe Job receives it as an environment variable."""
    env: Annotated[str, Field(max_length=256, pattern=ENV_VAR_NAME)] | None = None
    """An environment variable of the runner (when running `releaseguard probe` by hand)."""
    file: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    """A file of the runner, e.g. a mounted Secret."""

    @model_validator(mode="after")
    def _one_source(self) -> ValueSource:
        _require_exactly_one(self, ("secretKeyRef", "env", "file"), "valueFrom")
        return self


class HttpHeader(SpecModel):
    model_config = SpecModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.value) != has(self.valueFrom)",
                    "message": "exactly one of value, valueFrom must be set in a header",
                }
            ]
        }
    }

    name: Annotated[str, Field(min_length=1, max_length=256, pattern=HEADER_NAME)]
    """Header name."""
    value: Annotated[str, Field(max_length=8192)] | None = None
    """A literal value."""
    value_from: ValueSource | None = None
    """Where a secret value comes from; such values are redacted from reports and logs."""

    @model_validator(mode="after")
    def _one_value(self) -> HttpHeader:
        _require_exactly_one(self, ("value", "valueFrom"), "a header")
        return self


# --- http ------------------------------------------------------------------------------------

JSON_ASSERTION_OPS: tuple[str, ...] = ("equals", "exists", "matches", "oneOf")


class JsonAssertion(SpecModel):
    """An assertion on one field of a JSON response body, addressed by a JSONPath-like path."""

    # Not CEL: `equals` and `oneOf` hold any JSON, which CEL cannot see (a real API server refuses a
    # rule naming them), so the schema's own oneOf says "exactly one" to the API server.
    model_config = SpecModel.model_config | {
        "json_schema_extra": {"oneOf": [{"required": [op]} for op in JSON_ASSERTION_OPS]}
    }

    path: Annotated[
        str,
        Field(min_length=1, max_length=1024, description="e.g. $.status or $.items[0].price"),
        AfterValidator(validate_json_path),
    ]
    equals: Annotated[Any, AfterValidator(bounded_json)] = None
    """The value at the path must equal this (any JSON value, null included)."""
    exists: StrictBool | None = None
    """true: the path must match something; false: it must match nothing."""
    matches: Annotated[str, Field(max_length=MAX_REGEX)] | None = None
    """A regular expression the value (as text) must match."""
    one_of: Annotated[list[Any], Field(min_length=1, max_length=256), AfterValidator(bounded_json)] | None = None
    """The value must equal one of these."""

    @field_validator("matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return None if value is None else validate_regex(value)

    @model_validator(mode="after")
    def _one_op(self) -> JsonAssertion:
        present = [op for op in JSON_ASSERTION_OPS if op in self.model_fields_set or _op_set(self, op)]
        if len(present) != 1:
            got = ", ".join(present) if present else "none"
            raise ValueError(f"exactly one of {', '.join(JSON_ASSERTION_OPS)} must be set (got {got})")
        return self

    @property
    def operator(self) -> str:
        return next(op for op in JSON_ASSERTION_OPS if op in self.model_fields_set or _op_set(self, op))


def _op_set(assertion: JsonAssertion, op: str) -> bool:
    # `equals: null` is a legitimate assertion, so presence, not value, decides for equals.
    if op == "equals":
        return "equals" in assertion.model_fields_set
    return getattr(assertion, _attr(op)) is not None


class TlsOptions(SpecModel):
    insecure_skip_verify: StrictBool = False
    """Do not verify the server's certificate."""
    ca_file: str | None = Field(default=None, max_length=4096, description="PEM bundle to verify the server with")
    server_name: Annotated[str, Field(max_length=253)] | None = None
    """Name to verify the certificate against, when it differs from the URL host."""


HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class SamplesSpec(SpecModel):
    """Extra requests of an http check whose latencies and outcomes are recorded (issue 15)."""

    count: Annotated[int, Field(ge=1, le=200)]
    """Requests sent, spread evenly over intervalSeconds (the check's result is still its first request's)."""
    interval_seconds: Annotated[int, Field(ge=0, le=600)] = 0
    """Seconds over which the requests are spread (0: one after the other)."""


class BaselineSpec(SpecModel):
    """Compare this check's samples with those of the last verified revision; a change that is
    material and significant fails the check, no baseline or too few samples is Inconclusive."""

    percentile: Annotated[float, Field(gt=0, le=100)] = 95
    """The latency percentile compared (of the successful samples)."""
    max_slowdown_percent: Annotated[float, Field(ge=0, le=10000)] = 25
    """A percentile more than this much slower than the baseline's is material."""
    max_error_rate_increase_points: Annotated[float, Field(ge=0, le=100)] = 2
    """An error rate more than this many percentage points above the baseline's is material."""
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.01
    """Significance level of the one-sided tests (Mann-Whitney U for latency, Fisher exact for errors)."""
    min_samples: Annotated[int, Field(ge=1, le=200)] = 20
    """Fewer samples than this on either side is Inconclusive."""


class HttpCheck(SpecModel):
    model_config = SpecModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {"rule": "!has(self.baseline) || has(self.samples)", "message": "baseline needs samples"}
            ]
        }
    }

    url: Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(validate_templated_url)]
    """Absolute http(s) URL, e.g. http://shop.demo.svc:8080/healthz; with `{{ .PodIP }}` or `{{ .PodName }}` it is called once per ready pod of the new revision, e.g. http://{{ .PodIP }}:8080/healthz."""
    method: HttpMethod = "GET"
    """HTTP method."""
    headers: Annotated[list[HttpHeader], Field(max_length=32)] = []
    """Request headers."""
    body: Annotated[str, Field(max_length=65536)] | None = None
    """Request body (not with GET or HEAD)."""
    expect_status: Annotated[list[Annotated[int, Field(ge=100, le=599)]], Field(min_length=1, max_length=64)] = [200]
    """Status codes that count as success."""
    max_latency_ms: Annotated[int, Field(ge=1)] | None = None
    """Slowest acceptable response, in milliseconds."""
    json_assertions: Annotated[list[JsonAssertion], Field(alias="json", max_length=64)] = []
    """Assertions on fields of the JSON response body."""
    json_schema: dict[str, Any] | None = Field(
        default=None, description="A JSON Schema (draft 2020-12) the response body must satisfy"
    )
    follow_redirects: StrictBool = False
    """Follow redirects instead of judging the first response."""
    tls: TlsOptions | None = None
    """TLS options for https URLs."""
    samples: SamplesSpec | None = None
    """Send count requests over intervalSeconds and record each one's latency and outcome."""
    baseline: BaselineSpec | None = None
    """Compare the samples with the last verified revision's (needs samples)."""

    @field_validator("json_schema")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            from jsonschema import Draft202012Validator
            from jsonschema.exceptions import SchemaError

            bounded_json(value)
            try:
                Draft202012Validator.check_schema(value)
            except SchemaError as exc:
                raise ValueError(f"not a valid JSON Schema: {exc.message}") from exc
        return value

    @model_validator(mode="after")
    def _no_body_without_method(self) -> HttpCheck:
        if self.body is not None and self.method in ("GET", "HEAD"):
            raise ValueError(f"body is not allowed with method {self.method}")
        return self

    @model_validator(mode="after")
    def _baseline_needs_samples(self) -> HttpCheck:
        if self.baseline is not None and self.samples is None:
            raise ValueError("baseline needs samples: set samples.count (and samples.intervalSeconds)")
        return self


# --- tcp / prometheus ------------------------------------------------------------------------


class TcpCheck(SpecModel):
    host: Annotated[str, Field(min_length=1, max_length=253), AfterValidator(validate_pod_template)]
    """Host name or address, e.g. postgres.demo.svc; `{{ .PodIP }}` connects to each ready pod of the new revision."""
    port: Annotated[int, Field(ge=1, le=65535)]
    """TCP port that must accept a connection."""


class Range(SpecModel):
    min: float
    """Lowest passing value (inclusive)."""
    max: float
    """Highest passing value (inclusive)."""

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not be greater than max ({self.max})")
        return self


class InconclusiveOutcome(StrEnum):
    INCONCLUSIVE = "Inconclusive"
    PASSED = "Passed"
    FAILED = "Failed"


THRESHOLDS: tuple[str, ...] = ("lessThan", "greaterThan", "between")

# Template variables of a prometheus query (issue 15): the revision verified and the last verified
# one, as the operator passes them to the probe (contract.REVISION_ENV). Go-template spelling, as
# Argo Rollouts and Flagger write theirs: {{ .PodTemplateHash }}.
TEMPLATE_VARIABLES: tuple[str, ...] = ("Revision", "PodTemplateHash", "BaselineRevision", "BaselinePodTemplateHash")
CURRENT_VARIABLES: tuple[str, ...] = ("Revision", "PodTemplateHash")
TEMPLATE_REFERENCE = re.compile(r"\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def template_variables(query: str) -> list[str]:
    """The variables `query` names, in order of first use."""
    seen: list[str] = []
    for name in TEMPLATE_REFERENCE.findall(query):
        if name not in seen:
            seen.append(name)
    return seen


def validate_template(query: str) -> str:
    """Every `{{ ... }}` of `query` names a known variable, e.g. {{ .PodTemplateHash }}."""
    unknown = [n for n in template_variables(query) if n not in TEMPLATE_VARIABLES]
    if unknown:
        known = ", ".join(f"{{{{ .{n} }}}}" for n in TEMPLATE_VARIABLES)
        raise ValueError(f"unknown template variable {{{{ .{unknown[0]} }}}}; known: {known}")
    leftover = TEMPLATE_REFERENCE.sub("", query)
    if "{{" in leftover or "}}" in leftover:
        raise ValueError("a '{{' or '}}' that is not a template variable such as {{ .PodTemplateHash }}")
    return query


class PrometheusBaseline(SpecModel):
    """Compare the new revision with the last verified one (issue 15). Where both queries return
    several samples (series, or the repeated measurements of `count`), a regression must be both
    material (past maxIncrease or maxIncreasePercent, on the medians) and significant (a one-sided
    Mann-Whitney U test at `alpha`); where each returns one number, the difference alone decides."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.maxIncrease) || has(self.maxIncreasePercent)",
                    "message": "a baseline needs maxIncrease or maxIncreasePercent",
                }
            ]
        }
    }

    query: Annotated[str, Field(min_length=1, max_length=8192), AfterValidator(validate_template)] | None = None
    """PromQL for the last verified revision, e.g. with {{ .BaselinePodTemplateHash }}; default: the
    check's query with the last verified revision's values in place of the new one's."""
    max_increase: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    """Largest tolerated increase over the last verified revision, in the query's unit."""
    max_increase_percent: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    """Largest tolerated increase over the last verified revision, in percent of its value."""
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.01
    """Significance level of the test when both sides have several samples."""

    @model_validator(mode="after")
    def _a_limit(self) -> PrometheusBaseline:
        if self.max_increase is None and self.max_increase_percent is None:
            raise ValueError("a baseline needs maxIncrease or maxIncreasePercent")
        return self


_THRESHOLD_COUNT = f"[{', '.join(f'has(self.{t})' for t in THRESHOLDS)}].filter(x, x).size()"


class PrometheusCheck(SpecModel):
    model_config = SpecModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": _THRESHOLD_COUNT + " <= 1 && (has(self.baseline) || " + _THRESHOLD_COUNT + " == 1)",
                    "message": "exactly one of lessThan, greaterThan, between must be set in prometheus "
                    "(at most one with a baseline)",
                },
                {
                    "rule": "!has(self.count) || self.count == 1 || has(self.intervalSeconds)",
                    "message": "intervalSeconds is required when count is more than 1",
                },
            ]
        }
    }

    address: Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(validate_url)]
    """Base URL of the Prometheus server."""
    query: Annotated[str, Field(min_length=1, max_length=8192), AfterValidator(validate_template)]
    """PromQL instant query; its single value is compared with the threshold. May name the revision:
    {{ .PodTemplateHash }}, {{ .Revision }} (and, in a baseline, {{ .BaselinePodTemplateHash }},
    {{ .BaselineRevision }})."""
    less_than: float | None = None
    """Passes when the value is below this."""
    greater_than: float | None = None
    """Passes when the value is above this."""
    between: Range | None = None
    """Passes when the value is within this range."""
    on_empty: InconclusiveOutcome = Field(
        default=InconclusiveOutcome.INCONCLUSIVE,
        description="What an empty result or NaN means",
    )
    fail_on_inconclusive: StrictBool = Field(default=False, description="An inconclusive result fails a critical check")
    count: Annotated[int, Field(ge=1, le=100)] = 1
    """Measurements to take (Argo Rollouts' count); each is judged by the threshold."""
    interval_seconds: Annotated[int, Field(ge=1, le=3600)] | None = None
    """Time between two measurements; required when count is more than 1."""
    failure_limit: Annotated[int, Field(ge=0, le=100)] = 0
    """Failed measurements tolerated: the check fails when more than this many fail."""
    inconclusive_limit: Annotated[int, Field(ge=0, le=100)] = 0
    """Inconclusive measurements tolerated: the check is Inconclusive when more than this many are."""
    consecutive_error_limit: Annotated[int, Field(ge=0, le=100)] = 4
    """Errors in a row tolerated (Prometheus unreachable, a bad answer): more end the check as Error."""
    baseline: PrometheusBaseline | None = None
    """Compare with the last verified revision of the Deployment (templated queries)."""

    @model_validator(mode="after")
    def _one_threshold(self) -> PrometheusCheck:
        if self.baseline is None:
            _require_exactly_one(self, THRESHOLDS, "prometheus")
        elif len(_set_fields(self, THRESHOLDS)) > 1:
            got = ", ".join(_set_fields(self, THRESHOLDS))
            raise ValueError(f"at most one of {', '.join(THRESHOLDS)} may be set in prometheus (got {got})")
        if self.count > 1 and self.interval_seconds is None:
            raise ValueError(f"intervalSeconds: required when count is more than 1 (count is {self.count})")
        if self.baseline is None:
            named = [n for n in template_variables(self.query) if n not in CURRENT_VARIABLES]
            if named:
                raise ValueError(f"query: {{{{ .{named[0]} }}}} is only known with a baseline")
        else:
            self._check_baseline(self.baseline)
        return self

    def _check_baseline(self, baseline: PrometheusBaseline) -> None:
        if baseline.query is None:
            if not template_variables(self.query):
                raise ValueError(
                    "baseline: the query names no revision ({{ .PodTemplateHash }} or {{ .Revision }}), so it "
                    "would measure both revisions alike; template the query or give baseline.query"
                )
            named = [n for n in template_variables(self.query) if n not in CURRENT_VARIABLES]
            if named:
                raise ValueError(
                    f"query: {{{{ .{named[0]} }}}} needs baseline.query (without it the query is rendered "
                    "once per revision with {{ .PodTemplateHash }} and {{ .Revision }})"
                )
        elif not any(n.startswith("Baseline") for n in template_variables(baseline.query)):
            raise ValueError(
                "baseline.query: names neither {{ .BaselinePodTemplateHash }} nor {{ .BaselineRevision }}, "
                "so it does not measure the last verified revision"
            )

    @property
    def repeated(self) -> bool:
        """Whether the check takes several measurements (count > 1)."""
        return self.count > 1

    @property
    def templated(self) -> bool:
        """Whether a query names a revision variable (the probe needs the revisions)."""
        queries = [self.query] + ([self.baseline.query] if self.baseline and self.baseline.query else [])
        return any(template_variables(q) for q in queries) or self.baseline is not None


# --- checks run in the target's image --------------------------------------------------------

TARGET_IMAGE = "target"


class CommandCheck(SpecModel):
    command: Annotated[list[Annotated[str, Field(max_length=4096)]], Field(min_length=1, max_length=256)]
    """The argv to run."""
    image: Annotated[str, Field(min_length=1, max_length=1024)] = Field(
        default=TARGET_IMAGE, description="'target' runs in the Deployment's own image and environment"
    )
    working_dir: Annotated[str, Field(max_length=4096)] | None = None
    """Working directory of the command."""
    python: Annotated[
        str, Field(min_length=1, max_length=4096, description="Interpreter that judges the command in its image")
    ] = "python"
    expect_exit_code: Annotated[int, Field(ge=0, le=255)] = 0
    """Exit code that counts as success."""
    stdout_matches: Annotated[str, Field(max_length=MAX_REGEX)] | None = None
    """A regular expression the command's output must match."""

    @field_validator("stdout_matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return None if value is None else validate_regex(value)


CONFIG_EXTENSIONS: tuple[str, ...] = (".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf")


def validate_config_file(path: str) -> str:
    if not path.lower().endswith(CONFIG_EXTENSIONS):
        raise ValueError(f"{path!r}: expected a file ending in one of {', '.join(CONFIG_EXTENSIONS)}")
    return path


MODULE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"


class PythonCheck(SpecModel):
    model_config = SpecModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": " || ".join(
                        [f"(has(self.{f}) && size(self.{f}) > 0)" for f in ("imports", "env", "configFiles")]
                        + ["(has(self.pipCheck) && self.pipCheck)"]
                    ),
                    "message": "a python check needs at least one of imports, env, configFiles, pipCheck",
                }
            ]
        }
    }

    imports: Annotated[list[Annotated[str, Field(max_length=256, pattern=MODULE_NAME)]], Field(max_length=256)] = []
    """Modules that must import, e.g. shop.app."""
    env: Annotated[list[Annotated[str, Field(max_length=256, pattern=ENV_VAR_NAME)]], Field(max_length=256)] = []
    """Environment variables that must be set (their values are never printed)."""
    config_files: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(validate_config_file)]],
        Field(max_length=256),
    ] = []
    """Files that must exist and decode, by extension (.json, .yaml, .toml, .ini, ...)."""
    pip_check: StrictBool = False
    """`pip check` must find no broken requirements."""
    image: Annotated[str, Field(min_length=1)] = TARGET_IMAGE
    """'target' runs in the Deployment's own image and environment."""
    python: Annotated[str, Field(min_length=1, description="The interpreter in the image")] = "python"

    @model_validator(mode="after")
    def _something_to_check(self) -> PythonCheck:
        if not (self.imports or self.env or self.config_files or self.pip_check):
            raise ValueError("a python check needs at least one of imports, env, configFiles, pipCheck")
        return self


class PytestCheck(SpecModel):
    args: Annotated[list[Annotated[str, Field(max_length=4096)]], Field(max_length=256)] = []
    """Arguments of `python -m pytest`, e.g. [-m, smoke, tests/smoke]."""
    image: Annotated[str, Field(min_length=1)] = TARGET_IMAGE
    """'target' runs in the Deployment's own image and environment."""
    python: Annotated[str, Field(min_length=1)] = "python"
    """The interpreter in the image."""
    working_dir: str | None = None
    """Working directory of the test run."""


# --- the check-type registry ----------------------------------------------------------------


class Placement(StrEnum):
    """Where a check type runs."""

    RUNNER = "runner"
    """In the one runner Job of a verification, in the runner image (network checks)."""
    TARGET_IMAGE = "targetImage"
    """In a Job of its own, in the target's image (or the check's `image`), via the in-image script."""


@dataclass(frozen=True)
class CheckType:
    name: str
    """The field of `Check` that holds this type's spec (and the report's `type`)."""
    model: type[SpecModel]
    """The model of that field."""
    runs_in: Placement


CHECK_TYPE_TABLE: Final[tuple[CheckType, ...]] = (
    CheckType("http", HttpCheck, Placement.RUNNER),
    CheckType("tcp", TcpCheck, Placement.RUNNER),
    CheckType("prometheus", PrometheusCheck, Placement.RUNNER),
    CheckType("command", CommandCheck, Placement.TARGET_IMAGE),
    CheckType("python", PythonCheck, Placement.TARGET_IMAGE),
    CheckType("pytest", PytestCheck, Placement.TARGET_IMAGE),
)
"""Every check type, in the order the CRD lists them."""

CHECK_TYPES: Final[tuple[str, ...]] = tuple(t.name for t in CHECK_TYPE_TABLE)
CHECK_TYPE: Final[Mapping[str, CheckType]] = {t.name: t for t in CHECK_TYPE_TABLE}


def types_in(placement: Placement) -> tuple[str, ...]:
    """The names of the check types that run in `placement`, in table order."""
    return tuple(t.name for t in CHECK_TYPE_TABLE if t.runs_in is placement)


# --- a check ---------------------------------------------------------------------------------


class Check(SpecModel):
    model_config = SpecModel.model_config | {
        "json_schema_extra": {"x-kubernetes-validations": [_exactly_one_rule(CHECK_TYPES, "a check")]}
    }

    name: Annotated[str, Field(min_length=1, max_length=63, pattern=DNS_LABEL)]
    """Unique name (a DNS label); shown in reports, Events and metrics."""
    critical: StrictBool = True
    """A failed critical check fails the verification and triggers the rollback policy."""
    timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 10
    """Timeout of each attempt."""
    retries: Annotated[int, Field(ge=0, le=10, description="Extra attempts after a failure")] = 0
    fail_on_flaky: StrictBool = Field(default=False, description="A pass after a failed attempt counts as failed")
    http: HttpCheck | None = None
    """An HTTP request and what its response must be."""
    tcp: TcpCheck | None = None
    """A TCP connection that must open."""
    prometheus: PrometheusCheck | None = None
    """A Prometheus query and its threshold."""
    command: CommandCheck | None = None
    """A command run in the target image (or another image)."""
    python: PythonCheck | None = None
    """Python environment checks run in the target's image."""
    pytest: PytestCheck | None = None
    """An existing pytest smoke suite run in the target's image."""

    @model_validator(mode="after")
    def _one_type(self) -> Check:
        _require_exactly_one(self, CHECK_TYPES, "a check")
        if self.prometheus is not None and self.prometheus.repeated and self.retries:
            raise ValueError(
                "retries: not with prometheus.count > 1 (each measurement is judged once; "
                "prometheus.failureLimit tolerates failed ones)"
            )
        return self

    @property
    def type(self) -> str:
        return _set_fields(self, CHECK_TYPES)[0]

    @property
    def config(self) -> SpecModel:
        """The type-specific part (http, tcp, ...)."""
        value: SpecModel = getattr(self, self.type)
        return value

    @property
    def placement(self) -> Placement:
        """Where this check runs (the registry's word for its type)."""
        return CHECK_TYPE[self.type].runs_in

    @property
    def runs_in_target_image(self) -> bool:
        return self.placement is Placement.TARGET_IMAGE

    @property
    def names_a_pod(self) -> bool:
        """Whether the check calls each new pod ({{ .PodIP }} or {{ .PodName }} in its url or host)."""
        if self.http is not None:
            return uses_pod_template(self.http.url)
        if self.tcp is not None:
            return uses_pod_template(self.tcp.host)
        return False


# --- rollback and runner ---------------------------------------------------------------------


class RollbackPolicy(StrEnum):
    AUTOMATIC = "Automatic"
    MANUAL = "Manual"
    NEVER = "Never"


class RejectedTemplatePolicy(StrEnum):
    VERIFY = "Verify"
    ROLL_BACK = "RollBack"


class RollbackSpec(SpecModel):
    policy: RollbackPolicy = RollbackPolicy.AUTOMATIC
    """Automatic rolls back on a failed critical check; Manual records and recommends; Never only observes."""
    on_non_critical_failure: StrictBool = Field(
        default=False, description="Also roll back when only non-critical checks fail"
    )
    on_rejected_template: RejectedTemplatePolicy = RejectedTemplatePolicy.VERIFY
    """A pod template this rv rolled back before, deployed again: Verify it again (the default; it is reported at once) or RollBack at once (under policy Automatic)."""


class EarlySpec(SpecModel):
    """Verification of the new revision's pods while its rollout is still in progress."""

    enabled: StrictBool = False
    """Run the checks that name a pod (`{{ .PodIP }}`, `{{ .PodName }}`) as soon as minReadyPods of the new revision are ready; a critical failure pauses the Deployment and rolls it back."""
    min_ready_pods: Annotated[int, Field(ge=1, le=1000)] = 1
    """Ready pods of the new revision needed before the early checks start."""


class ResourceRequirements(SpecModel):
    limits: dict[str, int | str] | None = None
    requests: dict[str, int | str] | None = None


class Toleration(SpecModel):
    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None


class RunnerSpec(SpecModel):
    image: Annotated[str, Field(max_length=1024)] | None = Field(
        default=None, description="Probe runner image; defaults to the operator's"
    )
    service_account_name: Annotated[str, Field(max_length=253, pattern=DNS_SUBDOMAIN)] | None = None
    """ServiceAccount of the probe Jobs."""
    resources: ResourceRequirements | None = None
    """Resources of the probe containers."""
    node_selector: dict[str, str] | None = None
    """Node selector of the probe pods."""
    tolerations: Annotated[list[Toleration], Field(max_length=64)] | None = None
    """Tolerations of the probe pods."""


# --- the spec --------------------------------------------------------------------------------


class RetentionSpec(SpecModel):
    """Which VerificationRuns are kept. The last verified and the last failed run are always kept."""

    count: Annotated[int, Field(ge=1, le=1000)] = 30
    """Runs kept at most (the newest)."""
    max_age_hours: Annotated[int, Field(ge=1, le=87600)] = 720
    """Runs older than this (by finish time) are deleted; 720 hours is 30 days."""


class DiagnosticsSpec(SpecModel):
    """What the operator may copy from the target's pods into this rv's status, its Events and its notifications, where everyone who may read the rv sees it."""

    crash_log: StrictBool = False
    """On a stalled rollout, also show what a crashing container said: its termination message or, without one, the last line of its log. Off by default: then only the pod status is read (container, reason, exit code, restarts), never a log. Turning it on requires `get` on `pods/log` in this namespace, and whoever may read this rv (its status, Events and notifications) sees those lines."""


class ReleaseVerificationSpec(SpecModel):
    target_ref: TargetRef
    """The Deployment whose every new revision is verified."""
    delay_seconds: Annotated[int, Field(ge=0, le=3600)] = 0
    """Wait after the rollout completes before running the checks."""
    timeout_seconds: Annotated[int, Field(ge=1, le=86400)] = 600
    """Budget of the checks, from the launch of the probe Jobs; the rollout itself is bounded by the Deployment's progressDeadlineSeconds."""
    parallelism: Annotated[int, Field(ge=1, le=64)] = 4
    """Checks run at once."""
    rollback: RollbackSpec = RollbackSpec()
    """What to do when the verification fails."""
    early: EarlySpec = EarlySpec()
    """Check the new revision's pods before its rollout completes."""
    checks: Annotated[list[Check], Field(min_length=1, max_length=64)]
    """The smoke checks."""
    runner: RunnerSpec | None = None
    """Overrides for the probe Jobs."""
    history_limit: Annotated[int, Field(ge=1, le=50, description="Runs kept in status.history")] = 10
    retention: RetentionSpec = RetentionSpec()
    """How many VerificationRuns (kubectl get vrun) are kept, and for how long."""
    notifications: Annotated[list[NotificationSubscription], Field(max_length=16)] = []
    """Channels (configured by the cluster admin) to notify, and on which events."""
    diagnostics: DiagnosticsSpec = DiagnosticsSpec()
    """What of the target's pods the operator shows in this rv's status, Events and notifications."""

    @model_validator(mode="after")
    def _measurements_fit(self) -> ReleaseVerificationSpec:
        for index, check in enumerate(self.checks):
            p = check.prometheus
            if p is None or not p.repeated or p.interval_seconds is None:
                continue
            needed = (p.count - 1) * p.interval_seconds + check.timeout_seconds
            if needed > self.timeout_seconds:
                raise ValueError(
                    f"checks[{index}].prometheus.intervalSeconds: {p.count} measurements {p.interval_seconds}s apart "
                    f"(and {check.timeout_seconds}s for the last) take {needed}s, more than timeoutSeconds "
                    f"({self.timeout_seconds}s)"
                )
        return self
