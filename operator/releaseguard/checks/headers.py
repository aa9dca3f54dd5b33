"""HTTP header values: where they come from (value, env var, file, Secret) and keeping them secret.

A `secretKeyRef` cannot be read by the runner: the operator maps each one to an environment
variable of the probe container named by `secret_env_name`, and the runner reads that.
Every value that came from `valueFrom` is a secret: `Redactor` removes it from report text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..api.spec import Check, HttpHeader, SecretKeySelector
from ..errors import FieldError, SpecInvalidError

REDACTED = "***"


def secret_env_name(ref: SecretKeySelector) -> str:
    """The env var the operator sets from Secret `ref.name` key `ref.key`: RG_SECRET_<NAME>_<KEY>."""
    return "RG_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", f"{ref.name}_{ref.key}").upper()


@dataclass
class Redactor:
    secrets: set[str] = field(default_factory=set)

    def add(self, value: str) -> None:
        if value:
            self.secrets.add(value)

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
        value = env[source.env]
    elif source.file is not None:
        try:
            with open(source.file, encoding="utf-8") as handle:
                value = handle.read().rstrip("\r\n")
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
        value = env[name]
    redactor.add(value)
    return value


def names_of(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [name for name, _ in pairs]
