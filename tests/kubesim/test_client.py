"""kubesim driven by the official kubernetes Python client: CRUD, resourceVersion semantics, watch
replay, 409 Conflict / AlreadyExists, 410 Gone, subresources, generation, finalizers, errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from simhelpers import deployment

from kubesim.testing import KubeSim
from support import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def api(sim: KubeSim) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(sim.kubeconfig))
    yield c
    c.close()


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}


def test_create_get_list_with_resource_versions_and_selectors(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    a = core.create_namespaced_config_map("default", cm("a", tier="fe"))
    b = core.create_namespaced_config_map("default", cm("b", tier="be"))
    assert a.metadata.uid and a.metadata.creation_timestamp is not None
    assert int(b.metadata.resource_version) > int(a.metadata.resource_version)
    listed = core.list_namespaced_config_map("default")
    assert int(listed.metadata.resource_version) >= int(b.metadata.resource_version)
    assert [
        i.metadata.name for i in core.list_namespaced_config_map("default", label_selector="tier in (fe,qa)").items
    ] == ["a"]
    assert [i.metadata.name for i in core.list_namespaced_config_map("default", label_selector="tier!=fe").items] == [
        "b"
    ]
    assert [
        i.metadata.name for i in core.list_config_map_for_all_namespaces(field_selector="metadata.name=b").items
    ] == ["b"]
    gen = core.create_namespaced_config_map("default", {"metadata": {"generateName": "gen-"}})
    assert gen.metadata.name.startswith("gen-") and len(gen.metadata.name) > 4


def test_errors_are_status_objects_with_real_codes(sim: KubeSim, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", cm("dup"))
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map("default", cm("dup"))
    assert exists.value.status == 409 and '"reason":"AlreadyExists"' in exists.value.body.replace(" ", "")
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("nope", "default")
    assert missing.value.status == 404
    with pytest.raises(ApiException) as invalid:
        bad = deployment("x")
        bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
        client.AppsV1Api(api).create_namespaced_deployment("default", bad)
    assert invalid.value.status == 422 and "spec.template.metadata.labels" in invalid.value.body
    url = f"{sim.url}/api/v1/namespaces/default/configmaps"
    malformed = httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["reason"] == "BadRequest"
    method = httpx.put(url, json={})
    assert method.status_code == 405 and method.json()["kind"] == "Status"


def test_stale_resource_version_is_a_conflict(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    first = core.create_namespaced_config_map("default", cm("c"))
    first.data = {"k": "v2"}
    core.replace_namespaced_config_map("c", "default", first)
    first.data = {"k": "v3"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("c", "default", first)
    assert err.value.status == 409 and "the object has been modified" in err.value.body
    stale = first.metadata.resource_version
    with pytest.raises(ApiException) as patched:
        core.patch_namespaced_config_map("c", "default", {"metadata": {"resourceVersion": stale}, "data": {"k": "v4"}})
    assert patched.value.status == 409


def test_watch_replays_from_a_resource_version_and_410_when_too_old(sim: KubeSim, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", cm("w1"))
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", cm("w2"))
    core.patch_namespaced_config_map("w2", "default", {"data": {"k": "changed"}})
    core.delete_namespaced_config_map("w1", "default")
    seen = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1
        )
    ]
    assert seen == [("ADDED", "w2"), ("MODIFIED", "w2"), ("DELETED", "w1")]
    sim.compact()
    with pytest.raises(ApiException) as gone:
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1
        ):
            pass
    assert gone.value.status == 410


def test_live_watch_with_label_selector_and_bookmarks(sim: KubeSim, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    events: list[tuple[str, str]] = []
    w = watch.Watch()

    def consume() -> None:
        for e in w.stream(core.list_namespaced_config_map, "default", label_selector="app=x", timeout_seconds=3):
            events.append((e["type"], e["object"].metadata.name))
            if len(events) == 1:
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    core.create_namespaced_config_map("default", cm("other", app="y"))
    core.create_namespaced_config_map("default", cm("mine", app="x"))
    t.join(timeout=10)
    assert events == [("ADDED", "mine")]
    params = {"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": "2", "resourceVersion": "1"}
    resp = httpx.get(f"{sim.url}/api/v1/namespaces/default/configmaps", params=params, timeout=10)
    types = [json.loads(line)["type"] for line in resp.text.splitlines() if line]
    assert "BOOKMARK" in types and "ADDED" in types


def test_status_subresource_generation_and_scale(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    d = apps.create_namespaced_deployment("default", deployment("gen", replicas=1))
    assert d.metadata.generation == 1
    d = apps.patch_namespaced_deployment(
        "gen", "default", {"metadata": {"labels": {"x": "y"}}, "status": {"replicas": 99}}
    )
    assert d.metadata.generation == 1, "metadata changes do not bump generation"
    assert (d.status.replicas or 0) != 99, "writes to the main resource ignore status"
    d = apps.patch_namespaced_deployment("gen", "default", {"spec": {"minReadySeconds": 1}})
    assert d.metadata.generation == 2
    d = apps.patch_namespaced_deployment_status(
        "gen", "default", {"spec": {"replicas": 7}, "status": {"collisionCount": 3}}
    )
    assert d.spec.replicas == 1 and d.status.collision_count == 3, "writes to /status change only status"
    scale = apps.patch_namespaced_deployment_scale("gen", "default", {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3
    assert apps.read_namespaced_deployment("gen", "default").spec.replicas == 3


def test_finalizers_hold_deletion_until_removed(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    core.delete_namespaced_config_map("held", "default")
    held = core.read_namespaced_config_map("held", "default")
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", "default", [{"op": "remove", "path": "/metadata/finalizers/0"}])
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("held", "default")
    assert err.value.status == 404


def test_deletecollection_and_namespaces(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "scratch"}})
    for n in ("a", "b"):
        core.create_namespaced_config_map("scratch", cm(n, group="g"))
    core.delete_collection_namespaced_config_map("scratch", label_selector="group=g")
    assert core.list_namespaced_config_map("scratch").items == []
    core.create_namespaced_config_map("scratch", cm("c"))
    core.delete_namespace("scratch")
    assert core.list_namespaced_config_map("scratch").items == []
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("missing-ns", cm("x"))
    assert err.value.status == 404


def test_garbage_collection_of_owned_objects(sim: KubeSim, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    owner = core.create_namespaced_config_map("default", cm("owner"))
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner.metadata.uid,
        "blockOwnerDeletion": True,
    }
    core.create_namespaced_config_map("default", {"metadata": {"name": "dep", "ownerReferences": [ref]}})
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Foreground")
    eventually(
        lambda: not core.list_namespaced_config_map("default", field_selector="metadata.name=owner").items,
        what="foreground deletion",
        interval=0.02,
    )
    assert not core.list_namespaced_config_map("default", field_selector="metadata.name=dep").items


def test_selector_watch_sees_objects_enter_and_leave(sim: KubeSim, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", cm("mover", app="a"))
    core.patch_namespaced_config_map("mover", "default", {"metadata": {"labels": {"app": "b"}}})
    core.patch_namespaced_config_map("mover", "default", {"metadata": {"labels": {"app": "a"}}})
    core.patch_namespaced_config_map("mover", "default", {"data": {"k": "2"}})
    seen = [
        e["type"]
        for e in watch.Watch().stream(
            core.list_namespaced_config_map, "default", label_selector="app=b", resource_version=rv, timeout_seconds=1
        )
    ]
    assert seen == ["ADDED", "DELETED"]


def test_list_pagination_with_limit_and_continue(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    for i in range(5):
        core.create_namespaced_config_map("default", cm(f"page-{i}"))
    first = core.list_namespaced_config_map("default", limit=2)
    assert [i.metadata.name for i in first.items] == ["page-0", "page-1"]
    assert first.metadata.remaining_item_count == 3 and first.metadata._continue
    names = []
    token = first.metadata._continue
    while token:
        page = core.list_namespaced_config_map("default", limit=2, _continue=token)
        names += [i.metadata.name for i in page.items]
        token = page.metadata._continue
    assert names == ["page-2", "page-3", "page-4"]


def test_events_k8s_io_is_a_view_of_core_events(api: client.ApiClient) -> None:
    core, events_v1 = client.CoreV1Api(api), client.EventsV1Api(api)
    core.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "e1"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Started",
            "message": "from core",
            "type": "Normal",
            "source": {"component": "kubelet"},
        },
    )
    ev = events_v1.read_namespaced_event("e1", "default")
    assert ev.regarding.name == "p" and ev.note == "from core" and ev.reporting_controller == "kubelet"
    events_v1.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "e2"},
            "regarding": {"kind": "Job", "name": "j", "namespace": "default"},
            "reason": "Completed",
            "note": "from events.k8s.io",
            "type": "Normal",
            "action": "Finish",
            "reportingController": "job-controller",
            "reportingInstance": "x",
            "eventTime": "2026-01-01T00:00:00.000000Z",
        },
    )
    e2 = core.read_namespaced_event("e2", "default")
    assert e2.involved_object.name == "j" and e2.message == "from events.k8s.io"
    listed = events_v1.list_namespaced_event("default", field_selector="regarding.name=j")
    assert [e.metadata.name for e in listed.items] == ["e2"]
