"""The live view: a Streamlit custom component (v2, no iframe) drawing on canvases.

The JavaScript (``liveview.js`` beside this file) ships with the app and is registered
inline; nothing is fetched at run time. Each call sends one frame's numbers (see
``figures.live``); the component keeps its canvases and redraws them in place.
"""
from __future__ import annotations

import os

import streamlit as st

HERE = os.path.dirname(os.path.abspath(__file__))
HEIGHT = 330         # px of each panel

CSS = """
.nnlive { display: flex; flex-wrap: wrap; gap: 0.75rem 1.25rem; width: 100%; }
.nnlive-panel { flex: 1 1 15rem; min-width: 0; }
.nnlive-plane { flex: 0 1 19.5rem; }
.nnlive-net { flex: 1.15 1 16rem; }
.nnlive-panel canvas { display: block; }
@media (max-width: 900px) {          /* narrow: the boundary and the curves first */
  .nnlive-plane { order: 1; flex-basis: 100%; }
  .nnlive-grid { order: 1; }
  .nnlive-curves { order: 2; flex-basis: 100%; }
  .nnlive-net { order: 3; flex-basis: 100%; }
}
"""

with open(os.path.join(HERE, "liveview.js"), encoding="utf-8") as f:
    _JS = f.read()

_component = st.components.v2.component("nncore_live_view", css=CSS, js=_JS, isolate_styles=False)


def live_view(frame: dict, key="live_view"):
    """Draw ``frame`` (curves, and a plane, a network or a sample grid: figures.live)."""
    _component(data={"height": HEIGHT, **frame}, key=key)
