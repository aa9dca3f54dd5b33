"""The ReleaseVerification resource as a whole, and the one way to parse user input into it.

Every entry point (the operator reading a CR, `releaseguard probe -f`, tests) parses through
`parse_*` here, so every caller gets the same errors: a list of FieldErrors whose paths read
like `spec.checks[2].http.url`.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import FieldError, SpecInvalidError
from .spec import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    ENV_VAR_NAME,
    HEADER_NAME,
    MODULE_NAME,
    Check,
    ReleaseVerificationSpec,
)
from .status import ReleaseVerificationStatus

GROUP: Final = "releaseguard.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "ReleaseVerification"
PLURAL: Final = "releaseverifications"
SINGULAR: Final = "releaseverification"
SHORT_NAMES: Final = ("rv", "relver")

M = TypeVar("M", bound=BaseModel)


class ReleaseVerification(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    api_version: Literal["releaseguard.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["ReleaseVerification"]
    metadata: dict[str, Any] = {}
    spec: ReleaseVerificationSpec
    status: ReleaseVerificationStatus | None = None

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace", ""))

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": self.metadata,
            "spec": self.spec.to_wire(),
        }
        if self.status is not None:
            wire["status"] = self.status.to_wire()
        return wire


class _Checks(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checks: list[Check] = Field(min_length=1, max_length=64)


def parse_release_verification(obj: Any) -> ReleaseVerification:
    """Parse a whole ReleaseVerification (as read from YAML or the API server). Every problem is
    reported at once: field errors and duplicate check names together."""
    if not isinstance(obj, dict):
        raise SpecInvalidError([FieldError("", f"expected a ReleaseVerification object, got {_kind(obj)}")])
    spec = obj.get("spec")
    raw = spec.get("checks") if isinstance(spec, dict) else None
    problems = _duplicate_names(raw, "spec.checks") + sample_problems(spec, "spec.")
    return _validate(ReleaseVerification, obj, prefix="", duplicates=problems)


def parse_spec(obj: Any, prefix: str = "spec") -> ReleaseVerificationSpec:
    raw = obj.get("checks") if isinstance(obj, dict) else None
    problems = _duplicate_names(raw, f"{prefix}.checks") + sample_problems(obj, f"{prefix}.")
    return _validate(ReleaseVerificationSpec, obj, prefix=prefix, duplicates=problems)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def sample_problems(spec: Any, prefix: str, with_timeout: bool = True) -> list[FieldError]:
    """What makes an http check's `samples` unusable (issue 15), read from the raw input like the
    duplicate names so that each path names its field: baseline.minSamples above samples.count
    (the comparison could never run), samples with retries (a retried sample would hide its
    error), and samples.intervalSeconds that does not fit in the rv's timeoutSeconds."""
    if not isinstance(spec, dict) or not isinstance(spec.get("checks"), list):
        return []
    timeout = _int(spec.get("timeoutSeconds", ReleaseVerificationSpec.model_fields["timeout_seconds"].default))
    problems: list[FieldError] = []
    for index, check in enumerate(spec["checks"]):
        http = check.get("http") if isinstance(check, dict) else None
        samples = http.get("samples") if isinstance(http, dict) else None
        if not isinstance(samples, dict):
            continue
        at = f"{prefix}checks[{index}]"
        count, interval = _int(samples.get("count")), _int(samples.get("intervalSeconds"))
        baseline = http.get("baseline") if isinstance(http, dict) else None
        minimum = _int(baseline.get("minSamples", 20)) if isinstance(baseline, dict) else None
        if count is not None and minimum is not None and minimum > count:
            problems.append(
                FieldError(
                    f"{at}.http.baseline.minSamples",
                    f"{minimum} is more than samples.count {count}: the comparison could never run",
                )
            )
        retries = _int(check.get("retries"))
        if retries:
            problems.append(
                FieldError(f"{at}.retries", f"{retries} with http.samples: a retried sample would hide its error")
            )
        if with_timeout and interval is not None and timeout is not None and interval >= timeout:
            problems.append(
                FieldError(
                    f"{at}.http.samples.intervalSeconds",
                    f"{interval} does not fit in timeoutSeconds {timeout} (the samples must end within the checks' budget)",
                )
            )
    return problems


def parse_checks(obj: Any) -> list[Check]:
    """Parse a `{checks: [...]}` document (the probe runner's own input format)."""
    raw = obj.get("checks") if isinstance(obj, dict) else None
    problems = _duplicate_names(raw, "checks") + sample_problems(obj, "", with_timeout=False)
    parsed = _validate(_Checks, obj, prefix="", duplicates=problems)
    return parsed.checks


def _path_order(error: FieldError) -> list[tuple[int, int | str]]:
    """Sort key: field paths in document order (spec.checks[2] before spec.checks[10])."""
    return [
        (0, int(part)) if part.isascii() and part.isdigit() else (1, part)
        for part in re.split(r"[.\[\]]+", error.path)
        if part
    ]


def _validate(model: type[M], obj: Any, prefix: str, duplicates: list[FieldError]) -> M:
    try:
        parsed = model.model_validate(obj)
    except ValidationError as exc:
        raise SpecInvalidError(sorted(field_errors(exc, prefix) + duplicates, key=_path_order)) from None
    if duplicates:
        raise SpecInvalidError(duplicates)
    return parsed


def _duplicate_names(checks: Any, prefix: str) -> list[FieldError]:
    """Checks named like an earlier one, read from the raw input (so they are reported beside
    any other problem of the spec, not only once everything else is valid)."""
    if not isinstance(checks, list):
        return []
    first_seen: dict[str, int] = {}
    problems: list[FieldError] = []
    for index, check in enumerate(checks):
        name = check.get("name") if isinstance(check, dict) else None
        if not isinstance(name, str):
            continue
        if name in first_seen:
            problems.append(
                FieldError(
                    f"{prefix}[{index}].name",
                    f"duplicate check name {name!r} (also used by {prefix}[{first_seen[name]}])",
                )
            )
        first_seen.setdefault(name, index)
    return problems


# --- turning pydantic's errors into field paths and sentences --------------------------------

_PATTERN_MEANINGS: Final = {
    DNS_LABEL: "a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit)",
    DNS_SUBDOMAIN: "a DNS subdomain (lowercase letters, digits, '-' and '.')",
    ENV_VAR_NAME: "an environment variable name (letters, digits and '_', not starting with a digit)",
    HEADER_NAME: "an HTTP header name",
    MODULE_NAME: "a dotted Python module name such as shop.app",
}
_UNION_TAG = re.compile(r"^(int|str|float|bool|none|[a-z-]+\[.*\]|constrained-\w+|function-\w+)$")


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    seen: set[tuple[str, str]] = set()
    out: list[FieldError] = []
    for err in exc.errors(include_url=False):
        path = _path(prefix, [p for p in err["loc"] if not (isinstance(p, str) and _UNION_TAG.match(p))])
        message = _message(err)
        if (path, message) not in seen:
            seen.add((path, message))
            out.append(FieldError(path, message))
    return out


def _path(prefix: str, loc: list[int | str]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _message(err: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_pattern_mismatch":
        meaning = _PATTERN_MEANINGS.get(ctx.get("pattern", ""))
        if meaning:
            return f"expected {meaning}, got {_shown(err['input'])}"
    if kind == "value_error":
        return _capped(str(ctx.get("error", err["msg"])))
    if kind == "model_type":
        return f"expected an object, got {_kind(err['input'])}"
    msg = str(err["msg"])
    if "input" in err and kind not in ("missing",) and not isinstance(err["input"], dict | list):
        msg += f", got {_shown(err['input'])}"
    return msg


SHOWN_LIMIT = 120


def _capped(text: str, limit: int = 4 * SHOWN_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(value: Any) -> str:
    """A bad value as an error message shows it: its repr, cut (a 1 MB string is not echoed)."""
    text = repr(value)
    return text if len(text) <= SHOWN_LIMIT else f"{text[: SHOWN_LIMIT - 1]}… ({len(str(value))} characters)"


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )
