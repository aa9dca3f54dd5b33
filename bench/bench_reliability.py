"""Reliability under API faults, and the operator's memory beside many unrelated Deployments, with
`releaseguard run` as a real subprocess and the probe pods played by bench_operator's Observer.
BENCH_BACKENDS (default kubesim,real) picks backends; the memory scenario runs on kubesim only.

  faults     BENCH_FAULT_APPS Deployments (default 50; on the real control plane BENCH_FAULT_REAL_APPS,
             default 25) released 2 x BENCH_FAULT_ROUNDS times (default 4), alternating healthy and
             regressed releases, first BENCH_FAULT_ROUNDS without faults and then as many with them.
             kubesim: its fault switch, 5% of the operator's requests answered 500 / 429 (Retry-After) /
             409, 20 ms added latency, watch streams cut every 3 s and the watch history compacted every
             4 s (410 on resume). Real control plane: tests/e2e/fault_backends' RealFaults, a dedicated
             kube-apiserver behind Toxiproxy (20 ms, every connection cut every 3 s), APF 429s, a
             webhook's 500s, etcd compacted every 4 s (410s), a concurrent writer (409s).
             Wrong verdicts, missed and duplicate rollbacks, rvs not final, missing or extra Events
             (verdicts' and rollbacks', on the rv and the Deployment), fault classes that never reached
             the operator, the time from rollout complete to verdict without and with faults, side by
             side, and the faults the operator met; it fails unless nothing is wrong.
             BENCH_FAULT_WORKDIR keeps the logs (operator, audit).
  memory     the operator's RSS before and after BENCH_UNRELATED (default 10,000) Deployments that no
             rv targets appear in a watched namespace (each of a real one's size: 20 env vars and kubectl's
             last-applied annotation); the bound held is BENCH_UNRELATED_MIB (default 240)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_operator import BAD_IMAGE, Bench, _deployment, _pct, _rv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests"))  # rg_harness imports the shared support package

from fault_backends import KubeSimFaults, RealFaults  # noqa: E402
from rg_harness import Cluster as HarnessCluster  # noqa: E402

from kubesim.testing import KubeSim  # noqa: E402


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
        limit = float(os.environ.get("BENCH_FAULT_ROUND_SECONDS", "300"))
        try:
            took = bench.wait(
                lambda f=final: all((ns, n, f) in obs.verdict for n in names), limit, f"verdicts of revision {final}"
            )
        except TimeoutError:
            done = [n for n in names if (ns, n, final) in obs.verdict]
            bench.record(
                f"faults: revision {final} not cleared within {limit:.0f} s",
                f"{len(done)} of {len(names)}",
                f"faults: only {len(done)} of {len(names)} had the verdict of revision {final} after {limit:.0f} s; "
                f"without it: {sorted(set(names) - set(done))[:10]}",
            )
            raise
        print(
            f"[{bench.sim.backend}]   revision {final} ({'regressed, rolled back' if bad else 'healthy'}): every verdict {took:.1f} s after the release",
            flush=True,
        )
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


def faults(bench: Bench, apps: int, rounds: int, faulty: KubeSimFaults | RealFaults) -> list[str]:
    """`rounds` rounds without faults, then `rounds` with `faulty`'s; returns the wrong outcomes."""
    ns = "faults"
    bench.namespace(ns)
    names = [f"f{i}" for i in range(apps)]
    started = time.monotonic()
    bench.create_many(
        [("apps/v1", "deployments", ns, _deployment(n, "shop:good-1")) for n in names]
        + [("releaseguard.io/v1alpha1", "releaseverifications", ns, _rv(n, ns)) for n in names]
    )
    obs = bench.observer
    bench.wait(lambda: all((ns, n, 1) in obs.verdict for n in names), 300, "first verdicts")
    revision, calm, wrong = _rounds(bench, ns, names, 1, rounds, first_bad=False)
    faulty.on(HarnessCluster(bench.sim.sim, ns), names)
    try:
        revision, faulty_tails, wrong_faulty = _rounds(bench, ns, names, revision, rounds, first_bad=True)
    finally:
        faulty.off()
    elapsed = time.monotonic() - started
    wrong += wrong_faulty
    # each rollback exactly once (a second would have moved the revision on), every rv final at the
    # last revision, and every Event there: one per verdict and per rollback, on the rv and on the Deployment
    api = bench.sim.api
    # the last verdicts' Events may still be on their way (posted after the status write, retried
    # in the background no sooner than a 429's Retry-After, which APF set to 32 s in a full-size
    # run and the client takes up to RETRY_AFTER_LIMIT, 60 s): wait up to 90 s for the count
    want_total = 2 * apps * (1 + 2 * rounds + 2 * rounds)
    deadline = time.monotonic() + 90
    while True:
        events = bench.sim.call(lambda: api.list("v1", "events", ns), 120)
        counted = sum(1 for e in events if e["reason"] in ("VerificationSucceeded", "VerificationFailed", "RolledBack"))
        if counted >= want_total or time.monotonic() > deadline:
            break
        time.sleep(1)
    rvs = {r["metadata"]["name"]: r.get("status") or {} for r in bench.sim.call(lambda: api.list(
        "releaseguard.io/v1alpha1", "releaseverifications", ns))}  # fmt: skip
    bad_rounds = rounds  # the calm phase regresses its odd rounds, the faulty phase its even ones
    want = {"VerificationSucceeded": 1 + 2 * rounds, "VerificationFailed": bad_rounds, "RolledBack": bad_rounds}
    missing = extra = 0
    for n in names:
        dep = bench.sim.call(lambda n=n: api.get("apps/v1", "deployments", ns, n))
        if int(dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) != revision:
            wrong.append(
                f"{n}: at revision {dep['metadata']['annotations']['deployment.kubernetes.io/revision']}, want {revision}"
            )
        status = rvs.get(n, {})
        if (status.get("currentRevision"), status.get("phase")) != (revision, "Verified"):
            wrong.append(f"{n}: {status.get('phase')} at {status.get('currentRevision')}, want Verified at {revision}")
        for kind in ("ReleaseVerification", "Deployment"):
            mine = [e for e in events if e["involvedObject"]["kind"] == kind and e["involvedObject"]["name"] == n]
            for reason, count in want.items():
                got = sum(1 for e in mine if e["reason"] == reason)
                missing += max(count - got, 0)
                extra += max(got - count, 0)
                if got != count:
                    wrong.append(f"{n}: {got} {reason} Events on the {kind}, want {count}")
    verifications = apps * (1 + 2 * rounds + bad_rounds)  # every release, plus each rollback's own
    seen = faulty.seen()
    unseen = [k for k in faulty.must_see if seen.get(k, 0) < 1]
    if unseen:
        wrong.append(f"fault classes that never reached the operator: {unseen}")
    bench.record(
        "faults: verifications (apps x releases, plus the first deploys and the rollbacks)",
        f"{verifications} ({apps} x {2 * rounds})",
        f"faults: {verifications} verifications ({apps} apps x {2 * rounds} releases, half regressed, "
        f"{rounds} without faults then {rounds} with, plus the first deploys and the rollbacks' own), {elapsed:.0f} s",
    )
    bench.record(
        "faults: wrong outcomes (verdicts, rollbacks, final phases, Events, unseen fault classes)",
        f"{len(wrong)}",
        f"  {len(wrong)} wrong {wrong[:5]}; Events missing {missing}, extra {extra}",
    )
    bench.record("faults: Events missing / extra", f"{missing} / {extra}", f"  Events missing {missing}, extra {extra}")
    bench.record(
        "faults: rollout complete -> verdict p50/p95, no faults vs faults",
        f"{statistics.median(calm):.2f}/{_pct(calm, 95):.2f} vs "
        f"{statistics.median(faulty_tails):.2f}/{_pct(faulty_tails, 95):.2f} s",
        f"  rollout complete -> verdict: without faults median {statistics.median(calm):.2f} s p95 "
        f"{_pct(calm, 95):.2f} s; with faults median {statistics.median(faulty_tails):.2f} s p95 "
        f"{_pct(faulty_tails, 95):.2f} s (ratio of medians {statistics.median(faulty_tails) / statistics.median(calm):.2f})",
    )
    bench.record(
        "faults: what the operator met",
        ", ".join(f"{k} {v}" for k, v in seen.items()),
        f"  faults the operator met: {seen}",
    )
    bench.record("faults: time", f"{elapsed:.0f} s", f"  {elapsed:.0f} s from the first deploy to the last verdict")
    return wrong


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


def _kubesim(tmp: Path) -> tuple[dict[str, str], list[str]]:
    wrong: list[str] = []
    with Bench(tmp, "kubesim") as bench:
        time.sleep(5)  # the operator's start-up settles before its baseline RSS is read
        memory(
            bench, int(os.environ.get("BENCH_UNRELATED", "10000")), float(os.environ.get("BENCH_UNRELATED_MIB", "240"))
        )
        apps = int(os.environ.get("BENCH_FAULT_APPS", "50"))
        if apps:
            sim = bench.sim.sim
            assert isinstance(sim, KubeSim)
            # fault_backends' own switch on the bench's kubesim (never closed here: the bench owns it)
            wrong = faults(bench, apps, int(os.environ.get("BENCH_FAULT_ROUNDS", "4")), KubeSimFaults(sim))
        return bench.figures, wrong


def _real(tmp: Path) -> tuple[dict[str, str], list[str]]:
    """The faults scenario on a dedicated real control plane with fault_backends' RealFaults (its
    fake node: the benchmark plays the probe pods, as on kubesim); the memory scenario is kubesim's."""
    apps = int(os.environ.get("BENCH_FAULT_REAL_APPS", "25"))
    if not apps:
        return {}, []
    faulty = RealFaults(tmp / "real", fake_node=True)
    try:
        with Bench(tmp, "real", faulty.backend, faulty.operator_kubeconfig(tmp)) as bench:
            wrong = faults(bench, apps, int(os.environ.get("BENCH_FAULT_ROUNDS", "4")), faulty)
            return bench.figures, wrong
    finally:
        faulty.close()


def main() -> None:
    backends = [b for b in os.environ.get("BENCH_BACKENDS", "kubesim,real").split(",") if b]
    figures: dict[str, dict[str, str]] = {}
    wrong: dict[str, list[str]] = {}
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix=f"bench-reliability-{backend}-") as tmp:
            if keep := os.environ.get("BENCH_FAULT_WORKDIR"):  # kept afterwards: the operator's log, the audit log
                tmp = str(Path(keep) / backend)
                Path(tmp).mkdir(parents=True, exist_ok=True)
            run = _real if backend == "real" else _kubesim
            figures[backend], wrong[backend] = run(Path(tmp))
    names = list(dict.fromkeys(name for f in figures.values() for name in f))
    if not names:
        return
    width = max(len(n) for n in names)
    print(f"\n{'reliability':<{width}}  " + "  ".join(f"{b:>22}" for b in backends))
    for name in names:
        print(f"{name:<{width}}  " + "  ".join(f"{figures[b].get(name, '-'):>22}" for b in backends))
    if any(wrong.values()):
        raise AssertionError(f"faults: outcomes the operator must reach were not reached: {wrong}")


if __name__ == "__main__":
    main()
