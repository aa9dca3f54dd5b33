"""Custom resources as the real server treats them: prune unknown fields (or reject them under
fieldValidation=Strict), apply schema defaults, validate against the openAPIV3Schema, then evaluate
the CEL `x-kubernetes-validations` rules. Errors are worded like the real apiserver's."""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
import sys
from typing import Any

from kubesim.apiserver import warnings
from kubesim.apiserver.resources import ResourceType
from kubesim.cluster import Obj
from kubesim.errors import ApiError, invalid

Causes = list[tuple[str, str]]
# cel-python logs every evaluation step at DEBUG; a verbose client (kopf --verbose) would drown in it.
logging.getLogger("celpy").setLevel(logging.WARNING)


def report_unknown_fields(rt: ResourceType, unknown: list[str], field_validation: str | None) -> None:
    """What the apiserver does with unknown fields: 400 under Strict, a Warning header under Warn
    (the default), nothing under Ignore. The caller prunes them."""
    if not unknown:
        return
    if (field_validation or "").lower() == "strict":
        detail = ", ".join(f'unknown field "{p}"' for p in unknown)
        raise ApiError(
            400,
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict decoding error: {detail}',
            "BadRequest",
        )
    if (field_validation or "Warn").lower() != "ignore":
        for path in unknown:
            warnings.warn(f'unknown field "{path}"')


def admit_custom(rt: ResourceType, obj: Obj, old: Obj | None, field_validation: str | None) -> Obj:
    schema = rt.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    obj = copy.deepcopy(obj)
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    unknown: list[str] = []
    body = prune(body, _root_without_meta(schema), "", unknown)
    report_unknown_fields(rt, unknown, field_validation)
    body = apply_defaults(body, _root_without_meta(schema))
    causes: Causes = []
    validate(body, _root_without_meta(schema), "", causes)
    if not causes:
        validate_cel(body, _root_without_meta(schema), "", causes, old)
    if causes:
        raise invalid(rt.group, rt.kind, obj.get("metadata", {}).get("name", ""), causes)
    out = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": obj.get("metadata", {})}
    out.update(body)
    return out


def _root_without_meta(schema: Obj) -> Obj:
    props = {k: v for k, v in (schema.get("properties") or {}).items() if k not in ("apiVersion", "kind", "metadata")}
    return dict(schema, properties=props)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _preserves(schema: Obj) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


_NOT_OBJECT = frozenset({"array", "string", "integer", "number", "boolean"})


def prune(value: Any, schema: Obj, path: str, unknown: list[str]) -> Any:
    """Drop fields the schema does not know, recording their paths. An object where the schema
    wants a list or a scalar has only unknown fields, as the real server's pruning sees it (so under
    Strict it is a 400 `unknown field "spec.checks.name"`, not a type error)."""
    if isinstance(value, dict) and schema.get("type") in _NOT_OBJECT and not _preserves(schema):
        unknown.extend(_join(path, k) for k in value)
        return {}
    if isinstance(value, dict) and (
        schema.get("type") == "object" or "properties" in schema or "additionalProperties" in schema
    ):
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        out = {}
        for k, v in value.items():
            if props is not None and k in props:
                out[k] = prune(v, props[k], _join(path, k), unknown)
            elif isinstance(addl, dict):
                out[k] = prune(v, addl, _join(path, k), unknown)
            elif _preserves(schema) or (props is None and addl is None) or addl is True:
                out[k] = v
            else:
                unknown.append(_join(path, k))
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(v, schema["items"], f"{path}[{i}]", unknown) for i, v in enumerate(value)]
    return value


def apply_defaults(value: Any, schema: Obj) -> Any:
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for k, sub in props.items():
            if k not in value and "default" in sub:
                value[k] = copy.deepcopy(sub["default"])
        for k, v in list(value.items()):
            if k in props:
                value[k] = apply_defaults(v, props[k])
            elif isinstance(schema.get("additionalProperties"), dict):
                value[k] = apply_defaults(v, schema["additionalProperties"])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(v, schema["items"]) for v in value]
    return value


def _go(value: Any) -> str:
    """A value the way the apiserver quotes it in `Invalid value: ...`."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    if value is None:
        return '"null"'
    return str(value)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_ok(value: Any, type_: str) -> bool:
    actual = _type_name(value)
    if type_ == "number":
        return actual in ("integer", "number")
    if type_ == "integer" and isinstance(value, float) and value.is_integer():
        return True
    return actual == type_


def validate(value: Any, schema: Obj, path: str, causes: Causes) -> None:
    label = path or "<root>"
    if value is None:
        if not schema.get("nullable"):
            causes.append(
                (
                    label,
                    f'Invalid value: "null": {label} in body must be of type {schema.get("type", "object")}: "null"',
                )
            )
        return
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, (int, str)) or isinstance(value, bool):
            causes.append(
                (
                    label,
                    f'Invalid value: {_go(value)}: {label} in body must be of type int-or-string: "{_type_name(value)}"',
                )
            )
            return
    elif "type" in schema and not _type_ok(value, schema["type"]):
        causes.append(
            (
                label,
                f'Invalid value: "{_type_name(value)}": {label} in body must be of type {schema["type"]}: "{_type_name(value)}"',
            )
        )
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(json.dumps(e) for e in schema["enum"])
        causes.append((label, f"Unsupported value: {_go(value)}: supported values: {allowed}"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            causes.append(
                (
                    label,
                    f"Invalid value: {value}: {label} in body should be greater than or equal to {schema['minimum']}",
                )
            )
        if "maximum" in schema and value > schema["maximum"]:
            causes.append(
                (label, f"Invalid value: {value}: {label} in body should be less than or equal to {schema['maximum']}")
            )
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            causes.append((label, f"Invalid value: {_go(value)}: {label} in body should match '{schema['pattern']}'"))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            causes.append((label, f"Too long: may not be more than {schema['maxLength']} bytes"))
        if "minLength" in schema and len(value) < schema["minLength"]:
            causes.append(
                (
                    label,
                    f"Invalid value: {_go(value)}: {label} in body should be at least {schema['minLength']} chars long",
                )
            )
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            causes.append((label, f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
        if "minItems" in schema and len(value) < schema["minItems"]:
            causes.append(
                (label, f"Invalid value: {len(value)}: {label} in body should have at least {schema['minItems']} items")
            )
        if isinstance(schema.get("items"), dict):
            for i, v in enumerate(value):
                validate(v, schema["items"], f"{path}[{i}]", causes)
    if isinstance(value, dict):
        for req in schema.get("required") or []:
            if req not in value:
                causes.append((_join(path, req), "Required value"))
        props = schema.get("properties") or {}
        for k, v in value.items():
            if k in props:
                validate(v, props[k], _join(path, k), causes)
            elif isinstance(schema.get("additionalProperties"), dict):
                validate(v, schema["additionalProperties"], _join(path, k), causes)
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            causes.append((label, f"Too many: {len(value)}: must have at most {schema['maxProperties']} items"))
    if isinstance(schema.get("oneOf"), list):
        valid = 0
        for alternative in schema["oneOf"]:
            found: list[tuple[str, str]] = []
            validate(value, alternative, path, found)
            valid += not found
        if valid != 1:
            which = "none valid" if valid == 0 else f"{valid} valid alternatives"
            causes.append(
                (label, f"Invalid value: {_go(value)}: must validate one and only one schema (oneOf). Found {which}")
            )


# ---- CEL ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _program(rule: str) -> Any:
    import celpy

    limit = sys.getrecursionlimit()
    env = celpy.Environment()  # sets the recursion limit to 2,500, for every thread
    sys.setrecursionlimit(max(limit, sys.getrecursionlimit()))
    return env.program(env.compile(rule))


def _to_cel(value: Any) -> Any:
    import celpy

    return celpy.json_to_cel(value)  # type: ignore[attr-defined]


def validate_cel(value: Any, schema: Obj, path: str, causes: Causes, old: Any) -> None:
    """Evaluate `x-kubernetes-validations` rules bottom-up over the value (oldSelf rules only on update)."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for k, v in value.items():
            sub = props.get(k) or (
                schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else None
            )
            if sub:
                old_v = old.get(k) if isinstance(old, dict) else None
                validate_cel(v, sub, _join(path, k), causes, old_v)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            validate_cel(v, schema["items"], f"{path}[{i}]", causes, None)
    for rule in schema.get("x-kubernetes-validations") or []:
        expr = rule.get("rule", "")
        uses_old = "oldSelf" in expr
        if uses_old and old is None:
            continue
        activation = {"self": _to_cel(value)}
        if uses_old:
            activation["oldSelf"] = _to_cel(old)
        label = path or "<root>"
        try:
            result = _program(expr).evaluate(activation)
        except Exception as exc:  # a rule that cannot be evaluated is an invalid object, as in the real server
            causes.append((label, f"Invalid value: {_go(value)}: rule evaluation error: {exc}"))
            continue
        if not isinstance(result, bool) and type(result).__name__ != "BoolType":
            causes.append((label, f"Invalid value: {_go(value)}: rule evaluation error: {result}"))
            continue
        if not bool(result):
            message = rule.get("message") or f"failed rule: {expr}"
            field = rule.get("fieldPath")
            # The real server leaves an object's or a list's value out of a rule's message.
            shown = "" if isinstance(value, (dict, list)) else f"{_go(value)}: "
            causes.append((label + (field or ""), f"Invalid value: {shown}{message}"))


# ---- CRD schemas ----------------------------------------------------------------------------------


def crd_schema_problems(crd: Obj) -> Causes:
    """What the real apiserver rejects in a CRD's structural schema (the checks that bite in practice):
    `additionalProperties` beside `properties`, `$ref`, `uniqueItems: true`, properties without `type`."""
    problems: Causes = []
    for i, ver in enumerate((crd.get("spec") or {}).get("versions") or []):
        schema = (ver.get("schema") or {}).get("openAPIV3Schema")
        if isinstance(schema, dict):
            _schema_problems(schema, f"spec.versions[{i}].schema.openAPIV3Schema", problems, root=True)
    return problems


def _schema_problems(schema: Obj, path: str, out: Causes, root: bool = False) -> None:
    if "default" in schema:
        # the real server validates every default against its own schema (a null inside one included)
        causes: Causes = []
        validate(schema["default"], schema, "", causes)
        for where, message in causes:
            out.append((f"{path}.default" + ("" if where in ("", "<root>") else f".{where}"), message))
    if "$ref" in schema:
        out.append((f"{path}.$ref", "Forbidden: $ref is not supported"))
    if schema.get("uniqueItems") is True:
        out.append(
            (
                f"{path}.uniqueItems",
                "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    addl = schema.get("additionalProperties")
    if addl is not None and schema.get("properties") and (addl is False or isinstance(addl, dict)):
        out.append(
            (f"{path}.additionalProperties", "Forbidden: additionalProperties and properties are mutual exclusive")
        )
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        sub_path = f"{path}.properties[{name}]"
        if (
            "type" not in sub
            and not sub.get("x-kubernetes-int-or-string")
            and not sub.get("x-kubernetes-preserve-unknown-fields")
        ):
            out.append((f"{sub_path}.type", "Required value: must not be empty for specified object fields"))
        _schema_problems(sub, sub_path, out)
    if isinstance(schema.get("items"), dict):
        _schema_problems(schema["items"], f"{path}.items", out)
    if isinstance(addl, dict):
        _schema_problems(addl, f"{path}.additionalProperties", out)
    for i, rule in enumerate(schema.get("x-kubernetes-validations") or []):
        for name in _invisible_fields(schema, str((rule or {}).get("rule", ""))):
            out.append(
                (
                    f"{path}.x-kubernetes-validations[{i}].rule",
                    f"Invalid value: compilation failed: ERROR: undefined field '{name}'",
                )
            )


_SELF_FIELD = re.compile(r"\bself\.([A-Za-z_][A-Za-z0-9_]*)")


def _untyped(schema: Obj) -> bool:
    """A value CEL cannot see: no type (any JSON), or an array of such values."""
    if schema.get("x-kubernetes-int-or-string"):
        return False
    if "type" not in schema:
        return True
    items = schema.get("items")
    return schema.get("type") == "array" and isinstance(items, dict) and _untyped(items)


def _invisible_fields(schema: Obj, rule: str) -> list[str]:
    """Fields a rule names that the real API server's CEL type checker cannot see: it leaves
    properties without a type out of the declared type, so `self.x` does not compile."""
    props = schema.get("properties") or {}
    if not props or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    names = dict.fromkeys(_SELF_FIELD.findall(rule))
    return [n for n in names if isinstance(props.get(n), dict) and _untyped(props[n])]
