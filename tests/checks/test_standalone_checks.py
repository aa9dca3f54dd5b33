"""python, pytest and command checks through the generated script, in a fresh venv without our package."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from checks_support import SHOP_DIR, probe

from releaseguard.api import parse_checks
from releaseguard.api.status import CheckResultKind as R
from releaseguard.api.status import Verdict
from releaseguard.probe.checks import container_command, script_source
from releaseguard.report import parse_report

pytestmark = pytest.mark.slow

CONFIG = SHOP_DIR / "config"


@pytest.fixture
def in_shop_image(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment of the shop's "image": its code on the path, its working directory."""
    monkeypatch.setenv("PYTHONPATH", str(SHOP_DIR))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(SHOP_DIR)
    yield


def python_check(bare_python: str, **spec: Any) -> dict[str, Any]:
    return {"name": "python", "python": {"python": bare_python, **spec}}


@pytest.mark.usefixtures("in_shop_image")
async def test_python_check_of_the_good_release(bare_python: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_RELEASE", "good")
    monkeypatch.setenv("DATABASE_URL", "postgres://user:hunter2@db/shop")
    report = await probe(
        [
            python_check(
                bare_python,
                imports=["shop.app", "json"],
                env=["DATABASE_URL"],
                configFiles=["config/shop.json", "config/shop.ini", "config/shop.yaml"],
                pipCheck=True,
            )
        ]
    )
    check = report.check("python")
    assert check.result is R.PASSED, check.message
    # The bare venv has neither PyYAML nor pip: said, not failed.
    assert check.message == (
        "5 of 7 items ok (skipped: config config/shop.yaml: not decoded, PyYAML is not installed in the image; "
        "pip check: not run, pip is not installed in the image)"
    )
    assert "hunter2" not in report.to_json()
    assert report.verdict is Verdict.PASSED


@pytest.fixture
def venv_with_broken_requirement(tmp_path: Path) -> str:
    """A fresh venv with pip importable (and nothing else of ours) and one distribution whose requirement is missing."""
    import pip

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    only_pip = tmp_path / "only-pip"
    only_pip.mkdir()
    (only_pip / "pip").symlink_to(Path(pip.__file__).parent)
    (Path(purelib) / "only-pip.pth").write_text(f"{only_pip}\n")
    info = Path(purelib) / "shopdeps-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: shopdeps\nVersion: 1.0\nRequires-Dist: nonexistent-dep>=1\n"
    )
    return python


async def test_pip_check_finds_a_broken_requirement(venv_with_broken_requirement: str) -> None:
    report = await probe([{"name": "deps", "python": {"python": venv_with_broken_requirement, "pipCheck": True}}])
    check = report.check("deps")
    assert (check.result, check.message) == (
        R.FAILED,
        "pip check: shopdeps 1.0 requires nonexistent-dep, which is not installed.",
    )


@pytest.mark.usefixtures("in_shop_image")
async def test_our_package_is_not_there(bare_python: str) -> None:
    report = await probe([python_check(bare_python, imports=["releaseguard", "pydantic"])])
    assert report.check("python").message == (
        "import releaseguard: ModuleNotFoundError: No module named 'releaseguard'; "
        "import pydantic: ModuleNotFoundError: No module named 'pydantic'"
    )


@pytest.mark.usefixtures("in_shop_image")
async def test_only_skipped_items_is_skipped(bare_python: str) -> None:
    report = await probe([python_check(bare_python, configFiles=["config/shop.yaml"])])
    assert report.check("python").result is R.SKIPPED
    assert report.verdict is Verdict.PASSED


@pytest.mark.usefixtures("in_shop_image")
async def test_missing_env_release(bare_python: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_RELEASE", "missing-env")
    report = await probe([python_check(bare_python, imports=["shop.app"], env=["DATABASE_URL"])])
    check = report.check("python")
    assert check.result is R.FAILED
    assert check.message == ("import shop.app: RuntimeError: DATABASE_URL is not set; env DATABASE_URL is not set")
    assert check.observed == "2 of 2 failed"
    assert report.failed_critical == ["python"]


@pytest.mark.usefixtures("in_shop_image")
async def test_broken_import_release(bare_python: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_RELEASE", "broken-import")
    report = await probe([python_check(bare_python, imports=["shop.settings", "shop.app"])])
    assert report.check("python").message == ("import shop.app: ModuleNotFoundError: No module named 'shop._stripe_v2'")


@pytest.mark.usefixtures("in_shop_image")
async def test_bad_config_files(bare_python: str, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"currency": "EUR",}')
    (tmp_path / "bad.ini").write_text("no section header\n")
    (tmp_path / "bad.toml").write_text("currency = \n")
    report = await probe(
        [
            python_check(
                bare_python,
                configFiles=[str(tmp_path / n) for n in ("bad.json", "bad.ini", "bad.toml", "gone.json")],
            )
        ]
    )
    parts = report.check("python").message.split("; ")
    assert parts[0].startswith(f"config {tmp_path}/bad.json: cannot decode: JSONDecodeError: Expecting property name")
    assert parts[1].startswith(f"config {tmp_path}/bad.ini: cannot decode: MissingSectionHeaderError")
    assert parts[2].startswith(f"config {tmp_path}/bad.toml: cannot decode: TOMLDecodeError")
    assert parts[3] == f"config {tmp_path}/gone.json: not found"


@pytest.mark.usefixtures("in_shop_image")
async def test_python_check_timeout_names_the_item(
    bare_python: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sleepy.py").write_text("import time\ntime.sleep(30)\n")
    monkeypatch.setenv("PYTHONPATH", f"{SHOP_DIR}:{tmp_path}")
    report = await probe([{**python_check(bare_python, imports=["json", "sleepy"]), "timeoutSeconds": 1}])
    check = report.check("python")
    assert (check.result, check.message, check.observed) == (R.FAILED, "timed out after 1s at import sleepy", "timeout")
    assert check.duration_seconds < 5


# --- pytest ----------------------------------------------------------------------------------


def pytest_check(bare_python: str) -> dict[str, Any]:
    return {"name": "smoke", "pytest": {"python": bare_python, "args": ["-m", "smoke", "tests"]}}


@pytest.mark.usefixtures("in_shop_image")
async def test_pytest_check_passes_on_good(bare_python: str) -> None:
    report = await probe([pytest_check(bare_python)])
    check = report.check("smoke")
    assert (check.result, check.message, check.observed) == (R.PASSED, "3 tests passed", "3 passed")


@pytest.mark.usefixtures("in_shop_image")
async def test_pytest_check_names_the_failing_test_and_line(bare_python: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_RELEASE", "shape")
    line = _line_of(SHOP_DIR / "tests" / "test_smoke.py", 'assert isinstance(item["price"]')
    report = await probe([pytest_check(bare_python)])
    check = report.check("smoke")
    assert check.result is R.FAILED
    assert check.message.startswith(
        "1 of 3 tests failed: tests/test_smoke.py::test_order_prices_are_numbers failed at "
        f"tests/test_smoke.py:{line}: AssertionError: order 1 has price None"
    )
    assert check.observed == "1 failed, 2 passed"


@pytest.mark.usefixtures("in_shop_image")
async def test_pytest_check_on_a_broken_import(bare_python: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_RELEASE", "broken-import")
    report = await probe([pytest_check(bare_python)])
    check = report.check("smoke")
    assert check.result is R.FAILED
    assert check.message.startswith("3 of 3 tests failed: tests/test_smoke.py::test_healthz errored at ")
    assert "No module named 'shop._stripe_v2'" in check.message


@pytest.fixture
def no_pytest_venv(tmp_path: Path) -> Path:
    bare = tmp_path / "nopytest"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    return bare


@pytest.mark.usefixtures("in_shop_image")
async def test_pytest_missing_is_an_error(no_pytest_venv: Path) -> None:
    bare = no_pytest_venv
    report = await probe([{"name": "smoke", "pytest": {"python": str(bare / "bin" / "python")}}])
    check = report.check("smoke")
    assert (check.result, check.message) == (R.ERROR, f"pytest is not installed for {bare}/bin/python")


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# --- command ---------------------------------------------------------------------------------


def command(bare_python: str, argv: list[str], **spec: Any) -> dict[str, Any]:
    return {"name": "cmd", "command": {"command": argv, "python": bare_python, **spec}}


async def test_command_results(bare_python: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    report = await probe(
        [
            {**command(bare_python, ["sh", "-c", "echo starting; echo boom >&2; exit 3"]), "name": "exit"},
            {**command(bare_python, ["echo", "version 1.2"], stdoutMatches=r"version 2\."), "name": "regex"},
            {**command(bare_python, ["echo", "version 2.0"], stdoutMatches=r"version 2\."), "name": "ok"},
            {**command(bare_python, ["sh", "-c", "exit 4"], expectExitCode=4), "name": "code"},
            {**command(bare_python, ["no-such-binary-rg"]), "name": "missing"},
            {**command(bare_python, ["sleep", "20"]), "name": "slow", "timeoutSeconds": 1},
            {
                **command(bare_python, ["sh", "-c", f"test -f {marker} || {{ touch {marker}; exit 1; }}"]),
                "name": "flaky",
                "retries": 3,
            },
        ],
        parallelism=7,
    )
    got = {c.name: (c.result, c.message, c.observed) for c in report.checks}
    assert got["exit"] == (
        R.FAILED,
        "`sh -c echo starting; echo boom >&2; exit 3` exited 3 (expected 0); output: starting | boom",
        "exit 3",
    )
    assert got["regex"] == (
        R.FAILED,
        r"`echo version 1.2` stdout did not match /version 2\./; output: version 1.2",
        "exit 0",
    )
    assert got["ok"][0] is R.PASSED and got["code"][0] is R.PASSED
    assert got["missing"] == (R.ERROR, "command not found: no-such-binary-rg", "not found")
    assert got["slow"] == (R.FAILED, "`sleep 20` timed out after 1s", "timeout")
    assert got["flaky"][0] is R.FLAKY
    assert [a.result for a in report.check("flaky").attempts] == [R.FAILED, R.PASSED]
    assert report.check("slow").duration_seconds < 5
    assert set(report.failed_critical) == {"exit", "regex", "missing", "slow"}


async def test_missing_working_directory_is_an_error(bare_python: str) -> None:
    report = await probe(
        [
            {**command(bare_python, ["true"], workingDir="/nonexistent/app"), "name": "cmd"},
            {"name": "smoke", "pytest": {"python": bare_python, "workingDir": "/nonexistent/app"}},
        ]
    )
    for name in ("cmd", "smoke"):
        check = report.check(name)
        assert (check.result, check.message) == (R.ERROR, "working directory /nonexistent/app does not exist")


async def test_missing_interpreter_is_an_error() -> None:
    report = await probe([{"name": "cmd", "command": {"command": ["true"], "python": "/nonexistent/python3"}}])
    assert report.check("cmd").result is R.ERROR
    assert report.check("cmd").message == "interpreter '/nonexistent/python3' not found (set command.python)"


# --- the container argv, as the operator uses it ---------------------------------------------


def test_container_command_writes_the_termination_log(bare_python: str, tmp_path: Path) -> None:
    (check,) = parse_checks(
        {
            "checks": [
                {"name": "exit", "retries": 1, "command": {"command": ["sh", "-c", "echo " + "x" * 200 + "; exit 2"]}}
            ]
        }
    )
    argv = container_command(check)
    assert argv[:4] == ["python", "-c", script_source(), "run"]
    assert argv[-1] == "/dev/termination-log"
    log = tmp_path / "termination-log"
    argv = container_command(check, termination_log=str(log))
    argv[0] = bare_python
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={"PATH": os.environ["PATH"]})
    assert done.returncode == 0, done.stderr  # it reported: its Job succeeds, the failure is in the report
    full = parse_report(done.stdout)
    compact = parse_report(log.read_text())
    assert full.verdict is compact.verdict is Verdict.FAILED
    assert compact.failed_critical == ["exit"]
    assert len(full.check("exit").attempts) == 2
    assert len(log.read_bytes()) <= 4096
    assert full.check("exit").message.startswith("`sh -c echo xxx")


def test_container_command_passes_and_skips_a_missing_log_dir(bare_python: str) -> None:
    (check,) = parse_checks({"checks": [{"name": "ok", "command": {"command": ["true"], "python": bare_python}}]})
    argv = container_command(check, termination_log="/nonexistent-dir/termination-log")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert parse_report(done.stdout).verdict is Verdict.PASSED


def test_container_command_of_a_runner_check_is_refused() -> None:
    (check,) = parse_checks({"checks": [{"name": "h", "tcp": {"host": "x", "port": 1}}]})
    with pytest.raises(ValueError, match="tcp check, not one of command, python, pytest"):
        container_command(check)


def test_script_is_python_3_8_syntax() -> None:
    ast.parse(script_source(), feature_version=(3, 8))


def test_script_runs_on_the_oldest_python_we_promise(tmp_path: Path) -> None:
    candidates = [str(p) for p in Path("/root/.pyenv/versions").glob("3.8*/bin/python3.8")]
    candidates += [p for p in [shutil.which("python3.8")] if p]
    python38 = next((p for p in candidates if subprocess.run([p, "-V"], capture_output=True).returncode == 0), None)
    if python38 is None:
        pytest.skip("no Python 3.8 interpreter on this machine; the syntax test above still covers 3.8")
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"a": 1}))
    (check,) = parse_checks(
        {"checks": [{"name": "old", "python": {"python": python38, "imports": ["json"], "configFiles": [str(config)]}}]}
    )
    done = subprocess.run(container_command(check, termination_log=""), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert parse_report(done.stdout).check("old").message == "2 of 2 items ok"
