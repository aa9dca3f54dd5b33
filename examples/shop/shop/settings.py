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
