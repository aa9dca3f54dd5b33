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

    url: Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(validate_url)]
    """Absolute http(s) URL, e.g. http://shop.demo.svc:8080/healthz."""
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
    host: Annotated[str, Field(min_length=1, max_length=253)]
    """Host name or address, e.g. postgres.demo.svc."""
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


class PrometheusCheck(SpecModel):
    model_config = SpecModel.model_config | {
        "json_schema_extra": {"x-kubernetes-validations": [_exactly_one_rule(THRESHOLDS, "prometheus")]}
    }

    address: Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(validate_url)]
    """Base URL of the Prometheus server."""
    query: Annotated[str, Field(min_length=1, max_length=8192)]
    """PromQL instant query; its single value is compared with the threshold."""
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

    @model_validator(mode="after")
    def _one_threshold(self) -> PrometheusCheck:
        _require_exactly_one(self, THRESHOLDS, "prometheus")
        return self


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


# --- rollback and runner ---------------------------------------------------------------------


class RollbackPolicy(StrEnum):
    AUTOMATIC = "Automatic"
    MANUAL = "Manual"
    NEVER = "Never"


class RollbackSpec(SpecModel):
    policy: RollbackPolicy = RollbackPolicy.AUTOMATIC
    """Automatic rolls back on a failed critical check; Manual records and recommends; Never only observes."""
    on_non_critical_failure: StrictBool = Field(
        default=False, description="Also roll back when only non-critical checks fail"
    )


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
    checks: Annotated[list[Check], Field(min_length=1, max_length=64)]
    """The smoke checks."""
    runner: RunnerSpec | None = None
    """Overrides for the probe Jobs."""
    history_limit: Annotated[int, Field(ge=1, le=50, description="Runs kept in status.history")] = 10
    retention: RetentionSpec = RetentionSpec()
    """How many VerificationRuns (kubectl get vrun) are kept, and for how long."""
    notifications: Annotated[list[NotificationSubscription], Field(max_length=16)] = []
    """Channels (configured by the cluster admin) to notify, and on which events."""
