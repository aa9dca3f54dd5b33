"""/openapi/v3: an index and one document per group-version, with the PATCH/POST operations of every
resource tagged with `x-kubernetes-group-version-kind` and the `fieldValidation` parameter, which is
what kubectl 1.32 looks for before validating on the server. Schemas are the CRDs' own; built-in kinds
get open object schemas (kubectl then builds strategic merge patches from its compiled-in types)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kubesim.apiserver.resources import Registry, ResourceType


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def index(registry: Registry) -> dict[str, Any]:
    paths = {}
    for group, versions in registry.groups().items():
        for v in versions:
            key = _gv_path(group, v)
            doc = document(registry, group, v)
            digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


def _schema_name(rt: ResourceType) -> str:
    group = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{group}.{rt.version}.{rt.kind}"


def _params() -> list[dict[str, Any]]:
    return [
        {"name": "dryRun", "in": "query", "schema": {"type": "string"}, "uniqueItems": True},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string"}, "uniqueItems": True},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}, "uniqueItems": True},
    ]


def document(registry: Registry, group: str, version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rt in registry:
        if rt.group != group or rt.version != version:
            continue
        name = _schema_name(rt)
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        schema: dict[str, Any] = (
            dict(rt.schema) if rt.schema else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        )
        props = dict(schema.get("properties") or {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        schema["properties"] = props
        schema["x-kubernetes-group-version-kind"] = [gvk]
        schemas[name] = schema
        ref = {"$ref": f"#/components/schemas/{name}"}
        ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        body = {"content": {"*/*": {"schema": ref}}, "required": True}
        patch_body = {
            "content": {
                "application/json-patch+json": {"schema": {"type": "object"}},
                "application/merge-patch+json": {"schema": {"type": "object"}},
                "application/apply-patch+yaml": {"schema": {"type": "object"}},
            },
            "required": True,
        }
        base = f"/{_gv_path(rt.group, rt.version)}/"
        coll = base + (f"namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else rt.plural)
        item = coll + "/{name}"
        ext = {"x-kubernetes-group-version-kind": gvk}
        paths[coll] = {
            "post": {
                "operationId": f"create{rt.kind}",
                "parameters": _params(),
                "requestBody": body,
                "responses": ok,
                **ext,
                "x-kubernetes-action": "post",
            },
            "get": {"operationId": f"list{rt.kind}", "responses": ok, **ext, "x-kubernetes-action": "list"},
        }
        paths[item] = {
            "get": {"operationId": f"read{rt.kind}", "responses": ok, **ext, "x-kubernetes-action": "get"},
            "put": {
                "operationId": f"replace{rt.kind}",
                "parameters": _params(),
                "requestBody": body,
                "responses": ok,
                **ext,
                "x-kubernetes-action": "put",
            },
            "patch": {
                "operationId": f"patch{rt.kind}",
                "parameters": _params(),
                "requestBody": patch_body,
                "responses": ok,
                **ext,
                "x-kubernetes-action": "patch",
            },
            "delete": {"operationId": f"delete{rt.kind}", "responses": ok, **ext, "x-kubernetes-action": "delete"},
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
