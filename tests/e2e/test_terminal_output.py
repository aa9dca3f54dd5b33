"""What a check printed, and what a Deployment names, reaches `releaseguard report`, `history`, `wait`
and `report --html` through the operator and the cluster as it is, control characters included;
the commands show them escaped and never send them to the terminal (or the page) raw."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rg_harness import RELEASEGUARD, Cluster, Operator, release_verification, shop_deployment

from support import eventually

pytestmark = pytest.mark.slow
Obj = dict[str, Any]
# the window title, clear screen, NUL and bell as a command prints them; in the image also a CR
PRINTED = "\\x1b]0;pwned\\x07\\x1b[2Jgone\\x00"
IMAGE = "python:3\x1b]0;title\x07\x1b[2J\rx"
RAW = (b"\x1b", b"\x07", b"\r", b"\x00")


def releaseguard(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, KUBECONFIG=str(cluster.sim.kubeconfig))
    # bytes, as a terminal gets them (text mode would turn a \r into a newline)
    return subprocess.run([RELEASEGUARD, *args], env=env, capture_output=True, timeout=120)


def assert_clean(what: str, output: bytes) -> None:
    found = [repr(c) for c in RAW if c in output]
    assert not found, f"{what} printed raw {', '.join(found)}:\n{output!r}"


def idle_deployment() -> Obj:
    """A Deployment whose container only stays up, of an image (kubesim's `python:*`) with a hostile name."""
    deployment = shop_deployment(IMAGE)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    del container["readinessProbe"], container["ports"]
    container["command"] = ["python3", "-c", "import time; time.sleep(86400)"]
    return deployment


def test_report_history_wait_and_html_never_print_control_characters_raw(
    cluster: Cluster, operator: Operator, tmp_path: Path
) -> None:
    ns = cluster.ns
    check = {
        "name": "release",
        "command": {"command": ["python", "-c", f"import sys; sys.stdout.write('{PRINTED}'); sys.exit(3)"]},
    }
    cluster.apply(idle_deployment(), release_verification(ns, [check], policy="Never"))
    status = cluster.wait_phase("Failed", revision=1, timeout=90)
    message = status["lastRun"]["checks"][0]["message"]
    assert "\x1b]0;pwned\x07" in message and "\x00" in message, message  # it did reach the status raw

    def vrun() -> str | None:
        out = cluster.kubectl("get", "vrun", "-l", "releaseguard.io/rv=shop", "-o", "json").stdout
        items = [r for r in json.loads(out)["items"] if (r.get("status") or {}).get("verdict")]
        return str(items[0]["metadata"]["name"]) if items else None

    name = eventually(vrun, 30, "the finished VerificationRun")

    report = releaseguard(cluster, "report", name, "-n", ns)
    assert report.returncode == 0, report.stderr
    assert_clean("report", report.stdout + report.stderr)
    assert b"\\x1b]0;pwned\\x07\\x1b[2Jgone\\x00" in report.stdout, report.stdout
    assert b"image: shop: python:3\\x1b]0;title\\x07\\x1b[2J\\rx" in report.stdout, report.stdout

    history = releaseguard(cluster, "history", "shop", "-n", ns)
    assert history.returncode == 0, history.stderr
    assert_clean("history", history.stdout + history.stderr)
    assert b"python:3\\x1b]0;title\\x07\\x1b[2J\\rx" in history.stdout, history.stdout

    waited = releaseguard(cluster, "wait", "shop", "-n", ns, "--revision", "1", "--timeout", "30")
    assert waited.returncode == 1, waited.stdout + waited.stderr
    assert_clean("wait", waited.stdout + waited.stderr)
    assert b"release: Failed: " in waited.stdout and b"\\x1b]0;pwned\\x07" in waited.stdout, waited.stdout

    for output in ("json", "yaml"):  # escaped by the format itself
        for args in (("report", name), ("history", "shop")):
            done = releaseguard(cluster, *args, "-n", ns, "-o", output)
            assert done.returncode == 0, done.stderr
            assert_clean(f"{args[0]} -o {output}", done.stdout + done.stderr)

    page = tmp_path / "shop.html"
    made = releaseguard(cluster, "report", "--html", str(page), "shop", "-n", ns)
    assert made.returncode == 0, made.stderr
    assert_clean("report --html", page.read_bytes().replace(b"\n", b""))
    assert "python:3\\x1b]0;title\\x07\\x1b[2J\\rx" in page.read_text()
