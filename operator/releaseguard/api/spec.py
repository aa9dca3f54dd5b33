"""The spec of a ReleaseVerification: what to verify after each rollout and what to do on failure."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator

from .base import SpecModel

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ENV_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"

CHECK_TYPES: tuple[str, ...] = ("http", "tcp", "prometheus", "command", "python", "pytest")


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
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
    return value


def validate_json_path(value: str) -> str:
    from ..jsonpath import parse_json_path

    parse_json_path(value)  # JsonPathError is a ValueError
    return value


# --- target ---------------------------------------------------------------------------------


class TargetRef(SpecModel):
    """The Deployment to verify. Always in the ReleaseVerification's own namespace."""

    kind: Literal["Deployment"] = "Deployment"
    name: Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]


# --- header values ---------------------------------------------------------------------------


class SecretKeySelector(SpecModel):
    name: Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]


class ValueSource(SpecModel):
    """Where a secret value comes from: a Secret key (in a cluster), an env var or a file (in the runner)."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [_exactly_one_rule(("secretKeyRef", "env", "file"), "valueFrom")]
        }
    }

    secret_key_ref: SecretKeySelector | None = None
    env: Annotated[str, Field(pattern=ENV_VAR_NAME)] | None = None
    file: Annotated[str, Field(min_length=1)] | None = None

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
    value: str | None = None
    value_from: ValueSource | None = None

    @model_validator(mode="after")
    def _one_value(self) -> HttpHeader:
        _require_exactly_one(self, ("value", "valueFrom"), "a header")
        return self


# --- http ------------------------------------------------------------------------------------

JSON_ASSERTION_OPS: tuple[str, ...] = ("equals", "exists", "matches", "oneOf")


class JsonAssertion(SpecModel):
    """An assertion on one field of a JSON response body, addressed by a JSONPath-like path."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": {"x-kubernetes-validations": [_exactly_one_rule(JSON_ASSERTION_OPS, "a json assertion")]}
    }

    path: Annotated[
        str, Field(min_length=1, description="e.g. $.status or $.items[0].price"), AfterValidator(validate_json_path)
    ]
    equals: Any = None
    exists: bool | None = None
    matches: str | None = None
    one_of: Annotated[list[Any], Field(min_length=1)] | None = None

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
    insecure_skip_verify: bool = False
    ca_file: str | None = Field(default=None, description="PEM bundle to verify the server with")
    server_name: str | None = None


HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class HttpCheck(SpecModel):
    url: Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(validate_url)]
    method: HttpMethod = "GET"
    headers: Annotated[list[HttpHeader], Field(max_length=32)] = []
    body: str | None = None
    expect_status: Annotated[list[Annotated[int, Field(ge=100, le=599)]], Field(min_length=1)] = [200]
    max_latency_ms: Annotated[int, Field(ge=1)] | None = None
    json_assertions: Annotated[list[JsonAssertion], Field(alias="json", max_length=64)] = []
    json_schema: dict[str, Any] | None = Field(
        default=None, description="A JSON Schema (draft 2020-12) the response body must satisfy"
    )
    follow_redirects: bool = False
    tls: TlsOptions | None = None

    @field_validator("json_schema")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            from jsonschema import Draft202012Validator
            from jsonschema.exceptions import SchemaError

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


# --- tcp / prometheus ------------------------------------------------------------------------


class TcpCheck(SpecModel):
    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)]


class Range(SpecModel):
    min: float
    max: float

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
    query: Annotated[str, Field(min_length=1)]
    less_than: float | None = None
    greater_than: float | None = None
    between: Range | None = None
    on_empty: InconclusiveOutcome = Field(
        default=InconclusiveOutcome.INCONCLUSIVE,
        description="What an empty result or NaN means",
    )
    fail_on_inconclusive: bool = Field(default=False, description="An inconclusive result fails a critical check")

    @model_validator(mode="after")
    def _one_threshold(self) -> PrometheusCheck:
        _require_exactly_one(self, THRESHOLDS, "prometheus")
        return self


# --- checks run in the target's image --------------------------------------------------------

TARGET_IMAGE = "target"


class CommandCheck(SpecModel):
    command: Annotated[list[str], Field(min_length=1)]
    image: Annotated[str, Field(min_length=1)] = Field(
        default=TARGET_IMAGE, description="'target' runs in the Deployment's own image and environment"
    )
    working_dir: str | None = None
    python: Annotated[str, Field(min_length=1, description="Interpreter that judges the command in its image")] = (
        "python"
    )
    expect_exit_code: Annotated[int, Field(ge=0, le=255)] = 0
    stdout_matches: str | None = None

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

    imports: list[Annotated[str, Field(pattern=MODULE_NAME)]] = []
    env: list[Annotated[str, Field(pattern=ENV_VAR_NAME)]] = []
    config_files: list[Annotated[str, Field(min_length=1), AfterValidator(validate_config_file)]] = []
    pip_check: bool = False
    image: Annotated[str, Field(min_length=1)] = TARGET_IMAGE
    python: Annotated[str, Field(min_length=1, description="The interpreter in the image")] = "python"

    @model_validator(mode="after")
    def _something_to_check(self) -> PythonCheck:
        if not (self.imports or self.env or self.config_files or self.pip_check):
            raise ValueError("a python check needs at least one of imports, env, configFiles, pipCheck")
        return self


class PytestCheck(SpecModel):
    args: list[str] = []
    image: Annotated[str, Field(min_length=1)] = TARGET_IMAGE
    python: Annotated[str, Field(min_length=1)] = "python"
    working_dir: str | None = None


# --- a check ---------------------------------------------------------------------------------


class Check(SpecModel):
    model_config = SpecModel.model_config | {
        "json_schema_extra": {"x-kubernetes-validations": [_exactly_one_rule(CHECK_TYPES, "a check")]}
    }

    name: Annotated[str, Field(min_length=1, max_length=63, pattern=DNS_LABEL)]
    critical: bool = True
    timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 10
    retries: Annotated[int, Field(ge=0, le=10, description="Extra attempts after a failure")] = 0
    fail_on_flaky: bool = Field(default=False, description="A pass after a failed attempt counts as failed")
    http: HttpCheck | None = None
    tcp: TcpCheck | None = None
    prometheus: PrometheusCheck | None = None
    command: CommandCheck | None = None
    python: PythonCheck | None = None
    pytest: PytestCheck | None = None

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
    def runs_in_target_image(self) -> bool:
        image = getattr(self.config, "image", None)
        return image is not None


# --- rollback and runner ---------------------------------------------------------------------


class RollbackPolicy(StrEnum):
    AUTOMATIC = "Automatic"
    MANUAL = "Manual"
    NEVER = "Never"


class RollbackSpec(SpecModel):
    policy: RollbackPolicy = RollbackPolicy.AUTOMATIC
    on_non_critical_failure: bool = Field(
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
    image: str | None = Field(default=None, description="Probe runner image; defaults to the operator's")
    service_account_name: Annotated[str, Field(pattern=DNS_SUBDOMAIN)] | None = None
    resources: ResourceRequirements | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[Toleration] | None = None


# --- the spec --------------------------------------------------------------------------------


class ReleaseVerificationSpec(SpecModel):
    target_ref: TargetRef
    delay_seconds: Annotated[int, Field(ge=0, le=3600)] = 0
    timeout_seconds: Annotated[int, Field(ge=1, le=86400)] = 600
    parallelism: Annotated[int, Field(ge=1, le=64)] = 4
    rollback: RollbackSpec = RollbackSpec()
    checks: Annotated[list[Check], Field(min_length=1, max_length=64)]
    runner: RunnerSpec | None = None
    history_limit: Annotated[int, Field(ge=1, le=50, description="Runs kept in status.history")] = 10
