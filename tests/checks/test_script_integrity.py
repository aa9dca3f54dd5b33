"""The probe pod runs exactly the check script the operator generated: the launcher in the pod's command
(core.jobs.script_command, probe/checks/_launch.py) runs the mounted script only when it hashes to the
digest the command carries; other content, or none, runs nothing and the check ends Error (never Failed)
naming the ConfigMap. Each test runs the Job's own argv as a real process, with the ConfigMap's files in
a directory standing in for the volume, on this Python and on 3.8 when the machine has it."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from releaseguard.api import Verdict, parse_release_verification
from releaseguard.api.status import CheckResultKind
from releaseguard.core.jobs import build_jobs, launcher_source, script_configmap, script_configmap_name, uses_script
from releaseguard.core.outcome import job_outcome, merged_outcome
from releaseguard.report import parse_report
from support.factories import RV_UID, deployment, rv_body

Obj = dict[str, Any]
NOW = datetime(2026, 11, 24, 21, 0, 0, tzinfo=UTC)


def _python38() -> str | None:
    candidates = [str(p) for p in Path("/root/.pyenv/versions").glob("3.8*/bin/python3.8")]
    candidates += [p for p in [shutil.which("python3.8")] if p]
    return next((p for p in candidates if subprocess.run([p, "-V"], capture_output=True).returncode == 0), None)


PYTHONS = [pytest.param(sys.executable, id="this-python")]
if (_old := _python38()) is not None:
    PYTHONS.append(pytest.param(_old, id="python3.8"))


class Pod:
    """One probe Job's container run as a local process: the volume is `root/volume`, the termination
    log `root/termination-log`, the working directory `root/work`; the command is the Job's own."""

    def __init__(self, root: Path, checks: list[Obj], python: str) -> None:
        self.rv = parse_release_verification(rv_body(checks=checks))
        [self.job] = [j for j in build_jobs(self.rv, RV_UID, deployment(), 2) if uses_script(j)]
        self.configmap = script_configmap(self.rv, RV_UID)
        self.volume, self.log, self.work = root / "volume", root / "termination-log", root / "work"
        self.volume.mkdir()
        self.work.mkdir()
        self.python = python

    def mount(self, data: dict[str, str]) -> None:
        for key, value in data.items():
            (self.volume / key).write_text(value, encoding="utf-8")

    def argv(self) -> list[str]:
        command: list[str] = self.job["spec"]["template"]["spec"]["containers"][0]["command"]
        host = {"/etc/releaseguard/check.py": str(self.volume / "check.py"), "/dev/termination-log": str(self.log)}
        return [self.python, *[host.get(a, a) for a in command[1:]]]

    def run(self) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin"}
        return subprocess.run(self.argv(), capture_output=True, text=True, timeout=60, cwd=self.work, env=env)


def test_the_launcher_is_python_3_8_syntax_and_has_no_dependency() -> None:
    tree = ast.parse(launcher_source(), feature_version=(3, 8))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "sys", "json", "hashlib", "os", "types"}


@pytest.mark.parametrize("python", PYTHONS)
def test_the_generated_script_runs_and_reports(tmp_path: Path, python: str) -> None:
    marker = tmp_path / "ran"
    pod = Pod(tmp_path, [{"name": "smoke", "command": {"command": ["touch", str(marker)]}}], python)
    pod.mount(pod.configmap["data"])
    done = pod.run()
    assert done.returncode == 0, done.stderr
    assert marker.exists()
    report = parse_report(pod.log.read_text())
    assert report.verdict is Verdict.PASSED and report.check("smoke").result is CheckResultKind.PASSED
    assert parse_report(done.stdout).verdict is Verdict.PASSED


@pytest.mark.parametrize("python", PYTHONS)
def test_a_python_check_runs_as_it_would_from_the_file(tmp_path: Path, python: str) -> None:
    """Run as `__main__` with the script's argv; the working directory (where a `-c` program would
    look first) and the ConfigMap's other keys are never on sys.path."""
    marker = tmp_path / "shadowed"
    shadow = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    pod = Pod(tmp_path, [{"name": "env", "python": {"imports": ["json", "configparser"], "env": ["PATH"]}}], python)
    pod.mount({**pod.configmap["data"], "json.py": shadow, "configparser.py": shadow, "subprocess.py": shadow})
    for name in ("hashlib", "types", "json", "subprocess", "configparser"):
        (pod.work / f"{name}.py").write_text(shadow)
    done = pod.run()
    assert done.returncode == 0, done.stderr
    check = parse_report(pod.log.read_text()).check("env")
    assert (check.result, check.message) == (CheckResultKind.PASSED, "3 of 3 items ok")
    assert not marker.exists(), marker.read_text()


def _refused(pod: Pod, done: subprocess.CompletedProcess[str]) -> str:
    """The check's message, after proving the report is Error on every path the operator reads."""
    assert done.returncode == 3, done.stderr
    from_log = parse_report(pod.log.read_text())
    # the kubelet falls back to the log's tail when there is no termination log: that is the report too
    assert parse_report(done.stdout.strip()) == from_log
    assert from_log.verdict is Verdict.ERROR and from_log.check("smoke").result is CheckResultKind.ERROR
    failed_job = {"metadata": {"name": pod.job["metadata"]["name"]}, "status": {"failed": 1}}
    outcome = job_outcome(failed_job, pod.log.read_text(), pod.rv.spec.checks, in_runner=False, now=NOW)
    assert outcome.broken  # an Error of the run, never a Failed check: nothing is rolled back
    merged = merged_outcome([outcome])
    assert merged.verdict is Verdict.ERROR and merged.failed_critical == []
    assert merged.check("smoke").result is CheckResultKind.ERROR
    message = merged.check("smoke").message
    assert pod.configmap["metadata"]["name"] in message
    assert "is not the one the operator generated" in message and "nothing of it was run" in message
    return message


HOSTILE = "open({marker!r}, 'w').write('ran')\nraise SystemExit(1)\n"


@pytest.mark.parametrize("python", PYTHONS)
def test_other_content_under_the_script_name_runs_nothing_and_ends_error(tmp_path: Path, python: str) -> None:
    marker = tmp_path / "hostile-ran"
    pod = Pod(tmp_path, [{"name": "smoke", "command": {"command": ["true"]}}], python)
    pod.mount({"check.py": HOSTILE.format(marker=str(marker))})
    message = _refused(pod, pod.run())
    assert not marker.exists()
    assert "its sha256 is " in message


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda s: s + "\nopen({marker!r}, 'w').write('ran')\n", id="appended"),
        pytest.param(lambda s: "open({marker!r}, 'w').write('ran')\n" + s, id="prepended"),
        pytest.param(lambda s: s.replace("TERMINATION_LIMIT = 4096", "TERMINATION_LIMIT = 4097"), id="one-char"),
        pytest.param(lambda s: s.replace("\n", "\r\n"), id="line-endings"),
    ],
)
def test_the_generated_script_changed_in_any_way_runs_nothing(tmp_path: Path, tamper: Any) -> None:
    marker = tmp_path / "hostile-ran"
    pod = Pod(tmp_path, [{"name": "smoke", "command": {"command": ["true"]}}], sys.executable)
    changed = tamper(pod.configmap["data"]["check.py"]).replace("{marker!r}", repr(str(marker)))
    assert changed != pod.configmap["data"]["check.py"]
    pod.mount({"check.py": changed})
    _refused(pod, pod.run())
    assert not marker.exists()


def test_a_missing_or_unreadable_script_ends_error_naming_the_configmap(tmp_path: Path) -> None:
    pod = Pod(tmp_path, [{"name": "smoke", "command": {"command": ["true"]}}], sys.executable)
    pod.mount({"other": "x"})  # a ConfigMap of that name without the script's key
    assert "cannot read" in _refused(pod, pod.run())
    (pod.volume / "check.py").mkdir()  # not a file
    assert "cannot read" in _refused(pod, pod.run())


def test_without_a_termination_log_the_refusal_is_on_stdout_alone(tmp_path: Path) -> None:
    pod = Pod(tmp_path, [{"name": "smoke", "command": {"command": ["true"]}}], sys.executable)
    pod.mount({"check.py": "raise SystemExit(0)\n"})
    argv = [a if a != str(pod.log) else str(tmp_path / "no-such-dir" / "log") for a in pod.argv()]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and done.stderr == ""
    assert parse_report(done.stdout).verdict is Verdict.ERROR
    assert json.loads(done.stdout)["checks"][0]["name"] == "smoke"


def test_the_configmap_name_in_the_message_is_the_one_mounted() -> None:
    rv = parse_release_verification(rv_body(checks=[{"name": "smoke", "command": {"command": ["true"]}}]))
    [job] = build_jobs(rv, RV_UID, deployment(), 2)
    pod = job["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if v["name"] == "releaseguard-check-script"]
    assert volume["configMap"]["name"] == script_configmap_name("shop") == pod["containers"][0]["command"][5]
