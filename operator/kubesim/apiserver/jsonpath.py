"""The subset of Kubernetes JSONPath used by printer columns: `.a.b`, `[0]`, `[*]`, `['key']` and
filters `[?(@.type=="Ready")]`, evaluated to the list of matching values."""

from __future__ import annotations

import functools
import re
from typing import Any

_TOKEN = re.compile(
    r"""\.(?P<name>[A-Za-z0-9_\-/]+)|\[(?P<index>-?\d+)\]|\[\*\]|\.\*|\[['"](?P<key>[^'"]+)['"]\]"""
    r"""|\[\?\(@\.(?P<fpath>[A-Za-z0-9_.\-]+)\s*(?P<op>==|!=)\s*(?P<fval>"[^"]*"|'[^']*'|[^)\s]+)\)\]"""
)


@functools.lru_cache(maxsize=256)
def compile_path(path: str) -> list[tuple[str, Any]]:
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m:
            raise ValueError(f"unsupported JSONPath {path!r} at {path[pos:]!r}")
        if m.group("name") is not None:
            steps.append(("key", m.group("name")))
        elif m.group("key") is not None:
            steps.append(("key", m.group("key")))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("fpath") is not None:
            raw = m.group("fval")
            val: Any = raw[1:-1] if raw[0] in "'\"" else _literal(raw)
            steps.append(("filter", (m.group("fpath").split("."), m.group("op"), val)))
        else:
            steps.append(("all", None))
        pos = m.end()
    return steps


def _literal(raw: str) -> Any:
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            return raw


def _dig(value: Any, keys: list[str]) -> Any:
    for k in keys:
        if not isinstance(value, dict) or k not in value:
            return None
        value = value[k]
    return value


def find(obj: Any, path: str) -> list[Any]:
    current = [obj]
    for kind, arg in compile_path(path):
        nxt: list[Any] = []
        for v in current:
            if (kind == "key" and isinstance(v, dict) and arg in v) or (
                kind == "index" and isinstance(v, list) and -len(v) <= arg < len(v)
            ):
                nxt.append(v[arg])
            elif kind == "all":
                nxt.extend(v if isinstance(v, list) else v.values() if isinstance(v, dict) else [])
            elif kind == "filter" and isinstance(v, list):
                keys, op, want = arg
                for item in v:
                    got = _dig(item, keys)
                    if (got == want) == (op == "=="):
                        nxt.append(item)
        current = nxt
    return current
