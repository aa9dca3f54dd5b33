"""Make the unpacked Debian alertmanager find its templates without installing anything.

Debian's build reads default.tmpl from the absolute directory /usr/share/prometheus/alertmanager
(upstream embeds it). This writes a copy of the binary whose only change is that directory
constant, replaced by a relative path of the same length ("./" repeated), so the copy reads the
templates from its working directory: run it from .cache/debs/usr/share/prometheus/alertmanager.
Go strings carry their length, so a same-length replacement is safe.

usage: relocate.py SOURCE TARGET
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ABSOLUTE = b"/usr/share/prometheus/alertmanager"


def relocate(source: Path, target: Path) -> None:
    binary = source.read_bytes()
    # the directory on its own, not the longer ".../ui/" and ".../no-ui" constants
    hits = [m.start() for m in re.finditer(re.escape(ABSOLUTE) + rb"(?!/)", binary)]
    if len(hits) != 1:
        raise SystemExit(f"{source}: expected the template directory constant once, found it {len(hits)} times")
    relative = b"./" * (len(ABSOLUTE) // 2)
    assert len(relative) == len(ABSOLUTE)
    start = hits[0]
    patched = binary[:start] + relative + binary[start + len(ABSOLUTE) :]
    target.write_bytes(patched)
    target.chmod(0o755)


if __name__ == "__main__":
    relocate(Path(sys.argv[1]), Path(sys.argv[2]))
