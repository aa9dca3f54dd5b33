"""Reliability under API faults, and the operator's memory beside many unrelated Deployments, on
kubesim (its fault switch; the real control plane has no fault proxy here), with `releaseguard run`
as a real subprocess and the probe pods played by bench_operator's Observer.

  faults     BENCH_FAULT_APPS Deployments (default 50) released BENCH_FAULT_ROUNDS times (default 4),
             alternating healthy and regressed releases, first with no faults and then with 5% of the
             operator's requests answered 500 / 429 (Retry-After) / 409, 20 ms added latency, watch
             streams cut every 3 s and the watch history compacted every 4 s (410 on resume):
             wrong verdicts, missed and duplicate rollbacks, missing Events, and the time from
             rollout complete to verdict without and with faults, side by side
  memory     the operator's RSS before and after BENCH_UNRELATED (default 10,000) Deployments that no
             rv targets appear in a watched namespace (each of a real one's size: 20 env vars and kubectl's
             last-applied annotation); the bound held is BENCH_UNRELATED_MIB (default 240)
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.bench_operator import BAD_IMAGE, Bench, _deployment, _pct, _rv

OPERATOR_AGENTS = ("OpenAPI-Generator", "kopf")


def _rss_now(bench: Bench) -> float:
    assert bench.operator is not None
    for line in Path(f"/proc/{bench.operator.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _rounds(
    bench: Bench, ns: str, names: list[str], revision: int, rounds: int, first_bad: bool
) -> tuple[int, list[float], list[str]]:
    """Release every Deployment `rounds` times; returns the revision reached, the rollout-complete
    -> verdict times and every wrong outcome seen."""
    obs = bench.observer
    tails: list[float] = []
    wrong: list[str] = []
    for r in range(rounds):
        bad = (r % 2 == 0) == first_bad
        new = revision + 1
        final = new + 1 if bad else new
        for n in names:
            if bad:
                obs.bad_images[(ns, n)] = str(new)
        bench.set_images(ns, names, BAD_IMAGE if bad else f"shop:good-{new}")
        bench.wait(lambda f=final: all((ns, n, f) in obs.verdict for n in names), 300, f"verdicts of revision {final}")
        for n in names:
            verdict = obs.verdict[(ns, n, new)][1]
            if verdict != ("Failed" if bad else "Passed"):
                wrong.append(f"{n} revision {new}: {verdict}")
            if bad and (ns, n, new) not in obs.rolled_back:
                wrong.append(f"{n} revision {new}: not rolled back")
            if bad and obs.verdict[(ns, n, final)][1] != "Passed":
                wrong.append(f"{n} revision {final} (the rollback): {obs.verdict[(ns, n, final)][1]}")
            tails.append(obs.verdict[(ns, n, new)][0] - obs.complete[(ns, n, new)])
        revision = final
    return revision, tails, wrong


def faults(bench: Bench, apps: int, rounds: int) -> None:
    sim = bench.sim.sim
    ns = "faults"
    bench.namespace(ns)
    names = [f"f{i}" for i in range(apps)]
    bench.create_many(
        [("apps/v1", "deployments", ns, _deployment(n, "shop:good-1")) for n in names]
        + [("releaseguard.io/v1alpha1", "releaseverifications", ns, _rv(n, ns)) for n in names]
    )
    obs = bench.observer
    bench.wait(lambda: all((ns, n, 1) in obs.verdict for n in names), 300, "first verdicts")
    revision, calm, wrong = _rounds(bench, ns, names, 1, rounds, first_bad=False)
    f = sim.faults  # type: ignore[union-attr]
    f.user_agents = OPERATOR_AGENTS
    f.error_rate = {"*": 0.02}
    f.throttle_rate, f.retry_after_seconds = 0.015, 1
    f.conflict_rate = 0.015
    f.latency_seconds = 0.02
    f.watch_cut_seconds = 3.0
    stop = threading.Event()

    def compact() -> None:
        while not stop.wait(4.0):
            sim.compact()  # type: ignore[union-attr]

    compactor = threading.Thread(target=compact, daemon=True)
    compactor.start()
    try:
        revision, faulty, wrong_faulty = _rounds(bench, ns, names, revision, rounds, first_bad=True)
    finally:
        f.clear()
        stop.set()
        compactor.join(10)
    wrong += wrong_faulty
    # each rollback exactly once (a second would have moved the revision on) and every Event there
    api = bench.sim.api
    events = bench.sim.call(lambda: api.list("v1", "events", ns))
    bad_rounds = rounds  # the calm phase regresses its odd rounds, the faulty phase its even ones
    for n in names:
        dep = bench.sim.call(lambda n=n: api.get("apps/v1", "deployments", ns, n))
        if int(dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) != revision:
            wrong.append(
                f"{n}: at revision {dep['metadata']['annotations']['deployment.kubernetes.io/revision']}, want {revision}"
            )
        for kind in ("ReleaseVerification", "Deployment"):
            mine = [e for e in events if e["involvedObject"]["kind"] == kind and e["involvedObject"]["name"] == n]
            rolled = sum(1 for e in mine if e["reason"] == "RolledBack")
            if rolled != bad_rounds:
                wrong.append(f"{n}: {rolled} RolledBack Events on the {kind}, want {bad_rounds}")
    verifications = apps * (1 + 2 * rounds + bad_rounds)  # every release, plus each rollback's own
    injected = dict(f.injected)
    bench.record(
        f"faults: {verifications} verifications, wrong outcomes / missing or extra Events",
        f"{len(wrong)}",
        f"faults: {verifications} verifications ({apps} apps x {2 * rounds} releases, half regressed, plus the "
        f"rollbacks), injected {injected}: {len(wrong)} wrong {wrong[:5]}",
    )
    bench.record(
        "faults: rollout complete -> verdict p50/p95, no faults vs faults",
        f"{statistics.median(calm):.2f}/{_pct(calm, 95):.2f} vs {statistics.median(faulty):.2f}/{_pct(faulty, 95):.2f} s",
        f"  rollout complete -> verdict: without faults median {statistics.median(calm):.2f} s p95 {_pct(calm, 95):.2f} s; "
        f"with faults median {statistics.median(faulty):.2f} s p95 {_pct(faulty, 95):.2f} s "
        f"(ratio of medians {statistics.median(faulty) / statistics.median(calm):.2f})",
    )


def _unrelated(name: str) -> dict[str, Any]:
    """A Deployment of the size a real one has (20 env vars, kubectl's last-applied annotation),
    scaled to zero; no rv targets it."""
    dep = _deployment(name, "registry.example/team/app:1.2.3")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": f"SETTING_{i}", "value": f"value-{i}-" + "x" * 40} for i in range(20)]
    dep["spec"]["replicas"] = 0
    dep["metadata"]["labels"] = {"team": "other", "app": name}
    dep["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(dep)}
    return dep


def memory(bench: Bench, unrelated: int, bound_mib: float) -> None:
    ns = "crowd"
    bench.namespace(ns)
    time.sleep(2)
    before = _rss_now(bench)
    items = [("apps/v1", "deployments", ns, _unrelated(f"u{i}")) for i in range(unrelated)]
    bench.create_many(items)
    # the operator has caught up with them once an rv created after them has its verdict
    last = f"u{unrelated - 1}"
    start = time.monotonic()
    bench.create("releaseguard.io/v1alpha1", "releaseverifications", ns, _rv(last, ns))
    caught_up = bench.wait(lambda: (ns, last, 1) in bench.observer.verdict, 600, "the verdict after the crowd")
    time.sleep(2)
    after = _rss_now(bench)
    bench.record(
        f"memory: verdict of an rv created after {unrelated} Deployments",
        f"{caught_up:.1f} s",
        f"  an rv created right after them had its verdict {caught_up:.1f} s later ({time.monotonic() - start:.1f})",
    )
    grown = after - before
    bench.record(
        f"memory: operator RSS growth beside {unrelated} unrelated Deployments (bound {bound_mib:.0f} MiB)",
        f"{grown:.1f} MiB",
        f"memory: operator RSS {before:.0f} -> {after:.0f} MiB with {unrelated} unrelated Deployments "
        f"({grown * 1024 * 1024 / unrelated:.0f} bytes each); bound {bound_mib:.0f} MiB: "
        + ("held" if grown <= bound_mib else "EXCEEDED"),
    )
    if grown > bound_mib:
        raise AssertionError(
            f"operator RSS grew {grown:.1f} MiB beside {unrelated} Deployments (bound {bound_mib} MiB)"
        )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as tmp, Bench(Path(tmp), "kubesim") as bench:
        time.sleep(5)  # the operator's start-up settles before its baseline RSS is read
        memory(
            bench, int(os.environ.get("BENCH_UNRELATED", "10000")), float(os.environ.get("BENCH_UNRELATED_MIB", "240"))
        )
        apps = int(os.environ.get("BENCH_FAULT_APPS", "50"))
        if apps:
            faults(bench, apps, int(os.environ.get("BENCH_FAULT_ROUNDS", "4")))
        width = max(len(n) for n in bench.figures)
        print(f"\n{'reliability (kubesim)':<{width}}  value")
        for name, value in bench.figures.items():
            print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
