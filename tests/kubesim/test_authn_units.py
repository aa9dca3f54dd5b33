"""The pure decisions behind SelfSubjectReview (who a request comes from) and the update rules of
immutable ConfigMaps and Secrets, with the real server's answers (checked against kube-apiserver
1.37 by tests/kubesim/test_immutable_and_whoami.py)."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.apiserver import admission, authn
from kubesim.errors import ApiError, invalid

IMMUTABLE = "Forbidden: field is immutable when `immutable` is set"


def test_without_impersonation_the_request_is_the_admin_or_its_service_account_token() -> None:
    assert authn.request_user({}) == authn.UserInfo("kubesim-admin", ("system:masters", "system:authenticated"))
    assert authn.request_user({"Authorization": "Bearer kubesim"}).username == "kubesim-admin"
    assert authn.request_user({"Authorization": "Bearer kubesim-serviceaccount.ns"}).username == "kubesim-admin"
    sa = authn.request_user({"Authorization": "Bearer kubesim-serviceaccount.team-a.probe"})
    assert sa == authn.UserInfo(
        "system:serviceaccount:team-a:probe",
        ("system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"),
    )


def test_impersonation_takes_precedence_and_adds_system_authenticated() -> None:
    headers = [
        ("Authorization", "Bearer kubesim-serviceaccount.team-a.probe"),
        ("Impersonate-User", "alice"),
        ("Impersonate-Group", "a"),
        ("impersonate-group", "b"),
        ("Impersonate-Uid", "u-1"),
        ("Impersonate-Extra-Scopes%2FRead", "x"),
        ("Impersonate-Extra-Scopes%2fread", "y"),
    ]
    user = authn.request_user(headers)
    assert user == authn.UserInfo("alice", ("a", "b", "system:authenticated"), "u-1", {"scopes/read": ["x", "y"]})
    assert user.to_json() == {
        "username": "alice",
        "uid": "u-1",
        "groups": ["a", "b", "system:authenticated"],
        "extra": {"scopes/read": ["x", "y"]},
    }
    asked = authn.request_user([("Impersonate-User", "bob"), ("Impersonate-Group", "system:authenticated")])
    assert asked.groups == ("system:authenticated",)
    assert authn.request_user([("Impersonate-User", "")]).username == "kubesim-admin"


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ((), ("system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated")),
        (("g",), ("g", "system:authenticated")),
    ],
)
def test_an_impersonated_service_account_gets_its_groups_unless_groups_are_asked(
    groups: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    headers = [("Impersonate-User", "system:serviceaccount:ns:bob"), *(("Impersonate-Group", g) for g in groups)]
    assert authn.request_user(headers).groups == expected


def test_a_malformed_service_account_name_is_a_plain_user() -> None:
    for name in ("system:serviceaccount:ns", "system:serviceaccount::x", "system:serviceaccount:a:b:c"):
        assert authn.service_account_name(name) is None
        assert authn.request_user([("Impersonate-User", name)]).groups == ("system:authenticated",)


def test_unauthenticated_identities_may_not_review_themselves_unless_masters() -> None:
    for headers in (
        [("Impersonate-User", "system:anonymous")],
        [("Impersonate-User", "alice"), ("Impersonate-Group", "system:unauthenticated")],
    ):
        user = authn.request_user(headers)
        assert "system:authenticated" not in user.groups
        with pytest.raises(ApiError) as caught:
            authn.self_subject_review(user)
        assert caught.value.code == 403
        assert caught.value.message == (
            f'selfsubjectreviews.authentication.k8s.io is forbidden: User "{user.username}" cannot create '
            'resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope'
        )
    assert authn.request_user([("Impersonate-User", "system:anonymous")]).groups == ("system:unauthenticated",)
    master = authn.UserInfo("root", ("system:masters", "system:unauthenticated"))
    assert authn.self_subject_review(master)["status"]["userInfo"]["username"] == "root"


def test_groups_uid_or_extras_without_a_user_are_a_bad_request_quoting_go() -> None:
    with pytest.raises(ApiError) as caught:
        authn.request_user([("Impersonate-Group", "team")])
    assert caught.value.code == 400
    assert caught.value.message == (
        'requested &user.DefaultInfo{Name:"", UID:"", Groups:[]string{"team"}, '
        "Extra:map[string][]string(nil)} without impersonating a user name"
    )
    with pytest.raises(ApiError) as caught:
        authn.request_user([("Impersonate-Uid", "u"), ("Impersonate-Extra-K", "v")])
    assert caught.value.message == (
        'requested &user.DefaultInfo{Name:"", UID:"u", Groups:[]string(nil), '
        'Extra:map[string][]string{"k":[]string{"v"}}} without impersonating a user name'
    )


def test_a_review_body_must_be_a_self_subject_review() -> None:
    authn.check_review_body({})
    authn.check_review_body({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    with pytest.raises(ApiError, match='ConfigMap in version "v1" cannot be handled as a SelfSubjectReview'):
        authn.check_review_body({"apiVersion": "v1", "kind": "ConfigMap"})


# ---- immutable ConfigMaps and Secrets ----------------------------------------------------------

CM = ("", "configmaps")
SECRET = ("", "secrets")


def obj(**fields: Any) -> dict[str, Any]:
    return {"metadata": {"name": "x"}, **fields}


def test_a_mutable_object_may_change_anything_but_an_immutable_one_only_metadata() -> None:
    assert admission.immutable_problems(CM, obj(data={"a": "2"}), obj(data={"a": "1"})) == []
    assert admission.immutable_problems(CM, obj(data={"a": "2"}), obj(data={"a": "1"}, immutable=False)) == []
    frozen = obj(data={"a": "1"}, binaryData={"b": "AA=="}, immutable=True)
    relabelled = dict(frozen, metadata={"name": "x", "labels": {"l": "v"}})
    assert admission.immutable_problems(CM, relabelled, frozen) == []
    assert admission.immutable_problems(CM, obj(data={"a": "2"}, binaryData={"b": "AQ=="}), frozen) == [
        ("immutable", IMMUTABLE),
        ("data", IMMUTABLE),
        ("binaryData", IMMUTABLE),
    ]


def test_empty_maps_follow_the_real_decoding() -> None:
    """A stored empty map is an absent field; in a request an empty ConfigMap `data` is absent too,
    but an empty map of bytes (`binaryData`, a Secret's `data`) is a change."""
    frozen = obj(immutable=True)
    assert admission.immutable_problems(CM, obj(immutable=True, data={}), frozen) == []
    assert admission.immutable_problems(CM, obj(immutable=True, binaryData={}), frozen) == [("binaryData", IMMUTABLE)]
    assert admission.immutable_problems(SECRET, obj(immutable=True, data={}), frozen) == [("data", IMMUTABLE)]
    stored_empty = obj(immutable=True, data={}, binaryData={})
    assert admission.immutable_problems(CM, obj(immutable=True), stored_empty) == []
    stored = obj(data={}, binaryData={}, immutable=True)
    admission.drop_empty_maps(stored, ("data", "binaryData"))
    assert stored == obj(immutable=True)


def test_invalid_brackets_several_distinct_causes_as_the_apiserver_does() -> None:
    assert (
        invalid("", "ConfigMap", "x", [("data", IMMUTABLE)]).message == f'ConfigMap "x" is invalid: data: {IMMUTABLE}'
    )
    two = invalid("", "ConfigMap", "x", [("immutable", IMMUTABLE), ("data", IMMUTABLE), ("data", IMMUTABLE)])
    assert two.message == f'ConfigMap "x" is invalid: [immutable: {IMMUTABLE}, data: {IMMUTABLE}]'
    assert two.details is not None and len(two.details["causes"]) == 3
    assert invalid("apps", "Deployment", "d", []).message == 'Deployment.apps "d" is invalid'
