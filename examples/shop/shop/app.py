"""The HTTP application: routes and their behaviour in each release (and under the latency and
error knobs of settings.py, which any release honours)."""

from __future__ import annotations

import itertools
import json
import math
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import payments, settings
from .metrics import Metrics

ORDERS = [{"id": 1, "price": 9.5}, {"id": 2, "price": 20.0}, {"id": 3, "price": 4.25}]
KNOWN_PATHS = ("/healthz", "/api/orders", "/api/version", "/api/echo", "/metrics")


class Shop:
    """Release-dependent behaviour, separate from HTTP plumbing."""

    def __init__(self, release: str) -> None:
        self.release = release
        self.metrics = Metrics()
        self._calls = itertools.count(1)
        self._calls_lock = threading.Lock()
        self._orders_calls = itertools.count(1)

    def _knobs(self) -> tuple[int, Any] | None:
        """SHOP_LATENCY_MS, SHOP_LATENCY_JITTER_MS and SHOP_ERROR_PERCENT (settings.py)."""
        delay = settings.LATENCY_MS + random.uniform(0, settings.LATENCY_JITTER_MS)
        if delay > 0:
            time.sleep(delay / 1000)
        if settings.ERROR_PERCENT > 0:
            with self._calls_lock:
                call = next(self._orders_calls)
            rate = settings.ERROR_PERCENT / 100
            if math.floor(call * rate) > math.floor((call - 1) * rate):
                return 500, {"error": "orders backend overloaded"}
        return None

    def orders(self) -> tuple[int, Any]:
        knobbed = self._knobs()
        if knobbed is not None:
            return knobbed
        if self.release == "error500":
            return 500, {"error": "orders backend unavailable"}
        if self.release == "slow":
            time.sleep(settings.SLOW_SECONDS)
        if self.release == "flaky":
            with self._calls_lock:
                call = next(self._calls)
            if call % 2 == 1:
                return 503, {"error": "try again"}
        items: list[dict[str, Any]] = [dict(o) for o in ORDERS]
        if self.release == "shape":
            items = [{"id": o["id"], "price": None, "amount": {"value": o["price"]}} for o in ORDERS]
        total = payments.order_total([o["price"] for o in ORDERS])
        return 200, {"items": items, "total": total}


def make_handler(shop: Shop) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests and probes hammer it

        def do_GET(self) -> None:
            self._route()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self._route()

        def _route(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, shop.metrics.render().encode(), "text/plain; version=0.0.4")
                return
            if path == "/healthz":
                code, body = 200, {"status": "ok"}
            elif path == "/api/orders":
                code, body = shop.orders()
            elif path == "/api/version":
                code, body = 200, {"release": shop.release}
            elif path == "/api/echo":
                code, body = 200, {"method": self.command, "headers": {k.lower(): v for k, v in self.headers.items()}}
            else:
                code, body = 404, {"error": f"no route {path}"}
            self._send(code, json.dumps(body).encode(), "application/json")

        def _send(self, code: int, payload: bytes, content_type: str) -> None:
            path = self.path.split("?", 1)[0]
            shop.metrics.observe(path if path in KNOWN_PATHS else "other", code)
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def make_server(host: str, port: int, release: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(Shop(release)))
    server.daemon_threads = True
    return server
