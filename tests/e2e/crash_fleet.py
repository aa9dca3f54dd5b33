"""A small fleet of sample-app releases with known outcomes, for the crash and fault tests: each app
has its own Deployment, Service and rv; `roll` rolls out a healthy or a regressed release of each,
`settled` says whether every rv reached the outcome its release must get, and `Watcher` polls the
rvs in the background for states that must never be seen."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from rg_harness import Cluster, release_verification, shop_deployment, shop_service

Obj = dict[str, Any]


def app_checks(ns: str, name: str) -> list[Obj]:
    base = f"http://{name}.{ns}.svc:8080"
    common = {"critical": True, "retries": 3, "timeoutSeconds": 3}
    return [
        {"name": "health", **common, "http": {"url": f"{base}/healthz", "expectStatus": [200]}},
        {"name": "orders", **common, "http": {"url": f"{base}/api/orders", "expectStatus": [200]}},
    ]


@dataclass
class Fleet:
    cluster: Cluster
    size: int
    regressed: set[str] = field(default_factory=set)  # apps whose current release must be rolled back
    revision: int = 1  # the revision the last `roll` made

    @property
    def names(self) -> list[str]:
        return [f"app{i}" for i in range(self.size)]

    def create(self) -> None:
        objs: list[Obj] = []
        for name in self.names:
            objs += [shop_service(name), self._deployment(name, "shop:1.0", 1)]
            objs.append(release_verification(self.cluster.ns, app_checks(self.cluster.ns, name), name=name))
        self.cluster.apply(*objs)

    def _deployment(self, name: str, image: str, round_: int) -> Obj:
        dep = shop_deployment(image, name=name)
        dep["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "ROUND", "value": str(round_)}]
        return dep

    def roll(self, regressed: set[str], round_: int) -> None:
        """Roll every app to a new revision: shop:1.1-error500 for `regressed`, a healthy one else."""
        self.regressed = set(regressed)
        self.cluster.apply(
            *(self._deployment(n, "shop:1.1-error500" if n in regressed else "shop:1.0", round_) for n in self.names)
        )
        self.revision += 1

    def rvs(self) -> dict[str, Obj]:
        items = json.loads(self.cluster.kubectl("get", "rv", "-o", "json").stdout)["items"]
        return {i["metadata"]["name"]: i.get("status") or {} for i in items}

    def outcome(self, name: str, status: Obj) -> str | None:
        """None when settled as it must; else what is still missing."""
        if name in self.regressed:
            want_revision = self.revision + 1  # the rollback's own revision, verified
            last = status.get("lastRollback") or {}
            if last.get("fromRevision") != self.revision or not last.get("applied"):
                return f"rollback from revision {self.revision} not recorded: {last}"
        else:
            want_revision = self.revision
        if status.get("currentRevision") != want_revision or status.get("phase") != "Verified":
            return f"phase {status.get('phase')} at revision {status.get('currentRevision')}, want Verified at {want_revision}"
        return None

    def unsettled(self) -> dict[str, str]:
        rvs = self.rvs()
        return {n: why for n in self.names if (why := self.outcome(n, rvs.get(n, {}))) is not None}

    def catch_up(self) -> None:
        """After a settled round: the rollbacks made one more revision, so roll the other apps once
        more (same release) and every app starts the next round from the same revision."""
        self.revision += 1
        for name in self.names:
            if name not in self.regressed:
                self.cluster.kubectl("set", "env", f"deployment/{name}", f"CATCH_UP={self.revision}")

    def behind(self) -> list[str]:
        rvs = self.rvs()
        return [
            n for n in self.names if (rvs[n].get("currentRevision"), rvs[n].get("phase")) != (self.revision, "Verified")
        ]

    def rolled_back_events(self) -> dict[str, int]:
        return {n: self.cluster.event_reasons("Deployment", n).count("RolledBack") for n in self.names}

    def rollbacks_in_history(self) -> dict[str, int]:
        return {
            name: sum(1 for h in status.get("history") or [] if h.get("rolledBackTo"))
            for name, status in self.rvs().items()
        }

    def job_problems(self) -> list[str]:
        """Jobs still running, and Jobs no rv of the fleet owns."""
        problems = []
        for job in self.cluster.jobs():
            name = job["metadata"]["name"]
            if not job.get("status", {}).get("completionTime"):
                problems.append(f"{name}: still running")
            refs = job["metadata"].get("ownerReferences") or []
            owners = [r["name"] for r in refs if r["kind"] == "ReleaseVerification"]
            if not owners or owners[0] not in self.names:
                problems.append(f"{name}: owned by no rv of the fleet ({refs})")
        return problems


class Watcher(threading.Thread):
    """Polls the fleet's rvs until stopped and records every state that must never be seen: an rv
    Pending (or DeploymentNotFound) while its Deployment exists, and a recorded verdict under a
    phase that says otherwise."""

    def __init__(self, fleet: Fleet, interval: float = 0.3) -> None:
        super().__init__(daemon=True)
        self.fleet = fleet
        self.interval = interval
        self.seen: list[str] = []
        self.polls = 0
        self._stop_flag = threading.Event()

    def run(self) -> None:
        while not self._stop_flag.is_set():
            try:
                rvs = self.fleet.rvs()
            except Exception:  # a kubectl hiccup is not a finding
                rvs = {}
            self.polls += 1
            for name, status in rvs.items():
                run = status.get("lastRun") or {}
                phase = status.get("phase")
                found = [c for c in status.get("conditions") or [] if c.get("type") == "TargetFound"]
                if phase == "Pending" or (found and found[0].get("status") == "False"):
                    self.seen.append(f"{name}: {phase} {found[:1]}")
                verdict = run.get("verdict")
                ok = {"Passed": ("Verified",), "Error": ("Error",), "Failed": ("Failed", "RolledBack")}
                if verdict and phase not in ok.get(verdict, ()):
                    self.seen.append(f"{name}: phase {phase} with verdict {verdict} of revision {run.get('revision')}")
            time.sleep(self.interval)

    def stop(self) -> list[str]:
        self._stop_flag.set()
        self.join(10)
        return self.seen
