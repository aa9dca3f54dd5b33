"""Files generated from the code (`make manifests`) are committed up to date: the dashboard (a plain
file and the chart's copy) and the incident payload's JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from releaseguard.dashboard import render as render_dashboard
from releaseguard.incident import incident_schema

ROOT = Path(__file__).resolve().parents[2]


def test_dashboard_files_are_generated_from_the_code() -> None:
    generated = render_dashboard()
    for path in (
        ROOT / "dashboards" / "releaseguard.json",
        ROOT / "charts" / "releaseguard" / "files" / "dashboard.json",
    ):
        assert path.read_text() == generated, f"{path} is stale: run `make manifests`"


def test_incident_schema_is_generated_from_the_models_and_is_a_valid_schema() -> None:
    committed = (ROOT / "schemas" / "incident.v1.json").read_text()
    assert committed == incident_schema(), "schemas/incident.v1.json is stale: run `make manifests`"
    schema = json.loads(committed)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schemaVersion"]["const"] == 1
    assert {"dedupeKey", "state", "release", "failedChecks", "timeline"} <= set(schema["required"])
