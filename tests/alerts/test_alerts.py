"""The alert rules shipped in the chart, checked and unit-tested with the real promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from system_tools import require_tool

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "charts" / "releaseguard" / "files" / "alerts.yaml"


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_tool("promtool")


def test_rules_are_valid(promtool: str) -> None:
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_rules_fire_when_they_should(promtool: str, tmp_path: Path) -> None:
    tests = (Path(__file__).parent / "releaseguard_test.yaml").read_text().replace("RULES", str(RULES))
    test_file = tmp_path / "releaseguard_test.yaml"
    test_file.write_text(tests)
    result = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_a_broken_expectation_is_caught(promtool: str, tmp_path: Path) -> None:
    """The harness can fail: the same tests with one expected label changed must not pass."""
    tests = (Path(__file__).parent / "releaseguard_test.yaml").read_text().replace("RULES", str(RULES))
    test_file = tmp_path / "broken_test.yaml"
    broken = tests.replace("deployment: web-frontend}", "deployment: web}", 1)
    assert broken != tests
    test_file.write_text(broken)
    result = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True)
    assert result.returncode != 0
