"""`releaseguard report --html`: one self-contained HTML page of an rv's VerificationRuns (pure).

No external asset: the styles, the SVG charts and the little script are inline, so the file can
be attached to a change record and opened anywhere. The charts are drawn here (SVG); the script
only fills the summary from the embedded data, so a browser shows the same numbers as the records.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..terminal import safe
from .history import run_row
from .record import flakiness, newest_first

Obj = dict[str, Any]
COLORS = {"Passed": "#2e7d32", "Failed": "#c62828", "Error": "#ef6c00", "Running": "#757575"}
PALETTE = ("#1565c0", "#6a1b9a", "#00838f", "#ad1457", "#558b2f", "#4e342e", "#283593", "#f9a825")
WIDTH, HEIGHT, PAD = 720, 180, 36
CELL_LIMIT = 200  # characters of one value shown in the page (an image reference is at most a few hundred)


def _cap(text: str) -> str:
    return text if len(text) <= CELL_LIMIT else text[: CELL_LIMIT - 1] + "\u2026"


def _e(value: Any) -> str:
    """Text for the page: control characters shown as escapes (terminal.safe), at most CELL_LIMIT
    characters, then HTML-escaped."""
    return html.escape(_cap(safe(value, newlines=False)), quote=True)


def _capped(value: Any) -> Any:
    """`value` (a run's row) with every string at most CELL_LIMIT characters, for the embedded data."""
    if isinstance(value, str):
        return _cap(value)
    if isinstance(value, list):
        return [_capped(v) for v in value]
    if isinstance(value, dict):
        return {k: _capped(v) for k, v in value.items()}
    return value


def _verdict_chart(runs: list[Obj]) -> str:
    """Pass/fail over time: one bar per run, oldest left, coloured by verdict."""
    if not runs:
        return "<p>No runs.</p>"
    step = (WIDTH - 2 * PAD) / len(runs)
    bars = []
    for index, run in enumerate(runs):
        x = PAD + index * step
        color = COLORS.get(run["verdict"], COLORS["Running"])
        title = f"revision {run['revision']}: {run['verdict']} ({run['finishTime'] or 'running'})"
        bars.append(
            f'<rect class="run-bar" data-verdict="{_e(run["verdict"])}" x="{x + step * 0.1:.1f}" y="{PAD}" '
            f'width="{step * 0.8:.1f}" height="{HEIGHT - 2 * PAD}" fill="{color}"><title>{_e(title)}</title></rect>'
            f'<text x="{x + step / 2:.1f}" y="{HEIGHT - PAD + 16}" text-anchor="middle" font-size="11">'
            f"r{_e(run['revision'])}</text>"
        )
    return (
        f'<svg id="verdicts" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="verdict of each run, oldest first">{"".join(bars)}</svg>'
    )


def _duration_chart(records: list[Obj]) -> str:
    """Each check's duration per run (oldest left), one line per check."""
    series: dict[str, list[tuple[int, float]]] = {}
    for index, record in enumerate(records):
        for check in (record.get("status") or {}).get("checks") or []:
            seconds = check.get("durationSeconds")
            if isinstance(seconds, int | float):
                series.setdefault(str(check.get("name")), []).append((index, float(seconds)))
    if not series:
        return "<p>No check durations recorded.</p>"
    top = max(s for points in series.values() for _, s in points) or 1.0
    count = max(len(records) - 1, 1)

    def xy(index: int, seconds: float) -> str:
        x = PAD + index * (WIDTH - 2 * PAD) / count
        y = HEIGHT - PAD - seconds / top * (HEIGHT - 2 * PAD)
        return f"{x:.1f},{y:.1f}"

    lines, legend = [], []
    for number, (name, points) in enumerate(sorted(series.items())):
        color = PALETTE[number % len(PALETTE)]
        path = " ".join(xy(i, s) for i, s in points)
        lines.append(
            f'<polyline class="duration-line" data-check="{_e(name)}" points="{path}" fill="none" '
            f'stroke="{color}" stroke-width="2"><title>{_e(name)}</title></polyline>'
        )
        legend.append(f'<span class="key" style="border-color:{color}">{_e(name)}</span>')
    axis = (
        f'<text x="4" y="{PAD}" font-size="11">{top:.2f}s</text>'
        f'<text x="4" y="{HEIGHT - PAD}" font-size="11">0s</text>'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>'
    )
    return (
        f'<svg id="durations" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="check durations per run">{axis}{"".join(lines)}</svg><div>{"".join(legend)}</div>'
    )


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#212121}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f5f5f5}.Passed{color:#2e7d32}.Failed{color:#c62828}.Error{color:#ef6c00}
.summary span{display:inline-block;margin-right:16px;font-weight:600}
.key{border-left:12px solid;padding-left:4px;margin-right:12px}
"""

_SCRIPT = """
const data = JSON.parse(document.getElementById('data').textContent);
const count = v => data.runs.filter(r => r.verdict === v).length;
document.getElementById('total').textContent = data.runs.length;
for (const v of ['Passed', 'Failed', 'Error']) document.getElementById('count-' + v).textContent = count(v);
document.body.dataset.rendered = 'true';
"""


def render_html(rv_name: str, namespace: str, records: Sequence[Obj], generated: datetime) -> str:
    oldest_first = list(reversed(newest_first(records)))
    runs = [run_row(r) for r in oldest_first]
    flaky = flakiness(records)
    # inside <script>, no "<" at all: neither "</script>" nor "<!--" can end or bend the element
    embedded = {"releaseVerification": rv_name, "namespace": namespace, "runs": _capped(runs)}
    data = json.dumps(embedded).replace("<", "\\u003c")
    rows = "".join(
        f'<tr class="run"><td>{_e(r["run"])}</td><td>{_e(r["revision"])}</td><td>{_e(r["image"])}</td>'
        f'<td class="{_e(r["verdict"])}">{_e(r["verdict"])}</td><td>{_e(r["checks"] or "-")}</td>'
        f"<td>{_e(', '.join(r['failedChecks']) or '-')}</td><td>{_e(r['duration'] or '-')}</td>"
        f"<td>{_e(r['finishTime'] or '-')}</td><td>{_e(r['trigger'] or '-')}</td></tr>"
        for r in reversed(runs)
    )
    flaky_rows = "".join(
        f'<tr class="flaky"><td>{_e(f.name)}</td><td>{f.flaky_runs}/{f.runs}</td><td>{f.rate:.0%}</td></tr>'
        for f in flaky
    )
    flaky_table = (
        f"<table><tr><th>check</th><th>passed only on retry</th><th>rate</th></tr>{flaky_rows}</table>"
        if flaky
        else "<p>No check passed only on a retry in these runs.</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>ReleaseGuard: {_e(namespace)}/{_e(rv_name)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>ReleaseVerification {_e(namespace)}/{_e(rv_name)}</h1>
<p>{len(runs)} runs on record, generated {_e(generated.strftime("%Y-%m-%d %H:%M:%S UTC"))}</p>
<p class="summary"><span>runs: <b id="total">?</b></span><span class="Passed">passed: <b id="count-Passed">?</b></span>
<span class="Failed">failed: <b id="count-Failed">?</b></span><span class="Error">error: <b id="count-Error">?</b></span></p>
<h2>Pass/fail over time</h2>
{_verdict_chart(runs)}
<h2>Check durations</h2>
{_duration_chart(oldest_first)}
<h2>Flaky checks</h2>
{flaky_table}
<h2>Runs</h2>
<table><tr><th>run</th><th>revision</th><th>image</th><th>verdict</th><th>checks</th><th>failed</th>
<th>duration</th><th>finished</th><th>trigger</th></tr>{rows}</table>
<script type="application/json" id="data">{data}</script>
<script>{_SCRIPT}</script>
</body></html>
"""
