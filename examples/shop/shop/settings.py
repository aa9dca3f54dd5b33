"""Settings read at import time, as many real apps do."""

from __future__ import annotations

import os

from . import release

RELEASE = release()

if RELEASE == "missing-env":
    # The regression: this release made the database URL mandatory, but the Deployment does not set it.
    if not os.environ.get("DATABASE_URL"):
        raise RuntimeError("DATABASE_URL is not set")
    DATABASE_URL = os.environ["DATABASE_URL"]
else:
    DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///:memory:")

SLOW_SECONDS = float(os.environ.get("SHOP_SLOW_SECONDS", "2"))
# Knobs any release honours (issue 15's baseline tests; set them in the Deployment's env, which
# makes a new revision): /api/orders answers after SHOP_LATENCY_MS plus a uniform random
# 0..SHOP_LATENCY_JITTER_MS milliseconds, and answers 500 to SHOP_ERROR_PERCENT percent of its
# calls, spread evenly (call n fails when floor(n * p / 100) steps up: below 100 the first call never fails).
LATENCY_MS = float(os.environ.get("SHOP_LATENCY_MS", "0"))
LATENCY_JITTER_MS = float(os.environ.get("SHOP_LATENCY_JITTER_MS", "0"))
ERROR_PERCENT = float(os.environ.get("SHOP_ERROR_PERCENT", "0"))
