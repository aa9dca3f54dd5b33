"""Protobuf request bodies: the wire reader on hand-built bytes, the message tables, and the real kubectl 1.32
commands that send `application/vnd.kubernetes.protobuf` (`kubectl create namespace|secret|configmap|
deployment|job|serviceaccount|service`), whose objects must come out as the JSON path would store them."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from simhelpers import listing

from kubesim.apiserver import protobuf
from kubesim.apiserver.protobuf import I32, I64, LEN, MAGIC, VARINT, WireError, decode_body, iter_fields, read_varint
from kubesim.errors import ApiError
from kubesim.testing import KubeSim
from support import eventually

# ---- a tiny encoder, to build messages by hand ----------------------------------------------------------


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def num(number: int, value: int) -> bytes:
    return tag(number, VARINT) + varint(value)


def blob(number: int, value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return tag(number, LEN) + varint(len(data)) + data


def msg(number: int, *parts: bytes) -> bytes:
    return blob(number, b"".join(parts))


def entry(number: int, key: str, value: str | bytes) -> bytes:
    return msg(number, blob(1, key), blob(2, value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """k8s\\0 + runtime.Unknown, as kubectl writes it (empty contentEncoding/contentType included)."""
    return MAGIC + msg(1, blob(1, api_version), blob(2, kind)) + blob(2, raw) + blob(3, "") + blob(4, "")


def meta(name: str, *extra: bytes) -> bytes:
    """ObjectMeta as Go marshals it: empty strings and an empty creationTimestamp included."""
    return msg(
        1, blob(1, name), blob(2, ""), blob(3, ""), blob(4, ""), blob(5, ""), blob(6, ""), num(7, 0), msg(8), *extra
    )


# ---- the wire reader ---------------------------------------------------------------------------------------


def test_varints() -> None:
    assert read_varint(b"\x01", 0) == (1, 1)
    assert read_varint(b"\xac\x02", 0) == (300, 2)
    assert read_varint(b"\x00\xac\x02\x07", 1) == (300, 3)
    minus_one = varint(-1)
    assert len(minus_one) == 10
    assert read_varint(minus_one, 0) == ((1 << 64) - 1, 10)
    assert protobuf.signed(read_varint(minus_one, 0)[0], 32) == -1
    assert protobuf.signed(read_varint(varint(-5), 0)[0], 64) == -5
    with pytest.raises(WireError, match="truncated"):
        read_varint(b"\x80\x80", 0)
    with pytest.raises(WireError, match="longer than 10"):
        read_varint(b"\xff" * 11, 0)


def test_iter_fields_reads_all_four_wire_types() -> None:
    buf = (
        num(1, 150)
        + tag(2, I64)
        + (2**40 + 7).to_bytes(8, "little")
        + blob(3, "héllo")
        + tag(4, I32)
        + (0xDEADBEEF).to_bytes(4, "little")
        + msg(5, num(1, 1))
        + blob(15, b"")
        + num(300, 1)
    )
    assert list(iter_fields(buf)) == [
        (1, VARINT, 150),
        (2, I64, 2**40 + 7),
        (3, LEN, "héllo".encode()),
        (4, I32, 0xDEADBEEF),
        (5, LEN, b"\x08\x01"),
        (15, LEN, b""),
        (300, VARINT, 1),
    ]


@pytest.mark.parametrize(
    ("buf", "error"),
    [
        (tag(1, LEN) + varint(5) + b"abc", "truncated length-delimited"),
        (tag(1, I64) + b"\x00" * 7, "truncated fixed64"),
        (tag(1, I32) + b"\x00" * 3, "truncated fixed32"),
        (tag(1, 3), "wire type 3"),
        (tag(0, VARINT) + b"\x00", "field number 0"),
    ],
)
def test_iter_fields_rejects_broken_bytes(buf: bytes, error: str) -> None:
    with pytest.raises(WireError, match=error):
        list(iter_fields(buf))


# ---- the tables ---------------------------------------------------------------------------------------------


def test_tables_only_name_messages_they_define() -> None:
    for name, table in protobuf.MESSAGES.items():
        for number, field in table.items():
            assert field.name, (name, number)
            if field.kind == "message":
                assert field.message in protobuf.MESSAGES, (name, field)
    assert set(protobuf.KINDS.values()) <= set(protobuf.MESSAGES)


def test_namespace_with_go_zero_values_decodes_like_json() -> None:
    obj = decode_body(envelope("v1", "Namespace", meta("foo") + msg(2) + msg(3, blob(1, ""))))
    assert obj == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "foo"}, "spec": {}, "status": {}}


def test_secret_bytes_become_base64_and_string_data_stays() -> None:
    raw = (
        meta("s", entry(11, "app", "x"), entry(12, "note", ""))
        + entry(2, "bin", b"\x00\xffk")
        + entry(2, "empty", b"")
        + entry(4, "plain", "v")
        + blob(3, "Opaque")
        + num(5, 1)
    )
    obj = decode_body(envelope("v1", "Secret", raw))
    assert obj["metadata"] == {"name": "s", "labels": {"app": "x"}, "annotations": {"note": ""}}
    assert obj["data"] == {"bin": base64.b64encode(b"\x00\xffk").decode(), "empty": ""}
    assert obj["stringData"] == {"plain": "v"}
    assert obj["type"] == "Opaque"
    assert obj["immutable"] is True


def test_configmap_data_and_binary_data() -> None:
    raw = meta("c") + entry(2, "a", "b") + entry(3, "blob", b"\x01\x02") + num(4, 0)
    obj = decode_body(envelope("v1", "ConfigMap", raw))
    # immutable is a *bool: an explicit false is kept, as JSON would carry it
    assert obj == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "b"},
        "binaryData": {"blob": "AQI="},
        "immutable": False,
    }


def container(*extra: bytes) -> bytes:
    port = msg(6, blob(1, ""), num(2, 0), num(3, 8080), blob(4, "TCP"), blob(5, ""))
    env = msg(7, blob(1, "MODE"), blob(2, "fast"))
    resources = msg(8, entry(1, "cpu", blob(1, "500m")), entry(2, "memory", blob(1, "64Mi")))  # Quantity {string=1}
    return msg(2, blob(1, "main"), blob(2, "python:3"), blob(3, "python"), blob(4, "-c"), blob(4, "print(1)"),
               blob(5, ""), port, env, resources, blob(14, ""), num(16, 0), *extra)  # fmt: skip


def test_pod_decodes_containers_ports_env_resources_and_pointer_zeros() -> None:
    spec = msg(
        2, container(), blob(3, "Never"), num(4, 0), blob(6, "ClusterFirst"), num(11, 0), entry(7, "disk", "ssd")
    )
    obj = decode_body(envelope("v1", "Pod", meta("p", entry(11, "run", "p")) + spec + msg(3)))
    assert obj["metadata"] == {"name": "p", "labels": {"run": "p"}}
    assert obj["status"] == {}
    assert obj["spec"] == {
        "containers": [
            {
                "name": "main",
                "image": "python:3",
                "command": ["python"],
                "args": ["-c", "print(1)"],
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "fast"}],
                "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
            }
        ],
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 0,  # *int64: zero on the wire means zero
        "dnsPolicy": "ClusterFirst",
        "nodeSelector": {"disk": "ssd"},
    }


def test_deployment_keeps_replicas_zero_and_decodes_int_or_string_and_time() -> None:
    rolling = msg(2, msg(1, num(1, 1), num(2, 0), blob(3, "25%")), msg(2, num(1, 0), num(2, 3)))
    template = msg(3, msg(1, blob(1, ""), msg(8), entry(11, "app", "web")), msg(2, container()))
    spec = msg(
        2, num(1, 0), msg(2, entry(1, "app", "web")), template, msg(4, blob(1, "RollingUpdate"), rolling), num(5, 0)
    )
    created = msg(8, num(1, 1_700_000_000))
    raw = msg(1, blob(1, "web"), created) + spec + msg(3, num(1, 0), num(2, 0))
    obj = decode_body(envelope("apps/v1", "Deployment", raw))
    assert obj["metadata"] == {"name": "web", "creationTimestamp": "2023-11-14T22:13:20Z"}
    assert obj["spec"]["replicas"] == 0
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert obj["spec"]["template"]["metadata"] == {"labels": {"app": "web"}}
    assert obj["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 3},
    }
    assert "minReadySeconds" not in obj["spec"]
    assert obj["status"] == {}


def test_service_ports_with_int_and_named_target_ports() -> None:
    ports = msg(1, blob(1, "http"), blob(2, "TCP"), num(3, 80), msg(4, num(1, 0), num(2, 8080), blob(3, "")), num(5, 0))
    named = msg(1, blob(1, "admin"), blob(2, "TCP"), num(3, 81), msg(4, num(1, 1), num(2, 0), blob(3, "admin")))
    unset = msg(1, blob(1, ""), blob(2, "TCP"), num(3, 82), msg(4, num(1, 0), num(2, 0), blob(3, "")))
    spec = msg(2, ports, named, unset, entry(2, "app", "web"), blob(3, ""), blob(4, "ClusterIP"), blob(7, ""))
    obj = decode_body(envelope("v1", "Service", meta("web") + spec + msg(3, msg(1))))
    assert obj["spec"] == {
        "ports": [
            {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
            {"name": "admin", "protocol": "TCP", "port": 81, "targetPort": "admin"},
            {"protocol": "TCP", "port": 82},
        ],
        "selector": {"app": "web"},
        "type": "ClusterIP",
    }
    assert obj["status"] == {"loadBalancer": {}}


def test_job_spec() -> None:
    template = msg(6, msg(1, blob(1, "")), msg(2, container(), blob(3, "Never")))
    spec = msg(2, num(1, 2), num(2, 4), num(7, 0), template, num(8, 30), msg(4, entry(1, "x", "y")))
    obj = decode_body(envelope("batch/v1", "Job", meta("j") + spec))
    assert obj["spec"]["parallelism"] == 2
    assert obj["spec"]["completions"] == 4
    assert obj["spec"]["backoffLimit"] == 0
    assert obj["spec"]["ttlSecondsAfterFinished"] == 30
    assert obj["spec"]["selector"] == {"matchLabels": {"x": "y"}}
    assert obj["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_unknown_field_is_415_naming_kind_message_field_and_path() -> None:
    security_context = msg(15, num(2, 1))  # Container.securityContext: not in the tables
    template = msg(3, msg(1), msg(2, container(security_context)))
    body = envelope("apps/v1", "Deployment", meta("web") + msg(2, num(1, 1), template))
    with pytest.raises(ApiError) as info:
        decode_body(body)
    err = info.value
    assert err.code == 415
    assert err.reason == "UnsupportedMediaType"
    assert "Deployment" in err.message
    assert "field number 15 of the protobuf message Container" in err.message
    assert "spec.template.spec.containers[0]" in err.message
    assert "kubectl apply -f" in err.message


def test_unsupported_kind_and_group_version_are_415() -> None:
    for api_version, kind in [("rbac.authorization.k8s.io/v1", "ClusterRole"), ("extensions/v1beta1", "Deployment")]:
        with pytest.raises(ApiError) as info:
            decode_body(envelope(api_version, kind, meta("x")))
        assert info.value.code == 415
        assert f"{kind} ({api_version})" in info.value.message
        assert "kubectl apply -f" in info.value.message


def test_broken_bodies_are_400() -> None:
    good = envelope("v1", "Namespace", meta("foo"))
    for body in [good[4:], good[:-3], envelope("v1", "Namespace", meta("foo") + num(2, 1))]:
        with pytest.raises(ApiError) as info:
            decode_body(body)
        assert info.value.code == 400, body


def test_wire_type_mismatch_is_400() -> None:
    with pytest.raises(ApiError) as info:
        decode_body(envelope("v1", "Namespace", msg(1, num(1, 5))))  # name as a varint
    assert info.value.code == 400
    assert "metadata.name" in info.value.message


# ---- the real kubectl -------------------------------------------------------------------------------------


def kget(sim: KubeSim, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(sim.kubectl("get", *args, "-o", "json").stdout)
    return out


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """What the client decided: no server-assigned metadata, no status, no allocated cluster IPs, and the uid
    (which the Job's generated labels carry) as a placeholder."""
    uid = obj["metadata"]["uid"]
    obj = json.loads(json.dumps(obj).replace(uid, "<uid>"))
    out = {k: v for k, v in obj.items() if k != "status"}
    md = dict(out["metadata"])
    for k in ("uid", "resourceVersion", "creationTimestamp", "namespace", "generation", "managedFields"):
        md.pop(k, None)
    out["metadata"] = md
    if "spec" in out and "clusterIP" in out["spec"]:
        out["spec"] = {k: v for k, v in out["spec"].items() if k not in ("clusterIP", "clusterIPs")}
    return out


CREATES = {
    "namespace": (["create", "namespace", "NAME"], "namespace"),
    "secret": (["create", "secret", "generic", "NAME", "--from-literal=k=v", "--from-literal=other=x y"], "secret"),
    "configmap": (["create", "configmap", "NAME", "--from-literal=a=b"], "configmap"),
    "serviceaccount": (["create", "serviceaccount", "NAME"], "serviceaccount"),
    "deployment": (["create", "deployment", "NAME", "--image=python:3", "--replicas=2", "--port=8080"], "deployment"),
    "job": (["create", "job", "NAME", "--image=python:3", "--", "python", "-c", "print(1)"], "job"),
    "service": (["create", "service", "clusterip", "NAME", "--tcp=5678:8080"], "service"),
}


@pytest.mark.slow
@pytest.mark.parametrize("which", sorted(CREATES))
def test_kubectl_create_over_protobuf_stores_what_the_json_path_stores(
    sim: KubeSim, which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, resource = CREATES[which]
    decoded: list[str] = []

    def spy(body: bytes) -> dict[str, Any]:
        obj = decode_body(body)
        decoded.append(obj["metadata"]["name"])
        return obj

    monkeypatch.setattr(protobuf, "decode_body", spy)
    cluster_scoped = which == "namespace"
    sim.kubectl("create", "namespace", "viajson")
    assert decoded == ["viajson"]
    decoded.clear()
    proto_name, json_name = f"pb-{which}", f"js-{which}"
    # kubectl create <kind> sends protobuf ...
    out = sim.kubectl(*[proto_name if a == "NAME" else a for a in args]).stdout
    assert "created" in out
    assert decoded == [proto_name]
    # ... and the same object from the client's own rendering, sent as JSON by `kubectl create -f`
    named = [json_name if a == "NAME" else a for a in args]
    cut = named.index("--") if "--" in named else len(named)  # flags go before a command's own arguments
    rendered = sim.kubectl(*named[:cut], "--dry-run=client", "-o", "json", *named[cut:]).stdout
    ns = [] if cluster_scoped else ["-n", "viajson"]
    sim.kubectl("create", *ns, "-f", "-", input=rendered)
    via_proto = comparable(kget(sim, resource, proto_name))
    via_json = comparable(kget(sim, *ns, resource, json_name))
    assert decoded == [proto_name]  # the JSON copy did not go through the decoder
    assert via_proto == json.loads(json.dumps(via_json).replace(json_name, proto_name))


@pytest.mark.slow
def test_kubectl_create_namespace_secret_configmap_serviceaccount(sim: KubeSim, tmp_path: Path) -> None:
    assert "namespace/foo created" in sim.kubectl("create", "namespace", "foo").stdout
    assert kget(sim, "namespace", "foo")["status"]["phase"] == "Active"

    sim.kubectl("create", "-n", "foo", "secret", "generic", "s", "--from-literal=k=v")
    secret = kget(sim, "-n", "foo", "secret", "s")
    assert base64.b64decode(secret["data"]["k"]) == b"v"
    assert secret["type"] == "Opaque"

    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\xff\xfe binary")
    text = tmp_path / "greeting.txt"
    text.write_text("hello\n")
    sim.kubectl(
        "create", "-n", "foo", "configmap", "c", "--from-literal=a=b", f"--from-file={text}", f"--from-file={binary}"
    )
    cm = kget(sim, "-n", "foo", "configmap", "c")
    assert cm["data"] == {"a": "b", "greeting.txt": "hello\n"}
    assert base64.b64decode(cm["binaryData"]["blob.bin"]) == b"\x00\xff\xfe binary"

    sim.kubectl("create", "-n", "foo", "secret", "generic", "bin", f"--from-file={binary}")
    assert base64.b64decode(kget(sim, "-n", "foo", "secret", "bin")["data"]["blob.bin"]) == b"\x00\xff\xfe binary"

    assert "serviceaccount/robot created" in sim.kubectl("create", "-n", "foo", "serviceaccount", "robot").stdout
    assert kget(sim, "-n", "foo", "serviceaccount", "robot")["metadata"]["name"] == "robot"


@pytest.mark.slow
def test_kubectl_create_deployment_gets_defaults_and_pods_then_expose(sim: KubeSim) -> None:
    sim.kubectl("create", "deployment", "web", "--image=python:3", "--replicas=2", "--port=8080")
    dep = kget(sim, "deployment", "web")
    assert dep["metadata"]["labels"] == {"app": "web"}
    spec = dep["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"] == {"matchLabels": {"app": "web"}}
    assert spec["template"]["metadata"]["labels"] == {"app": "web"}
    (main,) = spec["template"]["spec"]["containers"]
    assert main["image"] == "python:3"
    assert main["ports"][0]["containerPort"] == 8080
    # defaults applied as for a JSON body
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    pods = eventually(
        lambda: len(listing(sim, "v1", "pods", "default", "app=web")) == 2 or None, what="two web pods", interval=0.02
    )
    assert pods
    sim.kubectl("rollout", "status", "deployment/web", "--timeout=30s")

    assert "service/web exposed" in sim.kubectl("expose", "deployment", "web", "--port", "80").stdout
    svc = kget(sim, "service", "web")
    assert svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["ports"][0]["port"] == 80

    sim.kubectl("create", "service", "clusterip", "cs", "--tcp=5678:8080")
    cs = kget(sim, "service", "cs")
    assert cs["spec"]["type"] == "ClusterIP"
    assert cs["spec"]["ports"] == [{"name": "5678-8080", "protocol": "TCP", "port": 5678, "targetPort": 8080}]


@pytest.mark.slow
def test_kubectl_create_job_and_run_pod(sim: KubeSim) -> None:
    sim.kubectl("create", "job", "once", "--image=python:3", "--", "python", "-c", "print(1)")
    job = kget(sim, "job", "once")
    pod_spec = job["spec"]["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Never"
    assert pod_spec["containers"][0]["command"] == ["python", "-c", "print(1)"]
    assert job["spec"]["backoffLimit"] == 6
    pods = eventually(
        lambda: listing(sim, "v1", "pods", "default", "job-name=once"), what="the job's pod", interval=0.02
    )
    sim.finish_pod("default", pods[0]["metadata"]["name"], succeeded=True)
    eventually(
        lambda: kget(sim, "job", "once").get("status", {}).get("succeeded") == 1 or None,
        what="job success",
        interval=0.02,
    )

    assert "pod/p created" in sim.kubectl("run", "p", "--image=python:3", "--", "python", "-c", "print(2)").stdout
    assert kget(sim, "pod", "p")["spec"]["containers"][0]["args"] == ["python", "-c", "print(2)"]


@pytest.mark.slow
def test_unsupported_kind_is_415_and_apply_still_works(sim: KubeSim) -> None:
    proc = sim.kubectl("create", "clusterrole", "reader", "--verb=get", "--resource=pods", check=False)
    assert proc.returncode != 0
    assert "UnsupportedMediaType" in proc.stderr
    assert "ClusterRole (rbac.authorization.k8s.io/v1)" in proc.stderr
    assert "kubectl apply -f" in proc.stderr
    rendered = sim.kubectl(
        "create", "clusterrole", "reader", "--verb=get", "--resource=pods", "--dry-run=client", "-o", "yaml"
    ).stdout
    assert "created" in sim.kubectl("apply", "-f", "-", input=rendered).stdout
    assert kget(sim, "clusterrole", "reader")["rules"][0]["verbs"] == ["get"]


def post(sim: KubeSim, path: str, body: bytes) -> tuple[int, str, dict[str, Any]]:
    request = urllib.request.Request(
        sim.url + path,
        data=body,
        method="POST",
        headers={"Content-Type": protobuf.CONTENT_TYPE, "Accept": "application/vnd.kubernetes.protobuf, */*"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.headers["Content-Type"], json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], json.loads(err.read())


@pytest.mark.slow
def test_raw_protobuf_post_is_answered_in_json(sim: KubeSim) -> None:
    status, ctype, obj = post(
        sim, "/api/v1/namespaces/default/configmaps", envelope("v1", "ConfigMap", meta("raw") + entry(2, "k", "v"))
    )
    assert status == 201
    assert ctype.startswith("application/json")
    assert obj["kind"] == "ConfigMap" and obj["data"] == {"k": "v"} and obj["metadata"]["uid"]

    bad_field = envelope("v1", "ConfigMap", meta("raw2") + entry(2, "k", "v") + num(9, 1))
    status, ctype, obj = post(sim, "/api/v1/namespaces/default/configmaps", bad_field)
    assert status == 415
    assert ctype.startswith("application/json")
    assert obj["kind"] == "Status" and obj["reason"] == "UnsupportedMediaType" and obj["code"] == 415
    assert "ConfigMap: field number 9 of the protobuf message ConfigMap" in obj["message"]
    assert get_missing(sim, "raw2")


def get_missing(sim: KubeSim, name: str) -> bool:
    return sim.kubectl("get", "configmap", name, check=False).returncode != 0
