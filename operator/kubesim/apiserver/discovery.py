"""Discovery documents: the legacy ones (APIVersions, APIGroupList, APIResourceList) and the
aggregated v2 form kubectl 1.32 asks for first."""

from __future__ import annotations

from typing import Any

from kubesim.apiserver.resources import Registry, ResourceType

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-kubesim",
    "gitCommit": "kubesim",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23",
    "compiler": "gc",
    "platform": "linux/amd64",
}

AGGREGATED_ACCEPT = "as=apigroupdiscoverylist"
SUB_VERBS = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
    "log": ["get"],
    "binding": ["create"],
    "token": ["create"],
    "eviction": ["create"],
}
SUB_KINDS = {
    "scale": ("autoscaling", "v1", "Scale"),
    "binding": ("", "v1", "Binding"),
    "token": ("authentication.k8s.io", "v1", "TokenRequest"),
    "eviction": ("policy", "v1", "Eviction"),
}


def core_versions(address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def group_list(registry: Registry) -> dict[str, Any]:
    groups = []
    for group, versions in sorted(registry.groups().items()):
        if not group:
            continue
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    for g in group_list(registry)["groups"]:
        if g["name"] == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **g}
    return None


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = [rt for rt in registry if rt.group == group and rt.version == version]
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rt in sorted(types, key=lambda r: r.plural):
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        for sub in rt.subresources():
            g, v, kind = SUB_KINDS.get(sub, (rt.group, rt.version, rt.kind))
            sub_entry = {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind,
                "verbs": SUB_VERBS[sub],
            }
            if sub in ("scale", "token"):
                sub_entry.update(group=g, version=v)
            resources.append(sub_entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        out["shortNames"] = list(rt.short_names)
    if rt.categories:
        out["categories"] = list(rt.categories)
    subs = []
    for sub in rt.subresources():
        g, v, kind = SUB_KINDS.get(sub, (rt.group, rt.version, rt.kind))
        subs.append(
            {"subresource": sub, "responseKind": {"group": g, "version": v, "kind": kind}, "verbs": SUB_VERBS[sub]}
        )
    if subs:
        out["subresources"] = subs
    return out


def aggregated(registry: Registry, core: bool) -> dict[str, Any]:
    """APIGroupDiscoveryList for /api (core=True) or /apis."""
    items = []
    for group, versions in sorted(registry.groups().items()):
        if bool(group) == core:
            continue
        vers = []
        for v in versions:
            rts = sorted((rt for rt in registry if rt.group == group and rt.version == v), key=lambda r: r.plural)
            vers.append({"version": v, "resources": [_aggregated_resource(rt) for rt in rts], "freshness": "Current"})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": vers})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}
