"""Pod volumes as per-pod directories, and the bind mounts that put them at each container's mountPaths.

configMap, secret, emptyDir, downwardAPI, hostPath and projected volumes (configMap, secret,
downwardAPI and serviceAccountToken sources: the `kube-api-access-*` volume the ServiceAccount
admission plugin adds) are supported; any other volume type is reported by name. Files are written once when the pod starts (the real kubelet refreshes
configMap/secret volumes periodically; kubesim does not).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kubesim.node.env import config_map_data, field_ref, secret_data

Obj = dict[str, Any]


class VolumeError(ValueError):
    """A volume cannot be set up; the message names the volume and what is missing."""


class MountError(VolumeError):
    """A volume's ConfigMap, Secret or key does not exist (yet). The real kubelet keeps the pod in
    ContainerCreating and retries, posting FailedMount Events in these words."""

    def __init__(self, volume: str, problem: str) -> None:
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {problem}')


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool = False


def _sources(volume: Obj) -> list[Obj]:
    """A volume's sources: the projected ones, or the volume itself."""
    if "projected" in volume:
        return list((volume["projected"] or {}).get("sources") or [])
    return [volume]


def referenced_objects(pod: Obj) -> tuple[set[str], set[str]]:
    """Names of ConfigMaps and Secrets that the pod's volumes use."""
    config_maps: set[str] = set()
    secrets: set[str] = set()
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        for source in _sources(volume):
            if "configMap" in source:
                config_maps.add(source["configMap"].get("name", ""))
            if "secret" in source:
                secrets.add(source["secret"].get("secretName") or source["secret"].get("name", ""))
    return config_maps, secrets


@dataclass(frozen=True)
class TokenWanted:
    """A serviceAccountToken projection: where it goes and what to ask the TokenRequest API for."""

    volume: str
    path: str
    audience: str | None
    expiration_seconds: int


def tokens_wanted(pod: Obj) -> list[TokenWanted]:
    wanted = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if "projected" not in volume:
            continue
        for source in _sources(volume):
            if token := source.get("serviceAccountToken"):
                wanted.append(
                    TokenWanted(
                        volume.get("name", ""),
                        token.get("path", "token"),
                        token.get("audience") or None,
                        int(token.get("expirationSeconds") or 3607),
                    )
                )
    return wanted


def _write_files(
    root: Path, data: Mapping[str, str], items: list[Obj] | None, default_mode: int | None, volume: str, kind: str
) -> None:
    root.mkdir(parents=True, exist_ok=True)
    wanted: list[tuple[str, str, int | None]]
    if items:
        wanted = []
        for item in items:
            key = item.get("key", "")
            if key not in data:
                raise MountError(volume, f"{kind} references non-existent config key: {key}")
            wanted.append((item.get("path") or key, data[key], item.get("mode")))
    else:
        wanted = [(key, value, None) for key, value in data.items()]
    for relative, value, mode in wanted:
        target = (root / relative).resolve()
        if not target.is_relative_to(root.resolve()):
            raise VolumeError(f"volume {volume!r}: path {relative!r} leaves the volume")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(value)
        chosen = mode if mode is not None else default_mode
        if chosen is not None:
            target.chmod(chosen)


def materialise(
    pod: Obj,
    root: Path,
    config_maps: Mapping[str, Obj],
    secrets: Mapping[str, Obj],
    pod_for_fields: Callable[[], Obj] | None = None,
    tokens: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, Path]:
    """Create every volume of `pod` under `root` and return the directory for each volume name.
    `tokens` holds the service-account tokens of projected volumes, by (volume, path)."""
    paths: dict[str, Path] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = volume.get("name", "")
        directory = root / name
        if "emptyDir" in volume:
            directory.mkdir(parents=True, exist_ok=True)
        elif "hostPath" in volume:
            directory = Path(volume["hostPath"].get("path", ""))
            if volume["hostPath"].get("type") in ("DirectoryOrCreate", None, ""):
                directory.mkdir(parents=True, exist_ok=True)
        elif any(k in volume for k in ("configMap", "secret", "downwardAPI", "projected")):
            default_mode = (volume.get("projected") or {}).get("defaultMode")
            directory.mkdir(parents=True, exist_ok=True)
            current = pod_for_fields() if pod_for_fields else pod
            for source in _sources(volume):
                _write_source(directory, name, source, default_mode, config_maps, secrets, current, tokens or {})
        else:
            kinds = sorted(set(volume) - {"name"})
            raise VolumeError(
                f"volume {name!r}: type {', '.join(kinds) or '?'} is not supported in kubesim "
                "(expected configMap, secret, emptyDir, downwardAPI, projected or hostPath)"
            )
        paths[name] = directory
    return paths


def _write_source(
    directory: Path,
    name: str,
    source: Obj,
    default_mode: int | None,
    config_maps: Mapping[str, Obj],
    secrets: Mapping[str, Obj],
    pod: Obj,
    tokens: Mapping[tuple[str, str], str],
) -> None:
    if "configMap" in source:
        ref = source["configMap"]
        obj = config_maps.get(ref.get("name", ""))
        if obj is None and not ref.get("optional"):
            raise MountError(name, f'configmap "{ref.get("name")}" not found')
        data = config_map_data(obj) if obj else {}
        _write_files(directory, data, ref.get("items"), ref.get("defaultMode", default_mode), name, "configmap")
    elif "secret" in source:
        ref = source["secret"]
        secret_name = ref.get("secretName") or ref.get("name", "")
        obj = secrets.get(secret_name)
        if obj is None and not ref.get("optional"):
            raise MountError(name, f'secret "{secret_name}" not found')
        data = secret_data(obj) if obj else {}
        _write_files(directory, data, ref.get("items"), ref.get("defaultMode", default_mode), name, "secret")
    elif "downwardAPI" in source:
        values = {}
        for item in source["downwardAPI"].get("items") or []:
            if ref := item.get("fieldRef"):
                values[item.get("path", "")] = field_ref(pod, ref.get("fieldPath", ""))
            else:
                raise VolumeError(f"volume {name!r}: only fieldRef items are supported in downwardAPI")
        _write_files(directory, values, None, default_mode, name, "downwardAPI")
    elif "serviceAccountToken" in source:
        path = source["serviceAccountToken"].get("path", "token")
        if (name, path) not in tokens:
            raise VolumeError(f"volume {name!r}: no service account token for {path!r}")
        _write_files(directory, {path: tokens[(name, path)]}, None, default_mode, name, "serviceAccountToken")
    else:
        kinds = sorted(source)
        raise VolumeError(f"volume {name!r}: projected source {', '.join(kinds) or '?'} is not supported in kubesim")


def container_mounts(container: Obj, volumes: Mapping[str, Path]) -> list[Mount]:
    mounts = []
    for mount in container.get("volumeMounts") or []:
        name = mount.get("name", "")
        if name not in volumes:
            raise VolumeError(f"container {container.get('name')!r}: volumeMount {name!r} names no volume of the pod")
        source = volumes[name]
        if sub_path := mount.get("subPath"):
            source = source / sub_path
            if not source.exists():
                source.mkdir(parents=True)
        mounts.append(Mount(source=source, target=mount.get("mountPath", ""), read_only=bool(mount.get("readOnly"))))
    return mounts


def keep_visible(host_paths: list[Path], mounts: list[Mount]) -> list[Mount]:
    """Bind mounts that put `host_paths` back where they were when a volume covers them.

    An "image" here is a set of host directories (the Python environment, the app's source). In a
    real container a volume at /tmp hides only the container's own /tmp; here it would also hide
    an image directory that happens to live under /tmp (a checkout in /tmp, say). Binding each such
    directory onto itself after the volume keeps the image intact, as a runtime's root fs would.
    """
    directories = [PurePosixPath(m.target) for m in mounts if m.source.is_dir()]
    extra: list[Mount] = []
    for path in dict.fromkeys(p for p in host_paths if p.is_absolute() and p.exists()):
        posix = PurePosixPath(path)
        if any(posix != d and posix.is_relative_to(d) for d in directories):
            extra.append(Mount(source=path, target=str(path), read_only=False))
    return extra


def setup_script(mounts: list[Mount], working_dir: str | None, hostname: str | None = None) -> str:
    """The bash script run inside the new mount namespace before exec'ing the container's command.

    Every source is opened first and mounted through /proc/self/fd, because an earlier mount (a
    volume at /tmp, say) may hide the path of a later source (the work directory under /tmp).
    Parents are mounted before what lies under them; a missing target gets a placeholder of the
    source's kind (a bind mount needs one), created inside the namespace so it lands in whatever
    volume is already mounted there. Placeholders outside volumes stay on the host's filesystem
    (empty files and directories such as /dev/termination-log), as with any bind mount."""
    lines = ["set -e"]
    if hostname:
        # In the container's own UTS namespace, as a pod's hostname is its name.
        lines.append(f"echo {shlex.quote(hostname)} > /proc/sys/kernel/hostname")
    ordered = sorted(mounts, key=lambda m: len(PurePosixPath(m.target).parts))
    for index, mount in enumerate(ordered):
        lines.append(f"exec {{src{index}}}<{shlex.quote(str(mount.source))}")
    for index, mount in enumerate(ordered):
        target = shlex.quote(mount.target)
        if mount.source.is_dir():
            lines.append(f"[ -e {target} ] || mkdir -p {target}")
        else:
            parent = shlex.quote(str(PurePosixPath(mount.target).parent))
            lines.append(f"[ -e {target} ] || {{ mkdir -p {parent}; : > {target}; }}")
        # --no-canonicalize: mount would otherwise resolve the fd back to a path, which an earlier
        # mount may have hidden.
        lines.append(f'mount --no-canonicalize --bind "/proc/self/fd/$src{index}" {target}')
    # Read-only last, so placeholders for mounts nested in a read-only volume can still be made.
    lines += [f"mount -o remount,bind,ro {shlex.quote(m.target)}" for m in ordered if m.read_only]
    if ordered:
        lines.append("exec " + " ".join(f"{{src{i}}}<&-" for i in range(len(ordered))))
    if working_dir:
        # A runtime creates a missing working directory instead of failing.
        lines.append(f"mkdir -p {shlex.quote(working_dir)}")
        lines.append(f"cd {shlex.quote(working_dir)}")
    lines.append('exec "$@"')
    return "\n".join(lines)
