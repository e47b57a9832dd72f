"""Text that comes from a file, an upload, a CSV header or a link, shown as plain text.

Streamlit renders Markdown (and its own directives: ``:red[...]``, ``:material/icon:``,
emoji shortcodes) in ``st.markdown``, ``st.caption``, ``st.error`` and friends, in
``st.table`` cells and in widget labels. Such text from a user could fetch an image from
another host, make a link or forge a message. Every page shows it through this module:

- :func:`markdown_escape` for a piece of user text inside a Markdown message;
- :func:`text` and :func:`code` to show user text on its own, never parsed;
- :func:`error`, :func:`warning`, :func:`info` for messages that quote user text;
- :func:`table_cells` for the cells of an ``st.table``.

No Streamlit at import time of the escaping helpers (pages pass their container).
"""
from __future__ import annotations

import re

from nncore.text import without_controls

# Escaped (with a backslash, so they show as they are): the characters that mark up text
# inside a line (emphasis, code, strike-through, maths, HTML and <autolinks>), an
# underscore at a word's edge, the two that open a link or an image ("](" and "!["), a
# list, heading or quote marker at the start, and an "@" that would make an e-mail link.
# A colon before a non-space is escaped and followed by a word joiner (U+2060, invisible)
# so that no ``:name:`` shortcode, ``:color[...]`` directive or ``https://`` autolink
# forms; "www." loses its dot for the same reason. Brackets alone ("[16, 8]") stay.
_INLINE = re.compile(r"([\\`*~$<>]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|\](?=\()|!(?=\[)|@(?=[\w-]+\.\w))")
_LINE_START = re.compile(r"^(\s*)([-+=>#])|^(\s*[0-9]+)([.)])")
_WWW = re.compile(r"(?i)\b(www)\.")
_WORD_JOINER = "\u2060"
_COLON = re.compile(r":(?=\S)")           # "a: b" cannot start a shortcode or a link
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")   # text direction overrides


def plain(value, limit=None) -> str:
    """``value`` as one safe line of text: no control characters, no direction overrides,
    newlines as spaces; cut to ``limit`` characters if given."""
    s = _BIDI.sub("", without_controls(str(value).replace("\n", " ").replace("\r", " ")))
    return s if limit is None or len(s) <= limit else s[:max(0, limit - 1)] + "…"


def markdown_escape(value, limit=None) -> str:
    """``value`` (any text from a user) so that Markdown shows it as it is."""
    s = _INLINE.sub(r"\\\1", plain(value, limit))
    s = _WWW.sub(r"\1\\.", _LINE_START.sub(lambda m: "\\".join(
        (m[1], m[2]) if m[2] else (m[3], m[4])), s))
    return _COLON.sub("\\\\:" + _WORD_JOINER, s)


def text(value, container=None):
    """Show ``value`` as preformatted plain text (never parsed)."""
    import streamlit as st
    (container or st).text(plain(value) if "\n" not in str(value) else str(value))


def code(value, container=None, language=None):
    """Show ``value`` verbatim in a code block."""
    import streamlit as st
    (container or st).code(str(value), language=language)


def _message(kind, message, container, icon):
    import streamlit as st
    return getattr(container or st, kind)(markdown_escape(message), icon=icon)


def error(message, container=None, icon=":material/error:"):
    """``st.error`` of a message that may quote user text (all of it plain)."""
    return _message("error", message, container, icon)


def warning(message, container=None, icon=":material/warning:"):
    return _message("warning", message, container, icon)


def info(message, container=None, icon=":material/info:"):
    return _message("info", message, container, icon)


def table_cells(rows) -> list:
    """Rows of cells for ``st.table`` with every cell escaped (its cells are Markdown)."""
    return [[markdown_escape(c) for c in row] for row in rows]
