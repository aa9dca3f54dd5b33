"""Text from the cluster reaches a terminal without its control characters: terminal.safe and the
lines of `releaseguard report`, `history` and `wait` (and the HTML report) built from hostile records."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from releaseguard.commands.wait import _report, progress_line
from releaseguard.core.history import history_document, history_table, report_text
from releaseguard.core.html_report import CELL_LIMIT, render_html
from releaseguard.terminal import lines, safe

Obj = dict[str, Any]
# set the window title, clear the screen, go back to the line's start, a NUL, a C1 CSI, and bidi
HOSTILE = "A\x1b]0;pwned\x07B\x1b[2JC\rD\x00E\x9b31mF\u202eG"
RAW = ("\x1b", "\x07", "\r", "\x00", "\x9b", "\u202e")
SHOWN = "A\\x1b]0;pwned\\x07B\\x1b[2JC\\rD\\x00E\\x9b31mF\\u202eG"


def assert_clean(text: str) -> None:
    found = [repr(c) for c in RAW if c in text]
    assert not found, f"raw {', '.join(found)} in:\n{text!r}"
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text), repr(text)


def test_safe_shows_every_control_character_and_keeps_lines_where_meant() -> None:
    assert safe(HOSTILE) == SHOWN
    assert safe("one\n\ttwo") == "one\n\ttwo"
    assert safe("one\n\ttwo", newlines=False) == "one\\n\\ttwo"
    assert safe("\x7f\x85\u2028\u2066") == "\\x7f\\x85\\u2028\\u2066"
    assert safe(safe(HOSTILE)) == safe(HOSTILE)  # shown once, never twice
    assert safe("plain text: café, 日本, emoji \U0001f680") == "plain text: café, 日本, emoji \U0001f680"
    assert lines(["a\nb", "c\rd"]) == "a\\nb\nc\\rd"


def record(message: str = HOSTILE) -> Obj:
    return {
        "metadata": {"name": "shop-r2-abc", "namespace": "demo"},
        "spec": {
            "releaseVerification": "shop",
            "target": "shop",
            "revision": 2,
            "trigger": "NewRevision",
            "image": f"shop:{HOSTILE}",
            "images": [{"container": "shop", "image": f"shop:{HOSTILE}", "digest": ""}],
            "changedBy": {"manager": HOSTILE, "changeCause": HOSTILE},
            "startTime": "2026-11-24T21:00:00Z",
        },
        "status": {
            "verdict": "Failed",
            "reason": "CriticalChecksFailed",
            "summary": HOSTILE,
            "finishTime": "2026-11-24T21:00:10Z",
            "checks": [
                {
                    "name": "release",
                    "type": "command",
                    "result": "Failed",
                    "attempts": 1,
                    "expected": "exit code 0",
                    "observed": HOSTILE,
                    "message": f"`python -c ...` exited 3; output: {message}\n  verdict: Passed (forged line)",
                    "attemptDetails": [{"result": "Failed", "observed": HOSTILE}],
                }
            ],
        },
    }


def test_report_lines_show_what_a_check_printed_and_a_newline_cannot_forge_a_line() -> None:
    text = lines(report_text(record()))
    assert_clean(text)
    assert f"observed: {SHOWN}" in text
    # the message's second line is indented under the check, not a line of the report's own
    assert "\n      verdict: Passed (forged line)" in text
    assert not any(line.startswith("  verdict: Passed") for line in text.splitlines())


def test_history_table_cells_are_shown_escaped_and_stay_aligned() -> None:
    table = history_table(history_document("shop", "demo", [record()]))
    text = lines(table)
    assert_clean(text)
    assert f"shop:{SHOWN}" in text
    header, row = table[0], table[1]
    assert row.index("Failed") == header.index("VERDICT")  # widths measured on the text as printed


def test_wait_prints_a_status_without_its_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    status: Obj = {
        "phase": "Failed",
        "currentRevision": 2,
        "conditions": [{"type": "Verified", "status": "False", "reason": "CriticalChecksFailed", "message": HOSTILE}],
        "lastRun": {
            "revision": 2,
            "verdict": "Failed",
            "reason": "CriticalChecksFailed",
            "message": f"1 critical check failed: release: {HOSTILE}\nshop: revision 2 verified",
            "checks": [{"name": "release", "result": "Failed", "critical": True, "message": HOSTILE}],
        },
        "lastRollback": {"fromRevision": 2, "toRevision": 1, "applied": False},
    }
    rv = {"spec": {"targetRef": {"name": "shop"}}, "status": status}
    assert progress_line("shop", status) == f"shop: revision 2 Failed (CriticalChecksFailed: {HOSTILE})"  # the data
    assert _report("shop", "demo", 2, copy.deepcopy(rv), "Failed", status["lastRun"]) == 1
    out = capsys.readouterr()
    assert_clean(out.out + out.err)
    assert f"release: Failed: {SHOWN}" in out.out
    assert "\\nshop: revision 2 verified" in out.out  # one line, as printed
    assert not any(line.startswith("shop: revision 2 verified") for line in out.out.splitlines())


def test_the_html_report_shows_control_characters_escaped_capped_and_inert() -> None:
    hostile = record()
    hostile["status"]["checks"][0]["name"] = f"</script><script>alert(1)</script><!--{HOSTILE}"
    hostile["spec"]["image"] = f"shop:{HOSTILE}</script><!--<script>" + "x" * 5000
    page = render_html("shop", "demo", [hostile], datetime(2026, 11, 24, 21, 0, tzinfo=UTC))
    assert_clean(page.replace("\n", ""))
    assert page.count("<script") == 2 and page.count("</script>") == 2  # the page's own two
    assert "<!--" not in page
    assert SHOWN in page
    assert "x" * CELL_LIMIT not in page and "\u2026" in page
