"""The `releaseguard` console command, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from releaseguard.cli import COMMANDS

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
