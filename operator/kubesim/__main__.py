"""The kubesim command line.

    python -m kubesim serve --port 0 --kubeconfig PATH [--images FILE] [--state-dir DIR] [--fault SPEC]...
    python -m kubesim node --kubeconfig PATH [--images FILE] [--state-dir DIR] [--name NAME]
    python -m kubesim real --kubeconfig PATH [--images FILE] [--state-dir DIR]

`serve` runs kubesim's API server with its controllers and node; `node` runs only the process node
against any API server; `real` runs the real control plane (built by `make kube`) with the node.
Each runs until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubesim", description="An in-memory Kubernetes API server with controllers.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API server until SIGTERM/SIGINT")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--kubeconfig", type=Path, required=True, help="where to write a kubeconfig for this server")
    serve.add_argument("--images", type=Path, default=None, help="image registry file for the kubelet")
    serve.add_argument("--state-dir", type=Path, default=None, help="working directory for pods (default: a temp dir)")
    serve.add_argument("--rollout-delay", type=float, default=0.0, help="seconds before a new pod counts as available")
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject faults: error-rate=VERB:P, latency=S, throttle=P, retry-after=S, watch-cut=S, error-code=N",
    )
    serve.add_argument("--no-kubelet", action="store_true", help="do not run pods")
    serve.add_argument(
        "--strict-crds",
        action="store_true",
        help="reject CRD schemas a real apiserver rejects (default: serve them with a Warning)",
    )
    serve.add_argument("-v", "--verbose", action="store_true")

    node = sub.add_parser("node", help="run the process node against the API server of a kubeconfig")
    node.add_argument("--kubeconfig", type=Path, required=True, help="the API server to register with")
    node.add_argument("--images", type=Path, default=None, help="image registry file")
    node.add_argument("--state-dir", type=Path, default=None, help="working directory for pods (default: a temp dir)")
    node.add_argument("--name", default="kubesim-node", help="the Node's name (default: kubesim-node)")
    node.add_argument("-v", "--verbose", action="store_true")

    real = sub.add_parser("real", help="run the real control plane (make kube) with the process node")
    real.add_argument("--kubeconfig", type=Path, required=True, help="where to write an admin kubeconfig")
    real.add_argument("--images", type=Path, default=None, help="image registry file for the node")
    real.add_argument("--state-dir", type=Path, default=None, help="working directory (default: a temp dir)")
    real.add_argument("-v", "--verbose", action="store_true")
    return parser


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _node(args: argparse.Namespace) -> int:
    import tempfile

    from .node.images import ImageRegistry
    from .node.process_node import ProcessNode

    with tempfile.TemporaryDirectory(prefix="kubesim-node-") as scratch:
        workdir = args.state_dir or Path(scratch)
        node = ProcessNode.from_kubeconfig(args.kubeconfig, ImageRegistry.load(args.images), workdir, name=args.name)
        await node.start()
        print(f"kubesim node {args.name} registered", flush=True)
        await _until_signalled()
        await node.close()
    return 0


def _real(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from .real.cluster import RealCluster
    from .real.controlplane import ControlPlaneError

    workdir = args.state_dir or Path(tempfile.mkdtemp(prefix="kubesim-real-"))
    try:
        with RealCluster(workdir, images=args.images) as cluster:
            args.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cluster.kubeconfig, args.kubeconfig)
            args.kubeconfig.chmod(0o600)
            print(f"real control plane listening on {cluster.url} (kubeconfig {args.kubeconfig})", flush=True)
            asyncio.run(_until_signalled())
    except ControlPlaneError as exc:
        print(f"kubesim real: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.state_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


async def _serve(args: argparse.Namespace) -> int:
    from kubesim.apiserver.faults import Faults, parse_cli
    from kubesim.server import Server

    try:
        faults = parse_cli(args.fault, Faults())
    except ValueError as exc:
        print(f"kubesim: {exc}", file=sys.stderr)
        return 2
    server = Server(
        args.host,
        args.port,
        images=args.images,
        state_dir=args.state_dir,
        faults=faults,
        rollout_delay_seconds=args.rollout_delay,
        kubelet=not args.no_kubelet,
        strict_crds=args.strict_crds,
    )
    url = await server.start()
    server.write_kubeconfig(args.kubeconfig)
    print(f"kubesim listening on {url}", flush=True)
    await _until_signalled()
    await server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )
    if args.command == "serve":
        return asyncio.run(_serve(args))
    if args.command == "node":
        return asyncio.run(_node(args))
    if args.command == "real":
        return _real(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
