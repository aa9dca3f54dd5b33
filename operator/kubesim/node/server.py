"""The node's own HTTPS endpoint, as the kubelet's port 10250 serves it to the API server:
`GET /containerLogs/{namespace}/{pod}/{container}` (`tailLines`, `previous`, `follow`), which is
what `kubectl logs` reaches through a real kube-apiserver. Loopback only; the API server verifies
its certificate (`--kubelet-certificate-authority`)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from aiohttp import web

from kubesim.node.kubelet import Kubelet

FOLLOW_POLL = 0.2


class KubeletServer:
    def __init__(self, kubelet: Kubelet, ssl_context: ssl.SSLContext | None, host: str = "127.0.0.1") -> None:
        self.kubelet = kubelet
        self.ssl_context = ssl_context
        self.host = host
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._logs)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0, ssl_context=self.ssl_context)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        namespace, pod, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        tail = request.query.get("tailLines")
        previous = request.query.get("previous") in ("true", "1")
        text = self.kubelet.read_log(namespace, pod, container, int(tail) if tail else None, previous)
        limit = request.query.get("limitBytes")
        if text is not None and limit and limit.isdigit():  # as the kubelet: the first limitBytes bytes
            text = text.encode()[: int(limit)].decode("utf-8", "ignore")
        if text is None:
            what = "previous terminated container" if previous else "container"
            return web.Response(status=404, text=f'{what} "{container}" in pod "{pod}" not found\n')
        if request.query.get("follow") not in ("true", "1"):
            return web.Response(text=text, content_type="text/plain")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        await response.write(text.encode())
        sent = len(self.kubelet.read_log(namespace, pod, container, None, False) or "")
        with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
            while self.kubelet.running(namespace, pod):
                await asyncio.sleep(FOLLOW_POLL)
                full = self.kubelet.read_log(namespace, pod, container, None, False) or ""
                if len(full) > sent:
                    await response.write(full[sent:].encode())
                    sent = len(full)
        return response
