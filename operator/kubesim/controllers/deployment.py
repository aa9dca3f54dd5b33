"""The Deployment controller, faithful to the real one where `kubectl rollout status/undo` and
ReleaseGuard depend on it: one ReplicaSet per pod template, revisions and revision-history,
annotation copying, RollingUpdate and Recreate, pause, progress deadline, history pruning, status."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable

from kubesim import clock
from kubesim.apiserver.store import StoreClusterAPI
from kubesim.cluster import Obj
from kubesim.controllers import deployment_util as du
from kubesim.controllers.base import Controller, Key, controller_ref, key_of, owner_ref
from kubesim.errors import ApiError


class DeploymentController(Controller):
    name = "deployment-controller"

    def __init__(self, api: StoreClusterAPI) -> None:
        super().__init__(api)
        # When each Deployment last progressed, to the microsecond: conditions carry whole seconds, and
        # timing a short progressDeadlineSeconds from a truncated lastUpdateTime would stall rollouts early.
        self._progressed: dict[Key, dt.datetime] = {}

    def watches(self) -> list[tuple[str, str, Callable[[str, Obj], None]]]:
        return [("apps/v1", "deployments", self._on_deploy), ("apps/v1", "replicasets", self._on_rs)]

    def _on_deploy(self, type_: str, d: Obj) -> None:
        if type_ != "DELETED":
            self.enqueue(key_of(d))
        else:
            self._progressed.pop(key_of(d), None)

    def _on_rs(self, type_: str, rs: Obj) -> None:
        ref = controller_ref(rs)
        if ref and ref.get("kind") == "Deployment":
            self.enqueue((rs["metadata"].get("namespace", ""), ref["name"]))

    async def reconcile(self, key: Key) -> None:
        ns, name = key
        d = await self.api.get("apps/v1", "deployments", ns, name)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        uid = d["metadata"]["uid"]
        rss = [
            rs
            for rs in await self.api.list_owned("apps/v1", "replicasets", uid)
            if any(r.get("uid") == uid and r.get("controller") for r in rs["metadata"].get("ownerReferences") or [])
        ]
        paused = bool(d["spec"].get("paused"))
        new_rs = next(
            (
                rs
                for rs in sorted(rss, key=lambda r: r["metadata"]["creationTimestamp"])
                if du.same_template(rs["spec"]["template"], d["spec"]["template"])
            ),
            None,
        )
        old_rss = [rs for rs in rss if rs is not new_rs]
        created = False
        if not paused:
            new_rs, created = await self._sync_new_rs(d, new_rs, old_rss)
        elif new_rs is not None:
            await self._sync_revision(d, new_rs)
        if not paused and new_rs is not None:
            if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
                await self._recreate(d, new_rs, old_rss)
            else:
                await self._rolling(d, new_rs, old_rss)
        elif paused:
            await self._scale_paused(d, new_rs, old_rss)
        await self._status(d, new_rs, old_rss, created)

    # ---- the new ReplicaSet -----------------------------------------------------------------

    async def _sync_revision(self, d: Obj, rs: Obj) -> None:
        rev = str(du.revision(rs))
        if (d["metadata"].get("annotations") or {}).get(du.REVISION) != rev:
            d["metadata"].setdefault("annotations", {})[du.REVISION] = rev
            d.update(await self.api.update("apps/v1", "deployments", d))

    async def _sync_new_rs(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> tuple[Obj, bool]:
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        new_revision = max((du.revision(rs) for rs in old_rss), default=0) + 1
        replicas = int(d["spec"].get("replicas", 1))
        surge, _ = du.surge_and_unavailable(d)
        created = False
        if new_rs is not None:
            rs = copy.deepcopy(new_rs)
            changed = du.copy_annotations(d, rs)
            changed = du.set_new_rs_revision(rs, new_revision) or changed
            if rs["spec"].get("minReadySeconds", 0) != d["spec"].get("minReadySeconds", 0):
                rs["spec"]["minReadySeconds"] = d["spec"].get("minReadySeconds", 0)
                changed = True
            if changed:
                rs = await self.api.update("apps/v1", "replicasets", rs)
        else:
            h = du.template_hash(d["spec"]["template"], int((d.get("status") or {}).get("collisionCount", 0)))
            template = copy.deepcopy(d["spec"]["template"])
            template.setdefault("metadata", {}).setdefault("labels", {})[du.HASH_LABEL] = h
            selector = copy.deepcopy(d["spec"]["selector"])
            selector.setdefault("matchLabels", {})[du.HASH_LABEL] = h
            rs = {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{name}-{h}",
                    "namespace": ns,
                    "labels": dict(template["metadata"]["labels"]),
                    "annotations": {},
                    "ownerReferences": [owner_ref(d)],
                },
                "spec": {
                    "replicas": 0,
                    "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                    "selector": selector,
                    "template": template,
                },
            }
            du.copy_annotations(d, rs)
            du.set_new_rs_revision(rs, new_revision)
            du.set_replicas_annotations(rs, replicas, replicas + surge)
            rs["spec"]["replicas"] = self._new_rs_replicas(d, 0, [*old_rss])
            try:
                rs = await self.api.create("apps/v1", "replicasets", ns, rs)
            except ApiError as err:
                if err.reason != "AlreadyExists":
                    raise
                return await self._name_taken(d, rs), False
            created = True
            if rs["spec"]["replicas"] > 0:
                await self.api.record_event(
                    d,
                    "ScalingReplicaSet",
                    f"Scaled up replica set {rs['metadata']['name']} from 0 to {rs['spec']['replicas']}",
                )
        await self._sync_revision(d, rs)
        return rs, created

    async def _name_taken(self, d: Obj, wanted: Obj) -> Obj:
        """The new ReplicaSet's name is taken: adopt an orphan with our template (left by a delete with
        --cascade=orphan), or count a hash collision so the next attempt picks another name."""
        ns, name = wanted["metadata"]["namespace"], wanted["metadata"]["name"]
        existing = await self.api.get("apps/v1", "replicasets", ns, name)
        if (
            existing is not None
            and controller_ref(existing) is None
            and du.same_template(existing["spec"]["template"], d["spec"]["template"])
        ):
            existing["metadata"]["ownerReferences"] = [
                *(existing["metadata"].get("ownerReferences") or []),
                owner_ref(d),
            ]
            return await self.api.update("apps/v1", "replicasets", existing)
        status = dict(d.get("status") or {})
        status["collisionCount"] = int(status.get("collisionCount", 0)) + 1
        d["status"] = status
        await self.api.update("apps/v1", "deployments", d, subresource="status")
        raise ApiError(
            409,
            f'replica set "{name}" exists with another template; retrying with collisionCount {status["collisionCount"]}',
            "Conflict",
        )

    def _new_rs_replicas(self, d: Obj, current: int, others: list[Obj]) -> int:
        replicas = int(d["spec"].get("replicas", 1))
        if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            return (
                replicas
                if all(
                    int(rs["spec"].get("replicas", 0)) == 0 and int((rs.get("status") or {}).get("replicas", 0)) == 0
                    for rs in others
                )
                else current
            )
        surge, _ = du.surge_and_unavailable(d)
        total = current + sum(int(rs["spec"].get("replicas", 0)) for rs in others)
        if total >= replicas + surge:
            return min(current, replicas)
        return current + min(replicas + surge - total, max(replicas - current, 0))

    async def _scale(self, d: Obj, rs: Obj, to: int) -> Obj:
        frm = int(rs["spec"].get("replicas", 0))
        replicas = int(d["spec"].get("replicas", 1))
        surge, _ = du.surge_and_unavailable(d)
        rs = copy.deepcopy(rs)
        changed = du.set_replicas_annotations(rs, replicas, replicas + surge)
        if frm == to and not changed:
            return rs
        rs["spec"]["replicas"] = to
        rs = await self.api.update("apps/v1", "replicasets", rs)
        if frm != to:
            direction = "up" if to > frm else "down"
            await self.api.record_event(
                d, "ScalingReplicaSet", f"Scaled {direction} replica set {rs['metadata']['name']} from {frm} to {to}"
            )
        return rs

    # ---- strategies -------------------------------------------------------------------------

    async def _rolling(self, d: Obj, new_rs: Obj, old_rss: list[Obj]) -> None:
        replicas = int(d["spec"].get("replicas", 1))
        cur = int(new_rs["spec"].get("replicas", 0))
        if cur > replicas:
            new_rs.update(await self._scale(d, new_rs, replicas))
        elif cur < replicas:
            new_rs.update(await self._scale(d, new_rs, self._new_rs_replicas(d, cur, old_rss)))
        _, max_unavailable = du.surge_and_unavailable(d)
        old_total = sum(int(rs["spec"].get("replicas", 0)) for rs in old_rss)
        if old_total == 0:
            return
        all_total = old_total + int(new_rs["spec"].get("replicas", 0))
        min_available = replicas - max_unavailable
        new_unavailable = int(new_rs["spec"].get("replicas", 0)) - int(
            (new_rs.get("status") or {}).get("availableReplicas", 0)
        )
        budget = all_total - min_available - new_unavailable
        if budget <= 0:
            return
        oldest_first = sorted(old_rss, key=lambda rs: (rs["metadata"]["creationTimestamp"], rs["metadata"]["name"]))
        # First old pods that are not available anyway, then available ones down to minAvailable.
        for rs in oldest_first:
            if budget <= 0:
                break
            spec_r = int(rs["spec"].get("replicas", 0))
            unhealthy = spec_r - int((rs.get("status") or {}).get("availableReplicas", 0))
            cut = min(max(unhealthy, 0), budget, spec_r)
            if cut > 0:
                rs.update(await self._scale(d, rs, spec_r - cut))
                budget -= cut
        available = sum(int((rs.get("status") or {}).get("availableReplicas", 0)) for rs in [new_rs, *old_rss])
        can_remove = min(available - min_available, budget)
        for rs in oldest_first:
            if can_remove <= 0:
                break
            spec_r = int(rs["spec"].get("replicas", 0))
            cut = min(spec_r, can_remove)
            if cut > 0:
                rs.update(await self._scale(d, rs, spec_r - cut))
                can_remove -= cut

    async def _recreate(self, d: Obj, new_rs: Obj, old_rss: list[Obj]) -> None:
        for rs in old_rss:
            if int(rs["spec"].get("replicas", 0)) > 0:
                rs.update(await self._scale(d, rs, 0))
        if any(int((rs.get("status") or {}).get("replicas", 0)) > 0 for rs in old_rss):
            return  # old pods still running: wait for them to go
        replicas = int(d["spec"].get("replicas", 1))
        if int(new_rs["spec"].get("replicas", 0)) != replicas:
            new_rs.update(await self._scale(d, new_rs, replicas))

    async def _scale_paused(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        replicas = int(d["spec"].get("replicas", 1))
        active = [rs for rs in ([new_rs] if new_rs else []) + old_rss if int(rs["spec"].get("replicas", 0)) > 0]
        if len(active) == 1 and int(active[0]["spec"]["replicas"]) != replicas:
            active[0].update(await self._scale(d, active[0], replicas))

    # ---- status -----------------------------------------------------------------------------

    async def _status(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj], created: bool) -> None:
        all_rss = ([new_rs] if new_rs else []) + old_rss
        replicas = int(d["spec"].get("replicas", 1))

        def total(field: str, rss: list[Obj]) -> int:
            return sum(int((rs.get("status") or {}).get(field, 0)) for rs in rss)

        _, max_unavailable = du.surge_and_unavailable(d)
        old_status = d.get("status") or {}
        status: Obj = {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": total("replicas", all_rss),
            "updatedReplicas": total("replicas", [new_rs] if new_rs else []),
            "readyReplicas": total("readyReplicas", all_rss),
            "availableReplicas": total("availableReplicas", all_rss),
            "unavailableReplicas": max(replicas - total("availableReplicas", all_rss), 0),
            "conditions": copy.deepcopy(old_status.get("conditions") or []),
        }
        if "collisionCount" in old_status:
            status["collisionCount"] = old_status["collisionCount"]
        now = clock.now_str()
        if status["availableReplicas"] >= replicas - max_unavailable:
            du.set_condition(
                status, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now
            )
        else:
            du.set_condition(
                status,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
            )
        rs_name = new_rs["metadata"]["name"] if new_rs else ""
        deadline = d["spec"].get("progressDeadlineSeconds")
        complete = (
            status["updatedReplicas"] == replicas
            and status["replicas"] == replicas
            and status["availableReplicas"] == replicas
            and new_rs is not None
        )
        progressing = du.condition(old_status, "Progressing")
        if d["spec"].get("paused"):
            if not progressing or progressing.get("reason") != "DeploymentPaused":
                du.set_condition(status, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now)
        elif progressing and progressing.get("reason") == "DeploymentPaused":
            du.set_condition(status, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", now)
            self._progressed[key_of(d)] = clock.now()
        elif complete:
            du.set_condition(
                status,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                now,
            )
        elif created:
            du.set_condition(
                status, "Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{rs_name}"', now
            )
            self._progressed[key_of(d)] = clock.now()
        elif (new_rs is not None and self._made_progress(old_status, status)) or (
            progressing and progressing.get("reason") == "NewReplicaSetAvailable"
        ):
            du.set_condition(
                status,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                now,
                touch=True,
            )
            self._progressed[key_of(d)] = clock.now()
        elif (
            deadline is not None
            and progressing
            and progressing.get("status") == "True"
            and progressing.get("reason") != "NewReplicaSetAvailable"
        ):
            last = clock.parse(progressing.get("lastUpdateTime"))
            precise = self._progressed.get(key_of(d))
            if last is not None and precise is not None and precise > last:
                last = precise
            if last is not None:
                left = (last - clock.now()).total_seconds() + float(deadline)
                if left <= 0:
                    du.set_condition(
                        status,
                        "Progressing",
                        "False",
                        "ProgressDeadlineExceeded",
                        f'ReplicaSet "{rs_name}" has timed out progressing.',
                        now,
                    )
                    await self.api.record_event(
                        d, "ProgressDeadlineExceeded", f'ReplicaSet "{rs_name}" has timed out progressing.', "Warning"
                    )
                else:
                    self.enqueue_after(key_of(d), left + 0.05)
        cur = du.condition(status, "Progressing")
        if (
            deadline is not None
            and cur
            and cur.get("status") == "True"
            and cur.get("reason") != "NewReplicaSetAvailable"
        ):
            self.enqueue_after(key_of(d), float(deadline) + 0.05)
        if complete and not d["spec"].get("paused"):
            await self._cleanup(d, old_rss)
        if status != old_status:
            d["status"] = status
            await self.api.update("apps/v1", "deployments", d, subresource="status")

    @staticmethod
    def _made_progress(old: Obj, new: Obj) -> bool:
        return any(
            int(new.get(f, 0)) > int(old.get(f, 0)) for f in ("updatedReplicas", "readyReplicas", "availableReplicas")
        ) or int(new.get("replicas", 0)) - int(new.get("updatedReplicas", 0)) < int(old.get("replicas", 0)) - int(
            old.get("updatedReplicas", 0)
        )

    async def _cleanup(self, d: Obj, old_rss: list[Obj]) -> None:
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        idle = [
            rs
            for rs in old_rss
            if int(rs["spec"].get("replicas", 0)) == 0
            and int((rs.get("status") or {}).get("replicas", 0)) == 0
            and not rs["metadata"].get("deletionTimestamp")
        ]
        excess = len(idle) - int(limit)
        for rs in sorted(idle, key=du.revision)[: max(excess, 0)]:
            await self.api.delete("apps/v1", "replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])
