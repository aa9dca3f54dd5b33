"""A tiny kopf operator run with kopf.testing.KopfRunner against kubesim: CRDs (ours and kopf's
peering CRDs) applied with kubectl, create/update handlers that write status, events posted."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from simhelpers import CRD, apply, get, listing

from kubesim.testing import KubeSim
from support import eventually

pytestmark = pytest.mark.slow

PEERING_CRDS = [
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.kopf.dev"},
        "spec": {
            "scope": scope,
            "group": "kopf.dev",
            "names": {"kind": kind, "plural": plural, "singular": plural[:-1]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                        }
                    },
                }
            ],
        },
    }
    for kind, plural, scope in (
        ("KopfPeering", "kopfpeerings", "Namespaced"),
        ("ClusterKopfPeering", "clusterkopfpeerings", "Cluster"),
    )
]

OPERATOR = textwrap.dedent(
    """
    import kopf

    @kopf.on.startup()
    def configure(settings, **_):
        settings.watching.server_timeout = 10
        settings.peering.name = "example"
        settings.peering.mandatory = True

    @kopf.on.create("releaseguard.io", "v1alpha1", "releaseverifications")
    def created(body, spec, patch, logger, **_):
        kopf.info(body, reason="Seen", message="kopf saw this object")
        patch.status["phase"] = "Waiting"
        patch.status["checks"] = f"0/{len(spec['checks'])}"
        logger.info("seen %s", spec["targetRef"]["name"])

    @kopf.on.update("releaseguard.io", "v1alpha1", "releaseverifications", field="spec.delaySeconds")
    def delay_changed(new, patch, **_):
        patch.status["phase"] = "Verifying"
    """
)


def test_kopf_operator_reacts_to_custom_resources(
    sim: KubeSim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kopf.testing import KopfRunner

    sim.kubectl("apply", "-f", str(CRD))
    sim.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(PEERING_CRDS))
    apply(sim, {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "example"}})
    script = tmp_path / "operator.py"
    script.write_text(OPERATOR)
    monkeypatch.setenv("KUBECONFIG", str(sim.kubeconfig))
    # The kubernetes client reads $KUBECONFIG once, at import; this process imported it long ago.
    import kubernetes.config.kube_config

    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(sim.kubeconfig))
    rv = {
        "apiVersion": "releaseguard.io/v1alpha1",
        "kind": "ReleaseVerification",
        "metadata": {"name": "shop"},
        "spec": {"targetRef": {"name": "shop"}, "checks": [{"name": "h", "http": {"url": "http://shop/"}}]},
    }
    with KopfRunner(["run", "--namespace=default", "--verbose", str(script)], timeout=60) as runner:
        apply(sim, rv)

        def status() -> dict[str, object]:
            obj = get(sim, "releaseguard.io/v1alpha1", "releaseverifications", "default", "shop") or {}
            return dict(obj.get("status") or {})

        eventually(
            lambda: status().get("phase") == "Waiting",
            what="kopf's create handler to write status",
            timeout=20,
            interval=0.02,
        )
        assert status()["checks"] == "0/1"
        sim.kubectl("patch", "rv", "shop", "--type=merge", "-p", '{"spec": {"delaySeconds": 3}}')
        eventually(
            lambda: status().get("phase") == "Verifying", what="kopf's update handler", timeout=20, interval=0.02
        )
        peering = get(sim, "kopf.dev/v1", "kopfpeerings", "default", "example") or {}
        assert peering.get("status"), "kopf announced itself in the peering object"
        eventually(
            lambda: any(e.get("reason") == "Seen" for e in listing(sim, "v1", "events", "default")),
            what="kopf's event",
            interval=0.02,
        )
    assert runner.exit_code == 0, runner.output
    assert runner.exception is None
    assert "seen shop" in runner.output
