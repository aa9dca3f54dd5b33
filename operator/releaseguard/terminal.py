"""Text from the cluster or a check's output, made safe to print on a terminal.

A check's message carries what a command or a pytest suite printed, and anyone who may write a
record or a status can put anything there: ANSI and OSC escape sequences (clear the screen, set the
window title, plant a hyperlink, on some terminals more), a carriage return that overwrites the
line before it, a bell. Every command that prints such text passes it through `safe` on its way
out: control characters are shown as escapes (`\\x1b`, `\\r`, `\\u202e`) and never reach the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# C0 controls but \t and \n, DEL, C1 controls (U+009B is a CSI on some terminals), and the Unicode
# bidirectional controls that make a terminal show text in another order than it is written.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_IN_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: object, newlines: bool = True) -> str:
    """`text` with every control character shown as an escape. With `newlines` (text printed as
    lines) newlines and tabs are kept; without (a table cell, one line) they are shown too."""
    return (_UNSAFE_IN_LINES if newlines else _UNSAFE).sub(_shown, str(text))


def lines(items: Iterable[object]) -> str:
    """`items` as lines of text, each made safe on its own (a newline inside one is shown, so no
    item can pass for a line of its own)."""
    return "\n".join(safe(item, newlines=False) for item in items)
