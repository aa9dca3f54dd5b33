"""The cluster admin's notification settings, read from one YAML file (the chart mounts it from a
Secret in the operator's own namespace, since channel URLs carry tokens).

    channels:
      team-chat: {urls: ["mmost://mattermost.example/TOKEN"], namespaces: [shop, "payments-*"]}
      tracker: {urls: ["json://tracker.example/hooks/releases"], kind: incident, namespaces: ["*"]}
    links:
      dashboard: "https://grafana.example/d/releaseguard?var-namespace={namespace}&var-rv={name}"
    retry: {attempts: 5, initialDelaySeconds: 2, maxDelaySeconds: 60}

A channel serves only the namespaces its `namespaces` list allows (names, or shell patterns with
`*` and `?`; `"*"` is every namespace). A channel without the list serves no namespace: a channel
carries someone's credentials and reaches someone's people, so being able to create an rv in some
namespace must not be enough to post to it. An rv in a namespace its channel does not serve gets
nothing delivered; the refusal is a Failed delivery record and a Warning Event, as for a channel
that does not exist.
"""

from __future__ import annotations

import fnmatch
import string
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, ValidationError, field_validator

from ..api.base import SpecModel
from ..api.notifications import CHANNEL_NAME
from ..errors import FieldError, SpecInvalidError

LINK_FIELDS = ("namespace", "name", "deployment", "revision", "image")
# A namespace name (DNS label) in which `*` and `?` may stand for characters; no `[...]` classes.
NAMESPACE_PATTERN = r"^[a-z0-9*?]([-a-z0-9*?]*[a-z0-9*?])?$"


class ChannelKind(StrEnum):
    MESSAGE = "message"  # a human-readable message (chat, mail, pager, JSON webhook)
    INCIDENT = "incident"  # the incident record as JSON, POSTed to a tracker webhook


class Channel(SpecModel):
    urls: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=16)]
    """apprise URLs (message channels) or http(s) URLs (incident channels)."""
    kind: ChannelKind = ChannelKind.MESSAGE
    namespaces: (
        Annotated[
            list[Annotated[str, Field(min_length=1, max_length=63, pattern=NAMESPACE_PATTERN)]], Field(max_length=256)
        ]
        | None
    ) = None
    """Namespaces whose rvs may use this channel: names or shell patterns (`team-*`, `*` for all).
    Absent or empty: none."""

    def serves(self, namespace: str) -> bool:
        return any(fnmatch.fnmatchcase(namespace, pattern) for pattern in self.namespaces or ())


def refusal(config: NotifyConfig, channel: str, namespace: str) -> str | None:
    """Why an rv in `namespace` may not notify `channel`, or None when it may."""
    found = config.channels.get(channel)
    if found is None:
        return f"channel {channel} is not configured by the cluster admin"
    if found.namespaces is None:
        return (
            f"channel {channel} serves no namespace: the cluster admin's channels.{channel}.namespaces is not set "
            f'(list {namespace} there, or "*" for every namespace)'
        )
    if not found.serves(namespace):
        return f"channel {channel} does not serve namespace {namespace} (the cluster admin's channels.{channel}.namespaces)"
    return None


class RetryPolicy(SpecModel):
    attempts: Annotated[int, Field(ge=1, le=20)] = 5
    initial_delay_seconds: Annotated[float, Field(gt=0, le=600)] = 2.0
    max_delay_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0

    def delay(self, failures: int) -> float:
        """The wait after the `failures`-th failed attempt: doubling, capped."""
        return float(min(self.initial_delay_seconds * 2 ** (failures - 1), self.max_delay_seconds))


def _check_template(value: str) -> str:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
    except ValueError as exc:
        raise ValueError(f"invalid template: {exc}") from exc
    unknown = sorted({f for f in fields if f not in LINK_FIELDS})
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}; expected one of {', '.join(LINK_FIELDS)}")
    return value


class NotifyConfig(SpecModel):
    channels: dict[Annotated[str, Field(pattern=CHANNEL_NAME, max_length=63)], Channel] = {}
    links: dict[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9 _-]*$", max_length=63)], str] = {}
    """Link name -> URL template with {namespace} {name} {deployment} {revision} {image}."""
    retry: RetryPolicy = RetryPolicy()

    @field_validator("links")
    @classmethod
    def _templates(cls, links: dict[str, str]) -> dict[str, str]:
        for name, template in links.items():
            try:
                _check_template(template)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from exc
        return links


def parse_config(data: object, source: str = "notifications") -> NotifyConfig:
    """Validate the admin's settings; every problem is named by its field path. Channel URLs are
    never echoed (they carry tokens)."""
    try:
        config = NotifyConfig.model_validate(data or {})
    except ValidationError as exc:
        errors = [
            FieldError(".".join(str(p) for p in error["loc"]), error["msg"])
            for error in exc.errors(include_input=False)
        ]
        raise SpecInvalidError([FieldError(f"{source}: {e.path}", e.message) for e in errors]) from None
    import apprise

    problems = []
    for name, channel in config.channels.items():
        for index, url in enumerate(channel.urls):
            scheme = url.split("://", 1)[0] if "://" in url else ""
            where = f"{source}: channels.{name}.urls[{index}]"
            if channel.kind is ChannelKind.INCIDENT:
                if scheme not in ("http", "https"):
                    problems.append(
                        FieldError(where, f"expected an http(s) URL for an incident channel, got scheme {scheme!r}")
                    )
            elif apprise.Apprise.instantiate(url) is None:
                problems.append(FieldError(where, f"not a URL apprise can deliver to (scheme {scheme!r})"))
    if problems:
        raise SpecInvalidError(problems)
    return config


def load_config(path: str | Path) -> NotifyConfig:
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecInvalidError([FieldError(str(path), f"expected YAML: {exc}")]) from None
    return parse_config(data, str(path))
