"""ReleaseGuard standalone check: runs one python, pytest or command check with nothing but the stdlib.

This file is shipped as *source text* (see standalone.py) and run in the target's image with
`python -c SOURCE run CHECK_JSON [TERMINATION_LOG]`, so it must work on Python 3.8+ without our
package or any third-party library. It performs the check with its timeout and retries, prints the
single-check ProbeReport (JSON) on stdout, writes the compact form to the termination log when
its directory exists, and exits 0 when the verdict is Passed, 1 when Failed, 3 when it broke.

The runner also imports it as a module for `resolve`, so attempts become a result one way only.

It cannot import releaseguard, so it repeats what it shares with the operator: the check types it
runs (`TYPES`, the registry's Placement.TARGET_IMAGE types), the report's apiVersion, keys and
size limit, and the verdict rule (`counts_as_failure`, `probe_report`). tests/checks/
test_script_units.py checks each against api.spec.CHECK_TYPE_TABLE and contract.py, the verdict
rule over every combination of result, criticality and fail-on settings.
"""

from __future__ import annotations

import configparser
import contextlib
import importlib
import importlib.util
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Any

UTC = timezone.utc  # noqa: UP017 - datetime.UTC is 3.11+, the script runs on 3.8
API_VERSION = "releaseguard.io/v1alpha1"
TERMINATION_LIMIT = 4096
MESSAGE_MAX = 1500
TAIL_LINES = 5
TAIL_CHARS = 300

PASSED, FAILED, FLAKY, INCONCLUSIVE, ERROR, SKIPPED = "Passed", "Failed", "Flaky", "Inconclusive", "Error", "Skipped"
RETRYABLE = (FAILED, ERROR, INCONCLUSIVE)
TYPES = ("python", "pytest", "command")


def backoff_seconds(attempt: int, base: float = 0.2) -> float:
    """Pause before retry number `attempt` (1-based): short and capped."""
    return float(min(base * (2 ** (attempt - 1)), 2.0))


def one_line(text: str, limit: int = MESSAGE_MAX) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def attempt(result: str, message: str, observed: str = "", duration: float = 0.0) -> dict[str, Any]:
    return {"result": result, "durationSeconds": round(duration, 4), "message": one_line(message), "observed": observed}


def resolve(attempts: list[dict[str, Any]]) -> tuple[str, str, str]:
    """The final (result, message, observed) of a check from its attempts, in order.

    A pass after a failure is Flaky; otherwise the last attempt decides, and the message says how
    many attempts it took."""
    last = attempts[-1]
    count = len(attempts)
    if last["result"] == PASSED and count > 1:
        first = next(a for a in attempts if a["result"] != PASSED)
        message = f"passed on attempt {count} of {count}; earlier: {first['message']}"
        return FLAKY, one_line(message), last["observed"]
    message = last["message"]
    if count > 1:
        message = f"{message} after {count} attempts"
    return last["result"], one_line(message), last["observed"]


# --- command ---------------------------------------------------------------------------------


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def run_process(
    argv: list[str], timeout: float, cwd: str | None = None, env: dict[str, str] | None = None
) -> tuple[int | None, str, str]:
    """(exit code or None on timeout, stdout, stderr); the whole process group dies on timeout."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        return None, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def tail(*texts: str) -> str:
    lines = [line for text in texts for line in text.strip().splitlines() if line.strip()]
    text = " | ".join(lines[-TAIL_LINES:])
    return text if len(text) <= TAIL_CHARS else "\u2026" + text[-TAIL_CHARS:]


MATCH_INPUT_LIMIT = 64 * 1024


def bounded_search(pattern: str, text: str, seconds: float) -> bool | None:
    """Whether `pattern` matches the last MATCH_INPUT_LIMIT characters of `text`; None when it
    does not finish within `seconds`. The match runs in a forked child (a regex holds the GIL, so
    a thread could not be given up on), killed at the deadline."""
    text = text[-MATCH_INPUT_LIMIT:]
    pid = os.fork()
    if pid == 0:  # the child: answer with the exit code, never return into the script
        try:
            os._exit(0 if re.search(pattern, text) else 1)
        finally:
            os._exit(2)
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.005)


def command_attempt(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    argv = [str(a) for a in spec["command"]]
    missing_dir = _missing_dir(spec)
    if missing_dir:
        return attempt(ERROR, missing_dir, "no working directory")
    shown = " ".join(argv)
    if len(shown) > 80:
        shown = shown[:79] + "\u2026"
    try:
        code, out, err = run_process(argv, timeout, cwd=spec.get("workingDir"))
    except FileNotFoundError:
        return attempt(ERROR, f"command not found: {argv[0]}", "not found")
    except PermissionError:
        return attempt(ERROR, f"command not executable: {argv[0]}", "not executable")
    output = tail(out, err)
    suffix = f"; output: {output}" if output else ""
    if code is None:
        return attempt(FAILED, f"`{shown}` timed out after {timeout:g}s{suffix}", "timeout")
    expected = int(spec.get("expectExitCode", 0))
    if code != expected:
        return attempt(FAILED, f"`{shown}` exited {code} (expected {expected}){suffix}", f"exit {code}")
    pattern = spec.get("stdoutMatches")
    matched = bounded_search(pattern, out, max(timeout, 1.0)) if pattern else True
    if matched is None:
        return attempt(
            ERROR, f"`{shown}` stdoutMatches /{pattern}/ gave up after {max(timeout, 1.0):g}s", "regex timeout"
        )
    if not matched:
        return attempt(FAILED, f"`{shown}` stdout did not match /{pattern}/{suffix}", f"exit {code}")
    return attempt(PASSED, f"`{shown}` exited {code}", f"exit {code}")


# --- pytest ----------------------------------------------------------------------------------

_ASSERT_AT = re.compile(r"^(\S+?\.py):(\d+): ", re.MULTILINE)


def _test_id(case: ET.Element) -> str:
    name = case.get("name", "?")
    file = case.get("file")
    classname = case.get("classname", "")
    if not file:
        return f"{classname}::{name}" if classname else name
    module = file[:-3].replace("/", ".").replace("\\", ".") if file.endswith(".py") else file
    cls = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
    return f"{file}::{cls}::{name}" if cls else f"{file}::{name}"


def junit_failures(xml_text: str) -> tuple[int, list[str]]:
    """(number of test cases, one line per failing or erroring test naming its id and file:line)."""
    root = ET.fromstring(xml_text)
    cases = list(root.iter("testcase"))
    failures = []
    for case in cases:
        for kind in ("failure", "error"):
            problem = case.find(kind)
            if problem is None:
                continue
            detail = (problem.text or "") + "\n" + (problem.get("message") or "")
            where = _ASSERT_AT.findall(problem.text or "")
            if where:
                location = f"{where[-1][0]}:{where[-1][1]}"
            else:
                line = case.get("line")
                location = f"{case.get('file')}:{int(line) + 1}" if case.get("file") and line else "?"
            summary = one_line(problem.get("message") or detail.strip().splitlines()[-1:][0] or kind, 160)
            verb = "failed" if kind == "failure" else "errored"
            failures.append(f"{_test_id(case)} {verb} at {location}: {summary}")
    return len(cases), failures


def _missing_dir(spec: dict[str, Any]) -> str:
    directory = spec.get("workingDir")
    if directory and not os.path.isdir(directory):
        return f"working directory {directory} does not exist"
    return ""


def pytest_attempt(spec: dict[str, Any], timeout: float, python: str) -> dict[str, Any]:
    missing_dir = _missing_dir(spec)
    if missing_dir:
        return attempt(ERROR, missing_dir, "no working directory")
    argv = [python, "-m", "pytest", *[str(a) for a in spec.get("args", [])], "-p", "no:cacheprovider", "-q"]
    try:
        handle, junit = tempfile.mkstemp(prefix="releaseguard-", suffix=".xml")
        os.close(handle)
        argv += [f"--junitxml={junit}", "-o", "junit_family=xunit1"]
    except OSError:  # no writable temp dir in the image: judge by exit code and output alone
        junit = ""
    xml_text = ""
    try:
        code, out, err = run_process(argv, timeout, cwd=spec.get("workingDir"))
        if junit:
            with contextlib.suppress(OSError), open(junit, encoding="utf-8") as handle_:
                xml_text = handle_.read()
    except OSError as exc:
        return attempt(ERROR, f"cannot run {python} -m pytest: {exc}", "not run")
    finally:
        if junit:
            with contextlib.suppress(OSError):
                os.unlink(junit)
    if code is None:
        return attempt(FAILED, f"pytest timed out after {timeout:g}s; output: {tail(out, err)}", "timeout")
    if "No module named pytest" in err:
        return attempt(ERROR, f"pytest is not installed for {python}", "not installed")
    try:
        total, failures = junit_failures(xml_text) if xml_text.strip() else (0, [])
    except ET.ParseError:  # pytest died while writing it
        total, failures = 0, []
    if code == 0:
        return attempt(PASSED, f"{total} tests passed", f"{total} passed")
    if code == 5:
        return attempt(ERROR, f"pytest collected no tests (args: {' '.join(spec.get('args', []))})", "no tests")
    if failures:
        shown = "; ".join(failures[:3]) + (f"; and {len(failures) - 3} more" if len(failures) > 3 else "")
        observed = f"{len(failures)} failed, {total - len(failures)} passed"
        return attempt(FAILED, f"{len(failures)} of {total} tests failed: {shown}", observed)
    kind = ERROR if code in (3, 4) else FAILED
    return attempt(kind, f"pytest exited {code}: {tail(out, err)}", f"exit {code}")


# --- python ----------------------------------------------------------------------------------


def _decode_config(path: str) -> tuple[str, str]:
    """('ok'|'fail'|'skip', why) for one config file."""
    if not os.path.isfile(path):
        return "fail", f"config {path}: not found"
    lower = path.lower()
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if lower.endswith(".json"):
            json.loads(data.decode("utf-8"))
        elif lower.endswith((".yaml", ".yml")):
            try:
                import yaml  # type: ignore[import-untyped,unused-ignore]
            except ImportError:
                return "skip", f"config {path}: not decoded, PyYAML is not installed in the image"
            list(yaml.safe_load_all(data))
        elif lower.endswith(".toml"):
            try:
                import tomllib as toml  # type: ignore[import-not-found,unused-ignore]
            except ImportError:
                try:
                    import tomli as toml  # type: ignore[import-not-found,no-redef,unused-ignore]
                except ImportError:
                    return "skip", f"config {path}: not decoded, no TOML parser (Python < 3.11 without tomli)"
            toml.loads(data.decode("utf-8"))
        else:
            configparser.ConfigParser(interpolation=None).read_string(data.decode("utf-8"), source=path)
    except Exception as exc:  # any decode error is the finding
        return "fail", f"config {path}: cannot decode: {type(exc).__name__}: {one_line(str(exc), 160)}"
    return "ok", f"config {path}"


def python_items(spec: dict[str, Any]) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    items += [("import", m) for m in spec.get("imports", [])]
    items += [("env", n) for n in spec.get("env", [])]
    items += [("config", p) for p in spec.get("configFiles", [])]
    if spec.get("pipCheck"):
        items.append(("pip", None))
    return items


def python_item(kind: str, value: Any, deadline: float) -> tuple[str, str]:
    if kind == "import":
        try:
            importlib.import_module(value)
        except BaseException as exc:  # SystemExit and friends are findings too
            return "fail", f"import {value}: {type(exc).__name__}: {one_line(str(exc), 200)}"
        return "ok", f"import {value}"
    if kind == "env":
        if value not in os.environ:
            return "fail", f"env {value} is not set"
        if os.environ[value] == "":
            return "fail", f"env {value} is set but empty"
        return "ok", f"env {value}"
    if kind == "config":
        return _decode_config(value)
    if importlib.util.find_spec("pip") is None:
        return "skip", "pip check: not run, pip is not installed in the image"
    remaining = max(deadline - time.monotonic(), 0.1)
    code, out, err = run_process([sys.executable, "-m", "pip", "check", "--disable-pip-version-check"], remaining)
    if code == 0:
        return "ok", "pip check"
    if code is None:
        return "fail", "pip check: timed out"
    lines = [line for line in (out + err).splitlines() if line.strip()]
    more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
    return "fail", f"pip check: {lines[0] if lines else f'exit {code}'}{more}"


def _python_child(spec: dict[str, Any], write_fd: int, deadline: float) -> None:
    os.dup2(2, 1)  # what imported modules print must not reach our stdout report
    with os.fdopen(write_fd, "w") as pipe:
        for kind, value in python_items(spec):
            pipe.write(json.dumps({"start": f"{kind} {value}" if value is not None else kind}) + "\n")
            pipe.flush()
            status, text = python_item(kind, value, deadline)
            pipe.write(json.dumps({"status": status, "text": text}) + "\n")
            pipe.flush()


def python_attempt(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One attempt in a forked child, so each attempt imports afresh and the timeout can kill it."""
    deadline = time.monotonic() + timeout
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        code = 0
        try:
            _python_child(spec, write_fd, deadline)
        except BaseException:
            traceback.print_exc()
            code = 3
        os._exit(code)
    os.close(write_fd)
    buffer = b""
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([read_fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        buffer += chunk
    os.close(read_fd)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    results: list[tuple[str, str]] = []
    current = ""
    for line in buffer.decode("utf-8", "replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:  # the last line of a child killed mid-write
            continue
        if "start" in event:
            current = event["start"]
        else:
            results.append((event["status"], event["text"]))
            current = ""
    return _python_outcome(spec, results, timed_out, current, timeout, status)


def _python_outcome(
    spec: dict[str, Any], results: list[tuple[str, str]], timed_out: bool, current: str, timeout: float, status: int
) -> dict[str, Any]:
    failed = [text for s, text in results if s == "fail"]
    skipped = [text for s, text in results if s == "skip"]
    total = len(python_items(spec))
    observed = f"{len(failed)} of {total} failed"
    if timed_out:
        return attempt(FAILED, f"timed out after {timeout:g}s at {current or 'start-up'}", "timeout")
    if len(results) < total:
        return attempt(ERROR, f"check process died at {current or 'start-up'} (wait status {status})", "died")
    skip_note = f" (skipped: {'; '.join(skipped)})" if skipped else ""
    if failed:
        return attempt(FAILED, "; ".join(failed) + skip_note, observed)
    if len(skipped) == total:
        return attempt(SKIPPED, "; ".join(skipped), "skipped")
    return attempt(PASSED, f"{total - len(skipped)} of {total} items ok{skip_note}", observed)


# --- one check, its report -------------------------------------------------------------------


def check_type(check: dict[str, Any]) -> str:
    for kind in TYPES:
        if check.get(kind) is not None:
            return kind
    raise ValueError(f"expected a {', '.join(TYPES[:-1])} or {TYPES[-1]} check")


def run_attempt(check: dict[str, Any]) -> dict[str, Any]:
    kind = check_type(check)
    spec = check[kind]
    timeout = float(check.get("timeoutSeconds", 10))
    started = time.monotonic()
    if kind == "python":
        result = python_attempt(spec, timeout)
    elif kind == "pytest":
        result = pytest_attempt(spec, timeout, sys.executable)
    else:
        result = command_attempt(spec, timeout)
    result["durationSeconds"] = round(time.monotonic() - started, 4)
    return result


def run_check(check: dict[str, Any], backoff_base: float = 0.2) -> dict[str, Any]:
    started = time.monotonic()
    attempts = []
    retries = int(check.get("retries", 0))
    for number in range(retries + 1):
        if number:
            time.sleep(backoff_seconds(number, backoff_base))
        result = run_attempt(check)
        attempts.append(result)
        if result["result"] not in RETRYABLE:
            break
    final, message, observed = resolve(attempts)
    return {
        "name": check.get("name", "?"),
        "type": check_type(check),
        "critical": bool(check.get("critical", True)),
        "result": final,
        "message": message,
        "observed": observed,
        "durationSeconds": round(time.monotonic() - started, 4),
        "failOnFlaky": bool(check.get("failOnFlaky", False)),
        "failOnInconclusive": False,
        "attempts": attempts,
    }


def counts_as_failure(report: dict[str, Any]) -> bool:
    result = report["result"]
    return bool(
        result in (FAILED, ERROR)
        or (result == FLAKY and report.get("failOnFlaky"))
        or (result == INCONCLUSIVE and report.get("failOnInconclusive"))
    )


def probe_report(check_report: dict[str, Any], start: datetime, finish: datetime) -> dict[str, Any]:
    failed = [check_report["name"]] if check_report["critical"] and counts_as_failure(check_report) else []
    summary = {"total": 1, "passed": 0, "failed": 0, "flaky": 0, "inconclusive": 0, "error": 0, "skipped": 0}
    summary[check_report["result"].lower()] += 1
    if failed:
        message = f"1 critical check failed: {check_report['name']}: {check_report['message']}"
    elif counts_as_failure(check_report):
        message = f"0 of 1 checks passed; not passing (non-critical): {check_report['name']}"
    else:
        message = "1 of 1 checks passed"
    return {
        "apiVersion": API_VERSION,
        "kind": "ProbeReport",
        "verdict": FAILED if failed else PASSED,
        "failedCritical": failed,
        "message": one_line(message),
        "startTime": start.isoformat(),
        "finishTime": finish.isoformat(),
        "durationSeconds": round((finish - start).total_seconds(), 3),
        "summary": summary,
        "checks": [check_report],
        "truncated": False,
    }


def compact(report: dict[str, Any], limit: int = TERMINATION_LIMIT) -> str:
    """The single-check report in at most `limit` bytes: drop attempts, then shorten messages."""
    doc = dict(report)
    doc["checks"] = [dict(c) for c in report["checks"]]
    text = json.dumps(doc, separators=(",", ":"))
    for cap in (None, 1000, 400, 120, 0):
        if len(text) <= limit:
            return text
        doc["truncated"] = True
        for check in doc["checks"]:
            check.pop("attempts", None)
            if cap is not None:
                check["message"] = check["message"][:cap]
                check["observed"] = str(check.get("observed", ""))[: min(cap, 200)]
        if cap is not None:
            doc["message"] = doc["message"][: max(cap, 80)]
        text = json.dumps(doc, separators=(",", ":"))
    return text


def write_termination_log(path: str, text: str) -> bool:
    """Write the report where the kubelet reads the termination message; whether it was written."""
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        return False
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        sys.stderr.write(f"releaseguard: cannot write termination log {path}: {exc}\n")
        return False
    return True


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "run":
        sys.stderr.write("usage: python -c SCRIPT run CHECK_JSON [TERMINATION_LOG]\n")
        return 3
    termination_log = argv[2] if len(argv) > 2 else ""
    start = datetime.now(UTC)
    check: dict[str, Any] = {}
    try:
        check = json.loads(argv[1])
        report = probe_report(run_check(check), start, datetime.now(UTC))
    except Exception as exc:
        traceback.print_exc()
        report = probe_report(
            {
                "name": check.get("name", "?") if isinstance(check, dict) else "?",
                "type": "",
                "critical": True,
                "result": ERROR,
                "message": one_line(f"the check script broke: {type(exc).__name__}: {exc}"),
                "observed": "",
                "durationSeconds": 0.0,
                "attempts": [],
            },
            start,
            datetime.now(UTC),
        )
        report["verdict"] = ERROR
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    sys.stdout.flush()
    reported = bool(termination_log) and write_termination_log(termination_log, compact(report))
    if reported and report["verdict"] != ERROR:
        return 0  # in a probe Job: the check ran and its verdict is in the report, the Job succeeded
    return {PASSED: 0, FAILED: 1}.get(report["verdict"], 3)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
