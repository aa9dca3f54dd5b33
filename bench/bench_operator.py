"""The operator's speed on kubesim and on the real control plane, side by side in one run, with
`releaseguard run` as a real subprocess.

Each backend runs its API server and controllers; a fake node marks pods Running at once, and this
benchmark plays the probe pods' part (it finishes each probe pod with a report in its termination
message as soon as it runs), so what is measured is the operator, not Python start-up in pods.
On kubesim the timestamps come from an in-process watch on its store and requests are counted at
kubesim; on the real control plane from a watch over HTTP, and the operator (the chart's
ServiceAccount) is counted in the API server's audit log. `BENCH_BACKENDS` picks backends.

  overhead      rollout complete -> verdict recorded, minus the probe Job's own run time
  rollback      verdict (Failed) recorded -> the Deployment patched back
  requests      API requests the operator makes per verification, by verb, counted at kubesim;
                and again with 200 unrelated Deployments in the namespace (must not grow)
  scale         the storm: BENCH_OPERATOR_SCALE (default 1,000) RVs and Deployments rolled out at once,
                and all rolled out again before that round finishes (BENCH_OPERATOR_REROLL=0: once), some
                to a regressed release: every rv's outcome checked; time to clear, the operator's peak
                RSS, CPU seconds and API requests per verification, and kubesim's own CPU seconds
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubesim.cluster import ClusterAPI
from kubesim.node.client import HttpClusterAPI
from kubesim.real.cluster import RealCluster
from kubesim.testing import KubeSim
from releaseguard.api import CheckResultKind
from releaseguard.core.jobs import RV_LABEL, job_finished
from releaseguard.core.rollout import RolloutState, revision_of, rollout_state
from releaseguard.report import CheckReport, build_report, compact_json

Obj = dict[str, Any]
ROOT = Path(__file__).resolve().parents[1]
CRD = ROOT / "crds" / "releaseverifications.releaseguard.io.yaml"
RELEASEGUARD = str(Path(sys.executable).parent / "releaseguard")
BAD_IMAGE = "shop:bad"


def _report(passed: bool) -> str:
    now = datetime.now(UTC)
    result = CheckResultKind.PASSED if passed else CheckResultKind.FAILED
    check = CheckReport(name="health", type="http", critical=True, result=result, message="bench")
    return compact_json(build_report([check], now, now))


def _deployment(name: str, image: str) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def _rv(name: str, namespace: str, timeout_seconds: int = 120) -> Obj:
    return {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "targetRef": {"name": name},
            "delaySeconds": 0,
            "timeoutSeconds": timeout_seconds,
            "checks": [{"name": "health", "http": {"url": f"http://{name}.{namespace}.svc:8080/healthz"}}],
        },
    }


OPERATOR_USER = "system:serviceaccount:releaseguard:releaseguard"
RBAC_KINDS = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"}


class Cluster:
    """One backend as the benchmark drives it: an API for the driver and the observer (not counted
    as the operator's), a loop to run it on, the operator's kubeconfig, its request counts."""

    def __init__(
        self, backend: str, workdir: Path, sim: RealCluster | None = None, kubeconfig: Path | None = None
    ) -> None:
        """`sim`: a control plane started and stopped by the caller (bench_reliability's faulty one),
        `kubeconfig`: the operator's own for it (through its fault proxy)."""
        self.backend = backend
        self.workdir = workdir
        self.sim: KubeSim | RealCluster
        self._owned = sim is None
        self._kubeconfig = kubeconfig
        if sim is not None:
            self.sim = sim
        elif backend == "real":
            self.sim = RealCluster(workdir / "real", fake_node=True, audit=True)
        else:
            self.sim = KubeSim(workdir / "kubesim", kubelet=False, fake_node=True, rollout_delay_seconds=0.0)
        self.api: ClusterAPI
        self._audit_mark = 0

    def start(self) -> None:
        if self._owned:
            self.sim.start()
        if isinstance(self.sim, RealCluster):
            self.api = self.sim.call(self._http_api)
        else:
            assert self.sim.server is not None
            self.api = self.sim.server.api

    async def _http_api(self) -> ClusterAPI:
        return HttpClusterAPI.from_kubeconfig(self.sim.kubeconfig, component="bench")

    def stop(self) -> None:
        if isinstance(self.api, HttpClusterAPI):
            self.sim.call(self.api.close)
        if self._owned:
            self.sim.stop()

    def call(self, fn: Callable[[], Any], timeout: float = 30) -> Any:
        return self.sim.call(fn, timeout)

    def operator_kubeconfig(self) -> Path:
        """The chart's ServiceAccount and RBAC where the server authorizes; kubesim's admin otherwise."""
        if self._kubeconfig is not None:
            return self._kubeconfig
        if not isinstance(self.sim, RealCluster):
            return self.sim.kubeconfig
        import yaml

        docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "releaseguard.yaml").read_text()) if d]
        self.sim.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([d for d in docs if d["kind"] in RBAC_KINDS]))
        return self.sim.service_account_kubeconfig("releaseguard", "releaseguard", self.workdir / "operator.kubeconfig")

    def reset_request_counts(self) -> None:
        if isinstance(self.sim, RealCluster):
            self._audit_mark = self.sim.control_plane.requests_of(OPERATOR_USER, self._audit_mark)[1]
        else:
            self.sim.reset_request_counts()

    def loop_cpu(self) -> float | None:
        """CPU seconds kubesim's event loop thread has used (its API server, controllers, fake node);
        None on the real control plane (its processes are its own)."""
        if isinstance(self.sim, RealCluster):
            return None

        async def thread_time() -> float:
            return time.thread_time()

        return float(self.sim.call(thread_time))

    def request_counts(self) -> dict[tuple[str, str], int]:
        if isinstance(self.sim, RealCluster):
            return dict(self.sim.control_plane.requests_of(OPERATOR_USER, self._audit_mark)[0])
        return self.sim.request_counts()


class Observer:
    """Watches the cluster; records when things happen; plays the probe pods."""

    def __init__(self, api: ClusterAPI) -> None:
        self.api = api
        self.complete: dict[tuple[str, str, int], float] = {}
        self.job_created: dict[tuple[str, str], float] = {}
        self.job_done: dict[tuple[str, str], float] = {}
        self.job_revision: dict[tuple[str, str], tuple[str, int]] = {}
        self.verdict: dict[tuple[str, str, int], tuple[float, str]] = {}
        self.rolled_back: dict[tuple[str, str, int], float] = {}
        self.bad_images: dict[tuple[str, str], str] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for watcher in (self._deployments, self._jobs, self._pods, self._rvs):
            self.tasks.append(asyncio.get_running_loop().create_task(self._forever(watcher)))

    @staticmethod
    async def _forever(watcher: Callable[[], Any]) -> None:
        while True:  # a watch over HTTP ends now and then
            with contextlib.suppress(Exception):
                await watcher()
            await asyncio.sleep(0.1)

    async def _deployments(self) -> None:
        async for kind, dep in self.api.watch("apps/v1", "deployments"):
            if kind == "DELETED":
                continue
            now = time.monotonic()
            meta = dep["metadata"]
            revision = revision_of(dep)
            if revision is None:
                continue
            key = (meta["namespace"], meta["name"], revision)
            if key not in self.complete and rollout_state(dep)[0] is RolloutState.COMPLETE:
                self.complete[key] = now
            origin = (meta.get("annotations") or {}).get("releaseguard.io/rolled-back-from-revision")
            if origin is not None:
                self.rolled_back.setdefault((meta["namespace"], meta["name"], int(origin)), now)

    async def _jobs(self) -> None:
        async for kind, job in self.api.watch("batch/v1", "jobs"):
            if kind == "DELETED":
                continue
            now = time.monotonic()
            meta = job["metadata"]
            key = (meta["namespace"], meta["name"])
            self.job_created.setdefault(key, now)
            if job_finished(job):
                self.job_done.setdefault(key, now)

    async def _pods(self) -> None:
        async for kind, pod in self.api.watch("v1", "pods"):
            meta = pod["metadata"]
            labels = meta.get("labels") or {}
            if kind == "DELETED" or RV_LABEL not in labels or (pod.get("status") or {}).get("phase") != "Running":
                continue
            target = labels[RV_LABEL]
            image_bad = self.bad_images.get((meta["namespace"], target)) == labels.get("releaseguard.io/revision")
            from kubesim.node.fake import finished_status

            status = finished_status(pod, True, _report(passed=not image_bad))
            with contextlib.suppress(Exception):
                await self.api.patch(
                    "v1", "pods", meta["namespace"], meta["name"], {"status": status}, "merge", "status"
                )

    async def _rvs(self) -> None:
        async for kind, rv in self.api.watch("releaseguard.io/v1alpha1", "releaseverifications"):
            if kind == "DELETED":
                continue
            run = (rv.get("status") or {}).get("lastRun") or {}
            if run.get("verdict"):
                key = (rv["metadata"]["namespace"], rv["metadata"]["name"], int(run["revision"]))
                self.verdict.setdefault(key, (time.monotonic(), run["verdict"]))

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()


class Bench:
    def __init__(
        self, workdir: Path, backend: str, sim: RealCluster | None = None, kubeconfig: Path | None = None
    ) -> None:
        self.sim = Cluster(backend, workdir, sim, kubeconfig)
        self.workdir = workdir
        self.operator: subprocess.Popen[bytes] | None = None
        self.figures: dict[str, str] = {}

    def record(self, name: str, value: str, line: str) -> None:
        self.figures[name] = value
        print(f"[{self.sim.backend}] {line}", flush=True)

    def __enter__(self) -> Bench:
        self.sim.start()
        self.sim.sim.kubectl("apply", "-f", str(CRD))
        self.sim.sim.kubectl("wait", "--for=condition=Established", "crd/releaseverifications.releaseguard.io")
        self.observer = Observer(self.sim.api)
        self.sim.call(self._start_observer)
        env = dict(os.environ, KUBECONFIG=str(self.sim.operator_kubeconfig()))
        log = open(self.workdir / "operator.log", "wb")
        self.operator = subprocess.Popen(
            [
                RELEASEGUARD,
                "run",
                "-A",
                "--metrics-port",
                "0",
                "--health-port",
                "0",
                "--runner-image",
                "releaseguard:dev",
                "--workers",
                os.environ.get("BENCH_OPERATOR_WORKERS", "32"),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    async def _start_observer(self) -> None:
        self.observer.start()

    def __exit__(self, *exc: object) -> None:
        if self.operator is not None:
            self.operator.terminate()
            self.operator.wait(20)
        self.sim.call(self._stop_observer)
        self.sim.stop()

    async def _stop_observer(self) -> None:
        self.observer.stop()

    # --- driving kubesim in-process (these writes are not counted as operator requests) ---

    def create(self, api_version: str, plural: str, namespace: str | None, obj: Obj) -> None:
        api = self.sim.api
        self.sim.call(lambda: api.create(api_version, plural, namespace, obj))

    def create_many(self, items: list[tuple[str, str, str | None, Obj]]) -> None:
        api = self.sim.api
        limit = asyncio.Semaphore(32)

        async def one(a: str, p: str, n: str | None, o: Obj) -> None:
            async with limit:
                await api.create(a, p, n, o)

        async def go() -> None:
            await asyncio.gather(*(one(a, p, n, o) for a, p, n, o in items))

        self.sim.call(go, timeout=600)

    def set_images(self, namespace: str, names: list[str], image: str) -> None:
        api = self.sim.api
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
        limit = asyncio.Semaphore(32)

        async def one(name: str) -> None:
            async with limit:
                await api.patch("apps/v1", "deployments", namespace, name, patch, "strategic")

        async def go() -> None:
            await asyncio.gather(*(one(n) for n in names))

        self.sim.call(go, timeout=600)

    def namespace(self, name: str) -> None:
        self.create("v1", "namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def wait(self, fn: Callable[[], bool], timeout: float, what: str) -> float:
        start = time.monotonic()
        while not fn():
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"no {what} within {timeout}s (see {self.workdir / 'operator.log'})")
            time.sleep(0.02)
        return time.monotonic() - start

    def operator_usage(self) -> tuple[float, float]:
        """(peak RSS in MiB, CPU seconds) of the operator process."""
        assert self.operator is not None
        pid = self.operator.pid
        rss = 0.0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) / 1024
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return rss, (int(fields[11]) + int(fields[12])) / ticks


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _summary(name: str, values: list[float], unit: str = "s") -> str:
    return (
        f"{name}: n={len(values)} median={statistics.median(values) * 1000:.1f} ms "
        f"p95={_pct(values, 95) * 1000:.1f} ms max={max(values) * 1000:.1f} ms"
        if unit == "s"
        else ""
    )


def latency_and_requests(bench: Bench, deployments: int = 10, releases: int = 4) -> None:
    ns = "latency"
    bench.namespace(ns)
    obs = bench.observer
    names = [f"app{i}" for i in range(deployments)]
    bench.sim.reset_request_counts()
    bench.create_many(
        [("apps/v1", "deployments", ns, _deployment(n, "shop:r1")) for n in names]
        + [("releaseguard.io/v1alpha1", "releaseverifications", ns, _rv(n, ns)) for n in names]
    )
    for release in range(1, releases + 1):
        if release > 1:
            bench.set_images(ns, names, f"shop:r{release}")
        bench.wait(
            lambda r=release: all((ns, n, r) in obs.verdict for n in names), 120, f"verdicts of release {release}"
        )
    counts = bench.sim.request_counts()
    verifications = deployments * releases
    overheads = []
    for (namespace, job), created in obs.job_created.items():
        if namespace != ns:
            continue
        rv, revision = job.split("-r")[0][3:], int(job.rsplit("-r", 1)[1].split("-")[0])
        done = obs.job_done[(namespace, job)]
        verdict_at = obs.verdict[(ns, rv, revision)][0]
        overheads.append((verdict_at - obs.complete[(ns, rv, revision)]) - (done - created))
    bench.record(
        "overhead p50/p95 (target p95 < 1 s)",
        f"{statistics.median(overheads) * 1000:.0f} / {_pct(overheads, 95) * 1000:.0f} ms",
        _summary("overhead rollout-complete -> verdict minus probe Job run time", overheads),
    )
    by_verb: Counter[str] = Counter()
    for (verb, resource), n in counts.items():
        by_verb[f"{verb} {resource}"] += n
    total = sum(by_verb.values())
    detail = ", ".join(f"{key} {n / verifications:.2f}" for key, n in sorted(by_verb.items(), key=lambda kv: -kv[1]))
    bench.record(
        "API requests per verification",
        f"{total / verifications:.1f}",
        f"API requests per verification (operator): {total / verifications:.1f} ({detail})",
    )


def _sequential_requests(bench: Bench, ns: str, unrelated: int, releases: int = 4) -> float:
    """API requests (watches excluded) per verification of one Deployment released `releases`
    times in a row, in a namespace holding `unrelated` other Deployments."""
    bench.namespace(ns)
    obs = bench.observer
    bench.create_many(
        [("apps/v1", "deployments", ns, _deployment(f"other{i}", "shop:other")) for i in range(unrelated)]
        + [
            ("apps/v1", "deployments", ns, _deployment("app", "shop:r1")),
            ("releaseguard.io/v1alpha1", "releaseverifications", ns, _rv("app", ns)),
        ]
    )
    bench.wait(lambda: (ns, "app", 1) in obs.verdict, 120, f"the first verdict in {ns}")
    time.sleep(1)
    bench.sim.reset_request_counts()
    for release in range(2, releases + 2):
        bench.set_images(ns, ["app"], f"shop:r{release}")
        bench.wait(lambda r=release: (ns, "app", r) in obs.verdict, 60, f"verdicts in {ns}")
    return sum(n for (verb, _), n in bench.sim.request_counts().items() if verb != "watch") / releases


def unrelated_objects(bench: Bench, unrelated: int = 200) -> None:
    quiet = _sequential_requests(bench, "quiet", 0)
    crowded = _sequential_requests(bench, "crowded", unrelated)
    bench.record(
        "requests/verification: alone vs beside 200 Deployments",
        f"{quiet:.1f} vs {crowded:.1f}",
        f"API requests per verification, one Deployment released 4 times: {quiet:.1f} alone, "
        f"{crowded:.1f} next to {unrelated} unrelated Deployments",
    )


def rollback_latency(bench: Bench, deployments: int = 10, failures: int = 3) -> None:
    ns = "rollback"
    bench.namespace(ns)
    obs = bench.observer
    names = [f"app{i}" for i in range(deployments)]
    bench.create_many(
        [("apps/v1", "deployments", ns, _deployment(n, "shop:good")) for n in names]
        + [("releaseguard.io/v1alpha1", "releaseverifications", ns, _rv(n, ns)) for n in names]
    )
    bench.wait(lambda: all((ns, n, 1) in obs.verdict for n in names), 120, "first verdicts")
    latencies = []
    revision = 1
    for _ in range(failures):
        bad, good = revision + 1, revision + 2
        for n in names:
            obs.bad_images[(ns, n)] = str(bad)
        bench.set_images(ns, names, BAD_IMAGE)
        bench.wait(lambda g=good: all((ns, n, g) in obs.verdict for n in names), 120, "rollback verdicts")
        for n in names:
            verdict_at, verdict = obs.verdict[(ns, n, bad)]
            assert verdict == "Failed", verdict
            latencies.append(obs.rolled_back[(ns, n, bad)] - verdict_at)
        revision = good
    bench.record(
        "verdict -> rollback p50/p95 (target p95 < 200 ms)",
        f"{statistics.median(latencies) * 1000:.0f} / {_pct(latencies, 95) * 1000:.0f} ms",
        _summary("critical verdict recorded -> rollback patch applied", latencies),
    )


def scale(bench: Bench, count: int = 1000, reroll: bool = True) -> None:
    """The rollout storm: `count` RVs and their Deployments created at once, so all `count` first
    rollouts happen together; with `reroll`, every Deployment is rolled out again once a third of the
    first round has its verdict (so before that round finishes), every fourth of those already
    verified to a regressed release. Every rv must end with its final revision verified: the second
    one, or for a regressed one the rollback's own (the second rolled back exactly once). Figures:
    the time to clear the storm, the operator's peak RSS and CPU seconds, its API requests per
    verification, and the kubesim loop's own CPU seconds where it is kubesim."""
    ns = "scale"
    bench.namespace(ns)
    obs = bench.observer
    names = [f"s{i}" for i in range(count)]
    cpu_before = bench.operator_usage()[1]
    sim_cpu_before = bench.sim.loop_cpu()
    bench.sim.reset_request_counts()
    start = time.monotonic()
    bench.create_many(
        [("apps/v1", "deployments", ns, _deployment(n, "shop:r1")) for n in names]
        # a verification waits its turn behind the storm: on the real control plane on 2 cores the
        # Jobs of the second round start minutes late, and 120 s would end them in Error (timeout)
        + [("releaseguard.io/v1alpha1", "releaseverifications", ns, _rv(n, ns, 1200)) for n in names]
    )
    if not reroll:
        _scale_wait(bench, ns, names, {n: 1 for n in names}, start)
    else:
        bench.wait(lambda: sum((ns, n, 1) in obs.verdict for n in names) >= count // 3, 900, "a third of round 1")
        verified = [n for n in names if obs.verdict.get((ns, n, 1), (0, ""))[1] == "Passed"]
        regressed = set(verified[::4])  # each has a verified revision to go back to
        for n in regressed:
            obs.bad_images[(ns, n)] = "2"
        rerolled_at = time.monotonic() - start
        bench.set_images(ns, [n for n in names if n not in regressed], "shop:r2")
        bench.set_images(ns, sorted(regressed), BAD_IMAGE)
        bench.record(
            f"storm of {count}: second rollout started at (round 1 verdicts then)",
            f"{rerolled_at:.1f} s ({len(verified)})",
            f"storm: every Deployment rolled out again {rerolled_at:.1f} s in, {len(verified)} of {count} first "
            f"rollouts verified by then; {len(regressed)} of them to a regressed release",
        )
        final = {n: 3 if n in regressed else 2 for n in names}
        _scale_wait(bench, ns, names, final, start)
        wrong = _storm_outcomes(bench, ns, names, regressed)
        bench.record(
            f"storm of {count}: wrong outcomes (final revision not verified, rollback missed or repeated)",
            f"{len(wrong)}",
            f"  wrong outcomes: {len(wrong)} {wrong[:5]}",
        )
        if wrong:
            raise AssertionError(f"storm: {len(wrong)} rvs without the outcome they must get: {wrong[:10]}")
    rss, cpu = bench.operator_usage()
    verifications = sum(1 for (vns, _, _) in obs.verdict if vns == ns)
    counts = bench.sim.request_counts()
    total = sum(counts.values())
    writes = sum(n for (verb, _), n in counts.items() if verb not in ("get", "list", "watch"))
    bench.record(f"storm of {count}: operator peak RSS", f"{rss:.0f} MiB", f"  operator peak RSS {rss:.0f} MiB")
    bench.record(
        f"storm of {count}: operator CPU", f"{cpu - cpu_before:.1f} s", f"  CPU {cpu - cpu_before:.1f} s for the storm"
    )
    bench.record(
        f"storm of {count}: API requests per verification",
        f"{total / verifications:.1f}",
        f"  API requests of the operator: {total} for {verifications} verifications, {total / verifications:.1f} "
        f"each ({writes / verifications:.1f} of them writes); by verb: "
        + ", ".join(f"{v} {r} {n}" for (v, r), n in sorted(counts.items(), key=lambda kv: -kv[1])[:8]),
    )
    sim_cpu = bench.sim.loop_cpu()
    if sim_cpu is not None and sim_cpu_before is not None:
        bench.record(
            f"storm of {count}: kubesim's own CPU",
            f"{sim_cpu - sim_cpu_before:.1f} s",
            f"  kubesim's event loop (API server, controllers, fake node) used {sim_cpu - sim_cpu_before:.1f} s CPU",
        )


def _storm_outcomes(bench: Bench, ns: str, names: list[str], regressed: set[str]) -> list[str]:
    obs = bench.observer
    api = bench.sim.api
    rvs = {r["metadata"]["name"]: r.get("status") or {} for r in bench.sim.call(lambda: api.list(
        "releaseguard.io/v1alpha1", "releaseverifications", ns))}  # fmt: skip
    wrong = []
    for n in names:
        status = rvs.get(n, {})
        want = 3 if n in regressed else 2
        if (status.get("currentRevision"), status.get("phase")) != (want, "Verified"):
            wrong.append(f"{n}: {status.get('phase')} at {status.get('currentRevision')}, want Verified at {want}")
        if n in regressed and obs.verdict.get((ns, n, 2), (0, ""))[1] != "Failed":
            wrong.append(f"{n}: revision 2 (regressed) {obs.verdict.get((ns, n, 2))}")
        if (n in regressed) != ((ns, n, 2) in obs.rolled_back):
            wrong.append(f"{n}: revision 2 {'not ' if n in regressed else ''}rolled back")
        rolled = [h for h in status.get("history") or [] if h.get("rolledBackTo")]
        if len(rolled) != (1 if n in regressed else 0):
            wrong.append(f"{n}: {len(rolled)} rollbacks in history")
    return wrong


def _scale_wait(bench: Bench, ns: str, names: list[str], revisions: dict[str, int], start: float) -> None:
    """Wait for every name's verdict on its final revision; record the time to clear the storm."""
    obs = bench.observer
    try:
        bench.wait(lambda: all((ns, n, revisions[n]) in obs.verdict for n in names), 900, "storm verdicts")
    except TimeoutError:
        done = sum(1 for n in names if (ns, n, revisions[n]) in obs.verdict)
        bench.record(
            f"storm of {len(names)}: cleared after", "NOT within 900 s", f"storm: only {done} had their final verdict"
        )
        raise
    last_verdict = max(obs.verdict[(ns, n, revisions[n])][0] for n in names) - start
    last_complete = max(obs.complete[(ns, n, revisions[n])] for n in names) - start
    tails = [obs.verdict[(ns, n, revisions[n])][0] - obs.complete[(ns, n, revisions[n])] for n in names]
    bench.record(
        f"storm of {len(names)}: cleared after (last rollout complete)",
        f"{last_verdict:.1f} s ({last_complete:.1f} s)",
        f"storm: {len(names)} Deployments: every final revision has its verdict {last_verdict:.1f} s after the "
        f"storm began; the controllers completed the last rollout at {last_complete:.1f} s",
    )
    bench.record(
        f"storm of {len(names)}: final rollout complete -> verdict p50/p95",
        f"{statistics.median(tails):.2f} / {_pct(tails, 95):.2f} s",
        f"  final rollout complete -> verdict per RV: median {statistics.median(tails):.2f} s, p95 {_pct(tails, 95):.2f} s",
    )


def run(backend: str) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix=f"bench-operator-{backend}-") as tmp, Bench(Path(tmp), backend) as bench:
        latency_and_requests(bench)
        unrelated_objects(bench)
        rollback_latency(bench)
        scale(
            bench,
            int(os.environ.get("BENCH_OPERATOR_SCALE", "1000")),
            os.environ.get("BENCH_OPERATOR_REROLL", "1") not in ("", "0"),
        )
        return bench.figures


def main() -> None:
    backends = [b for b in os.environ.get("BENCH_BACKENDS", "kubesim,real").split(",") if b]
    figures = {backend: run(backend) for backend in backends}
    names = list(dict.fromkeys(name for f in figures.values() for name in f))
    width = max(len(n) for n in names)
    print(f"\n{'operator, medians and p95s':<{width}}  " + "  ".join(f"{b:>22}" for b in backends))
    for name in names:
        print(f"{name:<{width}}  " + "  ".join(f"{figures[b].get(name, '-'):>22}" for b in backends))


if __name__ == "__main__":
    main()
