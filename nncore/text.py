"""Small text helpers shared by the file reader, the limits and the command line."""
from __future__ import annotations

import re

# terminal escapes, line breaks and tabs, and the marks that reverse the direction of text
# (U+202E makes "gpj.exe" read "exe.jpg"): nothing that can forge a line of output
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                      "\u2028\u2029]")


def size_text(n) -> str:
    """A byte count for people: '340 KB', '1.5 MB', '20 MB' (MB from a tenth of one up)."""
    v, unit = (n / 2**20, "MB") if n >= 0.1 * 2**20 else (n / 1024, "KB")
    return f"{v:,.1f}".removesuffix(".0") + " " + unit


def shape_text(sizes) -> str:
    """``[784, 128, 10]`` -> ``"784-128-10"``; with conv layers
    ``["1x28x28", "conv 8@5x5", "pool 2", 64, 10]`` -> ``"1x28x28 → conv 8@5x5 → pool 2 → 64 → 10"``."""
    if any(isinstance(s, str) for s in sizes):
        return " → ".join(str(s) for s in sizes)
    return "-".join(str(s) for s in sizes)


def without_controls(text) -> str:
    """``text`` on one line: control characters (terminal escapes, newlines, tabs) and
    direction marks as spaces."""
    return _CONTROL.sub(" ", str(text))
