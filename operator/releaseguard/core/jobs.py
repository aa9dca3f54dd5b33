"""Pure builders of probe Job manifests.

One runner Job runs every check the registry places in the runner (Placement.RUNNER: http, tcp,
prometheus) in the runner image; each target-image check (command, python, pytest) gets its own
Job in the target's image and environment. The env var names, commands, script location and
termination-log path are contract.py's; nothing here imports a check implementation (the script and
its launcher, probe/checks/_script.py and _launch.py, are read as text). Names are
deterministic (`rv-<name>-r<revision>-<hash>`), so a restarted operator finds the Jobs it made
instead of making them twice. Every pod gets the restricted pod-security profile.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from ..api import API_VERSION, KIND, TARGET_IMAGE, Check, Placement, ReleaseVerification
from ..contract import (
    DENIED_NETWORKS_ENV,
    PROBE_CONTAINER,
    SCRIPT_DIR,
    SCRIPT_FILE,
    TARGET_PODS_ENV,
    TERMINATION_LOG_PATH,
    TERMINATION_MESSAGE_POLICY,
    check_payload,
    interpreter,
    revision_env,
    runner_command,
    script_source,
    secret_env_name,
)
from ..defaults import RUNNER_IMAGE
from .podsecurity import (
    PodSecurityRefused,
    restricted_container_context,
    restricted_pod_context,
    restricted_target_parts,
)

Obj = dict[str, Any]

DEFAULT_RUNNER_IMAGE: Final = RUNNER_IMAGE
RV_LABEL: Final = "releaseguard.io/releaseverification"
REVISION_LABEL: Final = "releaseguard.io/revision"
CHECKS_ANNOTATION: Final = "releaseguard.io/checks"
RUNNER_UID: Final = 65532
DEFAULT_TTL_SECONDS: Final = 3600
RUNNER_GROUP: Final = "runner"
SCRIPT_VOLUME: Final = "releaseguard-check-script"


@dataclass(frozen=True)
class JobGroup:
    """Checks that run together in one Job."""

    key: str  # "runner", or the check's name for a check in its own Job
    checks: tuple[Check, ...]
    is_runner: bool = False

    @property
    def name_key(self) -> str:
        # distinct for the runner and a check that happens to be named "runner"
        return RUNNER_GROUP if self.is_runner else f"check/{self.key}"


def group_checks(checks: Sequence[Check]) -> list[JobGroup]:
    network = tuple(c for c in checks if c.placement is Placement.RUNNER)
    groups = [JobGroup(RUNNER_GROUP, network, is_runner=True)] if network else []
    groups += [JobGroup(c.name, (c,)) for c in checks if c.placement is not Placement.RUNNER]
    return groups


def _digest(value: Any, length: int = 10) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:length]


def checks_digest(checks: Sequence[Check]) -> str:
    """A digest of the checks as the spec states them: a change re-verifies the current revision."""
    return _digest([c.to_wire() for c in checks])


def template_hash(deployment: Obj) -> str:
    """A digest of the Deployment's pod template: what the revision runs."""
    return _digest(((deployment.get("spec") or {}).get("template")) or {})


def run_key(deployment: Obj, checks: Sequence[Check], rerun: str | None = None) -> str:
    """What a run verifies: the target's uid, its pod template and the checks (and, for a re-run,
    its request). Part of every Job name, so a recreated Deployment, changed checks or a re-run
    never meet the Jobs of another run."""
    uid = str((deployment.get("metadata") or {}).get("uid") or "")
    key = f"{uid}/{template_hash(deployment)}/{checks_digest(checks)}"
    return f"{key}/{rerun}" if rerun else key


def job_name(rv_name: str, revision: int, group_key: str, key: str = "") -> str:
    digest = hashlib.sha256(f"{rv_name}/{revision}/{group_key}/{key}".encode()).hexdigest()[:6]
    suffix = f"-r{revision}-{digest}"
    return f"rv-{rv_name[: 63 - 3 - len(suffix)].rstrip('-.')}{suffix}"


def jobs_of_run(rv: ReleaseVerification, revision: int, key: str) -> dict[str, JobGroup]:
    """The Jobs of one run, by name, and the checks each runs."""
    return {job_name(rv.name, revision, g.name_key, key): g for g in group_checks(rv.spec.checks)}


def label_value(text: str) -> str:
    """`text` as a valid label value: at most 63 characters, starting and ending alphanumeric; a
    shortened value ends in a digest of the whole, so two long names never share a label."""
    if len(text) <= 63:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: 63 - 9].rstrip('-._')}-{digest}"


def labels_for(rv_name: str, revision: int) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "releaseguard-probe",
        "app.kubernetes.io/instance": label_value(rv_name),
        "app.kubernetes.io/component": "probe",
        "app.kubernetes.io/part-of": "releaseguard",
        "app.kubernetes.io/managed-by": "releaseguard",
        RV_LABEL: label_value(rv_name),
        REVISION_LABEL: str(revision),
    }


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


def _runner_pod(
    rv: ReleaseVerification,
    checks: Sequence[Check],
    image: str,
    denied: Sequence[str],
    target_pods: Sequence[tuple[str, str]] = (),
    revisions: Mapping[str, str | None] | None = None,
) -> Obj:
    wire_checks, env = runner_checks(checks)
    if denied:
        env.append({"name": DENIED_NETWORKS_ENV, "value": ",".join(denied)})
    if target_pods:
        pods = [{"name": n, "ip": ip} for n, ip in target_pods]
        env.append({"name": TARGET_PODS_ENV, "value": json.dumps(pods, separators=(",", ":"))})
    env += revision_env(revisions or {})
    command = runner_command(wire_checks, rv.spec.parallelism, TERMINATION_LOG_PATH)
    runner = rv.spec.runner
    container: Obj = {
        "name": PROBE_CONTAINER,
        "image": image,
        "command": command,
        "env": env,
        "terminationMessagePath": TERMINATION_LOG_PATH,
        "terminationMessagePolicy": TERMINATION_MESSAGE_POLICY,
        "securityContext": restricted_container_context({"runAsUser": RUNNER_UID}, read_only_root=True),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if runner is not None and runner.resources is not None:
        container["resources"] = runner.resources.to_wire()
    pod: Obj = {
        "restartPolicy": "Never",
        # a token only for the operator's own runner image run as a chosen ServiceAccount
        "automountServiceAccountToken": bool(runner and runner.service_account_name and not runner.image),
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
    "workingDir",
    "resources",
)
_TARGET_POD_KEYS: Final = (
    "serviceAccountName",
    "imagePullSecrets",
    "nodeSelector",
    "tolerations",
    "affinity",
    "hostAliases",
    "dnsConfig",
    "dnsPolicy",
)


# --- the check script, run only as generated ----------------------------------------------------
#
# A Job in the target's image runs the check script with the target's ServiceAccount token, env and
# Secret volumes, so it must run exactly the script this operator generated. The script lives in a
# ConfigMap named after its digest and `immutable`; the operator only ever creates it (an existing
# object of that name is never patched or adopted: see kube.create_configmap). Whoever may delete
# and create ConfigMaps in the namespace can still put other content under that name, so the pod's
# command (immutable once the Job exists) carries the script's SHA-256 and a small launcher
# (probe/checks/_launch.py) that runs the bytes it read only when they hash to it; otherwise it runs
# nothing and the check ends Error naming the ConfigMap.

SCRIPT_DIGEST_CHARS: Final = 12
"""How much of the script's SHA-256 the ConfigMap's name carries (the pod checks all of it)."""
_LAUNCHER: Final = Path(__file__).resolve().parents[1] / "probe" / "checks" / "_launch.py"


@lru_cache(maxsize=1)
def script_sha256() -> str:
    """The SHA-256 (hex) of the check script as the ConfigMap holds it (UTF-8, as the kubelet writes it)."""
    return hashlib.sha256(script_source().encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def launcher_source() -> str:
    """The launcher's code as `python -c` runs it: _launch.py without its docstring."""
    text = _LAUNCHER.read_text(encoding="utf-8")
    first = ast.parse(text).body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        text = "".join(text.splitlines(keepends=True)[first.end_lineno or 0 :]).lstrip()
    return text


def script_configmap_name(rv_name: str, sha256: str | None = None) -> str:
    """`rv-<rv name>-check-script-<digest>`: a valid DNS subdomain of at most 253 characters, one per rv
    and script version. A name too long for that keeps a prefix plus a digest of the whole name, so
    two long rv names never share a ConfigMap."""
    suffix = f"-check-script-{(sha256 or script_sha256())[:SCRIPT_DIGEST_CHARS]}"
    room = 253 - len("rv-") - len(suffix)
    if len(rv_name) > room:
        whole = hashlib.sha256(rv_name.encode()).hexdigest()[:8]
        rv_name = f"{rv_name[: room - 9].rstrip('-.')}-{whole}"
    return f"rv-{rv_name}{suffix}"


def script_configmap(rv: ReleaseVerification, uid: str) -> Obj:
    """The immutable ConfigMap holding the check script that Jobs in the target's image run (one per
    rv and script version, owned by the rv), so `kubectl get job -o yaml` shows a short launcher and
    the script's digest instead of the script."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": script_configmap_name(rv.name),
            "namespace": rv.namespace,
            "labels": {k: v for k, v in labels_for(rv.name, 0).items() if k != REVISION_LABEL},
            "ownerReferences": [_owner(rv, uid)],
        },
        "immutable": True,
        "data": {SCRIPT_FILE: script_source()},
    }


def script_command(check: Check, configmap: str, termination_log: str = TERMINATION_LOG_PATH) -> list[str]:
    """The argv of a probe container that runs `check` with the script mounted from `configmap`:
    the launcher, the script's path and SHA-256 and the ConfigMap's name (for the error), then the
    script's own arguments (`run CHECK_JSON [TERMINATION_LOG]`, as contract.container_command)."""
    argv = [interpreter(check), "-c", launcher_source(), f"{SCRIPT_DIR}/{SCRIPT_FILE}", script_sha256(), configmap]
    argv += ["run", check_payload(check)]
    return [*argv, termination_log] if termination_log else argv


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
    """The pod of a check in the target's image (or its own image), under the restricted profile,
    with the check script mounted from the rv's ConfigMap and run only if it is the one generated.

    Raises PodSecurityRefused when the target's template cannot run that way."""
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = spec.get("containers") or [{}]
    source: Obj = containers[0] if isinstance(containers[0], dict) else {}
    image = getattr(check.config, "image", TARGET_IMAGE)
    in_target = image == TARGET_IMAGE
    container: Obj = {"name": PROBE_CONTAINER}
    if in_target:
        container.update({k: copy.deepcopy(source[k]) for k in _TARGET_CONTAINER_KEYS if k in source})
    else:
        container["image"] = image
    working_dir = getattr(check.config, "working_dir", None)
    if working_dir:
        container["workingDir"] = working_dir
    configmap = script_configmap_name(rv_name)
    container["command"] = script_command(check, configmap)
    mount = {"name": SCRIPT_VOLUME, "mountPath": SCRIPT_DIR, "readOnly": True}
    container["volumeMounts"] = [*container.get("volumeMounts", []), mount]
    container["terminationMessagePath"] = TERMINATION_LOG_PATH
    container["terminationMessagePolicy"] = TERMINATION_MESSAGE_POLICY
    pod: Obj = {"restartPolicy": "Never", "containers": [container]}
    if in_target:
        parts = restricted_target_parts(spec, source)
        pod.update({k: copy.deepcopy(spec[k]) for k in _TARGET_POD_KEYS if k in spec})
        container["securityContext"] = parts.container_security_context
        pod["securityContext"] = parts.pod_security_context
        container["volumeMounts"] = [*parts.volume_mounts, mount]
        pod["volumes"] = list(parts.volumes)
        # the target's own choice; a pod without the field gets the token, as the target's does
        if isinstance(spec.get("automountServiceAccountToken"), bool):
            pod["automountServiceAccountToken"] = spec["automountServiceAccountToken"]
    else:
        container["securityContext"] = restricted_container_context(None, read_only_root=False)
        pod["securityContext"] = restricted_pod_context(None)
        pod["automountServiceAccountToken"] = False
    script = {"name": SCRIPT_VOLUME, "configMap": {"name": configmap, "defaultMode": 0o444}}
    pod["volumes"] = [*pod.get("volumes", []), script]
    return pod


def refused_checks(rv: ReleaseVerification, deployment: Obj) -> dict[str, PodSecurityRefused]:
    """Checks whose pod cannot be built under the restricted profile, by name, with the reason."""
    refused: dict[str, PodSecurityRefused] = {}
    for group in group_checks(rv.spec.checks):
        if not group.is_runner:
            try:
                _target_pod(group.checks[0], deployment, rv.name)
            except PodSecurityRefused as exc:
                refused[group.key] = exc
    return refused


# --- the Jobs of one verification ------------------------------------------------------------


def build_jobs(
    rv: ReleaseVerification,
    uid: str,
    deployment: Obj,
    revision: int,
    runner_image: str = DEFAULT_RUNNER_IMAGE,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    denied_networks: Sequence[str] = (),
    rerun: str | None = None,
    target_pods: Sequence[tuple[str, str]] = (),
    revisions: Mapping[str, str | None] | None = None,
) -> list[Obj]:
    """The probe Jobs verifying `revision` of `deployment`, owned by the RV; `target_pods` (name,
    address) are the new revision's ready pods that checks naming `{{ .PodIP }}` call, and
    `revisions` the values of the prometheus template variables (core.revision_values), set on
    the runner's env.

    Finished Jobs are kept at least as long as the verification can last (`ttl_seconds` or the
    rv's timeout plus a minute, whichever is longer), so none vanishes mid-run and is recreated."""
    key = run_key(deployment, rv.spec.checks, rerun)
    ttl = max(ttl_seconds, rv.spec.timeout_seconds + rv.spec.delay_seconds + 60)
    image = (rv.spec.runner.image if rv.spec.runner and rv.spec.runner.image else None) or runner_image
    labels = labels_for(rv.name, revision)
    owner = _owner(rv, uid)
    jobs = []
    for name, group in jobs_of_run(rv, revision, key).items():
        try:
            pod = (
                _runner_pod(rv, group.checks, image, denied_networks, target_pods, revisions)
                if group.is_runner
                else _target_pod(group.checks[0], deployment, rv.name)
            )
        except PodSecurityRefused:
            continue  # see refused_checks: the check ends Error without a Job
        jobs.append(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "name": name,
                    "namespace": rv.namespace,
                    "labels": dict(labels),
                    "annotations": {CHECKS_ANNOTATION: ",".join(c.name for c in group.checks)},
                    "ownerReferences": [owner],
                },
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": rv.spec.timeout_seconds,
                    "ttlSecondsAfterFinished": ttl,
                    "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
                },
            }
        )
    return jobs


def checks_of(job: Obj) -> list[str]:
    raw = ((job.get("metadata") or {}).get("annotations") or {}).get(CHECKS_ANNOTATION) or ""
    return [n for n in str(raw).split(",") if n]


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
