"""The kubelet's pure parts: image registry, env resolution, termination messages, pod phase, volumes."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

from kubesim.node.env import EnvError, EnvSources, expand, referenced_objects, resolve_env
from kubesim.node.images import ImageRegistry, ImageRegistryError
from kubesim.node.status import ContainerView, phase, pod_status
from kubesim.node.termination import MESSAGE_LIMIT, log_tail, termination_message
from kubesim.node.volumes import Mount, MountError, VolumeError, container_mounts, materialise, setup_script


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


POD = {
    "metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"}},
    "spec": {"nodeName": "kubesim"},
    "status": {"podIP": "127.244.0.9"},
}

# --- images ------------------------------------------------------------------------------------


def test_builtin_runner_images_are_the_current_python_environment() -> None:
    registry = ImageRegistry.load(None)
    for ref in (
        "ghcr.io/releaseguard/releaseguard:v1.2.3",
        "ghcr.io/releaseguard/releaseguard:latest",
        "releaseguard:dev",
    ):
        image = registry.resolve(ref)
        assert image is not None, ref
        assert image.path[0] == Path(sys.executable).parent
    assert registry.resolve("releaseguard:other") is None
    assert registry.resolve("nginx:1.27") is None


def test_registry_file_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "images.yaml"
    path.write_text(
        "images:\n"
        "  - image: 'shop:*'\n    path: [bin]\n    pythonPath: [src]\n    workingDir: app\n"
        "    env: {MODE: demo, N: 3}\n    entrypoint: [python, -m, shop]\n    cmd: [--port, '80']\n"
        "  - image: shop:special\n    hostPython: true\n"
    )
    registry = ImageRegistry.load(path)
    image = registry.resolve("shop:1.0")
    assert image is not None
    assert image.path == (tmp_path / "conf" / "bin",)
    assert image.python_path == (tmp_path / "conf" / "src",)
    assert image.working_dir == tmp_path / "conf" / "app"
    assert dict(image.env) == {"MODE": "demo", "N": "3"}
    # An exact reference wins over an earlier glob.
    special = registry.resolve("shop:special")
    assert special is not None and special.path == (Path(sys.executable).parent,)


def test_argv_combines_entrypoint_cmd_command_and_args(tmp_path: Path) -> None:
    path = tmp_path / "images.yaml"
    path.write_text("images:\n  - {image: app, entrypoint: [python, -m, app], cmd: [--serve]}\n")
    image = ImageRegistry.load(path).resolve("app")
    assert image is not None
    assert image.argv(None, None) == ["python", "-m", "app", "--serve"]
    assert image.argv(None, ["--check"]) == ["python", "-m", "app", "--check"]
    assert image.argv(["sh", "-c"], ["echo hi"]) == ["sh", "-c", "echo hi"]
    assert image.argv(["true"], None) == ["true"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("images: {a: 1}\n", "list under 'images'"),
        ("images:\n  - {path: [bin]}\n", "images[0].image"),
        ("images:\n  - {image: a, path: bin}\n", "images[0].path: expected a list of strings"),
        ("images:\n  - {image: a, entrypiont: [x]}\n", "unknown field(s) entrypiont"),
        ("images:\n  - {image: a, hostPython: yes please}\n", "images[0].hostPython"),
        ("images: [\n", "cannot read"),
    ],
)
def test_registry_errors_name_the_file_and_field(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "images.yaml"
    path.write_text(text)
    with pytest.raises(ImageRegistryError) as info:
        ImageRegistry.load(path)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


def test_unknown_image_message_says_how_to_declare_it(tmp_path: Path) -> None:
    registry = ImageRegistry.load(None)
    message = registry.how_to_declare("nginx:1.27")
    assert "'nginx:1.27' is not available in kubesim" in message
    assert "--images" in message


def test_example_registry_knows_the_shop_releases() -> None:
    path = Path(__file__).parents[2] / "examples" / "kubesim-images.yaml"
    registry = ImageRegistry.load(path)
    for tag, release in [("1.0", "good"), ("1.1-error500", "error500"), ("1.1-flaky", "flaky")]:
        image = registry.resolve(f"shop:{tag}")
        assert image is not None, tag
        assert dict(image.env)["SHOP_RELEASE"] == release
        assert (image.python_path[0] / "shop" / "__main__.py").exists()


# --- env ---------------------------------------------------------------------------------------


def test_env_value_from_field_secret_and_config_map() -> None:
    container = {
        "env": [
            {"name": "PLAIN", "value": "x"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "level"}}},
            {"name": "URL", "value": "http://$(IP):8080/$(PLAIN)/$$(PLAIN)/$(NOPE)"},
        ]
    }
    sources = EnvSources(
        config_maps={"cfg": {"data": {"level": "debug"}}},
        secrets={"db": {"metadata": {"name": "db"}, "data": {"password": b64("s3cret")}}},
    )
    env = resolve_env(POD, container, sources, [("HOSTNAME", "web-1")])
    assert env == {
        "HOSTNAME": "web-1",
        "PLAIN": "x",
        "POD": "web-1",
        "NS": "shop",
        "IP": "127.244.0.9",
        "NODE": "kubesim",
        "APP": "web",
        "PW": "s3cret",
        "LEVEL": "debug",
        "URL": "http://127.244.0.9:8080/x/$(PLAIN)/$(NOPE)",
    }
    assert referenced_objects(container) == ({"cfg"}, {"db"})


def test_env_from_with_prefix_and_later_definitions_win() -> None:
    container = {
        "envFrom": [
            {"configMapRef": {"name": "cfg"}},
            {"secretRef": {"name": "db"}, "prefix": "DB_"},
            {"configMapRef": {"name": "absent", "optional": True}},
        ],
        "env": [{"name": "A", "value": "from-env"}],
    }
    sources = EnvSources(
        config_maps={"cfg": {"data": {"A": "from-cm", "B": "b"}}},
        secrets={"db": {"data": {"USER": b64("admin")}}},
    )
    env = resolve_env(POD, container, sources, [("B", "image")])
    assert env == {"A": "from-env", "B": "b", "DB_USER": "admin"}


def test_optional_references_are_skipped_and_required_ones_named() -> None:
    optional = {
        "env": [
            {"name": "A", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}}},
            {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nokey", "optional": True}}},
        ]
    }
    sources = EnvSources(config_maps={"cfg": {"data": {}}})
    assert resolve_env(POD, optional, sources) == {}
    with pytest.raises(EnvError, match='secret "gone" not found'):
        resolve_env(
            POD, {"env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k"}}}]}, sources
        )
    with pytest.raises(EnvError, match=r"couldn't find key nokey in ConfigMap .*/cfg"):
        resolve_env(
            POD, {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nokey"}}}]}, sources
        )
    with pytest.raises(EnvError, match='secret "db" not found'):
        resolve_env(POD, {"envFrom": [{"secretRef": {"name": "db"}}]}, sources)
    with pytest.raises(EnvError, match=r"fieldPath 'spec\.nope'"):
        resolve_env(POD, {"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.nope"}}}]}, sources)


def test_expand_escapes_and_leaves_unknown_references() -> None:
    assert expand("$(A)-$$(A)-$(B)-$", {"A": "1"}) == "1-$(A)-$(B)-$"


# --- termination message -----------------------------------------------------------------------


def test_termination_message_prefers_the_file_and_caps_it() -> None:
    assert termination_message(b"report", b"log\n", 0, None) == "report"
    assert termination_message(b"x" * 5000, b"", 1, "FallbackToLogsOnError") == "x" * MESSAGE_LIMIT
    assert termination_message(b"", b"log\n", 1, None) == ""
    assert termination_message(b"", b"log\n", 0, "FallbackToLogsOnError") == ""


def test_fallback_to_logs_on_error_uses_the_log_tail() -> None:
    log = b"".join(f"line {i}\n".encode() for i in range(200))
    message = termination_message(b"", log, 2, "FallbackToLogsOnError")
    assert message.splitlines()[0] == "line 120"
    assert message.splitlines()[-1] == "line 199"
    big = b"y" * 5000 + b"\n"
    assert len(termination_message(b"", big, 2, "FallbackToLogsOnError")) == 2048


def test_unreadable_file_means_log_tail_whatever_the_policy() -> None:
    assert termination_message(b"ignored", b"a\nb\n", 0, None, file_readable=False) == "a\nb\n"


def test_log_tail_limits_lines_then_bytes() -> None:
    assert log_tail(b"a\nb\nc", lines=2) == b"b\nc"
    assert log_tail(b"a\nb\nc\n", lines=2) == b"b\nc\n"
    assert log_tail(b"abcdef", limit=3) == b"def"


# --- phase and status --------------------------------------------------------------------------


def view(state: str, code: int | None = None, last: bool = False) -> ContainerView:
    v = ContainerView("c", "img")
    if state == "running":
        v.running()
    elif state == "terminated":
        v.terminated(code or 0, "")
    if last:
        v.last_state = {"terminated": {"exitCode": 1}}
    return v


@pytest.mark.parametrize(
    ("init", "main", "policy", "expected"),
    [
        ([], [view("waiting")], "Always", "Pending"),
        ([], [view("running")], "Never", "Running"),
        ([], [view("terminated", 0)], "Never", "Succeeded"),
        ([], [view("terminated", 3)], "Never", "Failed"),
        ([], [view("terminated", 3)], "OnFailure", "Running"),
        ([], [view("terminated", 0)], "OnFailure", "Succeeded"),
        ([], [view("terminated", 0)], "Always", "Running"),
        ([], [view("waiting", last=True)], "Always", "Running"),
        ([], [view("running"), view("terminated", 1)], "Never", "Running"),
        ([view("running")], [view("waiting")], "Never", "Pending"),
        ([view("terminated", 1)], [view("waiting")], "Never", "Failed"),
        ([view("terminated", 1)], [view("waiting")], "OnFailure", "Pending"),
        ([view("terminated", 0)], [view("running")], "Never", "Running"),
    ],
)
def test_phase(init: list[ContainerView], main: list[ContainerView], policy: str, expected: str) -> None:
    assert phase(init, main, policy) == expected


def test_pod_status_conditions_and_container_state() -> None:
    running = view("running")
    running.ready = True
    status = pod_status([], [running], "Always", "127.244.0.2", "127.0.0.1", "2026-01-01T00:00:00Z")
    assert status["phase"] == "Running"
    assert status["podIP"] == "127.244.0.2"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    assert status["containerStatuses"][0]["state"]["running"]["startedAt"]
    done = view("terminated", 2)
    done.message = "boom"
    status = pod_status([], [done], "Never", "127.244.0.2", "127.0.0.1", "t", status["conditions"])
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"], terminated["message"]) == (2, "Error", "boom")
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "PodCompleted")


def test_condition_keeps_its_transition_time_while_unchanged() -> None:
    previous = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]
    status = pod_status([], [view("running")], "Always", None, "127.0.0.1", "t", previous)
    scheduled = next(c for c in status["conditions"] if c["type"] == "PodScheduled")
    assert scheduled["lastTransitionTime"] == "2020-01-01T00:00:00Z"


# --- volumes -----------------------------------------------------------------------------------


def test_volumes_materialise_config_maps_secrets_downward_api(tmp_path: Path) -> None:
    pod = {
        **POD,
        "spec": {
            "volumes": [
                {
                    "name": "cfg",
                    "configMap": {"name": "cfg", "items": [{"key": "a", "path": "sub/a.txt", "mode": 0o600}]},
                },
                {"name": "sec", "secret": {"secretName": "db", "defaultMode": 0o400}},
                {"name": "scratch", "emptyDir": {}},
                {
                    "name": "info",
                    "downwardAPI": {
                        "items": [{"path": "labels-app", "fieldRef": {"fieldPath": "metadata.labels['app']"}}]
                    },
                },
            ]
        },
    }
    paths = materialise(
        pod,
        tmp_path,
        {"cfg": {"data": {"a": "A", "b": "B"}}},
        {"db": {"data": {"password": b64("pw")}}},
    )
    assert (paths["cfg"] / "sub" / "a.txt").read_text() == "A"
    assert not (paths["cfg"] / "b").exists()
    assert (paths["cfg"] / "sub" / "a.txt").stat().st_mode & 0o777 == 0o600
    assert (paths["sec"] / "password").read_text() == "pw"
    assert (paths["sec"] / "password").stat().st_mode & 0o777 == 0o400
    assert paths["scratch"].is_dir()
    assert (paths["info"] / "labels-app").read_text() == "web"
    mounts = container_mounts(
        {
            "volumeMounts": [
                {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True},
                {"name": "scratch", "mountPath": "/work"},
            ]
        },
        paths,
    )
    assert mounts == [Mount(paths["cfg"], "/etc/cfg", True), Mount(paths["scratch"], "/work", False)]
    script = setup_script([*reversed(mounts), Mount(paths["sec"] / "password", "/etc/cfg/pw")], "/work")
    assert script.splitlines()[1:4] == [
        f"exec {{src0}}<{paths['scratch']}",  # /work, the shallowest target
        f"exec {{src1}}<{paths['cfg']}",
        f"exec {{src2}}<{paths['sec'] / 'password'}",
    ]
    # Parents first, read-only remounts, placeholders of the right kind, then the fds are closed.
    assert 'mount --no-canonicalize --bind "/proc/self/fd/$src1" /etc/cfg\n' in script
    assert script.index("/proc/self/fd/$src2") < script.index("mount -o remount,bind,ro /etc/cfg")
    assert "[ -e /etc/cfg/pw ] || { mkdir -p /etc/cfg; : > /etc/cfg/pw; }" in script
    assert "[ -e /work ] || mkdir -p /work" in script
    assert script.index("/proc/self/fd/$src1") < script.index("/proc/self/fd/$src2")
    assert script.endswith('exec {src0}<&- {src1}<&- {src2}<&-\nmkdir -p /work\ncd /work\nexec "$@"')


def test_volume_errors_name_the_volume(tmp_path: Path) -> None:
    with pytest.raises(MountError, match=r'MountVolume\.SetUp failed for volume "cfg" : configmap "missing" not found'):
        materialise({"spec": {"volumes": [{"name": "cfg", "configMap": {"name": "missing"}}]}}, tmp_path, {}, {})
    with pytest.raises(VolumeError, match="volume 'pvc': type persistentVolumeClaim is not supported"):
        materialise(
            {"spec": {"volumes": [{"name": "pvc", "persistentVolumeClaim": {"claimName": "x"}}]}}, tmp_path, {}, {}
        )
    with pytest.raises(VolumeError, match="volumeMount 'nope' names no volume"):
        container_mounts({"name": "c", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}, {})
    with pytest.raises(VolumeError, match="leaves the volume"):
        materialise(
            {
                "spec": {
                    "volumes": [{"name": "v", "configMap": {"name": "c", "items": [{"key": "k", "path": "../../x"}]}}]
                }
            },
            tmp_path,
            {"c": {"data": {"k": "v"}}},
            {},
        )


@pytest.mark.slow
def test_bind_shim_puts_wildcard_servers_on_the_pod_ip(tmp_path: Path) -> None:
    import subprocess

    from kubesim.node.runtime import write_shim

    shim = write_shim(tmp_path / "shim")
    script = (
        "import socket\n"
        "for family, host in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET, ''), (socket.AF_INET6, '::'),"
        " (socket.AF_INET, '127.0.0.1')):\n"
        "    s = socket.socket(family); s.bind((host, 0)); print(s.getsockname()[0]); s.close()\n"
    )
    env = {"PYTHONPATH": str(shim), "KUBESIM_POD_IP": "127.244.9.9", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["127.244.9.9", "127.244.9.9", "::ffff:127.244.9.9", "127.0.0.1"]


def test_keep_visible_rebinds_image_dirs_under_a_volume_only(tmp_path: Path) -> None:
    from kubesim.node.volumes import Mount, keep_visible

    volume = tmp_path / "vol"
    volume.mkdir()
    image = tmp_path / "image"
    image.mkdir()
    hosts = tmp_path / "hosts"
    hosts.write_text("")
    mounts = [Mount(source=volume, target=str(tmp_path)), Mount(source=hosts, target="/etc/hosts")]
    extra = keep_visible([image, image, Path("/usr/bin"), tmp_path / "missing", Path("relative")], mounts)
    assert extra == [Mount(source=image, target=str(image), read_only=False)]


def test_without_isolation_arguments_under_a_mount_point_at_the_volume_on_the_host(tmp_path: Path) -> None:
    from kubesim.node.runtime import host_paths
    from kubesim.node.volumes import Mount

    mounts = [Mount(tmp_path / "vol", "/etc/releaseguard"), Mount(tmp_path / "term", "/dev/termination-log")]
    argv = ["python", "/etc/releaseguard/check.py", "run", "{}", "/dev/termination-log", "/etc/releaseguardx"]
    assert host_paths(argv, mounts) == [
        "python",
        f"{tmp_path}/vol/check.py",
        "run",
        "{}",
        f"{tmp_path}/term",
        "/etc/releaseguardx",
    ]
