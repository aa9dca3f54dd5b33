"""Protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl sends them for `create`.

kubectl 1.32 sends the objects of `kubectl create namespace|secret|configmap|serviceaccount|deployment|job|service`,
`kubectl expose` and the TokenRequest of `kubectl create token` as protobuf, and does not fall back to JSON when
the server refuses. The body is the magic `k8s\\0` followed by a `runtime.Unknown` message (typeMeta=1
{apiVersion=1, kind=2}, raw=2, contentEncoding=3, contentType=4) whose `raw` is the object's own protobuf encoding.

This module reads the protobuf wire format and, with hand-written tables of the messages those commands emit
(field numbers from k8s.io/api and k8s.io/apimachinery `generated.proto`), turns the object into the dict the
JSON path would have produced, so admission, validation, storage and the controllers see no difference.

Go's protobuf marshalling writes every non-pointer field, zero values included (empty strings, `hostPort: 0`,
`creationTimestamp` with no seconds), while JSON omits them (`omitempty`). Zero-valued scalars are therefore
dropped unless the Go field is a pointer (`replicas: 0` is kept: it means something). Message-typed fields are
kept when present, even empty (`strategy: {}`, `resources: {}`), as Go's JSON encoder keeps non-pointer structs.

Anything outside the tables (another kind, or a field number we do not know) is refused with 415 and a message
naming it: a field the user set is never silently dropped.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubesim.errors import ApiError

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

VARINT, I64, LEN, I32 = 0, 1, 2, 5
WIRE_NAMES = {VARINT: "varint", I64: "fixed64", LEN: "length-delimited", I32: "fixed32"}


class WireError(ValueError):
    """The bytes are not valid protobuf (truncated, bad wire type, overlong varint)."""


def is_protobuf(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == CONTENT_TYPE


# ---- the wire format ---------------------------------------------------------------------------------


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint at `pos` and the position after it."""
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise WireError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field of a message, in wire order. Varints and fixed32/64
    are unsigned ints; length-delimited values are bytes."""
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        value: int | bytes
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire == I64:
            if pos + 8 > end:
                raise WireError(f"truncated fixed64 in field {number}")
            value = int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wire == LEN:
            length, pos = read_varint(buf, pos)
            if pos + length > end:
                raise WireError(f"truncated length-delimited field {number}")
            value = bytes(buf[pos : pos + length])
            pos += length
        elif wire == I32:
            if pos + 4 > end:
                raise WireError(f"truncated fixed32 in field {number}")
            value = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        else:
            raise WireError(f"unsupported wire type {wire} in field {number}")
        yield number, wire, value


def signed(value: int, bits: int) -> int:
    """int32/int64 varints carry negative numbers as 64-bit two's complement."""
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    if bits == 32 and not -(1 << 31) <= value < 1 << 31:
        raise WireError(f"int32 out of range: {value}")
    return value


# ---- the message tables ---------------------------------------------------------------------------------

# Field kinds: scalars ("string", "bytes", "int32", "int64", "bool"), "message" (with `message=`), the
# special shapes "time" (meta/v1 Time), "quantity" (resource.Quantity) and "intorstring" (intstr.IntOrString),
# and maps "map:<value kind>" (entries are messages key=1, value=2).


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    message: str | None = None
    repeated: bool = False
    pointer: bool = False  # a Go pointer: a zero value on the wire was set on purpose and is kept


def _f(name: str, kind: str = "string", message: str | None = None, *, rep: bool = False, ptr: bool = False) -> Field:
    return Field(name, kind, message, rep, ptr)


def _msg(name: str, *, rep: bool = False, ptr: bool = False) -> Field:
    return Field("", "message", name, rep, ptr)


def _named(name: str, field: Field) -> Field:
    return Field(name, field.kind, field.message, field.repeated, field.pointer)


MESSAGES: dict[str, dict[int, Field]] = {
    # k8s.io/apimachinery/pkg/apis/meta/v1
    "ObjectMeta": {
        1: _f("name"),
        2: _f("generateName"),
        3: _f("namespace"),
        4: _f("selfLink"),
        5: _f("uid"),
        6: _f("resourceVersion"),
        7: _f("generation", "int64"),
        8: _f("creationTimestamp", "time"),
        11: _f("labels", "map:string"),
        12: _f("annotations", "map:string"),
        13: _named("ownerReferences", _msg("OwnerReference", rep=True)),
        14: _f("finalizers", rep=True),
    },
    "OwnerReference": {
        5: _f("apiVersion"),
        1: _f("kind"),
        3: _f("name"),
        4: _f("uid"),
        6: _f("controller", "bool", ptr=True),
        7: _f("blockOwnerDeletion", "bool", ptr=True),
    },
    "LabelSelector": {
        1: _f("matchLabels", "map:string"),
        2: _named("matchExpressions", _msg("LabelSelectorRequirement", rep=True)),
    },
    "LabelSelectorRequirement": {1: _f("key"), 2: _f("operator"), 3: _f("values", rep=True)},
    # k8s.io/api/core/v1
    "Namespace": {
        1: _named("metadata", _msg("ObjectMeta")),
        2: _named("spec", _msg("NamespaceSpec")),
        3: _named("status", _msg("NamespaceStatus")),
    },
    "NamespaceSpec": {1: _f("finalizers", rep=True)},
    "NamespaceStatus": {1: _f("phase")},
    "Secret": {
        1: _named("metadata", _msg("ObjectMeta")),
        5: _f("immutable", "bool", ptr=True),
        2: _f("data", "map:bytes"),
        4: _f("stringData", "map:string"),
        3: _f("type"),
    },
    "ConfigMap": {
        1: _named("metadata", _msg("ObjectMeta")),
        4: _f("immutable", "bool", ptr=True),
        2: _f("data", "map:string"),
        3: _f("binaryData", "map:bytes"),
    },
    "ServiceAccount": {
        1: _named("metadata", _msg("ObjectMeta")),
        2: _named("secrets", _msg("ObjectReference", rep=True)),
        3: _named("imagePullSecrets", _msg("LocalObjectReference", rep=True)),
        4: _f("automountServiceAccountToken", "bool", ptr=True),
    },
    "ObjectReference": {
        1: _f("kind"),
        2: _f("namespace"),
        3: _f("name"),
        4: _f("uid"),
        5: _f("apiVersion"),
        6: _f("resourceVersion"),
        7: _f("fieldPath"),
    },
    "LocalObjectReference": {1: _f("name")},
    "Pod": {
        1: _named("metadata", _msg("ObjectMeta")),
        2: _named("spec", _msg("PodSpec")),
        3: _named("status", _msg("PodStatus")),
    },
    "PodStatus": {
        1: _f("phase"),
        3: _f("message"),
        4: _f("reason"),
        5: _f("hostIP"),
        6: _f("podIP"),
        7: _f("startTime", "time"),
        9: _f("qosClass"),
        11: _f("nominatedNodeName"),
    },
    "PodTemplateSpec": {1: _named("metadata", _msg("ObjectMeta")), 2: _named("spec", _msg("PodSpec"))},
    "PodSpec": {
        20: _named("initContainers", _msg("Container", rep=True)),
        2: _named("containers", _msg("Container", rep=True)),
        3: _f("restartPolicy"),
        4: _f("terminationGracePeriodSeconds", "int64", ptr=True),
        5: _f("activeDeadlineSeconds", "int64", ptr=True),
        6: _f("dnsPolicy"),
        7: _f("nodeSelector", "map:string"),
        8: _f("serviceAccountName"),
        9: _f("serviceAccount"),
        21: _f("automountServiceAccountToken", "bool", ptr=True),
        10: _f("nodeName"),
        11: _f("hostNetwork", "bool"),
        12: _f("hostPID", "bool"),
        13: _f("hostIPC", "bool"),
        27: _f("shareProcessNamespace", "bool", ptr=True),
        15: _named("imagePullSecrets", _msg("LocalObjectReference", rep=True)),
        16: _f("hostname"),
        17: _f("subdomain"),
        19: _f("schedulerName"),
        24: _f("priorityClassName"),
        25: _f("priority", "int32", ptr=True),
        29: _f("runtimeClassName", ptr=True),
        30: _f("enableServiceLinks", "bool", ptr=True),
        31: _f("preemptionPolicy", ptr=True),
        35: _f("setHostnameAsFQDN", "bool", ptr=True),
        37: _f("hostUsers", "bool", ptr=True),
    },
    "Container": {
        1: _f("name"),
        2: _f("image"),
        3: _f("command", rep=True),
        4: _f("args", rep=True),
        5: _f("workingDir"),
        6: _named("ports", _msg("ContainerPort", rep=True)),
        7: _named("env", _msg("EnvVar", rep=True)),
        8: _named("resources", _msg("ResourceRequirements")),
        13: _f("terminationMessagePath"),
        20: _f("terminationMessagePolicy"),
        14: _f("imagePullPolicy"),
        16: _f("stdin", "bool"),
        17: _f("stdinOnce", "bool"),
        18: _f("tty", "bool"),
    },
    "ContainerPort": {
        1: _f("name"),
        2: _f("hostPort", "int32"),
        3: _f("containerPort", "int32"),
        4: _f("protocol"),
        5: _f("hostIP"),
    },
    "EnvVar": {1: _f("name"), 2: _f("value")},
    "ResourceRequirements": {1: _f("limits", "map:quantity"), 2: _f("requests", "map:quantity")},
    "Service": {
        1: _named("metadata", _msg("ObjectMeta")),
        2: _named("spec", _msg("ServiceSpec")),
        3: _named("status", _msg("ServiceStatus")),
    },
    "ServiceSpec": {
        1: _named("ports", _msg("ServicePort", rep=True)),
        2: _f("selector", "map:string"),
        3: _f("clusterIP"),
        18: _f("clusterIPs", rep=True),
        4: _f("type"),
        5: _f("externalIPs", rep=True),
        7: _f("sessionAffinity"),
        8: _f("loadBalancerIP"),
        9: _f("loadBalancerSourceRanges", rep=True),
        10: _f("externalName"),
        11: _f("externalTrafficPolicy"),
        12: _f("healthCheckNodePort", "int32"),
        13: _f("publishNotReadyAddresses", "bool"),
        19: _f("ipFamilies", rep=True),
        17: _f("ipFamilyPolicy", ptr=True),
        20: _f("allocateLoadBalancerNodePorts", "bool", ptr=True),
        21: _f("loadBalancerClass", ptr=True),
        22: _f("internalTrafficPolicy", ptr=True),
        23: _f("trafficDistribution", ptr=True),
    },
    "ServicePort": {
        1: _f("name"),
        2: _f("protocol"),
        6: _f("appProtocol", ptr=True),
        3: _f("port", "int32"),
        4: _f("targetPort", "intorstring"),
        5: _f("nodePort", "int32"),
    },
    "ServiceStatus": {1: _named("loadBalancer", _msg("LoadBalancerStatus"))},
    "LoadBalancerStatus": {},
    # k8s.io/api/apps/v1
    "Deployment": {
        1: _named("metadata", _msg("ObjectMeta")),
        2: _named("spec", _msg("DeploymentSpec")),
        3: _named("status", _msg("DeploymentStatus")),
    },
    "DeploymentSpec": {
        1: _f("replicas", "int32", ptr=True),
        2: _named("selector", _msg("LabelSelector", ptr=True)),
        3: _named("template", _msg("PodTemplateSpec")),
        4: _named("strategy", _msg("DeploymentStrategy")),
        5: _f("minReadySeconds", "int32"),
        6: _f("revisionHistoryLimit", "int32", ptr=True),
        7: _f("paused", "bool"),
        9: _f("progressDeadlineSeconds", "int32", ptr=True),
    },
    "DeploymentStrategy": {1: _f("type"), 2: _named("rollingUpdate", _msg("RollingUpdateDeployment", ptr=True))},
    "RollingUpdateDeployment": {1: _f("maxUnavailable", "intorstring"), 2: _f("maxSurge", "intorstring")},
    "DeploymentStatus": {
        1: _f("observedGeneration", "int64"),
        2: _f("replicas", "int32"),
        3: _f("updatedReplicas", "int32"),
        7: _f("readyReplicas", "int32"),
        4: _f("availableReplicas", "int32"),
        5: _f("unavailableReplicas", "int32"),
        9: _f("terminatingReplicas", "int32", ptr=True),
        8: _f("collisionCount", "int32", ptr=True),
    },
    # k8s.io/api/batch/v1
    "Job": {
        1: _named("metadata", _msg("ObjectMeta")),
        2: _named("spec", _msg("JobSpec")),
        3: _named("status", _msg("JobStatus")),
    },
    "JobSpec": {
        1: _f("parallelism", "int32", ptr=True),
        2: _f("completions", "int32", ptr=True),
        3: _f("activeDeadlineSeconds", "int64", ptr=True),
        7: _f("backoffLimit", "int32", ptr=True),
        12: _f("backoffLimitPerIndex", "int32", ptr=True),
        13: _f("maxFailedIndexes", "int32", ptr=True),
        4: _named("selector", _msg("LabelSelector", ptr=True)),
        5: _f("manualSelector", "bool", ptr=True),
        6: _named("template", _msg("PodTemplateSpec")),
        8: _f("ttlSecondsAfterFinished", "int32", ptr=True),
        9: _f("completionMode", ptr=True),
        10: _f("suspend", "bool", ptr=True),
        14: _f("podReplacementPolicy", ptr=True),
        15: _f("managedBy", ptr=True),
    },
    "JobStatus": {
        2: _f("startTime", "time"),
        3: _f("completionTime", "time"),
        4: _f("active", "int32"),
        5: _f("succeeded", "int32"),
        6: _f("failed", "int32"),
        11: _f("terminating", "int32", ptr=True),
        7: _f("completedIndexes"),
        10: _f("failedIndexes", ptr=True),
        9: _f("ready", "int32", ptr=True),
    },
    # k8s.io/api/authentication/v1 (what `kubectl create token` sends)
    "TokenRequest": {
        1: _named("metadata", _msg("ObjectMeta")),
        2: _named("spec", _msg("TokenRequestSpec")),
        3: _named("status", _msg("TokenRequestStatus")),
    },
    "TokenRequestSpec": {
        1: _f("audiences", rep=True),
        4: _f("expirationSeconds", "int64", ptr=True),
        3: _named("boundObjectRef", _msg("BoundObjectReference", ptr=True)),
    },
    "BoundObjectReference": {1: _f("kind"), 2: _f("apiVersion"), 3: _f("name"), 4: _f("uid")},
    "TokenRequestStatus": {1: _f("token"), 2: _f("expirationTimestamp", "time")},
}

# (apiVersion, kind) of the objects accepted as protobuf -> their message.
KINDS: dict[tuple[str, str], str] = {
    ("v1", "Namespace"): "Namespace",
    ("v1", "Secret"): "Secret",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "Pod"): "Pod",
    ("v1", "Service"): "Service",
    ("apps/v1", "Deployment"): "Deployment",
    ("batch/v1", "Job"): "Job",
    ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
}

_WIRE_FOR_KIND = {"int32": VARINT, "int64": VARINT, "bool": VARINT}  # everything else is length-delimited
_ZERO: dict[str, Any] = {"string": "", "bytes": "", "int32": 0, "int64": 0, "bool": False}


# ---- decoding -----------------------------------------------------------------------------------------------


class Unsupported(Exception):
    """Something the tables do not cover: answered as 415."""


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def decode_message(message: str, buf: bytes, path: str = "") -> dict[str, Any]:
    """The JSON-shaped dict of a message named in MESSAGES."""
    table = MESSAGES[message]
    out: dict[str, Any] = {}
    for number, wire, value in iter_fields(buf):
        field = table.get(number)
        if field is None:
            where = f" (at {path})" if path else ""
            raise Unsupported(f"field number {number} of the protobuf message {message}{where} is not one it knows")
        fpath = _join(path, field.name)
        expected = _WIRE_FOR_KIND.get(field.kind, LEN)
        if wire != expected:
            if field.repeated and wire == LEN and expected == VARINT:
                # a packed repeated number: not used by any field in the tables
                raise Unsupported(f"packed field {fpath} of the protobuf message {message}")
            raise WireError(f"{fpath}: expected a {WIRE_NAMES[expected]} value, got {WIRE_NAMES.get(wire, str(wire))}")
        if field.kind.startswith("map:"):
            assert isinstance(value, bytes)
            key, item = _map_entry(field.kind[4:], value, fpath)
            out.setdefault(field.name, {})[key] = item
            continue
        if field.repeated:
            index = len(out.get(field.name, []))
            item = _value(field, value, f"{fpath}[{index}]")
            out.setdefault(field.name, []).append(item)
            continue
        item = _value(field, value, fpath)
        if item is _OMIT:
            out.pop(field.name, None)
            continue
        if field.kind != "message" and not field.pointer and item == _ZERO.get(field.kind, _OMIT):
            out.pop(field.name, None)  # a Go zero value on the wire: JSON would have omitted it
            continue
        out[field.name] = item
    return out


class _Omit:
    def __repr__(self) -> str:
        return "<omit>"


_OMIT: Any = _Omit()


def _value(field: Field, value: int | bytes, path: str) -> Any:
    kind = field.kind
    if kind == "string":
        assert isinstance(value, bytes)
        return _utf8(value, path)
    if kind == "bytes":
        assert isinstance(value, bytes)
        return base64.b64encode(value).decode()
    if kind in ("int32", "int64"):
        assert isinstance(value, int)
        return signed(value, 32 if kind == "int32" else 64)
    if kind == "bool":
        assert isinstance(value, int)
        return bool(value)
    assert isinstance(value, bytes)
    if kind == "message":
        assert field.message is not None
        return decode_message(field.message, value, path)
    if kind == "time":
        return _time(value, path)
    if kind == "quantity":
        return _quantity(value, path)
    if kind == "intorstring":
        return _int_or_string(value, path)
    raise AssertionError(kind)


def _utf8(value: bytes, path: str) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise WireError(f"{path}: invalid UTF-8 in a string") from None


def _map_entry(value_kind: str, buf: bytes, path: str) -> tuple[str, Any]:
    key = ""
    item: Any = _ZERO.get(value_kind, "")
    for number, wire, value in iter_fields(buf):
        if number == 1 and wire == LEN:
            assert isinstance(value, bytes)
            key = _utf8(value, path)
        elif number == 2 and wire == LEN:
            assert isinstance(value, bytes)
            if value_kind == "string":
                item = _utf8(value, f"{path}[{key}]")
            elif value_kind == "bytes":
                item = base64.b64encode(value).decode()
            elif value_kind == "quantity":
                item = _quantity(value, f"{path}[{key}]")
            else:
                raise AssertionError(value_kind)
        else:
            raise WireError(f"{path}: unexpected field {number} (wire type {wire}) in a map entry")
    return key, item


def _time(buf: bytes, path: str) -> Any:
    """meta/v1 Time {seconds=1, nanos=2}: RFC 3339 in JSON; Go's zero time is sent empty and omitted."""
    seconds = 0
    for number, wire, value in iter_fields(buf):
        if number == 1 and wire == VARINT:
            assert isinstance(value, int)
            seconds = signed(value, 64)
        elif number == 2 and wire == VARINT:
            pass  # JSON Time has whole seconds only
        else:
            raise WireError(f"{path}: unexpected field {number} in a Time")
    if seconds == 0:
        return _OMIT
    try:
        when = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return _OMIT  # Go's zero time (year 1) when a client marshals it with its seconds
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _quantity(buf: bytes, path: str) -> str:
    """resource.Quantity {string=1}."""
    text = ""
    for number, wire, value in iter_fields(buf):
        if number == 1 and wire == LEN:
            assert isinstance(value, bytes)
            text = _utf8(value, path)
        else:
            raise WireError(f"{path}: unexpected field {number} in a Quantity")
    return text


def _int_or_string(buf: bytes, path: str) -> Any:
    """intstr.IntOrString {type=1 (0 int, 1 string), intVal=2, strVal=3}."""
    type_, int_val, str_val = 0, 0, ""
    for number, wire, value in iter_fields(buf):
        if number == 1 and wire == VARINT:
            assert isinstance(value, int)
            type_ = signed(value, 64)
        elif number == 2 and wire == VARINT:
            assert isinstance(value, int)
            int_val = signed(value, 32)
        elif number == 3 and wire == LEN:
            assert isinstance(value, bytes)
            str_val = _utf8(value, path)
        else:
            raise WireError(f"{path}: unexpected field {number} in an IntOrString")
    if type_ == 1:
        return str_val
    if type_ == 0:
        return int_val if int_val != 0 else _OMIT  # the zero IntOrString: JSON clients leave it out
    raise WireError(f"{path}: IntOrString type {type_}")


def decode_unknown(buf: bytes) -> tuple[str, str, bytes, str, str]:
    """The fields of a runtime.Unknown: apiVersion, kind, raw, contentEncoding, contentType."""
    api_version = kind = encoding = ctype = ""
    raw = b""
    for number, wire, value in iter_fields(buf):
        if wire != LEN:
            raise WireError(f"runtime.Unknown field {number}: expected length-delimited")
        assert isinstance(value, bytes)
        if number == 1:
            for tnum, twire, tval in iter_fields(value):
                if twire != LEN or tnum not in (1, 2):
                    raise WireError(f"runtime.TypeMeta: unexpected field {tnum}")
                assert isinstance(tval, bytes)
                if tnum == 1:
                    api_version = _utf8(tval, "apiVersion")
                else:
                    kind = _utf8(tval, "kind")
        elif number == 2:
            raw = value
        elif number == 3:
            encoding = _utf8(value, "contentEncoding")
        elif number == 4:
            ctype = _utf8(value, "contentType")
        else:
            raise WireError(f"runtime.Unknown: unexpected field {number}")
    return api_version, kind, raw, encoding, ctype


def _accepted() -> str:
    return ", ".join(sorted({k for _, k in KINDS}))


def decode_body(body: bytes) -> dict[str, Any]:
    """A protobuf request body as the JSON-shaped object; ApiError 400 for broken bytes, 415 for what
    kubesim cannot decode."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "the body of the request was in an unknown format: protobuf without the k8s magic prefix")
    try:
        api_version, kind, raw, encoding, ctype = decode_unknown(body[len(MAGIC) :])
        message = KINDS.get((api_version, kind))
        if message is None:
            what = f"{kind} ({api_version})" if kind else "an object without a kind"
            raise Unsupported(
                f"{what}: kubesim decodes protobuf request bodies only for {_accepted()}"
                f" (core/v1, apps/v1 Deployment, batch/v1 Job, authentication.k8s.io/v1 TokenRequest)"
            )
        if encoding or ctype not in ("", CONTENT_TYPE):
            raise Unsupported(f"{kind} with contentEncoding {encoding!r} and contentType {ctype!r}")
        try:
            obj = decode_message(message, raw)
        except Unsupported as exc:
            raise Unsupported(f"{kind}: {exc}") from None
    except WireError as exc:
        raise ApiError(400, f"the body of the request could not be decoded as protobuf: {exc}") from None
    except Unsupported as exc:
        raise ApiError(
            415,
            f"kubesim cannot decode this protobuf request body: {exc}; "
            "use `kubectl apply -f` (which sends JSON) instead",
            "UnsupportedMediaType",
        ) from None
    return {"apiVersion": api_version, "kind": kind, **obj}
