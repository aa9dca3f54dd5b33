"""Render the ReleaseVerification CRD from the pydantic models.

pydantic emits JSON Schema 2020-12; Kubernetes wants a *structural* OpenAPI v3.0 schema:
no $ref/$defs, no `type: null`, booleans for exclusive bounds, int-or-string spelled its own way,
free-form values marked with x-kubernetes-preserve-unknown-fields, and no `additionalProperties`
beside `properties`.
"""

from __future__ import annotations

from typing import Any

import yaml

from .resource import GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION
from .spec import ReleaseVerificationSpec
from .status import ReleaseVerificationStatus
from .vrun import RUN_KIND, RUN_PLURAL, RUN_SHORT_NAMES, RUN_SINGULAR, VerificationRunSpec, VerificationRunStatus

_DROP = {"title", "$defs"}

PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Target", "type": "string", "jsonPath": ".spec.targetRef.name"},
    {"name": "Revision", "type": "integer", "jsonPath": ".status.currentRevision"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Checks", "type": "string", "jsonPath": ".status.checks"},
    {"name": "Last Verified", "type": "date", "jsonPath": ".status.lastVerifiedTime"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Last Good", "type": "integer", "jsonPath": ".status.lastGoodRevision", "priority": 1},
    {
        "name": "Message",
        "type": "string",
        "jsonPath": ".status.message",
        "priority": 1,
    },
]


RUN_PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "RV", "type": "string", "jsonPath": ".spec.releaseVerification"},
    {"name": "Revision", "type": "integer", "jsonPath": ".spec.revision"},
    {"name": "Verdict", "type": "string", "jsonPath": ".status.verdict"},
    {"name": "Checks", "type": "string", "jsonPath": ".status.checksSummary"},
    {"name": "Image", "type": "string", "jsonPath": ".spec.image"},
    {"name": "Duration", "type": "string", "jsonPath": ".status.duration"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Trigger", "type": "string", "jsonPath": ".spec.trigger", "priority": 1},
    {"name": "Reason", "type": "string", "jsonPath": ".status.reason", "priority": 1},
]


def structural(schema: dict[str, Any]) -> dict[str, Any]:
    """Turn one pydantic JSON Schema (with its $defs) into a structural OpenAPI v3 schema."""
    defs = schema.get("$defs", {})

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return convert(merged)
        if "anyOf" in node:
            return convert(_collapse_any_of(node))
        if "allOf" in node and len(node["allOf"]) == 1:
            # older pydantic wraps a $ref that carries siblings (a default, a description) in allOf
            return convert({**node["allOf"][0], **{k: v for k, v in node.items() if k != "allOf"}})
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROP:
                continue
            if key == "default" and value is None:
                continue
            if key == "const":
                out["enum"] = [value]
            elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
                bound = "minimum" if key == "exclusiveMinimum" else "maximum"
                out[bound] = value
                out[key] = True
            elif key == "properties":
                out[key] = {name: convert(sub) for name, sub in value.items()}
            elif key == "additionalProperties":
                if value is False:
                    # extra="forbid" in the models; the API server rejects additionalProperties beside
                    # properties, and prunes (or, under Strict, refuses) unknown fields anyway.
                    continue
                if value is True or value == {}:
                    out["x-kubernetes-preserve-unknown-fields"] = True
                else:
                    out[key] = convert(value)
            elif key in ("items", "not"):
                out[key] = convert(value)
            elif key in ("default", "enum", "x-kubernetes-validations", "examples", "oneOf"):
                out[key] = value
            else:
                out[key] = convert(value)
        if not out.get("type") and not out.get("x-kubernetes-int-or-string") and "enum" not in out:
            out["x-kubernetes-preserve-unknown-fields"] = True
        if "enum" in out and "type" not in out:
            out["type"] = _json_type(out["enum"][0])
        if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
            out["x-kubernetes-preserve-unknown-fields"] = True
        return out

    return dict(convert({k: v for k, v in schema.items() if k != "$defs"}))


def _collapse_any_of(node: dict[str, Any]) -> dict[str, Any]:
    options = [o for o in node["anyOf"] if o.get("type") != "null"]
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    types = sorted(o.get("type", "") for o in options)
    if types == ["integer", "string"]:
        return {**rest, "x-kubernetes-int-or-string": True}
    if len(options) == 1:
        return {**options[0], **rest}
    raise ValueError(f"cannot express anyOf {node['anyOf']} in a structural schema")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _object_schema(description: str, spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }


def open_api_schema() -> dict[str, Any]:
    spec = structural(ReleaseVerificationSpec.model_json_schema(by_alias=True, mode="validation"))
    status = structural(ReleaseVerificationStatus.model_json_schema(by_alias=True, mode="validation"))
    status["properties"]["conditions"].update({"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]})
    spec["description"] = "What to verify after each rollout of the target, and what to do on failure."
    status["description"] = "The verification of the target's current revision and its recent history."
    return _object_schema(
        "Smoke checks run after every rollout of a Deployment, with a verdict and rollback.", spec, status
    )


def run_open_api_schema() -> dict[str, Any]:
    spec = structural(VerificationRunSpec.model_json_schema(by_alias=True, mode="validation"))
    status = structural(VerificationRunStatus.model_json_schema(by_alias=True, mode="validation"))
    spec["description"] = "What the run verifies, as it was when it started. Immutable."
    spec["x-kubernetes-validations"] = [{"rule": "self == oldSelf", "message": "a VerificationRun's spec is immutable"}]
    status["description"] = "The verdict, written once when the run finishes."
    return _object_schema(
        "One verification of one revision by a ReleaseVerification, kept after its Jobs are gone.", spec, status
    )


def crd() -> dict[str, Any]:
    return _crd(KIND, PLURAL, SINGULAR, SHORT_NAMES, PRINTER_COLUMNS, open_api_schema())


def run_crd() -> dict[str, Any]:
    return _crd(RUN_KIND, RUN_PLURAL, RUN_SINGULAR, RUN_SHORT_NAMES, RUN_PRINTER_COLUMNS, run_open_api_schema())


def _crd(
    kind: str,
    plural: str,
    singular: str,
    short_names: tuple[str, ...],
    columns: list[dict[str, Any]],
    schema: dict[str, Any],
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {
                "app.kubernetes.io/name": "releaseguard",
                "app.kubernetes.io/part-of": "releaseguard",
            },
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": singular,
                "shortNames": list(short_names),
                "categories": ["releaseguard"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def crd_yaml(kind: str = KIND) -> str:
    if kind == RUN_KIND:
        header = "# Generated by `releaseguard crd --kind VerificationRun` from operator/releaseguard/api. Do not edit by hand.\n"
        return header + yaml.safe_dump(run_crd(), sort_keys=False, width=100)
    header = "# Generated by `releaseguard crd` from operator/releaseguard/api. Do not edit by hand.\n"
    return header + yaml.safe_dump(crd(), sort_keys=False, width=100)
