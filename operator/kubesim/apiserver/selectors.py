"""Label and field selectors: the string forms of query parameters and the structured LabelSelector."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kubesim.errors import bad_request

Obj = dict[str, Any]
Matcher = Callable[[Obj], bool]

_SET_RE = re.compile(r"^\s*(!?)([A-Za-z0-9_./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_./-]*)\s*$")


def _split_top(expr: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def _label_eq(key: str, value: str, equal: bool) -> Callable[[dict[str, str]], bool]:
    def match(labels: dict[str, str]) -> bool:
        return (labels.get(key) == value) == equal

    return match


def _label_in(key: str, values: frozenset[str], inside: bool) -> Callable[[dict[str, str]], bool]:
    def match(labels: dict[str, str]) -> bool:
        return (labels.get(key) in values) == inside

    return match


def _label_exists(key: str, exists: bool) -> Callable[[dict[str, str]], bool]:
    def match(labels: dict[str, str]) -> bool:
        return (key in labels) == exists

    return match


def parse_label_selector(expr: str | None) -> Callable[[dict[str, str]], bool]:
    """Equality- and set-based label selector string -> predicate on a labels dict."""
    if not expr or not expr.strip():
        return lambda labels: True
    reqs: list[Callable[[dict[str, str]], bool]] = []
    for part in _split_top(expr):
        m = _EQ_RE.match(part)
        if m:
            key, op, val = m.groups()
            reqs.append(_label_eq(key, val, op != "!="))
            continue
        m = _SET_RE.match(part)
        if not m:
            raise bad_request(f"unable to parse requirement: {part.strip()!r} in labelSelector {expr!r}")
        neg, key, op, values = m.groups()
        if op:
            vals = frozenset(v.strip() for v in values.split(",") if v.strip())
            reqs.append(_label_in(key, vals, op == "in"))
        else:
            reqs.append(_label_exists(key, not neg))
    return lambda labels: all(r(labels) for r in reqs)


def label_requirements(expr: str | None) -> list[tuple[str, frozenset[str]]]:
    """The requirements of a selector string that name the values a label must have (`k=v`, `k==v`,
    `k in (a,b)`), as (key, allowed values): what an index can answer; the rest is left to the predicate."""
    out: list[tuple[str, frozenset[str]]] = []
    for part in _split_top(expr or ""):
        m = _EQ_RE.match(part)
        if m:
            key, op, val = m.groups()
            if op != "!=":
                out.append((key, frozenset((val,))))
            continue
        m = _SET_RE.match(part)
        if m and not m.group(1) and m.group(3) == "in":
            out.append((m.group(2), frozenset(v.strip() for v in m.group(4).split(",") if v.strip())))
    return out


def selector_matches(selector: Obj | None, labels: dict[str, str] | None) -> bool:
    """A structured LabelSelector (matchLabels/matchExpressions). An empty selector matches everything."""
    labels = labels or {}
    if not selector:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selector_to_string(selector: Obj | None) -> str:
    parts = [f"{k}={v}" for k, v in sorted(((selector or {}).get("matchLabels") or {}).items())]
    for expr in (selector or {}).get("matchExpressions") or []:
        op, key = expr.get("operator"), expr.get("key")
        vals = ",".join(sorted(expr.get("values") or []))
        parts.append({"In": f"{key} in ({vals})", "NotIn": f"{key} notin ({vals})", "Exists": key}.get(op, f"!{key}"))
    return ",".join(parts)


def _field_value(obj: Obj, path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _field_eq(path: str, value: str, equal: bool) -> Matcher:
    def match(obj: Obj) -> bool:
        return (str(_field_value(obj, path) or "") == value) == equal

    return match


def parse_field_selector(expr: str | None) -> Matcher:
    """`metadata.name=x,status.phase!=Running` and the like -> predicate on the object."""
    if not expr or not expr.strip():
        return lambda obj: True
    reqs: list[Matcher] = []
    for part in expr.split(","):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not m:
            raise bad_request(f"invalid field selector: {part!r}")
        path, op, val = m.groups()
        reqs.append(_field_eq(path, val, op != "!="))
    return lambda obj: all(r(obj) for r in reqs)
