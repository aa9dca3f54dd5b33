from __future__ import annotations

from releaseguard.core.rollback import (
    ROLLBACK_FROM_ANNOTATION,
    RollbackPlan,
    RollbackRefused,
    plan_rollback,
    rolled_back_from,
)
from support.factories import deployment, replicaset


def _plan(dep: dict, sets: list[dict], to: int = 1) -> RollbackPlan:
    plan = plan_rollback(dep, sets, to, "CriticalChecksFailed")
    assert isinstance(plan, RollbackPlan), plan
    return plan


def test_patch_replaces_template_without_the_hash_label() -> None:
    dep = deployment(revision=2, image="shop:2.0")
    plan = _plan(dep, [replicaset(1, "shop:1.0"), replicaset(2, "shop:2.0")])
    ops = {op["path"]: op for op in plan.patch}
    template = ops["/spec/template"]["value"]
    assert template["spec"]["containers"][0]["image"] == "shop:1.0"
    assert "pod-template-hash" not in template["metadata"]["labels"]
    assert template["metadata"]["labels"] == {"app": "shop"}
    assert (plan.from_revision, plan.to_revision) == (2, 1)


def test_patch_tests_the_current_revision_first() -> None:
    plan = _plan(deployment(revision=5, image="shop:5"), [replicaset(3, "shop:3")], to=3)
    assert plan.patch[0] == {
        "op": "test",
        "path": "/metadata/annotations/deployment.kubernetes.io~1revision",
        "value": "5",
    }


def test_annotations_keep_the_deployments_skipped_keys_and_take_the_rest_from_the_replicaset() -> None:
    dep = deployment(
        revision=2,
        image="shop:2.0",
        annotations={
            "kubectl.kubernetes.io/last-applied-configuration": "{new}",
            "deployment.kubernetes.io/revision-history": "1",
            "team": "new",
            "only-on-deployment": "x",
        },
    )
    old = replicaset(
        1,
        "shop:1.0",
        annotations={
            "kubectl.kubernetes.io/last-applied-configuration": "{old}",
            "deployment.kubernetes.io/desired-replicas": "2",
            "team": "old",
        },
    )
    plan = _plan(dep, [old])
    annotations = next(op for op in plan.patch if op["path"] == "/metadata/annotations")["value"]
    assert annotations["kubectl.kubernetes.io/last-applied-configuration"] == "{new}"
    assert annotations["deployment.kubernetes.io/revision"] == "2"
    assert annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert "deployment.kubernetes.io/desired-replicas" not in annotations
    assert annotations["team"] == "old"
    assert "only-on-deployment" not in annotations
    assert annotations[ROLLBACK_FROM_ANNOTATION] == "2"
    assert annotations["releaseguard.io/rolled-back-to-revision"] == "1"
    assert annotations["releaseguard.io/rollback-reason"] == "CriticalChecksFailed"


def test_refuses_a_paused_deployment() -> None:
    dep = deployment(revision=2, image="shop:2.0", paused=True)
    refused = plan_rollback(dep, [replicaset(1, "shop:1.0")], 1, "x")
    assert isinstance(refused, RollbackRefused)
    assert refused.reason == "DeploymentPaused"


def test_refuses_when_the_revision_is_gone() -> None:
    refused = plan_rollback(deployment(revision=3, image="b"), [replicaset(2, "a")], 1, "x")
    assert isinstance(refused, RollbackRefused)
    assert refused.reason == "RevisionNotFound"
    assert "revision 1" in refused.message


def test_ignores_replicasets_of_other_deployments() -> None:
    refused = plan_rollback(deployment(revision=2, image="b"), [replicaset(1, "a", owner_uid="other")], 1, "x")
    assert isinstance(refused, RollbackRefused)
    assert refused.reason == "RevisionNotFound"


def test_skips_when_the_template_already_matches() -> None:
    refused = plan_rollback(deployment(revision=3, image="shop:1.0"), [replicaset(1, "shop:1.0")], 1, "x")
    assert isinstance(refused, RollbackRefused)
    assert refused.reason == "TemplateAlreadyMatches"


def test_refuses_without_a_revision() -> None:
    refused = plan_rollback(deployment(revision=None), [replicaset(1, "a")], 1, "x")
    assert isinstance(refused, RollbackRefused)
    assert refused.reason == "NoRevision"


def test_rolled_back_from_reads_our_annotation() -> None:
    assert rolled_back_from(deployment(annotations={ROLLBACK_FROM_ANNOTATION: "4"})) == 4
    assert rolled_back_from(deployment()) is None
    assert rolled_back_from(deployment(annotations={ROLLBACK_FROM_ANNOTATION: "x"})) is None
