"""The `releaseguard` console command, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from releaseguard.cli import COMMANDS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).parent / "releaseguard"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=60)


def test_crd_prints_the_committed_crd() -> None:
    result = run("crd")
    assert result.returncode == 0
    committed = (ROOT / "crds" / "releaseverifications.releaseguard.io.yaml").read_text()
    assert yaml.safe_load(result.stdout) == yaml.safe_load(committed)


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_everywhere(command: str | None) -> None:
    result = run(*([command] if command else []), "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: releaseguard" in result.stdout


def test_validate_accepts_the_examples() -> None:
    files = sorted(str(p) for p in (ROOT / "examples").glob("releaseguard.io_v1alpha1_*.yaml"))
    result = run("validate", *files)
    assert result.returncode == 0, result.stderr
    assert "shop: valid (7 checks)" in result.stdout


def test_validate_names_file_object_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: releaseguard.io/v1alpha1\nkind: ReleaseVerification\nmetadata: {name: shop}\n"
        "spec:\n  targetRef: {name: shop}\n  checks:\n    - name: health\n      http: {url: 'ftp://x'}\n"
    )
    result = run("validate", str(bad))
    assert result.returncode == 2
    assert f"{bad}: shop: spec.checks[0].http.url: expected a URL with scheme http or https" in result.stderr


def test_validate_reports_unreadable_files(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert "missing.yaml: cannot read" in result.stderr


def test_validate_reports_every_problem_at_once(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: releaseguard.io/v1alpha1\nkind: ReleaseVerification\nmetadata: {name: shop}\n"
        "spec:\n  targetRef: {name: shop}\n  checks:\n"
        "    - {name: health, http: {url: 'http://x/', json: [{path: $.a, matches: '('}]}}\n"
        "    - {name: health, http: {url: 'http://x/'}}\n"
    )
    result = run("validate", str(bad))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{bad}: shop: spec.checks[0].http.json[0].matches: invalid regular expression '('")
    assert lines[1] == f"{bad}: shop: spec.checks[1].name: duplicate check name 'health' (also used by spec.checks[0])"


def test_validate_accepts_a_checks_only_file_and_stdin(tmp_path: Path) -> None:
    checks = tmp_path / "checks.yaml"
    checks.write_text("checks:\n  - {name: health, http: {url: 'http://127.0.0.1:1/healthz'}}\n")
    result = run("validate", str(checks))
    assert (result.returncode, result.stdout) == (0, f"{checks}: checks: valid (1 check)\n"), result.stderr
    rv = (ROOT / "examples" / "releaseguard.io_v1alpha1_releaseverification.yaml").read_text()
    piped = subprocess.run([str(EXE), "validate", "-"], input=rv, capture_output=True, text=True, timeout=60)
    assert (piped.returncode, piped.stdout) == (0, "stdin: shop: valid (7 checks)\n"), piped.stderr
    broken = subprocess.run(
        [str(EXE), "validate", "-"], input="checks: [{name: x}]\n", capture_output=True, text=True, timeout=60
    )
    assert broken.returncode == 2 and broken.stderr.startswith("stdin: checks: checks[0]: "), broken.stderr


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("run", ["(default: 8000)", "(default: 8081)", "(default: ghcr.io/releaseguard/releaseguard:0.1.0)"]),
        ("run", ["without -n every namespace is watched"]),
        ("wait", ["(default: 600)", "(default: the Deployment's current one)"]),
    ],
)
def test_help_shows_the_defaults(command: str, shown: list[str]) -> None:
    text = " ".join(run(command, "--help").stdout.split())
    for piece in shown:
        assert piece in text, text
