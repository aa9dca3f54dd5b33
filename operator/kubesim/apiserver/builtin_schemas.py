"""Unknown fields in built-in kinds, found with the Kubernetes 1.32 JSON schemas that the
kubernetes-validate package ships (strict variant: every struct closes with additionalProperties:
false). The real server decodes into typed structs: an unknown field is dropped, with a warning, or
under fieldValidation=Strict rejected. When the package is missing, nothing is checked."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from kubesim.apiserver.resources import ResourceType

SCHEMA_VERSION = "v1.32.0-local-strict"
_CHECKED = {
    ("", "pods"): "pod-v1",
    ("", "services"): "service-v1",
    ("", "configmaps"): "configmap-v1",
    ("", "secrets"): "secret-v1",
    ("", "serviceaccounts"): "serviceaccount-v1",
    ("", "namespaces"): "namespace-v1",
    ("", "events"): "event-v1",
    ("apps", "deployments"): "deployment-apps-v1",
    ("apps", "replicasets"): "replicaset-apps-v1",
    ("batch", "jobs"): "job-batch-v1",
    ("coordination.k8s.io", "leases"): "lease-coordination-v1",
}


@functools.lru_cache(maxsize=1)
def _schema_dir() -> Path | None:
    try:
        import kubernetes_validate
    except ImportError:
        return None
    d = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / SCHEMA_VERSION
    return d if d.is_dir() else None


@functools.lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
    d = _schema_dir()
    if d is None:
        return {}
    return dict(json.loads((d / "_definitions.json").read_text())["$defs"])


@functools.lru_cache(maxsize=32)
def _root(name: str) -> dict[str, Any] | None:
    d = _schema_dir()
    if d is None or not (d / f"{name}.json").is_file():
        return None
    return dict(json.loads((d / f"{name}.json").read_text()))


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _definitions().get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema


def unknown_fields(rt: ResourceType, obj: dict[str, Any]) -> list[str]:
    """Paths of fields the kind does not have, e.g. `spec.template.spec.containers[0].imagee`."""
    name = _CHECKED.get((rt.group, rt.plural))
    root = _root(name) if name else None
    if root is None:
        return []
    out: list[str] = []
    _walk(obj, root, "", out)
    return out


def prune(rt: ResourceType, obj: dict[str, Any], paths: list[str]) -> None:
    """Drop the fields at `paths` (as returned by unknown_fields) from `obj`, in place."""
    for path in paths:
        parts = _split(path)
        cur: Any = obj
        for part in parts[:-1]:
            cur = cur[part] if isinstance(part, int) or isinstance(cur, dict) else None
            if cur is None:
                break
        if isinstance(cur, dict):
            cur.pop(parts[-1], None)


def _split(path: str) -> list[Any]:
    out: list[Any] = []
    for piece in path.split("."):
        while "[" in piece:
            head, _, rest = piece.partition("[")
            if head:
                out.append(head)
            idx, _, piece = rest.partition("]")
            out.append(int(idx))
        if piece:
            out.append(piece)
    return out


def _walk(value: Any, schema: dict[str, Any], path: str, out: list[str]) -> None:
    schema = _resolve(schema)
    if isinstance(value, dict):
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        if props is None and not isinstance(addl, dict):
            return
        for k, v in value.items():
            sub = f"{path}.{k}" if path else k
            if props is not None and k in props:
                _walk(v, props[k], sub, out)
            elif isinstance(addl, dict):
                _walk(v, addl, sub, out)
            elif addl is False:
                out.append(sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            _walk(v, schema["items"], f"{path}[{i}]", out)
