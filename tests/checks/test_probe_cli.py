"""`releaseguard probe` as a real subprocess: input forms, exit codes, the termination log."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from releaseguard.commands import probe as probe_command
from releaseguard.report import parse_report

pytestmark = pytest.mark.slow

EXE = Path(sys.executable).parent / "releaseguard"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), "probe", *args], input=stdin, capture_output=True, text=True, timeout=120)


def write(tmp_path: Path, document: Any, name: str = "checks.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    return str(path)


def test_passing_checks_exit_0_with_report_and_termination_log(shops: Callable[..., str], tmp_path: Path) -> None:
    url = shops("good")
    log = tmp_path / "termination-log"
    checks = {"checks": [{"name": "health", "http": {"url": f"{url}/healthz"}}]}
    done = run("-f", write(tmp_path, checks), "--termination-log", str(log), "--table")
    assert done.returncode == 0, done.stderr
    report = parse_report(done.stdout)
    assert report.verdict.value == "Passed" and report.check("health").result.value == "Passed"
    assert parse_report(log.read_text()).verdict.value == "Passed"
    assert "CHECK" in done.stderr and "verdict: Passed" in done.stderr


def test_failing_critical_check_exits_1(shops: Callable[..., str], tmp_path: Path) -> None:
    url = shops("error500")
    checks = [
        {"name": "orders", "http": {"url": f"{url}/api/orders"}},
        {"name": "health", "critical": False, "http": {"url": f"{url}/healthz"}},
    ]
    done = run("--checks-json", json.dumps({"checks": checks}))
    assert done.returncode == 1
    log = tmp_path / "log"
    done = run("--checks-json", json.dumps({"checks": checks}), "--termination-log", str(log))
    assert done.returncode == 0  # as in a probe Job: it reported, so it succeeded; the verdict is in the report
    report = parse_report(done.stdout)
    assert report.failed_critical == ["orders"]
    assert report.message == f"1 critical check failed: orders: GET {url}/api/orders -> 500 (expected 200)"
    assert json.loads(log.read_text())["checks"][0]["name"] == "orders"
    assert done.stderr == ""  # not a terminal, no --table


def test_non_critical_failure_exits_0(shops: Callable[..., str]) -> None:
    url = shops("error500")
    checks = {"checks": [{"name": "orders", "critical": False, "http": {"url": f"{url}/api/orders"}}]}
    done = run(stdin=json.dumps(checks))
    assert done.returncode == 0
    assert parse_report(done.stdout).summary.failed == 1


def test_a_whole_release_verification_uses_its_parallelism(shops: Callable[..., str], tmp_path: Path) -> None:
    url = shops("slow", SHOP_SLOW_SECONDS="0.4")
    rv = {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": "shop"},
        "spec": {
            "targetRef": {"name": "shop"},
            "parallelism": 1,
            "checks": [{"name": f"c{i}", "http": {"url": f"{url}/api/orders"}} for i in range(3)],
        },
    }
    path = write(tmp_path, rv)
    serial = parse_report(run("-f", path).stdout)
    parallel = parse_report(run("-f", path, "--parallelism", "3").stdout)
    assert serial.duration_seconds >= 1.2 > parallel.duration_seconds


def _marker_check(marker: Path) -> dict[str, Any]:
    return {"name": "marker", "command": {"command": ["touch", str(marker)], "python": sys.executable}}


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"name": "x", "ftp": {"url": "ftp://x"}}, "checks[1].ftp: unknown field"),
        (
            {"name": "x", "http": {"url": "http//shop/healthz"}},
            "checks[1].http.url: expected a URL with scheme http or https",
        ),
        (
            {"name": "x", "command": {"command": ["true"], "stdoutMatches": "("}},
            "checks[1].command.stdoutMatches: invalid regular expression '('",
        ),
        (
            {"name": "x", "http": {"url": "http://s/", "json": [{"path": "$.items[", "exists": True}]}},
            "checks[1].http.json[0].path: invalid JSON path '$.items['",
        ),
        ({"name": "marker", "tcp": {"host": "h", "port": 1}}, "checks[1].name: duplicate check name 'marker'"),
        (
            {"name": "x", "http": {"url": "http://s/", "headers": [{"name": "A", "valueFrom": {"env": "RG_UNSET_X"}}]}},
            "checks[1].http.headers[0].valueFrom.env: environment variable RG_UNSET_X is not set",
        ),
    ],
)
def test_invalid_input_exits_2_with_the_field_path_and_runs_nothing(
    tmp_path: Path, bad: dict[str, Any], expected: str
) -> None:
    marker = tmp_path / "ran"
    path = write(tmp_path, {"checks": [_marker_check(marker), bad]})
    done = run("-f", path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"{path}: {expected}" in done.stderr
    assert not marker.exists()


def test_invalid_release_verification_paths_start_at_spec(tmp_path: Path) -> None:
    rv = {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": "shop"},
        "spec": {"targetRef": {"name": "shop"}, "checks": [{"name": "Bad_Name", "tcp": {"host": "h", "port": 0}}]},
    }
    done = run("-f", write(tmp_path, rv))
    assert done.returncode == 2
    assert "spec.checks[0].name: expected a DNS label" in done.stderr
    assert "spec.checks[0].tcp.port: " in done.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        (["-f", "/nonexistent/checks.yaml"], None, "cannot read /nonexistent/checks.yaml"),
        (["--checks-json", "{not: [valid"], None, "--checks-json: not valid YAML/JSON"),
        ([], "", "stdin: expected one document, found 0"),
        (["--checks-json", '{"checks": []}'], None, "checks: List should have at least 1 item"),
        (
            ["--checks-json", '{"checks": [{"name": "a", "tcp": {"host": "h", "port": 1}}]}', "--parallelism", "0"],
            None,
            "--parallelism",
        ),
    ],
)
def test_unreadable_input_exits_2(args: list[str], stdin: str | None, expected: str) -> None:
    done = run(*args, stdin=stdin)
    assert done.returncode == 2
    assert expected in done.stderr


def test_a_broken_runner_exits_3_with_an_error_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken(*_: Any) -> Any:
        raise RuntimeError("event loop on fire")

    monkeypatch.setattr("releaseguard.probe.checks.run_prepared", broken)
    log = tmp_path / "log"
    args = argparse.Namespace(
        file=None,
        checks_json='{"checks": [{"name": "a", "tcp": {"host": "h", "port": 1}}]}',
        parallelism=None,
        termination_log=str(log),
        table=False,
        report_schema=False,
        map_host=[],
        base_url=None,
        python=None,
        path=[],
    )
    assert probe_command.run(args) == 3
    out = capsys.readouterr()
    report = parse_report(out.out)
    assert report.verdict.value == "Error"
    assert report.message == "the probe runner broke: RuntimeError: event loop on fire"
    assert parse_report(log.read_text()).verdict.value == "Error"
    assert "Traceback" in out.err


def test_probe_does_not_import_the_operator_stack(tmp_path: Path) -> None:
    code = (
        "import sys; from releaseguard.cli import main; "
        'rc = main([\'probe\', \'--checks-json\', \'{"checks": [{"name": "a", "tcp": {"host": "127.0.0.1", "port": 1}}]}\']); '
        "heavy = sorted(m for m in ('kopf', 'kubernetes', 'prometheus_client', 'httpx', 'jsonschema') if m in sys.modules); "
        "print(heavy, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(("release", "code", "failed"), [("good", 0, []), ("shape", 1, ["orders", "smoke"])])
def test_the_shop_example_checks(
    shops: Callable[..., str], bare_python: str, tmp_path: Path, release: str, code: int, failed: list[str]
) -> None:
    """examples/shop/checks.yaml as documented, pointed at a live shop and the bare venv's interpreter."""
    from checks_support import SHOP_DIR

    url = shops(release)
    text = (SHOP_DIR / "checks.yaml").read_text().replace("http://127.0.0.1:8080", url)
    document = yaml.safe_load(text)
    for check in document["checks"]:
        if "tcp" in check:
            check["tcp"]["port"] = int(url.rsplit(":", 1)[1])
        for kind in ("python", "pytest"):
            if kind in check:
                check[kind]["python"] = bare_python
    path = write(tmp_path, document)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(PYTHONPATH=str(SHOP_DIR), SHOP_RELEASE=release)
    done = subprocess.run(
        [str(EXE), "probe", "-f", path], capture_output=True, text=True, timeout=120, cwd=SHOP_DIR, env=env
    )
    assert done.returncode == code, done.stderr
    report = parse_report(done.stdout)
    assert report.failed_critical == failed
    assert report.summary.total == 5


def test_report_schema_is_printed_and_describes_real_reports(shops: Callable[..., str]) -> None:
    import jsonschema

    schema = json.loads(run("--report-schema").stdout)
    assert schema["properties"]["apiVersion"]["const"] == "releaseguard.io/v1alpha1"
    url = shops("error500")
    done = run("--checks-json", json.dumps({"checks": [{"name": "orders", "http": {"url": f"{url}/api/orders"}}]}))
    jsonschema.validate(json.loads(done.stdout), schema)


def test_a_whole_rv_runs_locally_with_mapped_hosts_and_the_apps_interpreter(
    shops: Callable[..., str], bare_python: str, tmp_path: Path
) -> None:
    """What a user types to try an rv written for the cluster against the app on a laptop."""
    url = shops("good")
    port = url.rsplit(":", 1)[1]
    rv = {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": "shop", "namespace": "demo"},
        "spec": {
            "targetRef": {"name": "shop"},
            "checks": [
                {"name": "health", "http": {"url": "http://shop.demo.svc:8080/healthz"}},
                {"name": "db-port", "tcp": {"host": "shop.demo.svc", "port": 8080}},
                {"name": "interpreter", "command": {"command": ["python", "-c", "import sys; print(sys.prefix)"]}},
                {"name": "tool", "command": {"command": ["shop-tool"], "stdoutMatches": "^from the app's PATH$"}},
            ],
        },
    }
    path = write(tmp_path, rv, "rv.yaml")
    unmapped = run("-f", path)
    assert unmapped.returncode == 1  # shop.demo.svc does not resolve here

    tools = tmp_path / "app-bin"
    tools.mkdir()
    (tools / "shop-tool").write_text('#!/bin/sh\necho "from the app\'s PATH"\n')
    (tools / "shop-tool").chmod(0o755)
    done = run(
        "-f", path, "--map-host", f"shop.demo.svc:8080=127.0.0.1:{port}", "--python", bare_python, "--path", str(tools)
    )
    report = parse_report(done.stdout)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert report.check("health").message.startswith(f"GET http://127.0.0.1:{port}/healthz -> 200")
    assert report.check("db-port").result.value == "Passed"

    rebased = run("-f", path, "--base-url", url, "--map-host", f"shop.demo.svc=127.0.0.1:{port}")
    assert parse_report(rebased.stdout).check("health").result.value == "Passed", rebased.stdout

    bad = run("-f", path, "--map-host", "shop.demo.svc")
    assert bad.returncode == 2 and "--map-host 'shop.demo.svc': expected NAME[:PORT]=HOST[:PORT]" in bad.stderr
    assert "--map-host" in subprocess.run([str(EXE), "probe", "--help"], capture_output=True, text=True).stdout


def test_python_checks_run_with_the_interpreter_given(bare_python: str, tmp_path: Path) -> None:
    path = write(tmp_path, {"checks": [{"name": "deps", "python": {"imports": ["pydantic"]}}]})
    assert run("-f", path).returncode == 0  # this environment has pydantic
    done = run("-f", path, "--python", bare_python)  # the app's does not
    assert done.returncode == 1
    assert "pydantic" in parse_report(done.stdout).check("deps").message
