"""The store's label index: a list in a namespace or with an equality selector looks only at the
objects it may select (what keeps kubesim linear when every reconcile lists one app's pods among
thousands), and the index follows every create, label change and delete."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.apiserver import store as store_module
from kubesim.apiserver.selectors import label_requirements
from kubesim.apiserver.store import LabelIndex, Store


def _pod(name: str, ns: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "app:1"}]},
    }


@pytest.fixture
def store() -> Store:
    s = Store()
    ns_rt = s.rt("v1", "namespaces")
    for ns in ("a", "b"):
        s.create_obj(ns_rt, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    return s


def _names(objs: list[dict[str, Any]]) -> list[str]:
    return [o["metadata"]["name"] for o in objs]


def test_label_requirements_are_what_an_index_can_answer() -> None:
    assert label_requirements("app=web,tier==fe,env in (prod, qa),x!=y,!z,w notin (v),k") == [
        ("app", frozenset({"web"})),
        ("tier", frozenset({"fe"})),
        ("env", frozenset({"prod", "qa"})),
    ]
    assert label_requirements(None) == []


def test_index_candidates_follow_adds_and_removes() -> None:
    index = LabelIndex()
    index.add(("a", "p1"), {"app": "web"})
    index.add(("a", "p2"), {"app": "db"})
    index.add(("b", "p3"), {"app": "web"})
    assert index.candidates(None, []) is None
    assert index.candidates("a", []) == {("a", "p1"), ("a", "p2")}
    assert index.candidates(None, [("app", frozenset({"web"}))]) == {("a", "p1"), ("b", "p3")}
    assert index.candidates("a", [("app", frozenset({"web", "db"}))]) == {("a", "p1"), ("a", "p2")}
    index.remove(("a", "p1"), {"app": "web"})
    assert index.candidates(None, [("app", frozenset({"web"}))]) == {("b", "p3")}
    assert index.candidates("c", []) == set()


def test_select_agrees_with_the_labels_after_every_write(store: Store) -> None:
    rt = store.rt("v1", "pods")
    for i in range(6):
        store.create_obj(rt, "a" if i % 2 else "b", _pod(f"p{i}", "a" if i % 2 else "b", app=f"app{i % 3}"))
    assert _names(store.select(rt, "a", "app=app1")) == ["p1"]
    assert _names(store.select(rt, None, "app in (app0,app1)")) == ["p1", "p3", "p0", "p4"]
    # a label change moves the object in the index; a delete takes it out
    store.patch_obj(rt, "a", "p1", {"metadata": {"labels": {"app": "app2"}}}, "merge")
    assert _names(store.select(rt, "a", "app=app1")) == []
    assert _names(store.select(rt, "a", "app=app2")) == ["p1", "p5"]
    store.delete_obj(rt, "a", "p5")
    assert _names(store.select(rt, "a", "app=app2")) == ["p1"]
    assert _names(store.select(rt, "a")) == ["p1", "p3"]
    assert _names(store.select(rt, None, "app!=app2")) == ["p3", "p0", "p4"]


def test_a_selected_list_looks_only_at_its_candidates(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    rt = store.rt("v1", "pods")
    for i in range(200):
        store.create_obj(rt, "a", _pod(f"p{i}", "a", app=f"app{i}"))
    store.create_obj(rt, "b", _pod("other", "b", app="app7"))
    looked: list[str] = []
    real = store_module.parse_field_selector

    def counting(expr: str | None) -> Any:
        match = real(expr)

        def counted(obj: dict[str, Any]) -> bool:
            looked.append(obj["metadata"]["name"])
            return match(obj)

        return counted

    monkeypatch.setattr(store_module, "parse_field_selector", counting)
    assert _names(store.select(rt, "a", "app=app7")) == ["p7"]
    assert looked == ["p7"]
    looked.clear()
    assert _names(store.select(rt, "b")) == ["other"]
    assert looked == ["other"]
