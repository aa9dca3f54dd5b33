"""The product wheel is ReleaseGuard alone: kubesim (the tests' and the demo's cluster) is a
distribution of its own and never ships in the wheel or the image."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_the_releaseguard_wheel_holds_no_kubesim(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("releaseguard-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("releaseguard/core/") for n in names)
    assert not [n for n in names if n.startswith("kubesim")]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "releaseguard = releaseguard.cli:main" in scripts and "kubesim" not in scripts


def test_kubesim_is_installed_from_its_own_project() -> None:
    from importlib.metadata import distribution

    kubesim = distribution("kubesim")
    assert kubesim.entry_points.select(group="console_scripts", name="kubesim")
    requires = " ".join(kubesim.requires or [])
    assert "aiohttp" in requires and "cryptography" in requires
    releaseguard = distribution("releaseguard")
    assert not releaseguard.entry_points.select(group="console_scripts", name="kubesim")
