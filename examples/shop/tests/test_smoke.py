"""Smoke tests for the shop, run in its own image by a `pytest` check: `python -m pytest -m smoke tests`.

They start the app in-process on a free loopback port, so they need nothing but the image.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    from shop import release
    from shop.app import make_server

    server = make_server("127.0.0.1", 0, release())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.mark.smoke
def test_healthz(base_url: str) -> None:
    assert get(base_url + "/healthz") == (200, {"status": "ok"})


@pytest.mark.smoke
def test_orders_answer_200(base_url: str) -> None:
    status, _ = get(base_url + "/api/orders")
    assert status == 200


@pytest.mark.smoke
def test_order_prices_are_numbers(base_url: str) -> None:
    _, body = get(base_url + "/api/orders")
    for item in body["items"]:
        assert isinstance(item["price"], (int, float)), f"order {item['id']} has price {item['price']!r}"


def test_not_smoke_unknown_route(base_url: str) -> None:
    status, _ = get(base_url + "/nope")
    assert status == 404
