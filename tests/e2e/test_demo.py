"""`make demo` as a new user runs it: what it prints is what it ran, in the order it happened."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from rg_harness import ROOT

pytestmark = pytest.mark.slow


def test_the_demo_prints_the_commands_it_ran_and_a_timeline_in_order() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")], capture_output=True, text=True, timeout=180, cwd=ROOT
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    commands = re.findall(r"\] \$ (.*?)(?:  \(log: .*\))?$", out, re.MULTILINE)
    operator = next(c for c in commands if " run " in f" {c} ")
    log = (ROOT / ".demo" / "operator.log").read_text()
    # the operator logs what it watches; the printed command line is the one that produced it
    assert operator.startswith(".venv/bin/releaseguard run --namespace demo ") or operator.startswith(
        f"{sys.prefix}/bin/releaseguard run --namespace demo ".removeprefix(str(ROOT) + "/")
    ), operator
    assert "watching namespaces demo" in log
    assert [c.split(" --revision ")[1].split()[0] for c in commands if " wait " in c] == ["1", "2", "3"]
    second = out[out.index("--revision 2") : out.index("--revision 3")]
    assert "revision 3" not in second.split("revision 2 Failed")[0]  # nothing of the rollback before the verdict
    timeline = out[out.index("TIME ") :].splitlines()[1:-1]
    reasons = [line.split()[2] for line in timeline]
    assert reasons == [
        "VerificationStarted",
        "VerificationSucceeded",
        "VerificationStarted",
        "VerificationFailed",
        "RolledBack",
        "VerificationStarted",
        "VerificationSucceeded",
    ], timeline
