"""The Grafana dashboard, built with Grafana's own Python SDK (grafana-foundation-sdk).

`python -m releaseguard.dashboard` prints its JSON; `make manifests` writes it to
charts/releaseguard/files/dashboard.json (the chart's ConfigMap, labelled for Grafana's sidecar)
and dashboards/releaseguard.json, and `make manifests-check` fails when either is stale.
Queries use the `$namespace` variable and Grafana's `$__rate_interval`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Literal

from grafana_foundation_sdk.builders import dashboard, prometheus, table, timeseries
from grafana_foundation_sdk.cog import variants
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

UID = "releaseguard"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
NS = 'namespace=~"$namespace"'
WINDOW = "$__rate_interval"


@dataclass(frozen=True)
class PanelSpec:
    title: str
    description: str
    queries: tuple[tuple[str, str], ...]  # (PromQL, legend)
    kind: Literal["timeseries", "table"] = "timeseries"
    unit: str = "short"


def _quantiles(metric: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (
            f"histogram_quantile({q}, sum by (le, namespace, releaseverification) "
            f"(rate({metric}_bucket{{{NS}}}[{WINDOW}])))",
            f"p{int(q * 100)} {{{{namespace}}}}/{{{{releaseverification}}}}",
        )
        for q in (0.5, 0.95)
    )


PANELS: tuple[PanelSpec, ...] = (
    PanelSpec(
        "Verifications by verdict",
        "Verifications that reached a verdict, by verdict (Passed, Failed, Error).",
        ((f"sum by (result) (increase(releaseguard_verifications_total{{{NS}}}[{WINDOW}]))", "{{result}}"),),
    ),
    PanelSpec(
        "Verification duration (p50, p95)",
        "From launching the probe Jobs to the verdict.",
        _quantiles("releaseguard_verification_duration_seconds"),
        unit="s",
    ),
    PanelSpec(
        "Rollout to verdict (p50, p95)",
        "From the rollout being complete to the verdict (includes delaySeconds).",
        _quantiles("releaseguard_rollout_to_verdict_seconds"),
        unit="s",
    ),
    PanelSpec(
        "Rollbacks",
        "Rollbacks applied, by ReleaseVerification and the failed verification's reason.",
        (
            (
                f"sum by (namespace, releaseverification, reason) "
                f"(increase(releaseguard_rollbacks_total{{{NS}}}[{WINDOW}]))",
                "{{namespace}}/{{releaseverification}} {{reason}}",
            ),
        ),
    ),
    PanelSpec(
        "Flaky checks",
        "Checks that failed and then passed on a retry.",
        (
            (
                f"sum by (namespace, releaseverification, check) "
                f'(increase(releaseguard_check_results_total{{{NS}, result="Flaky"}}[{WINDOW}]))',
                "{{namespace}}/{{releaseverification}} {{check}}",
            ),
        ),
    ),
    PanelSpec(
        "Current state of each ReleaseVerification",
        "Phase, Deployment, current revision and image of every ReleaseVerification.",
        (
            (
                f"max by (namespace, releaseverification, phase) (releaseguard_releaseverification_phase{{{NS}}} == 1)"
                " * on (namespace, releaseverification) group_left (deployment, revision, image)"
                f" max by (namespace, releaseverification, deployment, revision, image)"
                f" (releaseguard_releaseverification_info{{{NS}}})",
                "",
            ),
        ),
        kind="table",
    ),
    PanelSpec(
        "Notification failures",
        "Notifications that could not be delivered after their retries, by channel and event.",
        (
            (
                f'sum by (channel, event) (increase(releaseguard_notifications_total{{result="Failed"}}[{WINDOW}]))',
                "{{channel}} {{event}}",
            ),
        ),
    ),
)


def _query(expr: str, legend: str, ref: str, instant: bool) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        query = query.legend_format(legend)
    return query.instant().format(PromQueryFormat.TABLE) if instant else query.range()


def build() -> dashboard.Dashboard:
    board = (
        dashboard.Dashboard("ReleaseGuard")
        .uid(UID)
        .tags(["releaseguard"])
        .description("Release verifications, verdicts, rollbacks and notifications (generated; do not edit)")
        .time("now-6h", "now")
        .refresh("30s")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            dashboard.QueryVariable("namespace")
            .label("Namespace")
            .datasource(DATASOURCE)
            .query("label_values(releaseguard_releaseverification_info, namespace)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
    )
    for spec in PANELS:
        instant = spec.kind == "table"
        targets: list[Builder[variants.Dataquery]] = [
            _query(expr, legend, chr(ord("A") + i), instant) for i, (expr, legend) in enumerate(spec.queries)
        ]
        panel: table.Panel | timeseries.Panel
        if spec.kind == "table":
            panel = table.Panel().height(8).span(24)
        else:
            panel = timeseries.Panel().height(8).span(12).unit(spec.unit)
        panel = panel.title(spec.title).description(spec.description).datasource(DATASOURCE).targets(targets)
        board = board.with_panel(panel)
    return board


def render() -> str:
    return json.dumps(json.loads(JSONEncoder().encode(build().build())), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
