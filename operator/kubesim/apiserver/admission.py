"""Per-kind defaulting and validation, run on every create and update before an object is stored,
and the side effects of some writes (CRDs register resources, namespaces take their content along)."""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import TYPE_CHECKING, Any, Literal, cast

from kubesim import clock
from kubesim.apiserver import builtin_schemas, validation
from kubesim.apiserver.resources import ResourceType
from kubesim.apiserver.selectors import selector_matches
from kubesim.cluster import Obj
from kubesim.errors import ApiError, invalid

if TYPE_CHECKING:
    from kubesim.apiserver.store import Store


def new_namespace(name: str) -> Obj:
    import uuid

    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "uid": str(uuid.uuid4()),
            "creationTimestamp": clock.now_str(),
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def invalid_obj(rt: ResourceType, obj: Obj, causes: list[tuple[str, str]]) -> ApiError:
    return invalid(rt.group, rt.kind, (obj.get("metadata") or {}).get("name", ""), causes)


def default_propagation(rt: ResourceType) -> Literal["Background", "Orphan"]:
    # batch/v1 Jobs orphan their pods unless the client asks otherwise, as the real server does.
    return "Orphan" if rt.plural == "jobs" and rt.group == "batch" else "Background"


def admit(store: Store, rt: ResourceType, obj: Obj, old: Obj | None, field_validation: str | None) -> Obj:
    if rt.crd_name:
        crd_rt = rt
        if rt.version != rt.storage_version:
            crd_rt = store.registry.get(f"{rt.group}/{rt.storage_version}", rt.plural) or rt
        return validation.admit_custom(crd_rt, obj, old, field_validation)
    obj = cast(Obj, drop_nulls(obj))  # typed decoding on the real server: a null field is an absent one
    unknown = builtin_schemas.unknown_fields(rt, obj)
    if unknown:
        validation.report_unknown_fields(rt, unknown, field_validation)
        builtin_schemas.prune(rt, obj, unknown)
    fn = _DEFAULTERS.get((rt.group, rt.plural))
    if fn is not None:
        fn(obj, old)
    if rt.plural == "customresourcedefinitions" and store.strict_crds:
        problems = validation.crd_schema_problems(obj)
        if problems:
            raise invalid_obj(rt, obj, problems)
    causes = [] if old is None else [c for v in _UPDATE_VALIDATORS.get((rt.group, rt.plural), ()) for c in v(obj, old)]
    causes += [c for v in _VALIDATORS.get((rt.group, rt.plural), ()) for c in v(obj)]
    if causes:
        raise invalid_obj(rt, obj, causes)
    if (rt.group, rt.plural) in _DATA_FIELDS:
        drop_empty_maps(obj, _DATA_FIELDS[(rt.group, rt.plural)])
    return obj


def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


# ---- defaults ---------------------------------------------------------------------------------


def _pod_spec_defaults(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(c, dict):
            continue
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        image = str(c.get("image", ""))
        tag = image.rsplit("/", 1)[-1]
        c.setdefault("imagePullPolicy", "Always" if ":" not in tag or tag.endswith(":latest") else "IfNotPresent")
        c.setdefault("resources", {})
        for p in c.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")


def _template_defaults(obj: Obj) -> None:
    tmpl = obj.setdefault("spec", {}).setdefault("template", {})
    tmpl.setdefault("metadata", {})
    _pod_spec_defaults(tmpl.setdefault("spec", {}))


def _pod(obj: Obj, old: Obj | None) -> None:
    spec = obj.setdefault("spec", {})
    _pod_spec_defaults(spec)
    if old is None:
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    spec.setdefault("enableServiceLinks", True)


def _deployment(obj: Obj, old: Obj | None) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        ru = strategy.setdefault("rollingUpdate", {})
        ru.setdefault("maxSurge", "25%")
        ru.setdefault("maxUnavailable", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template_defaults(obj)


def _replicaset(obj: Obj, old: Obj | None) -> None:
    obj.setdefault("spec", {}).setdefault("replicas", 1)
    _template_defaults(obj)


def _job(obj: Obj, old: Obj | None) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    _template_defaults(obj)
    md = obj["metadata"]
    if old is None and not spec.get("manualSelector"):
        uid, name = md["uid"], md["name"]
        labels = spec["template"]["metadata"].setdefault("labels", {})
        labels.update(
            {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": uid,
                "job-name": name,
            }
        )
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        md.setdefault("labels", {}).update(
            {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": uid,
                "job-name": name,
            }
        )


def _service(obj: Obj, old: Obj | None) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for p in spec.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
    if old is not None and old.get("spec", {}).get("clusterIP") and not spec.get("clusterIP"):
        spec["clusterIP"] = old["spec"]["clusterIP"]
        if "clusterIPs" in old["spec"]:
            spec["clusterIPs"] = old["spec"]["clusterIPs"]
    obj.setdefault("status", {"loadBalancer": {}})


_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def name_problems(rt: ResourceType, name: str) -> list[tuple[str, str]]:
    """What the real API server says of an object's name: namespaces are RFC 1123 labels, Services
    DNS-1035 labels, RBAC objects path segments, everything else RFC 1123 subdomains."""
    if rt.group == "rbac.authorization.k8s.io":
        bad = name in (".", "..") or "/" in name or "%" in name
        return [("metadata.name", f"Invalid value: {json.dumps(name)}: may not contain '/' or '%'")] if bad else []
    if rt.group == "" and rt.plural in ("namespaces", "services"):
        pattern, message, limit = (
            (_LABEL, _LABEL_MESSAGE, 63) if rt.plural == "namespaces" else (_DNS1035, _DNS1035_MESSAGE, 63)
        )
    else:
        pattern, message, limit = _SUBDOMAIN, _SUBDOMAIN_MESSAGE, 253
    problems = []
    if len(name) > limit:
        problems.append(
            ("metadata.name", f"Invalid value: {json.dumps(name)}: must be no more than {limit} characters")
        )
    if not pattern.fullmatch(name):
        problems.append(("metadata.name", f"Invalid value: {json.dumps(name)}: {message}"))
    return problems


def _namespace(obj: Obj, old: Obj | None) -> None:
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    if old is None:
        obj["status"] = {"phase": "Active"}


def _secret(obj: Obj, old: Obj | None) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    data = obj.setdefault("data", {}) if string_data else obj.get("data")
    for k, v in string_data.items():
        assert data is not None
        data[k] = base64.b64encode(str(v).encode()).decode()


def _crd(obj: Obj, old: Obj | None) -> None:
    spec = obj.get("spec") or {}
    names = dict(spec.get("names") or {})
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    ts = clock.now_str()
    prev = {c["type"]: c for c in ((old or {}).get("status") or {}).get("conditions") or []}
    conditions = []
    for type_, reason, msg in (
        ("NamesAccepted", "NoConflicts", "no conflicts found"),
        ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
    ):
        c = prev.get(type_) or {
            "type": type_,
            "status": "True",
            "lastTransitionTime": ts,
            "reason": reason,
            "message": msg,
        }
        conditions.append(c)
    obj["status"] = {
        "acceptedNames": names,
        "conditions": conditions,
        "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")],
    }


_DEFAULTERS = {
    ("", "pods"): _pod,
    ("apps", "deployments"): _deployment,
    ("apps", "replicasets"): _replicaset,
    ("batch", "jobs"): _job,
    ("", "services"): _service,
    ("", "namespaces"): _namespace,
    ("", "secrets"): _secret,
    ("apiextensions.k8s.io", "customresourcedefinitions"): _crd,
}


# ---- validation of built-in kinds (what our manifests can get wrong) ----------------------------


def _containers(obj: Obj, prefix: str, spec: Any) -> list[tuple[str, str]]:
    if not isinstance(spec, dict):
        return [(prefix, "Required value")]
    containers = spec.get("containers")
    if not containers:
        return [(f"{prefix}.containers", "Required value")]
    causes = []
    for i, c in enumerate(containers):
        if not isinstance(c, dict) or not c.get("name"):
            causes.append((f"{prefix}.containers[{i}].name", "Required value"))
        if not isinstance(c, dict) or not c.get("image"):
            causes.append((f"{prefix}.containers[{i}].image", "Required value"))
    return causes


def _v_pod(obj: Obj) -> list[tuple[str, str]]:
    return _containers(obj, "spec", obj.get("spec"))


def _v_workload(obj: Obj) -> list[tuple[str, str]]:
    spec = obj.get("spec") or {}
    causes = _containers(obj, "spec.template.spec", (spec.get("template") or {}).get("spec"))
    selector = spec.get("selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selector:
        causes.append(("spec.selector", "Required value"))
    elif not selector_matches(selector, labels) or not labels:
        causes.append(
            (
                "spec.template.metadata.labels",
                f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`",
            )
        )
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        causes.append(("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"))
    return causes


def _v_job(obj: Obj) -> list[tuple[str, str]]:
    spec = obj.get("spec") or {}
    tspec = (spec.get("template") or {}).get("spec") or {}
    causes = _containers(obj, "spec.template.spec", tspec)
    policy = tspec.get("restartPolicy")
    if policy not in ("Never", "OnFailure"):
        causes.append(
            (
                "spec.template.spec.restartPolicy",
                f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"',
            )
        )
    return causes


def _go_map(labels: dict[str, str]) -> str:
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"


_VALIDATORS = {
    ("", "pods"): [_v_pod],
    ("apps", "deployments"): [_v_workload],
    ("apps", "replicasets"): [_v_workload],
    ("batch", "jobs"): [_v_job],
}


# ---- validation of updates (ValidateConfigMapUpdate, ValidateSecretUpdate) ----------------------

IMMUTABLE_SET = "Forbidden: field is immutable when `immutable` is set"
# The fields an immutable ConfigMap or Secret keeps. Storage drops an empty map (protobuf has no
# empty map), so a stored `{}` is an absent field; in the request, an empty `data` of a ConfigMap
# (string values) decodes as absent while an empty map of bytes (`binaryData`, a Secret's `data`)
# stays a present, empty map, which the real server counts as a change.
_DATA_FIELDS = {("", "configmaps"): ("data", "binaryData"), ("", "secrets"): ("data",)}
_EMPTY_IS_ABSENT = {("", "configmaps", "data")}


def drop_empty_maps(obj: Obj, fields: tuple[str, ...]) -> None:
    for name in fields:
        if obj.get(name) == {}:
            del obj[name]


def immutable_problems(kind_key: tuple[str, str], new: Obj, old: Obj) -> list[tuple[str, str]]:
    """What the real server refuses in an update of a ConfigMap or Secret stored with
    `immutable: true`: turning it mutable, or any change to its data (a Secret's `stringData` is
    already folded into `data` here)."""
    if old.get("immutable") is not True:
        return []
    causes = []
    if new.get("immutable") is not True:
        causes.append(("immutable", IMMUTABLE_SET))
    for name in _DATA_FIELDS[kind_key]:
        before = old.get(name) or None
        after = new.get(name)
        if (*kind_key, name) in _EMPTY_IS_ABSENT:
            after = after or None
        if after != before:
            causes.append((name, IMMUTABLE_SET))
    return causes


def _u_configmap(obj: Obj, old: Obj) -> list[tuple[str, str]]:
    return immutable_problems(("", "configmaps"), obj, old)


def _u_secret(obj: Obj, old: Obj) -> list[tuple[str, str]]:
    causes = []
    if obj.get("type") != old.get("type"):  # any Secret, immutable or not
        causes.append(("type", f"Invalid value: {json.dumps(obj.get('type'))}: field is immutable"))
    return causes + immutable_problems(("", "secrets"), obj, old)


_UPDATE_VALIDATORS = {
    ("", "configmaps"): [_u_configmap],
    ("", "secrets"): [_u_secret],
}


# ---- side effects -----------------------------------------------------------------------------


def after_write(store: Store, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
    if rt.plural == "customresourcedefinitions" and rt.group == "apiextensions.k8s.io":
        if obj["metadata"].get("deletionTimestamp"):
            return
        store.registry.remove_crd(obj["metadata"]["name"])
        for crt in store.registry.crd_types(obj):
            store.registry.add(crt)


def after_delete(store: Store, rt: ResourceType, obj: Obj) -> None:
    if rt.plural == "customresourcedefinitions" and rt.group == "apiextensions.k8s.io":
        types = store.registry.crd_types(obj)
        for crt in types[:1]:
            for cr in list(store.select(crt)):
                store._remove(crt, copy.deepcopy(cr))
        store.registry.remove_crd(obj["metadata"]["name"])
    elif rt.plural == "namespaces" and rt.group == "":
        ns = obj["metadata"]["name"]
        for nrt in store.registry:
            if nrt.namespaced and nrt.version == nrt.storage_version:
                for o in list(store.select(nrt, ns)):
                    store._remove(nrt, o)
