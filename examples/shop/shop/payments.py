"""Payment helpers. The broken-import release depends on a module that was never shipped."""

from __future__ import annotations

from . import release

if release() == "broken-import":
    from ._stripe_v2 import charge  # type: ignore[import-not-found]  # noqa: F401 - the regression itself


def order_total(prices: list[float]) -> float:
    return round(sum(prices), 2)
