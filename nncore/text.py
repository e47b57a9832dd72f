"""Small text helpers shared by the file reader, the limits and the command line."""
from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")   # terminal escapes and the like


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
    """``text`` with control characters (terminal escapes and the like) as spaces."""
    return _CONTROL.sub(" ", str(text))
