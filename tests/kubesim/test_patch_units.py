"""The three patch types, on their own."""

from __future__ import annotations

import pytest

from kubesim.apiserver.patch import json_patch, merge_patch, strategic_merge_patch
from kubesim.errors import ApiError


def test_merge_patch_sets_nested_values_and_null_deletes() -> None:
    doc = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert merge_patch(doc, {"a": {"b": None, "d": 3}, "l": [3]}) == {"a": {"c": 2, "d": 3}, "l": [3]}
    assert doc == {"a": {"b": 1, "c": 2}, "l": [1, 2]}, "the input is not modified"


def test_json_patch_add_remove_replace_move_copy_and_test() -> None:
    doc = {"spec": {"items": ["a", "c"], "x": 1}}
    ops = [
        {"op": "add", "path": "/spec/items/1", "value": "b"},
        {"op": "add", "path": "/spec/items/-", "value": "d"},
        {"op": "replace", "path": "/spec/x", "value": 2},
        {"op": "copy", "from": "/spec/x", "path": "/spec/y"},
        {"op": "move", "from": "/spec/y", "path": "/spec/z"},
        {"op": "test", "path": "/spec/z", "value": 2},
        {"op": "remove", "path": "/spec/items/0"},
        {"op": "add", "path": "/metadata~1x", "value": True},
    ]
    assert json_patch(doc, ops) == {"spec": {"items": ["b", "c", "d"], "x": 2, "z": 2}, "metadata/x": True}


def test_json_patch_failed_test_and_missing_path_are_errors() -> None:
    with pytest.raises(ApiError) as err:
        json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    assert err.value.code == 422
    with pytest.raises(ApiError):
        json_patch({"a": 1}, [{"op": "remove", "path": "/b"}])
    with pytest.raises(ApiError) as bad:
        json_patch({"a": 1}, {"op": "add"})
    assert bad.value.code == 400


def test_strategic_merge_by_keys_and_finalizers_as_a_set() -> None:
    pod = {
        "metadata": {"finalizers": ["a"], "ownerReferences": [{"uid": "1", "name": "x"}]},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "v1",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 80}],
                },
                {"name": "side", "image": "s1"},
            ],
            "volumes": [{"name": "v1", "emptyDir": {}}],
        },
        "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]},
    }
    patch = {
        "metadata": {"finalizers": ["b", "a"], "ownerReferences": [{"uid": "2", "name": "y"}]},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "v2",
                    "env": [{"name": "B", "$patch": "delete"}, {"name": "C", "value": "3"}],
                    "ports": [{"containerPort": 81}],
                }
            ],
            "volumes": [{"name": "v2", "emptyDir": {}}],
            "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    out = strategic_merge_patch(pod, patch)
    app, side = out["spec"]["containers"]
    assert app["image"] == "v2" and side == {"name": "side", "image": "s1"}
    # New items go before the server's (orders seen on kube-apiserver 1.37 for this very patch).
    assert app["env"] == [{"name": "C", "value": "3"}, {"name": "A", "value": "1"}]
    assert [p["containerPort"] for p in app["ports"]] == [81, 80]
    assert [v["name"] for v in out["spec"]["volumes"]] == ["v2", "v1"]
    assert out["metadata"]["finalizers"] == ["b", "a"]
    assert [r["uid"] for r in out["metadata"]["ownerReferences"]] == ["2", "1"]
    assert out["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "Initialized", "status": "True"},
    ]


def test_strategic_replace_and_delete_directives() -> None:
    doc = {"spec": {"template": {"a": 1, "b": 2}, "args": ["x", "y"]}}
    out = strategic_merge_patch(doc, {"spec": {"template": {"$patch": "replace", "c": 3}, "args": ["z"]}})
    assert out == {"spec": {"template": {"c": 3}, "args": ["z"]}}
    out = strategic_merge_patch(
        {"metadata": {"finalizers": ["a", "b"]}}, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}
    )
    assert out == {"metadata": {"finalizers": ["b"]}}


def test_strategic_retain_keys_clears_the_other_keys() -> None:
    doc = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    out = strategic_merge_patch(doc, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert out == {"spec": {"strategy": {"type": "Recreate"}}}


@pytest.mark.parametrize(
    ("server", "patch", "merged"),
    [
        ("X Z", "Y Z", "Y X Z"),
        ("X Z", "Z Y", "X Z Y"),
        ("A B C", "D B E", "D A B E C"),
    ],
)
def test_strategic_merge_orders_merged_lists_as_the_real_server_does(server: str, patch: str, merged: str) -> None:
    """Orders recorded from kube-apiserver 1.37 (`kubectl patch --type=strategic` of a container's env)."""

    def env(names: str, value: str) -> list[dict[str, str]]:
        return [{"name": n, "value": value} for n in names.split()]

    target = {"spec": {"containers": [{"name": "main", "env": env(server, "old")}]}}
    body = {"spec": {"containers": [{"name": "main", "env": env(patch, "new")}]}}
    result = strategic_merge_patch(target, body)["spec"]["containers"][0]["env"]
    assert [e["name"] for e in result] == merged.split()
    assert {e["name"]: e["value"] for e in result} == {
        n: "new" if n in patch.split() else "old" for n in merged.split()
    }
