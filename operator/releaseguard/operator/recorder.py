"""Writing the record: one VerificationRun per run, created when the run starts and frozen at its
verdict, then retention and flakiness over the rv's records.

The reconciler calls `sync` after each reconciliation. What to write is decided by core.record;
every write goes through kube.py, and a failed write raises, so the reconciler retries the rv
(its status is already written and its decision is idempotent) until the write lands or the
object is gone (404: the namespace, the rv or the record was deleted, or the CRD is not installed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from .. import reasons
from ..api import ReleaseVerificationSpec, parse_spec
from ..api.status import status_from_wire
from ..core.baseline import Samples
from ..core.own_records import foreign_record, own_records
from ..core.record import (
    flakiness,
    newly_flaky,
    record_object,
    record_spec,
    record_status,
    retention_victims,
    revision_replicaset,
    template_hash_of,
)
from ..core.rollout import TEMPLATE_HASH_LABEL
from ..errors import NotFoundError, SpecInvalidError
from .kubeapi import KubeAPI

Obj = dict[str, Any]
Key = tuple[str, str]
logger = logging.getLogger("releaseguard")
RETENTION_EVERY_SECONDS = 600.0  # age-based retention also runs this often per rv without new runs


class Recorder:
    def __init__(self, kube: KubeAPI, clock: Callable[[], datetime]) -> None:
        self.kube = kube
        self.clock = clock
        self._created: set[Key] = set()  # (namespace, record) known to exist
        self._done: set[Key] = set()  # frozen (or gone): never written again
        self._pending: dict[Key, Obj] = {}  # verdicts computed but not yet written
        self._retained_at: dict[Key, float] = {}  # (namespace, rv) -> when retention last ran
        self._warned_missing = False
        self._just_created: set[Key] = set()  # created by this process just now: nothing to check

    async def sync(
        self,
        body: Obj,
        deployment: Obj | None,
        messages: Mapping[str, str | None],
        samples: Mapping[str, Samples] | None = None,
    ) -> None:
        meta = body.get("metadata") or {}
        namespace, rv_name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        status = status_from_wire(body.get("status"))
        run = status.last_run
        spec = _spec(body)
        if run is None or run.record is None or spec is None:
            return
        key = (namespace, run.record)
        if key in self._done:
            await self._periodic_retention(body, spec, run.record)
            return
        if run.verdict is not None and key not in self._pending:
            verdict = record_status(status, spec.checks, messages, samples)
            if verdict is not None:
                self._pending[key] = verdict.to_wire()
        if key not in self._created:
            existing = await self._existing(key)
            if existing is None:
                if not await self._create(body, spec, deployment, key):
                    return
                existing = await self._existing(key)  # None: created now; else it was there first
            if existing is not None:
                problem = foreign_record(existing, str(meta.get("uid") or ""), run)
                if problem is not None:
                    await self._refuse(body, run.record, problem)
                    self._finished(key)
                    return
                if (existing.get("status") or {}).get("verdict"):
                    self._finished(key)
                    return
            self._created.add(key)
        pending = self._pending.get(key)
        if pending is None:
            return
        try:
            await self.kube.patch_vrun_status(namespace, run.record, pending)
        except NotFoundError:
            logger.info(
                "%s/%s: VerificationRun %s is gone; its verdict is not recorded", namespace, rv_name, run.record
            )
            self._finished(key)
            return
        logger.info("%s/%s: recorded the verdict in VerificationRun %s", namespace, rv_name, run.record)
        self._finished(key)
        await self._retain(body, spec, run.record)

    async def _existing(self, key: Key) -> Obj | None:
        """The object under the record's name when one was there before this process created it."""
        if key in self._just_created:
            self._just_created.discard(key)
            return None
        try:
            return await self.kube.get_vrun(*key)
        except NotFoundError:
            return None

    async def _refuse(self, body: Obj, name: str, problem: str) -> None:
        """An object the operator did not write holds the record's name: it is left as it is, never
        written to nor believed, and said so once."""
        meta = body.get("metadata") or {}
        text = f"VerificationRun {name} was not written by the operator ({problem}); this run is not recorded"
        logger.warning("%s/%s: %s", meta.get("namespace"), meta.get("name"), text)
        try:
            await self.kube.post_event(body, reasons.RECORD_NOT_TRUSTED, text, "Warning")
        except Exception as exc:  # an Event is best effort, as every other Event
            logger.warning("could not post an Event: %s", exc)

    def _finished(self, key: Key) -> None:
        self._done.add(key)
        self._created.discard(key)
        self._pending.pop(key, None)

    async def _create(self, body: Obj, spec: ReleaseVerificationSpec, deployment: Obj | None, key: Key) -> bool:
        namespace, name = key
        status = status_from_wire(body.get("status"))
        run = status.last_run
        assert run is not None
        replicasets: list[Obj] = []
        pods: list[Obj] = []
        if deployment is not None:
            replicasets = await self.kube.replicasets_of(deployment)
            current = revision_replicaset(deployment, replicasets, run.revision)
            template_hash = template_hash_of(current)
            selector = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            if template_hash and selector:
                pods = await self.kube.pods_matching(namespace, {**selector, TEMPLATE_HASH_LABEL: template_hash})
        record = record_object(body, name, record_spec(body, spec.checks, run, deployment, replicasets, pods))
        try:
            created = await self.kube.create_vrun(namespace, record)
        except NotFoundError as exc:
            if not self._warned_missing:
                logger.warning("cannot record runs (is the VerificationRun CRD installed?): %s", exc)
                self._warned_missing = True
            self._finished(key)
            return False
        if created is not None:
            self._just_created.add(key)
            logger.info("%s: created VerificationRun %s", namespace, name)
        return True

    async def _periodic_retention(self, body: Obj, spec: ReleaseVerificationSpec, current: str) -> None:
        meta = body.get("metadata") or {}
        rv_key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        last = self._retained_at.get(rv_key)
        if last is not None and time.monotonic() - last < RETENTION_EVERY_SECONDS:
            return
        await self._retain(body, spec, current)

    async def _retain(self, body: Obj, spec: ReleaseVerificationSpec, current: str) -> None:
        """Delete what retention no longer keeps; record the flakiness of what remains."""
        meta = body.get("metadata") or {}
        namespace, rv_name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        self._retained_at[(namespace, rv_name)] = time.monotonic()
        records = own_records(await self.kube.list_vruns(namespace, rv_name), str(meta.get("uid") or ""))
        victims = set(retention_victims(records, spec.retention, self.clock(), keep=current))
        for name in sorted(victims):
            await self.kube.delete_vrun(namespace, name)
            logger.info("%s/%s: retention deleted VerificationRun %s", namespace, rv_name, name)
        kept = [r for r in records if (r.get("metadata") or {}).get("name") not in victims]
        after = flakiness(kept)
        before = status_from_wire(body.get("status")).flakiness or []
        if [f.to_wire() for f in after] == [f.to_wire() for f in before]:
            return
        try:
            await self.kube.patch_rv_flakiness(namespace, rv_name, [f.to_wire() for f in after])
        except NotFoundError:
            return
        for check in newly_flaky(before, after):
            text = (
                f"check {check.name} passed only on a retry in {check.flaky_runs} of the last {check.runs} runs "
                f"({check.rate:.0%}); see releaseguard history {rv_name}"
            )
            try:
                await self.kube.post_event(body, reasons.FLAKY_CHECK, text, "Warning")
            except Exception as exc:  # an Event is best effort, as every other Event
                logger.warning("could not post an Event: %s", exc)


def _spec(body: Obj) -> ReleaseVerificationSpec | None:
    try:
        return parse_spec(body.get("spec"))
    except SpecInvalidError:
        return None
