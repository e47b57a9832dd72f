"""What every figure shares: the layout, template, colours and the validation switch.

Each figure is assembled in one go from plain dicts (:func:`make_figure`): Plotly's incremental
``update_*`` calls cost tens of milliseconds per chart, which a redraw every epoch
cannot afford. Plotly's validation is skipped at run time (``VALIDATE``); the tests
rebuild every figure with validation on. Numbers go to Plotly as NumPy arrays (float32
for anything large), which Plotly sends base64-encoded; ``.tolist()`` would be 4x larger.
"""
from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

VALIDATE = False
MAX_SIDE = 128
# Colour scales are spelled out: Plotly.js does not know Python's names such as "RdBu_r".
DIVERGING = [[i / 10, c] for i, c in enumerate(   # negative orange, zero white, positive blue
    ["#6b3300", "#a85400", "#e07b00", "#f59322", "#fbc98e", "#f7f7f7", "#b9d7ee", "#6baed6",
     "#0877bd", "#08589e", "#062f61"])]   # the Playground's colours, as on the unit maps
INK = [[0.0, "#ffffff"], [1.0, "#000000"]]            # pixel values: paper white, ink black
PLAYGROUND = [[0.0, "#f59322"], [0.5, "#e8eaeb"], [1.0, "#0877bd"]]   # P(class 1): orange..blue
BINARY_COLORS = ["#f59322", "#0877bd"]
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf"]
TRAIN_COLOR, TEST_COLOR = "#1f77b4", "#ff7f0e"
RIGHT_COLOR, WRONG_COLOR = "#1a7f37", "#cf222e"
TEMPLATE = go.layout.Template()                      # Streamlit's chart theme does the rest


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def make_figure(data, layout):
    return go.Figure(data=data, layout=layout, _validate=VALIDATE)


def layout_dict(title, height=320, legend=True, margin=None, **axes):
    """A layout dict: left-aligned title, legend top right, ``axes`` as given.

    Margins are fixed (``autoexpand`` off): letting Plotly grow them for legends and
    colour bars makes it lay every chart out twice, the largest cost of a redraw.
    """
    m = dict(l=64, r=24, t=56, b=52, autoexpand=False)
    m.update(margin or {})
    # the toolbar (on hover) stands on the right edge, clear of the left-aligned title
    return dict(template=TEMPLATE, height=height, margin=m, showlegend=legend,
                modebar=dict(orientation="v"),
                title=dict(text=title, x=0.0, xanchor="left", xref="paper", font=dict(size=15)),
                legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
                **axes)


def axis_dict(title, **kw):
    return dict(title=dict(text=title), **kw)


def subtitle(text, x, y):
    return dict(text=text, x=x, y=y, xref="paper", yref="paper", xanchor="center",
                yanchor="bottom", showarrow=False, font=dict(size=13))


def figure_bytes(fig) -> int:
    """Bytes of the figure's JSON, as ``st.plotly_chart`` sends it."""
    return len(pio.to_json(fig, validate=False))


def hex_rgb(color):
    return [int(color[i:i + 2], 16) for i in (1, 3, 5)]


def png_uri(rgb):
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def blend(p, scale):
    """Values ``p`` in [0, 1] (any shape) coloured along a three-stop ``scale`` such as
    ``PLAYGROUND``: float RGB of shape ``p.shape + (3,)``, linear between the stops."""
    stops = np.array([hex_rgb(c) for _, c in scale], np.float64)
    p = np.asarray(p, np.float64)[..., None]
    return np.where(p < 0.5, stops[0] + (stops[1] - stops[0]) * (p * 2),
                    stops[1] + (stops[2] - stops[1]) * (p * 2 - 1))
