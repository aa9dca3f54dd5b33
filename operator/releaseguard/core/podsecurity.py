"""Probe pods under the `restricted` Pod Security Standard, whatever the target's template says.

A check in the target's image copies parts of the Deployment's pod template (image, env, volumes,
its securityContext). `restricted_target_parts` keeps what a probe needs and may keep, forces what
`restricted` requires (non-root, no privilege escalation, all capabilities dropped but
NET_BIND_SERVICE, RuntimeDefault seccomp unless Localhost) and drops what it forbids (privileged,
added capabilities, unsafe sysctls, SELinux user/role and unknown types, Unconfined AppArmor or
seccomp, procMount, Windows host processes, mount propagation, volumes of forbidden types the probe
does not mount). What cannot be dropped without changing what the check would see (an explicit
`runAsUser: 0`, a mounted hostPath or other forbidden volume) is refused with the field's path:
that check ends `Error`, it is never run with more privilege and never fails the release.
Host namespaces, host ports and host aliases are never copied at all.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Final

Obj = dict[str, Any]

ALLOWED_VOLUME_TYPES: Final = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
ALLOWED_ADDED_CAPABILITIES: Final = frozenset({"NET_BIND_SERVICE"})
SAFE_SYSCTLS: Final = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
ALLOWED_SELINUX_TYPES: Final = frozenset({"container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
RUNTIME_DEFAULT: Final = {"type": "RuntimeDefault"}
_VOLUME_META_KEYS: Final = frozenset({"name"})


class PodSecurityRefused(Exception):
    """The target's template needs something `restricted` forbids; `field` is its path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RestrictedParts:
    container_security_context: Obj
    pod_security_context: Obj
    volumes: list[Obj]
    volume_mounts: list[Obj]


def _seccomp(profile: Any) -> Obj:
    if isinstance(profile, dict) and profile.get("type") == "Localhost" and profile.get("localhostProfile"):
        return {"type": "Localhost", "localhostProfile": str(profile["localhostProfile"])}
    return dict(RUNTIME_DEFAULT)


def _selinux(options: Any) -> Obj | None:
    if not isinstance(options, dict):
        return None
    kept: Obj = {}
    if options.get("type") in ALLOWED_SELINUX_TYPES:
        kept["type"] = options["type"]
    if isinstance(options.get("level"), str):
        kept["level"] = options["level"]
    return kept or None


def _apparmor(profile: Any) -> Obj | None:
    if isinstance(profile, dict) and profile.get("type") == "Localhost" and profile.get("localhostProfile"):
        return {"type": "Localhost", "localhostProfile": str(profile["localhostProfile"])}
    return None  # unset is RuntimeDefault; Unconfined is dropped


def _user(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PodSecurityRefused(field, f"expected a non-negative integer user id, got {value!r}")
    if value == 0:
        raise PodSecurityRefused(field, "runs as root (uid 0); the restricted Pod Security profile requires non-root")
    return value


def _ids(ctx: Obj, out: Obj, keys: tuple[str, ...]) -> None:
    for key in keys:
        value = ctx.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            out[key] = value


def restricted_container_context(existing: Obj | None, read_only_root: bool, field: str = "securityContext") -> Obj:
    """A container securityContext allowed by `restricted`, keeping the harmless parts of `existing`."""
    ctx = existing if isinstance(existing, dict) else {}
    out: Obj = {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "runAsNonRoot": True,
        "seccompProfile": _seccomp(ctx.get("seccompProfile")),
    }
    user = _user(ctx.get("runAsUser"), f"{field}.runAsUser")
    if user is not None:
        out["runAsUser"] = user
    _ids(ctx, out, ("runAsGroup",))
    added = (ctx.get("capabilities") or {}).get("add") if isinstance(ctx.get("capabilities"), dict) else None
    kept_caps = sorted({str(c) for c in added or [] if str(c) in ALLOWED_ADDED_CAPABILITIES})
    out["capabilities"] = {"drop": ["ALL"], **({"add": kept_caps} if kept_caps else {})}
    selinux = _selinux(ctx.get("seLinuxOptions"))
    if selinux:
        out["seLinuxOptions"] = selinux
    apparmor = _apparmor(ctx.get("appArmorProfile"))
    if apparmor:
        out["appArmorProfile"] = apparmor
    if read_only_root or ctx.get("readOnlyRootFilesystem") is True:
        out["readOnlyRootFilesystem"] = True
    return out


def restricted_pod_context(existing: Obj | None, field: str = "securityContext") -> Obj:
    """A pod securityContext allowed by `restricted`, keeping ids, fsGroup and safe sysctls of `existing`."""
    ctx = existing if isinstance(existing, dict) else {}
    out: Obj = {"runAsNonRoot": True, "seccompProfile": _seccomp(ctx.get("seccompProfile"))}
    user = _user(ctx.get("runAsUser"), f"{field}.runAsUser")
    if user is not None:
        out["runAsUser"] = user
    _ids(ctx, out, ("runAsGroup", "fsGroup"))
    groups = ctx.get("supplementalGroups")
    if isinstance(groups, list):
        out["supplementalGroups"] = [g for g in groups if isinstance(g, int) and not isinstance(g, bool) and g >= 0]
    if ctx.get("fsGroupChangePolicy") in ("OnRootMismatch", "Always"):
        out["fsGroupChangePolicy"] = ctx["fsGroupChangePolicy"]
    sysctls = [
        {"name": s["name"], "value": str(s.get("value", ""))}
        for s in ctx.get("sysctls") or []
        if isinstance(s, dict) and s.get("name") in SAFE_SYSCTLS
    ]
    if sysctls:
        out["sysctls"] = sysctls
    selinux = _selinux(ctx.get("seLinuxOptions"))
    if selinux:
        out["seLinuxOptions"] = selinux
    apparmor = _apparmor(ctx.get("appArmorProfile"))
    if apparmor:
        out["appArmorProfile"] = apparmor
    return out


def _volume_type(volume: Obj) -> str | None:
    kinds = [k for k in volume if k not in _VOLUME_META_KEYS]
    return kinds[0] if len(kinds) == 1 else None


def restricted_volumes(volumes: Any, mounts: Any, field: str) -> tuple[list[Obj], list[Obj]]:
    """The volumes and mounts a probe keeps: forbidden volumes the probe does not mount are dropped,
    a mounted one is refused. Mount propagation (it needs a privileged container) is dropped."""
    kept_mounts: list[Obj] = []
    for mount in mounts if isinstance(mounts, list) else []:
        if isinstance(mount, dict):
            kept_mounts.append({k: copy.deepcopy(v) for k, v in mount.items() if k != "mountPropagation"})
    mounted = {m.get("name") for m in kept_mounts}
    kept: list[Obj] = []
    for index, volume in enumerate(volumes if isinstance(volumes, list) else []):
        if not isinstance(volume, dict):
            continue
        kind = _volume_type(volume)
        if kind in ALLOWED_VOLUME_TYPES:
            kept.append(copy.deepcopy(volume))
        elif volume.get("name") in mounted:
            raise PodSecurityRefused(
                f"{field}.volumes[{index}].{kind or 'type'}",
                f"volume {volume.get('name')!r} of type {kind or 'unknown'} is mounted by the container; "
                f"the restricted Pod Security profile allows only {', '.join(sorted(ALLOWED_VOLUME_TYPES))}",
            )
    names = {v.get("name") for v in kept}
    return kept, [m for m in kept_mounts if m.get("name") in names]


def restricted_target_parts(pod_spec: Obj, container: Obj, field: str = "spec.template.spec") -> RestrictedParts:
    """The securityContexts, volumes and mounts of a probe pod built from the target's template.

    Raises PodSecurityRefused naming the template's field when the target cannot run restricted."""
    container_ctx = restricted_container_context(
        container.get("securityContext"), read_only_root=False, field=f"{field}.containers[0].securityContext"
    )
    pod_ctx = restricted_pod_context(pod_spec.get("securityContext"), field=f"{field}.securityContext")
    volumes, mounts = restricted_volumes(pod_spec.get("volumes"), container.get("volumeMounts"), field)
    return RestrictedParts(container_ctx, pod_ctx, volumes, mounts)
