"""Reasons are matched by name: none of releaseguard.reasons' values is spelled out as a string
literal elsewhere in the operator (api/ holds enums whose values coincide: phases, notification
kinds; core/conditions.py names the condition types, one of which is also the RolledBack reason;
incident.py's timeline Literal type lists event kinds)."""

from __future__ import annotations

import ast
from pathlib import Path

from releaseguard import reasons

PACKAGE = Path(reasons.__file__).parent
VALUES = {v for k, v in vars(reasons).items() if k.isupper() and isinstance(v, str)}


def literal_reasons(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    in_literal_types = {
        id(node)
        for sub in ast.walk(tree)
        if isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name) and sub.value.id == "Literal"
        for node in ast.walk(sub.slice)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in VALUES and id(node) not in in_literal_types
    ]


def test_reasons_are_camel_case_and_distinct() -> None:
    names = [k for k in vars(reasons) if k.isupper()]
    assert len({getattr(reasons, k) for k in names}) == len(names)
    for value in VALUES:
        assert value[0].isupper() and value.isalnum(), value


def test_no_reason_is_a_string_literal_outside_the_reasons_module() -> None:
    found = {
        str(path.relative_to(PACKAGE)): hits
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name not in ("reasons.py", "conditions.py") and path.parent.name != "api"
        for hits in [literal_reasons(path)]
        if hits
    }
    assert found == {}
