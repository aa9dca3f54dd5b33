"""Resource types the server knows: the built-in ones and those registered by CRDs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    status_subresource: bool = False
    scale_subresource: bool = False
    has_generation: bool = False
    # Objects of all versions of one resource live in one place, keyed by (group, plural).
    storage_version: str = ""
    # CRD-only: schema and printer columns of this version, the owning CRD's name.
    schema: dict[str, Any] | None = None
    printer_columns: list[dict[str, Any]] = field(default_factory=list)
    crd_name: str | None = None
    # Extra subresources shown in discovery (e.g. pods/log) beyond status/scale.
    extra_subresources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.singular:
            self.singular = self.kind.lower()
        if not self.storage_version:
            self.storage_version = self.version

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    def subresources(self) -> list[str]:
        subs = list(self.extra_subresources)
        if self.status_subresource:
            subs.append("status")
        if self.scale_subresource:
            subs.append("scale")
        return subs


def _rt(api_version: str, plural: str, kind: str, namespaced: bool = True, **kw: Any) -> ResourceType:
    group, _, version = api_version.rpartition("/")
    return ResourceType(group=group, version=version, plural=plural, kind=kind, namespaced=namespaced, **kw)


def builtin_types() -> list[ResourceType]:
    return [
        _rt(
            "v1",
            "namespaces",
            "Namespace",
            False,
            short_names=("ns",),
            status_subresource=True,
            verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        ),
        _rt(
            "v1",
            "pods",
            "Pod",
            short_names=("po",),
            categories=("all",),
            status_subresource=True,
            extra_subresources=("log", "binding", "eviction"),
        ),
        _rt("v1", "nodes", "Node", False, short_names=("no",), status_subresource=True),
        _rt("v1", "events", "Event", short_names=("ev",)),
        _rt("v1", "services", "Service", short_names=("svc",), categories=("all",), status_subresource=True),
        _rt("v1", "configmaps", "ConfigMap", short_names=("cm",)),
        _rt("v1", "secrets", "Secret"),
        _rt("v1", "serviceaccounts", "ServiceAccount", short_names=("sa",), extra_subresources=("token",)),
        _rt("events.k8s.io/v1", "events", "Event", short_names=("ev",)),
        _rt(
            "apps/v1",
            "deployments",
            "Deployment",
            short_names=("deploy",),
            categories=("all",),
            status_subresource=True,
            scale_subresource=True,
            has_generation=True,
        ),
        _rt(
            "apps/v1",
            "replicasets",
            "ReplicaSet",
            short_names=("rs",),
            categories=("all",),
            status_subresource=True,
            scale_subresource=True,
            has_generation=True,
        ),
        _rt("batch/v1", "jobs", "Job", categories=("all",), status_subresource=True, has_generation=True),
        _rt("coordination.k8s.io/v1", "leases", "Lease"),
        # answered, never stored: who the request comes from (apiserver/authn.py)
        _rt("authentication.k8s.io/v1", "selfsubjectreviews", "SelfSubjectReview", False, verbs=("create",)),
        # RBAC objects are stored so manifests apply; kubesim does not authorize requests.
        _rt("rbac.authorization.k8s.io/v1", "roles", "Role"),
        _rt("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding"),
        _rt("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False),
        _rt("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False),
        # stored and served only: kubesim has no authorizer, so it enforces no admission policy
        _rt(
            "admissionregistration.k8s.io/v1",
            "validatingadmissionpolicies",
            "ValidatingAdmissionPolicy",
            False,
            status_subresource=True,
            has_generation=True,
        ),
        _rt(
            "admissionregistration.k8s.io/v1",
            "validatingadmissionpolicybindings",
            "ValidatingAdmissionPolicyBinding",
            False,
            has_generation=True,
        ),
        _rt(
            "apiextensions.k8s.io/v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            False,
            short_names=("crd", "crds"),
            categories=("api-extensions",),
            status_subresource=True,
            has_generation=True,
        ),
    ]


class Registry:
    """Resource types by (api_version, plural); CRDs add and remove theirs at run time."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str], ResourceType] = {}
        for rt in builtin_types():
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._types[(rt.api_version, rt.plural)] = rt

    def remove_crd(self, crd_name: str) -> list[ResourceType]:
        gone = [rt for rt in self._types.values() if rt.crd_name == crd_name]
        for rt in gone:
            del self._types[(rt.api_version, rt.plural)]
        return gone

    def get(self, api_version: str, plural: str) -> ResourceType | None:
        return self._types.get((api_version, plural))

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._types.values()))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rt in self._types.values():
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        return None

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions (core group is '')."""
        out: dict[str, list[str]] = {}
        for rt in self._types.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out

    def crd_types(self, crd: dict[str, Any]) -> list[ResourceType]:
        """The resource types a CRD object declares (one per served version)."""
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        storage = next((v["name"] for v in spec.get("versions", []) if v.get("storage")), "")
        out = []
        for ver in spec.get("versions", []):
            if not ver.get("served", True):
                continue
            subs = ver.get("subresources") or {}
            out.append(
                ResourceType(
                    group=spec["group"],
                    version=ver["name"],
                    plural=names["plural"],
                    kind=names["kind"],
                    singular=names.get("singular") or names["kind"].lower(),
                    namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                    short_names=tuple(names.get("shortNames") or ()),
                    categories=tuple(names.get("categories") or ()),
                    status_subresource="status" in subs,
                    scale_subresource="scale" in subs,
                    has_generation=True,
                    storage_version=storage or ver["name"],
                    schema=(ver.get("schema") or {}).get("openAPIV3Schema"),
                    printer_columns=list(ver.get("additionalPrinterColumns") or []),
                    crd_name=crd["metadata"]["name"],
                )
            )
        return out
