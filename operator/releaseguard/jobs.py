"""Pure builders of probe Job manifests.

One runner Job runs every network check (http, tcp, prometheus) in the runner image; each
command/python/pytest check gets its own Job in the target's image and environment. Names are
deterministic (`rv-<name>-r<revision>-<hash>`), so a restarted operator finds the Jobs it made
instead of making them twice. Every pod gets the restricted pod-security profile.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from .api import API_VERSION, KIND, TARGET_IMAGE, Check, ReleaseVerification
from .checks.headers import secret_env_name
from .defaults import RUNNER_IMAGE

Obj = dict[str, Any]

DEFAULT_RUNNER_IMAGE: Final = RUNNER_IMAGE
RV_LABEL: Final = "releaseguard.io/releaseverification"
REVISION_LABEL: Final = "releaseguard.io/revision"
CHECKS_ANNOTATION: Final = "releaseguard.io/checks"
TERMINATION_LOG: Final = "/dev/termination-log"
RUNNER_UID: Final = 65532
DEFAULT_TTL_SECONDS: Final = 3600
NETWORK_TYPES: Final = frozenset({"http", "tcp", "prometheus"})
RUNNER_GROUP: Final = "runner"
SCRIPT_DIR: Final = "/etc/releaseguard"  # where a check Job in the target's image finds its script
SCRIPT_FILE: Final = "check.py"
SCRIPT_VOLUME: Final = "releaseguard-check-script"


@dataclass(frozen=True)
class JobGroup:
    """Checks that run together in one Job."""

    key: str  # "runner", or the check's name for a check in its own Job
    checks: tuple[Check, ...]

    @property
    def is_runner(self) -> bool:
        return self.key == RUNNER_GROUP


def group_checks(checks: Sequence[Check]) -> list[JobGroup]:
    network = tuple(c for c in checks if c.type in NETWORK_TYPES)
    groups = [JobGroup(RUNNER_GROUP, network)] if network else []
    groups += [JobGroup(c.name, (c,)) for c in checks if c.type not in NETWORK_TYPES]
    return groups


def job_name(rv_name: str, revision: int, group_key: str) -> str:
    digest = hashlib.sha256(f"{rv_name}/{revision}/{group_key}".encode()).hexdigest()[:6]
    suffix = f"-r{revision}-{digest}"
    return f"rv-{rv_name[: 63 - 3 - len(suffix)].rstrip('-.')}{suffix}"


def job_names(rv: ReleaseVerification, revision: int) -> list[str]:
    return [job_name(rv.name, revision, g.key) for g in group_checks(rv.spec.checks)]


def labels_for(rv_name: str, revision: int) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "releaseguard-probe",
        "app.kubernetes.io/instance": rv_name[:63],
        "app.kubernetes.io/component": "probe",
        "app.kubernetes.io/part-of": "releaseguard",
        "app.kubernetes.io/managed-by": "releaseguard",
        RV_LABEL: rv_name[:63],
        REVISION_LABEL: str(revision),
    }


# --- pod security --------------------------------------------------------------------------


def restricted_container_context(existing: Obj | None, read_only_root: bool) -> Obj:
    """The container's own securityContext, with the restricted profile's fields added where unset."""
    ctx = copy.deepcopy(existing or {})
    ctx.setdefault("allowPrivilegeEscalation", False)
    ctx.setdefault("runAsNonRoot", True)
    ctx.setdefault("seccompProfile", {"type": "RuntimeDefault"})
    caps = ctx.setdefault("capabilities", {})
    drops = caps.setdefault("drop", [])
    if "ALL" not in drops:
        drops.append("ALL")
    if read_only_root:
        ctx.setdefault("readOnlyRootFilesystem", True)
    return ctx


def restricted_pod_context(existing: Obj | None) -> Obj:
    ctx = copy.deepcopy(existing or {})
    ctx.setdefault("runAsNonRoot", True)
    ctx.setdefault("seccompProfile", {"type": "RuntimeDefault"})
    return ctx


# --- the runner Job -------------------------------------------------------------------------


def runner_checks(checks: Sequence[Check]) -> tuple[list[Obj], list[Obj]]:
    """The checks as the runner reads them, and the env vars that carry their secret headers.

    The runner reads a header's `valueFrom.secretKeyRef` from the env var `secret_env_name(ref)`;
    the Job sets that variable from the Secret, so no secret value is written into the Job, its
    command line or a report. The same convention lets `releaseguard probe` run an rv by hand.
    """
    env: dict[str, Obj] = {}
    for check in checks:
        for header in check.http.headers if check.http is not None else []:
            ref = header.value_from.secret_key_ref if header.value_from is not None else None
            if ref is not None:
                var = secret_env_name(ref)
                env[var] = {"name": var, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}
    return [check.to_wire() for check in checks], list(env.values())


def _runner_pod(rv: ReleaseVerification, checks: Sequence[Check], image: str) -> Obj:
    wire_checks, env = runner_checks(checks)
    command = [
        "releaseguard",
        "probe",
        "--checks-json",
        json.dumps({"checks": wire_checks}, separators=(",", ":")),
        "--parallelism",
        str(rv.spec.parallelism),
        "--termination-log",
        TERMINATION_LOG,
    ]
    runner = rv.spec.runner
    container: Obj = {
        "name": "probe",
        "image": image,
        "command": command,
        "env": env,
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": restricted_container_context({"runAsUser": RUNNER_UID}, read_only_root=True),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if runner is not None and runner.resources is not None:
        container["resources"] = runner.resources.to_wire()
    pod: Obj = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": bool(runner and runner.service_account_name),
        "securityContext": restricted_pod_context({"runAsUser": RUNNER_UID, "runAsGroup": RUNNER_UID}),
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if runner is not None:
        if runner.service_account_name:
            pod["serviceAccountName"] = runner.service_account_name
        if runner.node_selector:
            pod["nodeSelector"] = dict(runner.node_selector)
        if runner.tolerations:
            pod["tolerations"] = [t.to_wire() for t in runner.tolerations]
    return pod


# --- a Job in the target's image -------------------------------------------------------------

_TARGET_CONTAINER_KEYS: Final = (
    "image",
    "imagePullPolicy",
    "env",
    "envFrom",
    "volumeMounts",
    "workingDir",
    "resources",
)
_TARGET_POD_KEYS: Final = (
    "volumes",
    "serviceAccountName",
    "imagePullSecrets",
    "nodeSelector",
    "tolerations",
    "affinity",
    "hostAliases",
    "dnsConfig",
    "dnsPolicy",
)

ContainerCommand = Callable[..., list[str]]


def _container_command() -> ContainerCommand:
    # P's runner owns how a single check runs inside an arbitrary image.
    module = importlib.import_module("releaseguard.checks.standalone")
    return cast(ContainerCommand, module.container_command)


def script_configmap_name(rv_name: str) -> str:
    return f"rv-{rv_name[: 253 - 17]}-check-script"


def script_configmap(rv: ReleaseVerification, uid: str) -> Obj:
    """The ConfigMap holding the check script that Jobs in the target's image run (one per RV,
    owned by it), so `kubectl get job -o yaml` shows a short command instead of the script."""
    module = importlib.import_module("releaseguard.checks.standalone")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": script_configmap_name(rv.name),
            "namespace": rv.namespace,
            "labels": {k: v for k, v in labels_for(rv.name, 0).items() if k != REVISION_LABEL},
            "ownerReferences": [_owner(rv, uid)],
        },
        "data": {SCRIPT_FILE: cast(Callable[[], str], module.script_source)()},
    }


def uses_script(job: Obj) -> bool:
    """Whether the Job mounts the check-script ConfigMap (a check in the target's image)."""
    volumes = ((job.get("spec") or {}).get("template") or {}).get("spec", {}).get("volumes") or []
    return any(v.get("name") == SCRIPT_VOLUME for v in volumes)


def _owner(rv: ReleaseVerification, uid: str) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": rv.name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _target_pod(check: Check, deployment: Obj, rv_name: str) -> Obj:
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = spec.get("containers") or [{}]
    source: Obj = containers[0]
    image = getattr(check.config, "image", TARGET_IMAGE)
    container: Obj = {"name": "probe"}
    if image == TARGET_IMAGE:
        container.update({k: copy.deepcopy(source[k]) for k in _TARGET_CONTAINER_KEYS if k in source})
    else:
        container["image"] = image
    working_dir = getattr(check.config, "working_dir", None)
    if working_dir:
        container["workingDir"] = working_dir
    container["command"] = _container_command()(
        check, termination_log=TERMINATION_LOG, script_path=f"{SCRIPT_DIR}/{SCRIPT_FILE}"
    )
    mount = {"name": SCRIPT_VOLUME, "mountPath": SCRIPT_DIR, "readOnly": True}
    container["volumeMounts"] = [*container.get("volumeMounts", []), mount]
    container["terminationMessagePath"] = TERMINATION_LOG
    container["terminationMessagePolicy"] = "FallbackToLogsOnError"
    own_ctx = source.get("securityContext") if image == TARGET_IMAGE else None
    container["securityContext"] = restricted_container_context(own_ctx, read_only_root=False)
    pod: Obj = {"restartPolicy": "Never", "containers": [container]}
    if image == TARGET_IMAGE:
        pod.update({k: copy.deepcopy(spec[k]) for k in _TARGET_POD_KEYS if k in spec})
    pod["securityContext"] = restricted_pod_context(spec.get("securityContext") if image == TARGET_IMAGE else None)
    script = {"name": SCRIPT_VOLUME, "configMap": {"name": script_configmap_name(rv_name), "defaultMode": 0o444}}
    pod["volumes"] = [*pod.get("volumes", []), script]
    return pod


# --- the Jobs of one verification ------------------------------------------------------------


def build_jobs(
    rv: ReleaseVerification,
    uid: str,
    deployment: Obj,
    revision: int,
    runner_image: str = DEFAULT_RUNNER_IMAGE,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
) -> list[Obj]:
    """The probe Jobs verifying `revision` of `deployment`, owned by the RV."""
    image = (rv.spec.runner.image if rv.spec.runner and rv.spec.runner.image else None) or runner_image
    labels = labels_for(rv.name, revision)
    owner = _owner(rv, uid)
    jobs = []
    for group in group_checks(rv.spec.checks):
        if group.is_runner:
            pod = _runner_pod(rv, group.checks, image)
        else:
            pod = _target_pod(group.checks[0], deployment, rv.name)
        jobs.append(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "name": job_name(rv.name, revision, group.key),
                    "namespace": rv.namespace,
                    "labels": dict(labels),
                    "annotations": {CHECKS_ANNOTATION: ",".join(c.name for c in group.checks)},
                    "ownerReferences": [owner],
                },
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": rv.spec.timeout_seconds,
                    "ttlSecondsAfterFinished": ttl_seconds,
                    "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
                },
            }
        )
    return jobs


def checks_of(job: Obj) -> list[str]:
    raw = ((job.get("metadata") or {}).get("annotations") or {}).get(CHECKS_ANNOTATION) or ""
    return [n for n in str(raw).split(",") if n]


def revision_label(job: Obj) -> int | None:
    raw = ((job.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL)
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def job_finished(job: Obj) -> str | None:
    """'Complete' or 'Failed' once the Job is done, else None."""
    status = job.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return str(condition["type"])
    if (status.get("succeeded") or 0) >= 1:
        return "Complete"
    if (status.get("failed") or 0) >= 1:
        return "Failed"
    return None


def job_failure_message(job: Obj) -> str:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            reason = condition.get("reason") or "Failed"
            message = condition.get("message") or ""
            return f"{reason}: {message}" if message else str(reason)
    return "the Job failed"
