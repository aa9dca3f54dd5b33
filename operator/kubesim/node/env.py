"""A container's environment, resolved the way the kubelet does it (pure: ConfigMaps and Secrets are
passed in, already read through the API).

Order, as in the kubelet: the image's env, then envFrom sources in order, then env entries in order;
later definitions win. `$(VAR)` in values, command and args expands to variables defined earlier,
`$$(VAR)` escapes, an undefined reference is left as written.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

_FIELD_LABEL = re.compile(r"^metadata\.(labels|annotations)\['([^']*)'\]$")
_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


class EnvError(ValueError):
    """A non-optional reference could not be resolved; the message names the variable and the source.

    The kubelet reports it as waiting reason CreateContainerConfigError, as the real one does."""


@dataclass
class EnvSources:
    """The objects env references may point at, keyed by name, in the pod's namespace."""

    config_maps: Mapping[str, Obj] = field(default_factory=dict)
    secrets: Mapping[str, Obj] = field(default_factory=dict)


def referenced_objects(container: Obj) -> tuple[set[str], set[str]]:
    """Names of the ConfigMaps and Secrets that `container`'s env and envFrom refer to."""
    config_maps: set[str] = set()
    secrets: set[str] = set()
    for source in container.get("envFrom") or []:
        if ref := source.get("configMapRef"):
            config_maps.add(ref.get("name", ""))
        if ref := source.get("secretRef"):
            secrets.add(ref.get("name", ""))
    for var in container.get("env") or []:
        value_from = var.get("valueFrom") or {}
        if ref := value_from.get("configMapKeyRef"):
            config_maps.add(ref.get("name", ""))
        if ref := value_from.get("secretKeyRef"):
            secrets.add(ref.get("name", ""))
    return config_maps, secrets


def secret_data(secret: Obj) -> dict[str, str]:
    """A Secret's data decoded from base64 (stringData merged over it, for stores that keep it)."""
    decoded: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            decoded[key] = base64.b64decode(value or "", validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError) as exc:
            raise EnvError(f"secret {secret.get('metadata', {}).get('name')!r} key {key!r}: not base64") from exc
    decoded.update({k: str(v) for k, v in (secret.get("stringData") or {}).items()})
    return decoded


def config_map_data(config_map: Obj) -> dict[str, str]:
    return {k: str(v) for k, v in (config_map.get("data") or {}).items()}


def field_ref(pod: Obj, path: str) -> str:
    """The value of a downward-API fieldRef path on `pod`."""
    meta = pod.get("metadata") or {}
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": (pod.get("spec") or {}).get("nodeName"),
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName"),
        "status.podIP": (pod.get("status") or {}).get("podIP"),
        "status.hostIP": (pod.get("status") or {}).get("hostIP"),
    }
    if path in simple:
        return str(simple[path] or "")
    if match := _FIELD_LABEL.match(path):
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise EnvError(
        f"fieldRef.fieldPath {path!r} is not supported (expected one of {sorted(simple)} or labels/annotations)"
    )


def expand(value: str, env: Mapping[str, str]) -> str:
    """Expand `$(NAME)` from `env`; `$$` becomes `$`; unknown references stay as written."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _REFERENCE.sub(replace, value)


_KIND_NAMES = {"configmap": "ConfigMap", "secret": "Secret"}


def _key_ref(kind: str, ref: Obj, objects: Mapping[str, Obj], decode: Any, namespace: str) -> str | None:
    """The referenced value; a missing object or key is an EnvError in the real kubelet's words."""
    name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
    obj = objects.get(name)
    if obj is None:
        if optional:
            return None
        raise EnvError(f'{kind} "{name}" not found')
    data = decode(obj)
    if key not in data:
        if optional:
            return None
        raise EnvError(f"couldn't find key {key} in {_KIND_NAMES[kind]} {namespace}/{name}")
    return str(data[key])


def resolve_env(pod: Obj, container: Obj, sources: EnvSources, base: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """The container's environment: `base` (image env, HOSTNAME...), envFrom, then env."""
    env: dict[str, str] = dict(base)
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        decode: Callable[[Obj], dict[str, str]]
        if ref := source.get("configMapRef"):
            kind, objects, decode = "configmap", sources.config_maps, config_map_data
        elif ref := source.get("secretRef"):
            kind, objects, decode = "secret", sources.secrets, secret_data
        else:
            continue
        obj = objects.get(ref.get("name", ""))
        if obj is None:
            if ref.get("optional"):
                continue
            raise EnvError(f'{kind} "{ref.get("name")}" not found')
        env.update({prefix + k: v for k, v in decode(obj).items()})
    for var in container.get("env") or []:
        name = var.get("name")
        if not name:
            raise EnvError("env: an entry has no name")
        value_from = var.get("valueFrom")
        if value_from is None:
            env[name] = expand(str(var.get("value", "")), env)
            continue
        value: str | None
        if ref := value_from.get("fieldRef"):
            value = field_ref(pod, ref.get("fieldPath", ""))
        elif ref := value_from.get("configMapKeyRef"):
            value = _key_ref("configmap", ref, sources.config_maps, config_map_data, namespace)
        elif ref := value_from.get("secretKeyRef"):
            value = _key_ref("secret", ref, sources.secrets, secret_data, namespace)
        elif value_from.get("resourceFieldRef"):
            value = "0"  # no resource accounting in kubesim
        else:
            raise EnvError(f"env {name}: valueFrom has none of fieldRef, configMapKeyRef, secretKeyRef")
        if value is not None:
            env[name] = value
    return env
