"""events.k8s.io/v1 Events are the core/v1 Events seen through another schema: one store, converted
on the way in and out (as the real server does)."""

from __future__ import annotations

from kubesim.cluster import Obj

_RENAMES = [  # (core/v1 field, events.k8s.io/v1 field)
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
]
_SAME = ("metadata", "reason", "type", "action", "related", "series", "eventTime", "reportingInstance")


def to_events_v1(core: Obj) -> Obj:
    out: Obj = {"apiVersion": "events.k8s.io/v1", "kind": "Event"}
    for k in _SAME:
        if k in core:
            out[k] = core[k]
    for old, new in _RENAMES:
        if old in core:
            out[new] = core[old]
    if not out.get("eventTime"):
        # eventTime is required in events.k8s.io/v1; core events written the old way only have timestamps.
        ts = (
            core.get("firstTimestamp")
            or core.get("lastTimestamp")
            or (core.get("metadata") or {}).get("creationTimestamp")
        )
        if ts:
            out["eventTime"] = ts.replace("Z", ".000000Z") if "." not in ts else ts
    if not out.get("reportingController") and (core.get("source") or {}).get("component"):
        out["reportingController"] = core["source"]["component"]
    return out


def to_core(ev: Obj) -> Obj:
    out: Obj = {"apiVersion": "v1", "kind": "Event"}
    for k in _SAME:
        if k in ev:
            out[k] = ev[k]
    for old, new in _RENAMES:
        if new in ev:
            out[old] = ev[new]
    if "source" not in out and ev.get("reportingController"):
        out["source"] = {"component": ev["reportingController"]}
    return out


def field_selector_to_core(selector: str | None) -> str | None:
    if not selector:
        return selector
    for old, new in _RENAMES:
        selector = selector.replace(f"{new}.", f"{old}.").replace(f"{new}=", f"{old}=")
    return selector
