"""The operator SIGKILLed at random moments (seeded) during BENCH_CRASH_ROUNDS rounds (default 3) of
releases of BENCH_CRASH_APPS sample apps (default 20), half of each round regressed (shop's error
build, rolled back), BENCH_CRASH_KILLS kills a round (default 10), restarted each time: the fleet,
the outcomes it must reach and the states that must never be seen are tests/e2e's
crash_fleet (the same as `make test`'s test_crashes, at size). Real pods on kubesim's kubelet: the
apps and the probe Jobs run. Figures: kills, verifications, rollbacks, wrong verdicts, missed and
duplicate rollbacks, rvs without their final phase, states never to be seen, stray Jobs, time.
BENCH_CRASH_SEED (default 11) seeds the kill moments; BENCH_CRASH_WORKDIR keeps the logs.
On kubesim and on the real control plane (kubesim's process node runs the pods), as BENCH_BACKENDS says."""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "tests"))  # rg_harness imports the shared support package

from crash_fleet import Fleet, Watcher  # noqa: E402
from rg_harness import CRD, IMAGES, RESTRICTED, RUN_CRD, Cluster, Operator, eventually  # noqa: E402

from kubesim.real.cluster import RealCluster  # noqa: E402
from kubesim.testing import KubeSim  # noqa: E402


def run(backend: str, workdir: Path, apps: int, rounds: int, kills_per_round: int, seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    figures: dict[str, str] = {}
    backing: KubeSim | RealCluster
    if backend == "real":  # kube-apiserver, controller-manager, scheduler, etcd; kubesim's process node
        backing = RealCluster(workdir / "real", images=IMAGES)
    else:
        backing = KubeSim(workdir / "kubesim", images=IMAGES, rollout_delay_seconds=0.2)
    with backing as sim:
        sim.kubectl("apply", "-f", str(CRD), "-f", str(RUN_CRD))
        sim.kubectl("wait", "--for=condition=Established", "crd/releaseverifications.releaseguard.io",
                    "crd/verificationruns.releaseguard.io")  # fmt: skip
        ns = "crashes"
        sim.kubectl("apply", "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": RESTRICTED}}))  # fmt: skip
        cluster = Cluster(sim, ns)
        fleet = Fleet(cluster, apps)
        op = Operator(sim, workdir)
        started = time.monotonic()
        op.start()
        fleet.create()
        eventually(lambda: not fleet.unsettled(), 300, "every app verified at revision 1", interval=1)
        watcher = Watcher(fleet, interval=1.0)
        watcher.start()
        kills = verifications = rollbacks = 0
        verifications += apps
        want_rollbacks = dict.fromkeys(fleet.names, 0)
        wrong: list[str] = []
        try:
            for round_ in range(2, rounds + 2):
                regressed = {n for i, n in enumerate(fleet.names) if (i + round_) % 2 == 0}
                fleet.roll(regressed, round_)
                for _ in range(kills_per_round):  # during the rollouts, the Jobs and the rollbacks
                    time.sleep(rng.uniform(0.2, 2.5))
                    op.kill()
                    kills += 1
                    time.sleep(rng.uniform(0.0, 1.0))
                    op.start()
                try:
                    eventually(lambda: not fleet.unsettled(), 300, f"round {round_}: every outcome", interval=1)
                except AssertionError as exc:
                    wrong.append(str(exc)[:500])
                    break
                verifications += apps + len(regressed)  # every release, and each rollback's own revision
                rollbacks += len(regressed)
                for n in regressed:
                    want_rollbacks[n] += 1
                fleet.catch_up()
                eventually(lambda: not fleet.behind(), 120, "every app at the same revision", interval=1)
        finally:
            seen = watcher.stop()
            elapsed = time.monotonic() - started
            log = op.log()
            op.stop()
        events = fleet.rolled_back_events()
        history = fleet.rollbacks_in_history()
        missed = sum(max(want_rollbacks[n] - history.get(n, 0), 0) for n in fleet.names)
        duplicate = sum(max(history.get(n, 0) - want_rollbacks[n], 0) for n in fleet.names)
        events_missing = sum(max(want_rollbacks[n] - events[n], 0) for n in fleet.names)
        events_extra = sum(max(events[n] - want_rollbacks[n], 0) for n in fleet.names)
        jobs = fleet.job_problems()
        not_found = log.split("--- start 2", 1)[-1].count("not found; waiting for it")
        figures.update(
            {
                "kills (SIGKILL, restarted each time)": str(kills),
                "verifications (releases and rollbacks' own revisions)": str(verifications),
                "rollbacks": str(rollbacks),
                "wrong outcomes (verdict or final phase)": str(len(wrong)),
                "missed / duplicate rollbacks": f"{missed} / {duplicate}",
                "RolledBack Events on the Deployments missing / extra": f"{events_missing} / {events_extra}",
                "states never to be seen (Pending, contradicting phase)": f"{len(seen)} in {watcher.polls} polls",
                "'Deployment not found' after a restart": str(not_found),
                "Jobs running at the end or owned by no rv": str(len(jobs)),
                "time": f"{elapsed:.0f} s",
            }
        )
        bad = (wrong, missed, duplicate, events_missing, events_extra, seen, jobs, not_found)
        if any(bad):
            off = {
                n: (events[n], history.get(n), want_rollbacks[n]) for n in fleet.names if events[n] != want_rollbacks[n]
            }
            print(
                f"[{backend}] crashes: findings {wrong[:3]} seen {seen[:5]} jobs {jobs[:5]}; RolledBack Events, "
                f"rollbacks in history, rollbacks made where they differ: {off} (logs in {workdir})"
            )
            figures["FAILED"] = "yes"
    return figures


def main() -> None:
    backends = [b for b in os.environ.get("BENCH_BACKENDS", "kubesim,real").split(",") if b]
    apps = int(os.environ.get("BENCH_CRASH_APPS", "20"))
    rounds = int(os.environ.get("BENCH_CRASH_ROUNDS", "3"))
    kills = int(os.environ.get("BENCH_CRASH_KILLS", "10"))
    seed = int(os.environ.get("BENCH_CRASH_SEED", "11"))
    figures: dict[str, dict[str, str]] = {}
    for backend in backends:
        if keep := os.environ.get("BENCH_CRASH_WORKDIR"):  # kept afterwards: the operator's log, the cluster's
            (Path(keep) / backend).mkdir(parents=True, exist_ok=True)
            figures[backend] = run(backend, Path(keep) / backend, apps, rounds, kills, seed)
        else:
            with tempfile.TemporaryDirectory(prefix=f"bench-crashes-{backend}-") as tmp:
                figures[backend] = run(backend, Path(tmp), apps, rounds, kills, seed)
    names = list(dict.fromkeys(name for f in figures.values() for name in f))
    width = max(len(n) for n in names)
    print(f"\n{'crashes':<{width}}  " + "  ".join(f"{b:>16}" for b in backends))
    for name in names:
        print(f"{name:<{width}}  " + "  ".join(f"{figures[b].get(name, '-'):>16}" for b in backends))
    if any(f.get("FAILED") for f in figures.values()):
        raise AssertionError("crashes: an outcome the operator must reach was not reached (see above)")


if __name__ == "__main__":
    main()
