"""Who a request comes from, as kube-apiserver's authentication and impersonation would tell it, for
`SelfSubjectReview` (POST /apis/authentication.k8s.io/v1/selfsubjectreviews, `kubectl auth whoami`).

kubesim checks no credentials: a request is the admin unless it carries a service-account token
kubesim issued (`kubesim-serviceaccount.NS.NAME`, see subresources.token_request) or impersonation
headers. The admin has the name and groups of the real control plane's admin certificate
(kubesim/real/certs.py: CN `kubesim-admin`, O `system:masters`), so both backends answer alike."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubesim import clock
from kubesim.cluster import Obj
from kubesim.errors import ApiError, bad_request

ADMIN_USER = "kubesim-admin"
ADMIN_GROUPS = ("system:masters", "system:authenticated")
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
SA_PREFIX = "system:serviceaccount:"
SA_TOKEN_PREFIX = "kubesim-serviceaccount."
EXTRA_PREFIX = "impersonate-extra-"


@dataclass(frozen=True)
class UserInfo:
    username: str
    groups: tuple[str, ...]
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"username": self.username}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = self.extra
        return out


def service_account_name(username: str) -> tuple[str, str] | None:
    """(namespace, name) of `system:serviceaccount:NS:NAME`, as serviceaccount.SplitUsername splits it."""
    if not username.startswith(SA_PREFIX):
        return None
    parts = username[len(SA_PREFIX) :].split(":")
    if len(parts) != 2 or not all(parts):
        return None
    return parts[0], parts[1]


def service_account_groups(namespace: str) -> tuple[str, ...]:
    return ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")


def authenticated(authorization: str) -> UserInfo:
    """The user a request's credentials stand for: a kubesim service-account token, else the admin."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.startswith(SA_TOKEN_PREFIX):
        namespace, _, name = token[len(SA_TOKEN_PREFIX) :].partition(".")
        if namespace and name:
            return UserInfo(f"{SA_PREFIX}{namespace}:{name}", (*service_account_groups(namespace), AUTHENTICATED))
    return UserInfo(ADMIN_USER, ADMIN_GROUPS)


def impersonated(headers: Sequence[tuple[str, str]]) -> UserInfo | None:
    """The user the `Impersonate-*` headers ask for (None without them), with the groups the real
    impersonation filter gives: the service-account groups for a service account named without
    groups, then `system:authenticated` unless it or `system:unauthenticated` was asked for."""
    username, uid = "", ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    for name, value in headers:
        key = name.lower()
        if key == "impersonate-user":
            username = value
        elif key == "impersonate-group":
            groups.append(value)
        elif key == "impersonate-uid":
            uid = value
        elif key.startswith(EXTRA_PREFIX):
            extra.setdefault(urllib.parse.unquote(key[len(EXTRA_PREFIX) :]), []).append(value)
    if not username:
        if groups or uid or extra:
            raise bad_request(f"requested {_go_user_info(groups, uid, extra)} without impersonating a user name")
        return None
    sa = service_account_name(username)
    if sa is not None and not groups:
        groups = list(service_account_groups(sa[0]))
    if username == ANONYMOUS:
        if UNAUTHENTICATED not in groups:
            groups.append(UNAUTHENTICATED)
    elif AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    return UserInfo(username, tuple(groups), uid, extra)


def _go_user_info(groups: list[str], uid: str, extra: dict[str, list[str]]) -> str:
    """A user.DefaultInfo as Go's %#v prints it (the real server's message quotes it)."""
    quoted = ", ".join(json.dumps(g) for g in groups)
    go_groups = f"[]string{{{quoted}}}" if groups else "[]string(nil)"
    entries = ", ".join(
        f"{json.dumps(k)}:[]string{{{', '.join(json.dumps(v) for v in vs)}}}" for k, vs in sorted(extra.items())
    )
    go_extra = f"map[string][]string{{{entries}}}" if extra else "map[string][]string(nil)"
    return f'&user.DefaultInfo{{Name:"", UID:{json.dumps(uid)}, Groups:{go_groups}, Extra:{go_extra}}}'


def request_user(headers: Mapping[str, str] | Sequence[tuple[str, str]]) -> UserInfo:
    """Who made a request: the impersonated user, else whom its credentials name."""
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    user = impersonated(pairs)
    if user is not None:
        return user
    authorization = next((v for k, v in pairs if k.lower() == "authorization"), "")
    return authenticated(authorization)


def check_review_body(body: Any) -> None:
    """The body must be a SelfSubjectReview (its content is ignored, as by the real server)."""
    if not isinstance(body, dict):
        raise bad_request("the body of the request was not a JSON object")
    api_version, kind = body.get("apiVersion"), body.get("kind")
    if (api_version, kind) in ((None, None), ("authentication.k8s.io/v1", "SelfSubjectReview")):
        return
    raise bad_request(f'{kind} in version "{api_version}" cannot be handled as a SelfSubjectReview')


def self_subject_review(user: UserInfo) -> Obj:
    """The answer to a SelfSubjectReview; like the default RBAC (system:basic-user is bound to
    system:authenticated only), an unauthenticated user may not ask unless in system:masters."""
    if AUTHENTICATED not in user.groups and "system:masters" not in user.groups:
        raise ApiError(
            403,
            f'selfsubjectreviews.authentication.k8s.io is forbidden: User "{user.username}" cannot create '
            'resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope',
            "Forbidden",
            {"group": "authentication.k8s.io", "kind": "selfsubjectreviews"},
        )
    return {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": clock.now_str()},
        "status": {"userInfo": user.to_json()},
    }
