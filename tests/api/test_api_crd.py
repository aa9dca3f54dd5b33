"""The CRD is generated from the models, committed, structurally valid, and agrees with the models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from releaseguard.api import parse_release_verification
from releaseguard.api.crd import crd, crd_yaml

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "crds" / "releaseverifications.releaseguard.io.yaml"
EXAMPLES = sorted((ROOT / "examples").glob("releaseguard.io_v1alpha1_*.yaml"))


def schema() -> dict[str, Any]:
    return dict(crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def test_committed_crd_matches_the_models() -> None:
    # Compared as data: key order may differ between pydantic versions inside the supported range.
    assert yaml.safe_load(COMMITTED.read_text()) == yaml.safe_load(crd_yaml()), (
        "crds/ is stale: run `make manifests` and commit it"
    )


def test_crd_is_a_valid_apiextensions_v1_object() -> None:
    kubernetes_validate.validate(yaml.safe_load(COMMITTED.read_text()), "1.32", strict=True)


def test_crd_has_no_refs_or_nulls() -> None:
    text = COMMITTED.read_text()
    assert "$ref" not in text and "$defs" not in text and "type: 'null'" not in text and "anyOf" not in text


def test_crd_names_and_columns() -> None:
    spec = crd()["spec"]
    assert spec["group"] == "releaseguard.io" and spec["scope"] == "Namespaced"
    assert spec["names"]["shortNames"] == ["rv", "relver"]
    version = spec["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert columns == ["Target", "Revision", "Phase", "Checks", "Last Verified", "Age"]


def test_every_object_in_the_schema_is_structural() -> None:
    def walk(node: dict[str, Any], path: str) -> None:
        has_type = (
            "type" in node or node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
        )
        assert has_type, f"{path} has no type"
        for name, sub in node.get("properties", {}).items():
            walk(sub, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}{{}}")

    walk(schema(), "")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_round_trip_through_the_models(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        rv = parse_release_verification(document)
        assert rv.to_wire() == document


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_satisfy_the_crd_schema(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        jsonschema.Draft4Validator(schema()).validate(document)


@pytest.mark.parametrize(
    ("edit", "word"),
    [
        (lambda s: s["checks"][0].update(name="Bad_Name"), "does not match"),
        (lambda s: s["rollback"].update(policy="Sometimes"), "is not one of"),
        (lambda s: s.update(parallelism=0), "less than the minimum"),
        (lambda s: s["checks"][2]["tcp"].update(port=70000), "greater than the maximum"),
        (lambda s: s.pop("targetRef"), "is a required property"),
    ],
)
def test_the_crd_schema_rejects_what_the_models_reject(edit: Any, word: str) -> None:
    document = yaml.safe_load((ROOT / "examples" / "releaseguard.io_v1alpha1_releaseverification.yaml").read_text())
    edit(document["spec"])
    with pytest.raises(jsonschema.ValidationError, match=word):
        jsonschema.Draft4Validator(schema()).validate(document)
    with pytest.raises(Exception, match=r"spec\."):
        parse_release_verification(document)
