"""JSONPath-like addressing of JSON documents (`$.status`, `$.items[0].price`, `$.items[*].id`).

A thin wrapper over jsonpath-ng's extended parser: one place that turns its parse errors into
messages naming the path, and its matches into `$.a[0].b`-style locations for reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as _parse


class JsonPathError(ValueError):
    """A path that does not parse."""


@dataclass(frozen=True)
class Match:
    location: str
    value: Any


@lru_cache(maxsize=512)
def parse_json_path(path: str) -> Any:
    if not path.startswith("$"):
        raise JsonPathError(f"invalid JSON path {path!r}: must start with '$'")
    try:
        return _parse(path)
    except (JsonPathParserError, JsonPathLexerError, ValueError, AttributeError) as exc:
        raise JsonPathError(f"invalid JSON path {path!r}: {exc}") from exc


def find(path: str, document: Any) -> list[Match]:
    """All matches of `path` in `document`, each with its concrete location."""
    return [Match(_location(m.full_path), m.value) for m in parse_json_path(path).find(document)]


def _location(full_path: Any) -> str:
    text = str(full_path)
    if text in ("", "$"):
        return "$"
    out = "$"
    for part in text.split("."):
        out += part if part.startswith("[") else f".{part}"
    return out
