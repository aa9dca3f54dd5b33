"""A tiny shop web app (stdlib only) with one good release and several regressed ones.

Run it with `PYTHONPATH=examples/shop python -m shop`. It listens on `$HOST` (or `$POD_IP`,
default 127.0.0.1) port `$PORT` (default 8080; 0 picks a free port) and prints
`listening on http://HOST:PORT` once it accepts connections.

Endpoints: `/healthz` -> {"status": "ok"}; `/api/orders` -> {"items": [{"id": 1, "price": 9.5}, ...]};
`/api/version` -> {"release": ...}; `/api/echo` -> the request's method and headers as JSON;
`/metrics` -> Prometheus text format (`shop_http_requests_total{path,code}`, `shop_http_errors_total`).

The release is chosen by `SHOP_RELEASE`, baked into each "image" (the kubesim image registry maps
`shop:1.0` and friends to these):

    good           everything works                                         shop:1.0
    error500       /api/orders answers 500                                  shop:1.1-error500
    shape          /api/orders items carry "price": null (changed JSON)     shop:1.1-shape
    slow           /api/orders takes $SHOP_SLOW_SECONDS (default 2) seconds shop:1.1-slow
    missing-env    requires DATABASE_URL at import; without it shop.app     shop:1.1-missing-env
                   fails to import and the server exits 1
    broken-import  shop.app imports a module that does not exist           shop:1.1-broken-import
    flaky          /api/orders fails (503) every other call                 shop:1.1-flaky

Whatever the release, three env vars slow /api/orders down or make it fail (settings.py): it
answers after `SHOP_LATENCY_MS` plus a random 0..`SHOP_LATENCY_JITTER_MS` ms, and answers 500 to
`SHOP_ERROR_PERCENT` percent of its calls, evenly spread (the baseline comparison's tests set them
in the Deployment, so each setting is a new revision).
"""

from __future__ import annotations

import os

RELEASES = ("good", "error500", "shape", "slow", "missing-env", "broken-import", "flaky")


def release() -> str:
    value = os.environ.get("SHOP_RELEASE", "good")
    if value not in RELEASES:
        raise RuntimeError(f"SHOP_RELEASE={value!r}: expected one of {', '.join(RELEASES)}")
    return value
