"""The core's state machine driven step by step the way the operator drives it, for tests of
every layer that need an rv in a given state: each step's status is written back into the RV body
the next step reads, and Jobs are created and deleted as the plan says."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from releaseguard.core.decide import Observed, Plan, Settings, decide
from support.factories import NOW, finished_job, report

Obj = dict[str, Any]
SETTINGS = Settings(runner_image="runner:test")


class Driver:
    """Applies plans to an RV body and a set of Jobs, like the API server would."""

    def __init__(self, body: Obj, settings: Settings = SETTINGS) -> None:
        self.body = body
        self.jobs: dict[str, Obj] = {}
        self.messages: dict[str, str | None] = {}
        self.settings = settings
        self.now = NOW

    def step(self, dep: Obj | None, now: datetime | None = None) -> Plan:
        self.now = now or self.now
        plan = decide(Observed(self.body, dep, dict(self.jobs), dict(self.messages), self.now), self.settings)
        self.body["status"] = plan.status.to_wire()
        for job in plan.create_jobs:
            self.jobs[job["metadata"]["name"]] = job
        for name in plan.delete_jobs:
            self.jobs.pop(name, None)
        return plan

    @property
    def status(self) -> Obj:
        return dict(self.body["status"])

    def condition(self, type_: str) -> Obj:
        return next(c for c in self.status["conditions"] if c["type"] == type_)

    def finish_all(self, text: str | None, succeeded: bool = True) -> None:
        for name, job in list(self.jobs.items()):
            self.jobs[name] = finished_job(job, succeeded, self.now)
            self.messages[name] = text

    def verify(self, dep: Obj, text: str) -> Plan:
        """Run one revision from rollout to verdict."""
        self.step(dep)
        self.finish_all(text)
        return self.step(dep)


PASS = report([("home", "Passed", True)])
FAIL = report([("home", "Failed", True)])
