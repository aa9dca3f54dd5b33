"""The `restricted` Pod Security Standard (Kubernetes docs, "Pod Security Standards", baseline and
restricted policies, latest version) as a pure checker of a pod spec. Written from the documented
controls, independently of releaseguard.core.podsecurity, so that each can catch the other's mistakes."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip


def _all_containers(spec: Obj) -> list[tuple[str, Obj]]:
    out = []
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in enumerate(spec.get(kind) or []):
            out.append((f"{kind}[{index}]", container))
    return out


def violations(pod: Obj, annotations: Obj | None = None) -> list[str]:
    """Every control of `restricted` (which includes `baseline`) the pod spec violates."""
    found: list[str] = []
    psc = pod.get("securityContext") or {}
    containers = _all_containers(pod)
    # baseline
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            found.append(f"host namespaces: {key}")
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        found.append("HostProcess: pod")
    for index, volume in enumerate(pod.get("volumes") or []):
        if "hostPath" in volume:
            found.append(f"hostPath volume: volumes[{index}]")
        kinds = [k for k in volume if k != "name"]
        if len(kinds) != 1 or kinds[0] not in RESTRICTED_VOLUMES:
            found.append(f"volume type: volumes[{index}] {kinds}")
    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            found.append(f"sysctls: {sysctl.get('name')}")
    for key, value in (annotations or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            found.append(f"AppArmor annotation: {key}")

    def selinux(where: str, options: Obj | None) -> None:
        options = options or {}
        if options.get("type", "") not in SELINUX_TYPES:
            found.append(f"SELinux type: {where}")
        if options.get("user") or options.get("role"):
            found.append(f"SELinux user/role: {where}")

    def apparmor(where: str, profile: Obj | None) -> None:
        if profile and profile.get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"AppArmor: {where}")

    selinux("pod", psc.get("seLinuxOptions"))
    apparmor("pod", psc.get("appArmorProfile"))
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if pod_seccomp == "Unconfined":
        found.append("seccomp: pod Unconfined")
    pod_non_root = psc.get("runAsNonRoot") is True
    if psc.get("runAsUser") == 0:
        found.append("runAsUser: pod is 0")
    for where, container in containers:
        ctx = container.get("securityContext") or {}
        if ctx.get("privileged"):
            found.append(f"privileged: {where}")
        if (ctx.get("windowsOptions") or {}).get("hostProcess"):
            found.append(f"HostProcess: {where}")
        caps = ctx.get("capabilities") or {}
        added = set(caps.get("add") or [])
        if added - BASELINE_CAPABILITIES:
            found.append(f"capabilities (baseline): {where} adds {sorted(added - BASELINE_CAPABILITIES)}")
        if added - {"NET_BIND_SERVICE"}:
            found.append(f"capabilities (restricted): {where} adds {sorted(added - {'NET_BIND_SERVICE'})}")
        if "ALL" not in (caps.get("drop") or []):
            found.append(f"capabilities: {where} does not drop ALL")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                found.append(f"host ports: {where}")
        selinux(where, ctx.get("seLinuxOptions"))
        apparmor(where, ctx.get("appArmorProfile"))
        if ctx.get("procMount", "Default") != "Default":
            found.append(f"procMount: {where}")
        seccomp = (ctx.get("seccompProfile") or {}).get("type")
        if seccomp == "Unconfined":
            found.append(f"seccomp: {where} Unconfined")
        if seccomp not in ("RuntimeDefault", "Localhost") and pod_seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"seccomp: {where} has no RuntimeDefault/Localhost profile")
        if ctx.get("allowPrivilegeEscalation") is not False:
            found.append(f"privilege escalation: {where}")
        if ctx.get("runAsNonRoot") is False or not (pod_non_root or ctx.get("runAsNonRoot") is True):
            found.append(f"runAsNonRoot: {where}")
        if ctx.get("runAsUser") == 0:
            found.append(f"runAsUser: {where} is 0")
        for mount in container.get("volumeMounts") or []:
            if mount.get("mountPropagation") == "Bidirectional":
                found.append(f"mount propagation (needs privileged): {where}")
    return found
