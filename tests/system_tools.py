"""Where the tests find the real tools they run: Debian packages unpacked into the repository's
cache (`make system-deps`, tools/debs/fetch.sh) first, then PATH."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEBS = ROOT / ".cache" / "debs"
DEBS_BIN = DEBS / "usr" / "bin"
# Debian names some binaries differently from upstream.
DEBIAN_NAMES = {"alertmanager": "prometheus-alertmanager"}
# The unpacked alertmanager patched to read its templates from its working directory (which must
# then be ALERTMANAGER_WORKDIR); see tools/debs/relocate.py.
RELOCATED = {"alertmanager": DEBS / "relocated" / "alertmanager"}
ALERTMANAGER_WORKDIR = DEBS / "usr" / "share" / "prometheus" / "alertmanager"


def find_tool(name: str) -> str | None:
    """The path of tool `name`, or None when neither the cache nor PATH has it."""
    relocated = RELOCATED.get(name)
    if relocated is not None and relocated.is_file():
        return str(relocated)
    names = [DEBIAN_NAMES.get(name, name), name]
    for candidate in names:
        cached = DEBS_BIN / candidate
        if cached.is_file() and cached.stat().st_mode & 0o111:
            return str(cached)
    for candidate in names:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def require_tool(name: str) -> str:
    """Like find_tool, but a missing tool is an error saying how to get it."""
    found = find_tool(name)
    if found is None:
        raise RuntimeError(
            f"{name} is missing: run `make system-deps` (unpacks Debian's prometheus and "
            f"prometheus-alertmanager packages into {DEBS_BIN.parent.parent})"
        )
    return found
