"""Custom resource admission against the project's real CRD: defaults, pruning, schema and CEL."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from simhelpers import CRD

from kubesim.apiserver.resources import Registry, ResourceType
from kubesim.apiserver.validation import admit_custom
from kubesim.errors import ApiError


@pytest.fixture(scope="module")
def rv_type() -> ResourceType:
    return Registry().crd_types(yaml.safe_load(CRD.read_text()))[0]


def rv(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "targetRef": {"name": "shop"},
        "checks": [{"name": "health", "http": {"url": "http://shop:8080/healthz"}}],
    }
    base.update(spec)
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": "shop"},
        "spec": base,
    }


def causes(err: ApiError) -> dict[str, str]:
    assert err.details is not None
    return {c["field"]: c["message"] for c in err.details["causes"]}


def test_defaults_are_applied_and_unknown_fields_pruned(rv_type: ResourceType) -> None:
    obj = rv()
    obj["spec"]["surprise"] = 1
    out = admit_custom(rv_type, obj, None, None)
    assert "surprise" not in out["spec"]
    assert out["spec"]["targetRef"]["kind"] == "Deployment"
    assert out["spec"]["timeoutSeconds"] == 600
    assert out["spec"]["rollback"] == {
        "policy": "Automatic",
        "onNonCriticalFailure": False,
        "onRejectedTemplate": "Verify",
    }
    assert out["spec"]["checks"][0]["critical"] is True


def test_strict_field_validation_rejects_unknown_fields_with_their_paths(rv_type: ResourceType) -> None:
    obj = rv()
    obj["spec"]["surprise"] = 1
    obj["spec"]["checks"][0]["extra"] = True
    with pytest.raises(ApiError) as err:
        admit_custom(rv_type, obj, None, "Strict")
    assert err.value.code == 400
    assert 'unknown field "spec.surprise"' in err.value.message
    assert 'unknown field "spec.checks[0].extra"' in err.value.message


def test_schema_violations_name_their_fields(rv_type: ResourceType) -> None:
    obj = rv(delaySeconds=-1, parallelism="four", rollback={"policy": "Sometimes"})
    del obj["spec"]["targetRef"]
    obj["spec"]["checks"][0]["name"] = "Not_Valid"
    with pytest.raises(ApiError) as err:
        admit_custom(rv_type, obj, None, None)
    assert err.value.code == 422 and err.value.reason == "Invalid"
    found = causes(err.value)
    assert found["spec.targetRef"] == "Required value"
    assert (
        found["spec.delaySeconds"]
        == "Invalid value: -1: spec.delaySeconds in body should be greater than or equal to 0"
    )
    assert found["spec.parallelism"].startswith(
        'Invalid value: "string": spec.parallelism in body must be of type integer'
    )
    assert (
        found["spec.rollback.policy"]
        == 'Unsupported value: "Sometimes": supported values: "Automatic", "Manual", "Never"'
    )
    assert "should match" in found["spec.checks[0].name"]
    assert err.value.message.startswith('ReleaseVerification.releaseguard.io "shop" is invalid: ')


def test_max_items(rv_type: ResourceType) -> None:
    check = {"name": "h", "http": {"url": "http://x"}}
    obj = rv(checks=[dict(check, name=f"c{i}") for i in range(200)])
    with pytest.raises(ApiError) as err:
        admit_custom(rv_type, obj, None, None)
    assert any(m.startswith("Too many: 200: must have at most") for m in causes(err.value).values())


def test_cel_rules_report_the_message_at_the_field(rv_type: ResourceType) -> None:
    obj = rv(checks=[{"name": "both", "http": {"url": "http://x"}, "tcp": {"host": "x", "port": 1}}])
    with pytest.raises(ApiError) as err:
        admit_custom(rv_type, obj, None, None)
    found = causes(err.value)
    assert "spec.checks[0]" in found, found
    assert found["spec.checks[0]"].startswith("Invalid value: exactly one of")
    good = copy.deepcopy(obj)
    del good["spec"]["checks"][0]["tcp"]
    admit_custom(rv_type, good, None, None)


def test_crd_schema_problems_the_real_server_rejects() -> None:
    from kubesim.apiserver.validation import crd_schema_problems

    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "a": {"type": "string"},
                    "b": {"description": "no type"},
                    "c": {"type": "array", "uniqueItems": True},
                },
            },
            "free": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    crd = {"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": schema}}]}}
    root = "spec.versions[0].schema.openAPIV3Schema.properties[spec]"
    assert dict(crd_schema_problems(crd)) == {
        f"{root}.additionalProperties": "Forbidden: additionalProperties and properties are mutual exclusive",
        f"{root}.properties[b].type": "Required value: must not be empty for specified object fields",
        f"{root}.properties[c].uniqueItems": "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
    }


def test_crd_defaults_must_satisfy_their_schema_as_on_the_real_server() -> None:
    from kubesim.apiserver.validation import crd_schema_problems

    person = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}
    schema = {
        "type": "object",
        "properties": {
            "who": {**person, "default": {"name": None, "age": 3}},
            "count": {"type": "integer", "default": "three"},
            "fine": {**person, "default": {"name": "x"}},
        },
    }
    crd = {"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": schema}}]}}
    root = "spec.versions[0].schema.openAPIV3Schema"
    assert dict(crd_schema_problems(crd)) == {
        f"{root}.properties[who].default.name": 'Invalid value: "null": name in body must be of type string: "null"',
        f"{root}.properties[count].default": 'Invalid value: "string": <root> in body must be of type integer: "string"',
    }


def _rules(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        found = [r["rule"] for r in schema.get("x-kubernetes-validations") or []]
        return found + [r for v in schema.values() for r in _rules(v)]
    if isinstance(schema, list):
        return [r for v in schema for r in _rules(v)]
    return []


def test_every_rule_of_our_crd_compiles_and_the_python_rule_bites(rv_type: ResourceType) -> None:
    from kubesim.apiserver.validation import _program

    rules = _rules(rv_type.schema)
    assert len(rules) >= 5
    for rule in rules:
        _program(rule)
    obj = rv(checks=[{"name": "py", "python": {"imports": []}}])
    with pytest.raises(ApiError) as err:
        admit_custom(rv_type, obj, None, None)
    assert causes(err.value)["spec.checks[0].python"].endswith(
        "a python check needs at least one of imports, env, configFiles, pipCheck"
    )
    admit_custom(rv_type, rv(checks=[{"name": "py", "python": {"imports": ["json"]}}]), None, None)


def test_transition_rules_see_old_self_only_on_update() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "name": {
                        "type": "string",
                        "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "name is immutable"}],
                    },
                    "url": {
                        "type": "string",
                        "x-kubernetes-validations": [{"rule": "isURL(self)", "message": "must be a URL"}],
                    },
                },
            }
        },
    }
    rt = ResourceType(
        group="example.com",
        version="v1",
        plural="things",
        kind="Thing",
        namespaced=True,
        schema=schema,
        crd_name="things.example.com",
    )
    first = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": {"name": "a"}}
    stored = admit_custom(rt, first, None, None)
    admit_custom(rt, stored, stored, None)
    renamed = copy.deepcopy(stored)
    renamed["spec"]["name"] = "b"
    with pytest.raises(ApiError) as err:
        admit_custom(rt, renamed, stored, None)
    assert causes(err.value) == {"spec.name": 'Invalid value: "b": name is immutable'}
    with_url = dict(first, spec={"name": "a", "url": "http://x"})
    with pytest.raises(ApiError) as unsupported:
        admit_custom(rt, with_url, None, None)
    assert "rule evaluation error" in causes(unsupported.value)["spec.url"], (
        "Kubernetes CEL extensions are not in cel-python"
    )


def test_a_rule_naming_an_untyped_field_is_refused_as_the_real_server_refuses_it() -> None:
    from kubesim.apiserver.validation import crd_schema_problems

    item = {
        "type": "object",
        "properties": {
            "equals": {"x-kubernetes-preserve-unknown-fields": True},
            "anyOf": {"type": "array", "items": {"x-kubernetes-preserve-unknown-fields": True}},
            "exists": {"type": "boolean"},
        },
        "x-kubernetes-validations": [{"rule": "has(self.equals) || has(self.exists) || has(self.anyOf)"}],
    }
    crd = {"spec": {"versions": [{"schema": {"openAPIV3Schema": {"type": "object", "properties": {"a": item}}}}]}}
    path = "spec.versions[0].schema.openAPIV3Schema.properties[a].x-kubernetes-validations[0].rule"
    assert sorted(crd_schema_problems(crd)) == [
        (path, "Invalid value: compilation failed: ERROR: undefined field 'anyOf'"),
        (path, "Invalid value: compilation failed: ERROR: undefined field 'equals'"),
    ]
