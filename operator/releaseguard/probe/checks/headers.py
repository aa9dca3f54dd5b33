"""HTTP header values: where they come from (value, env var, file, Secret) and keeping them secret.

A `secretKeyRef` cannot be read by the runner: the operator maps each one to an environment
variable of the probe container named by `contract.secret_env_name`, and the runner reads that.
Every value that came from `valueFrom` is a secret: `Redactor` removes it from report text.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ...api.spec import Check, HttpHeader
from ...contract import secret_env_name
from ...errors import FieldError, SpecInvalidError

REDACTED = "***"


# RFC 9110 field-value: visible ASCII, space and tab (obs-text is refused too: clients encode it
# inconsistently and their errors echo the value).
_VALID_HEADER_VALUE = re.compile(r"^[\t\x20-\x7e]*$")


def strip_line_breaks(value: str) -> str:
    """A value as read from a file or a Secret, without the line breaks around it."""
    return value.strip("\r\n")


def _forms(value: str) -> set[str]:
    """Every way a value can appear in text: raw, repr, JSON-escaped (both ASCII and not), and
    without surrounding whitespace and line breaks."""
    forms = {value, value.strip(), strip_line_breaks(value)}
    for form in list(forms):
        forms.add(repr(form)[1:-1])
        forms.add(json.dumps(form)[1:-1])
        forms.add(json.dumps(form, ensure_ascii=False)[1:-1])
    return {f for f in forms if len(f) >= 1}


@dataclass
class Redactor:
    secrets: set[str] = field(default_factory=set)

    def add(self, value: str) -> None:
        if value:
            self.secrets.update(_forms(value))

    def is_secret(self, value: str) -> bool:
        return bool(value) and value in self.secrets

    def redact(self, text: str) -> str:
        # Longest first, so a secret that contains another is replaced whole.
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


def resolve_headers(
    checks: Sequence[Check], prefix: str, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, list[tuple[str, str]]], Redactor]:
    """Header values of every http check, by check name, before anything runs.

    Raises SpecInvalidError naming the field when a value's source is missing."""
    env = os.environ if environ is None else environ
    redactor = Redactor()
    resolved: dict[str, list[tuple[str, str]]] = {}
    problems: list[FieldError] = []
    for index, check in enumerate(checks):
        if check.http is None:
            continue
        values: list[tuple[str, str]] = []
        for number, header in enumerate(check.http.headers):
            where = f"{prefix}[{index}].http.headers[{number}]"
            try:
                value = _value(header, env, where, redactor)
            except _Missing as exc:
                problems.append(FieldError(exc.path, exc.message))
                continue
            if not _VALID_HEADER_VALUE.match(value):
                problems.append(
                    FieldError(
                        f"{where}.{'value' if header.value is not None else 'valueFrom'}",
                        f"the value of header {header.name} contains a control character or a non-ASCII "
                        "character; refused before sending (the value is not shown)",
                    )
                )
                continue
            values.append((header.name, value))
        resolved[check.name] = values
    if problems:
        raise SpecInvalidError(problems)
    return resolved, redactor


class _Missing(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _value(header: HttpHeader, env: Mapping[str, str], where: str, redactor: Redactor) -> str:
    if header.value is not None:
        return header.value
    source = header.value_from
    assert source is not None  # the model guarantees value or valueFrom
    if source.env is not None:
        if source.env not in env:
            raise _Missing(f"{where}.valueFrom.env", f"environment variable {source.env} is not set")
        raw = env[source.env]
    elif source.file is not None:
        try:
            with open(source.file, encoding="utf-8") as handle:
                raw = handle.read()
        except OSError as exc:
            raise _Missing(f"{where}.valueFrom.file", f"cannot read {source.file}: {exc.strerror}") from None
    else:
        assert source.secret_key_ref is not None
        name = secret_env_name(source.secret_key_ref)
        if name not in env:
            ref = source.secret_key_ref
            raise _Missing(
                f"{where}.valueFrom.secretKeyRef",
                f"Secret {ref.name} key {ref.key} was not provided: expected environment variable {name} "
                "(the operator sets it in probe Jobs)",
            )
        raw = env[name]
    value = strip_line_breaks(raw)
    redactor.add(raw)
    redactor.add(value)
    return value


def names_of(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [name for name, _ in pairs]
