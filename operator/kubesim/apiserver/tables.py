"""Server-side printing: `meta.k8s.io/v1 Table` for built-in kinds (the columns kubectl shows against
a real cluster) and for custom resources (from the CRD's additionalPrinterColumns)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kubesim import clock
from kubesim.apiserver.jsonpath import find
from kubesim.apiserver.resources import ResourceType
from kubesim.apiserver.selectors import selector_to_string
from kubesim.cluster import Obj

Column = tuple[str, str, str, int]  # name, type, description, priority


def age(obj: Obj) -> str:
    created = clock.parse(obj.get("metadata", {}).get("creationTimestamp"))
    if created is None:
        return "<unknown>"
    return clock.human_duration((clock.now() - created).total_seconds())


def _since(ts: str | None) -> str:
    t = clock.parse(ts)
    return clock.human_duration((clock.now() - t).total_seconds()) if t else "<unknown>"


def _pod_cells(o: Obj) -> list[Any]:
    st = o.get("status") or {}
    spec = o.get("spec") or {}
    statuses = st.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    reason = st.get("reason") or st.get("phase") or "Pending"
    for c in statuses:
        state = c.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            t = state["terminated"]
            reason = t.get("reason") or (
                f"Signal:{t['signal']}" if t.get("signal") else f"ExitCode:{t.get('exitCode')}"
            )
    if o["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return [
        o["metadata"]["name"],
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        restarts,
        age(o),
        st.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
    ]


def _containers(o: Obj) -> tuple[str, str]:
    cs = ((o.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _deploy_cells(o: Obj) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers(o)
    return [
        o["metadata"]["name"],
        f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        st.get("updatedReplicas", 0),
        st.get("availableReplicas", 0),
        age(o),
        names,
        images,
        selector_to_string(spec.get("selector")),
    ]


def _rs_cells(o: Obj) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers(o)
    return [
        o["metadata"]["name"],
        spec.get("replicas", 1),
        st.get("replicas", 0),
        st.get("readyReplicas", 0),
        age(o),
        names,
        images,
        selector_to_string(spec.get("selector")),
    ]


def _job_cells(o: Obj) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    status = "Complete" if conds.get("Complete") == "True" else "Failed" if conds.get("Failed") == "True" else "Running"
    start, end = clock.parse(st.get("startTime")), clock.parse(st.get("completionTime"))
    duration = clock.human_duration(((end or clock.now()) - start).total_seconds()) if start else ""
    names, images = _containers(o)
    return [
        o["metadata"]["name"],
        status,
        f"{st.get('succeeded', 0)}/{spec.get('completions', 1)}",
        duration,
        age(o),
        names,
        images,
        selector_to_string(spec.get("selector")),
    ]


def _svc_cells(o: Obj) -> list[Any]:
    spec = o.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    return [
        o["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        "<none>",
        ports,
        age(o),
        selector_to_string({"matchLabels": spec.get("selector") or {}}) or "<none>",
    ]


def _event_cells(o: Obj) -> list[Any]:
    inv = o.get("involvedObject") or o.get("regarding") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    return [
        _since(last),
        o.get("type", ""),
        o.get("reason", ""),
        f"{(inv.get('kind') or '').lower()}/{inv.get('name', '')}",
        o.get("message") or o.get("note", ""),
    ]


S, INT = "string", "integer"
BUILTIN: dict[tuple[str, str], tuple[list[Column], Callable[[Obj], list[Any]]]] = {
    ("", "pods"): (
        [
            ("Name", S, "", 0),
            ("Ready", S, "", 0),
            ("Status", S, "", 0),
            ("Restarts", S, "", 0),
            ("Age", S, "", 0),
            ("IP", S, "", 1),
            ("Node", S, "", 1),
        ],
        _pod_cells,
    ),
    ("apps", "deployments"): (
        [
            ("Name", S, "", 0),
            ("Ready", S, "", 0),
            ("Up-to-date", INT, "", 0),
            ("Available", INT, "", 0),
            ("Age", S, "", 0),
            ("Containers", S, "", 1),
            ("Images", S, "", 1),
            ("Selector", S, "", 1),
        ],
        _deploy_cells,
    ),
    ("apps", "replicasets"): (
        [
            ("Name", S, "", 0),
            ("Desired", INT, "", 0),
            ("Current", INT, "", 0),
            ("Ready", INT, "", 0),
            ("Age", S, "", 0),
            ("Containers", S, "", 1),
            ("Images", S, "", 1),
            ("Selector", S, "", 1),
        ],
        _rs_cells,
    ),
    ("batch", "jobs"): (
        [
            ("Name", S, "", 0),
            ("Status", S, "", 0),
            ("Completions", S, "", 0),
            ("Duration", S, "", 0),
            ("Age", S, "", 0),
            ("Containers", S, "", 1),
            ("Images", S, "", 1),
            ("Selector", S, "", 1),
        ],
        _job_cells,
    ),
    ("", "services"): (
        [
            ("Name", S, "", 0),
            ("Type", S, "", 0),
            ("Cluster-IP", S, "", 0),
            ("External-IP", S, "", 0),
            ("Port(s)", S, "", 0),
            ("Age", S, "", 0),
            ("Selector", S, "", 1),
        ],
        _svc_cells,
    ),
    ("", "namespaces"): (
        [("Name", S, "", 0), ("Status", S, "", 0), ("Age", S, "", 0)],
        lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", "Active"), age(o)],
    ),
    ("", "configmaps"): (
        [("Name", S, "", 0), ("Data", INT, "", 0), ("Age", S, "", 0)],
        lambda o: [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}), age(o)],
    ),
    ("", "secrets"): (
        [("Name", S, "", 0), ("Type", S, "", 0), ("Data", INT, "", 0), ("Age", S, "", 0)],
        lambda o: [o["metadata"]["name"], o.get("type", "Opaque"), len(o.get("data") or {}), age(o)],
    ),
    ("", "events"): (
        [
            ("Last Seen", S, "", 0),
            ("Type", S, "", 0),
            ("Reason", S, "", 0),
            ("Object", S, "", 0),
            ("Message", S, "", 0),
        ],
        _event_cells,
    ),
    ("apiextensions.k8s.io", "customresourcedefinitions"): (
        [("Name", S, "", 0), ("Created At", "date", "", 0)],
        lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp")],
    ),
}


def _cell(obj: Obj, col: dict[str, Any]) -> Any:
    try:
        values = find(obj, col.get("jsonPath", ""))
    except ValueError:
        return None
    if not values:
        return None
    type_ = col.get("type", "string")
    if type_ == "date":
        return _since(values[0]) if isinstance(values[0], str) else None
    if type_ in ("integer", "number", "boolean") and len(values) == 1:
        return values[0]
    return " ".join(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in values)


def columns_and_cells(rt: ResourceType) -> tuple[list[Column], Callable[[Obj], list[Any]]]:
    if rt.crd_name is not None:
        cols = rt.printer_columns
        if not cols:
            return [("Name", S, "", 0), ("Age", "date", "", 0)], lambda o: [o["metadata"]["name"], age(o)]
        defs: list[Column] = [("Name", S, "Name must be unique within a namespace.", 0)]
        defs += [(c["name"], c.get("type", S), c.get("description", ""), int(c.get("priority", 0))) for c in cols]
        return defs, lambda o: [o["metadata"]["name"], *(_cell(o, c) for c in cols)]
    found = BUILTIN.get((rt.group, rt.plural))
    if found:
        return found
    return [("Name", S, "", 0), ("Age", S, "", 0)], lambda o: [o["metadata"]["name"], age(o)]


def partial_metadata(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def table(
    rt: ResourceType,
    objs: list[Obj],
    include_object: str = "Metadata",
    resource_version: str = "",
    with_columns: bool = True,
) -> Obj:
    cols, cells = columns_and_cells(rt)
    rows = []
    for o in objs:
        row: Obj = {"cells": cells(o)}
        if include_object == "Object":
            row["object"] = o
        elif include_object != "None":
            row["object"] = partial_metadata(o)
        rows.append(row)
    out: Obj = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "rows": rows,
    }
    if with_columns:
        out["columnDefinitions"] = [
            {
                "name": n,
                "type": "string" if t == "date" and rt.crd_name is None else t,
                "format": "name" if n == "Name" else "",
                "description": d,
                "priority": p,
            }
            for n, t, d, p in cols
        ]
    return out
