"""The clusters a test can run against: `kubesim` (this package's API server and node) and `real`
(the real kube-apiserver, controllers and scheduler built by `make kube`, with kubesim's node).

`RG_BACKENDS` (comma-separated, default `kubesim,real`) chooses which ones parametrized tests run
on; `make test` runs both."""

from __future__ import annotations

import os

ALL = ("kubesim", "real")


def selected() -> list[str]:
    chosen = [b.strip() for b in os.environ.get("RG_BACKENDS", ",".join(ALL)).split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(ALL))
    if unknown:
        raise ValueError(f"RG_BACKENDS: unknown backend(s) {', '.join(unknown)} (expected {' or '.join(ALL)})")
    return chosen
