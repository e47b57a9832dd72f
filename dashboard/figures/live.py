"""The live view's data (drawn on canvases by dashboard/liveview.js): plain JSON-ready dicts.

A frame carries only numbers (arrays as base64 bytes or float32): the curves (at most ``MAX_POINTS`` epochs of them), the
network's answer over the plane as bytes (one per grid point, or RGB for more than two
classes), the data points, the diagram's weights and every unit's picture as bytes, or a
few test images with their guesses. Each is a few kilobytes, so a frame costs the server
a millisecond or two to build and the browser a few to draw.
"""
from __future__ import annotations

import base64

import numpy as np

from .base import CLASS_COLORS, hex_rgb

MAX_POINTS = 400     # epochs drawn per curve (evenly thinned, the last always kept)
MAX_UNITS = 16       # units drawn per layer in the diagram
UNIT_GRID = 20       # pixels per side of each unit's picture


def _b64(a):
    return base64.b64encode(np.ascontiguousarray(a, np.uint8).tobytes()).decode("ascii")


def _floats(a):
    """float32 bytes in base64 (JS reads them as a Float32Array; NaN stays NaN)."""
    return base64.b64encode(np.ascontiguousarray(a, "<f4").tobytes()).decode("ascii")


def curves(records, log=False, mark=None):
    """Loss and accuracy (%) per epoch; ``mark``: the epoch the views show, if not the last."""
    n = len(records)
    keep = np.unique(np.r_[np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(int), n - 1])
    recs = [records[i] for i in keep]
    col = {k: np.array([getattr(r, k) for r in recs], np.float64)
           for k in ("train_loss", "test_loss", "train_acc", "test_acc")}
    return {"epochs": _floats([r.epoch for r in recs]), "log": bool(log), "mark": mark,
            "train_loss": _floats(col["train_loss"]), "test_loss": _floats(col["test_loss"]),
            "train_acc": _floats(col["train_acc"] * 100), "test_acc": _floats(col["test_acc"] * 100)}


def plane(xs, ys, probs, P_train, y_train, P_test, y_test, class_names):
    """The decision boundary: ``probs`` (len(ys) * len(xs), k) class probabilities on the grid
    (row 0 = the lowest y), the points with integer labels (``P_test`` may be None)."""
    n_x, n_y = len(xs), len(ys)
    binary = len(class_names) <= 2
    if binary:                                    # P(last class), coloured orange..blue in JS
        field = np.rint(np.clip(probs[:, -1], 0, 1) * 255)
    else:                                         # class colours blended by probability
        palette = np.array([hex_rgb(CLASS_COLORS[c % len(CLASS_COLORS)])
                            for c in range(probs.shape[1])], np.float64)
        field = np.clip(0.55 * (probs.astype(np.float64) @ palette) + 0.45 * 255, 0, 255)
    field = field.reshape(n_y, n_x, -1)[::-1]     # row 0 = top
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    parts = [(P_train, y_train, 0)] + ([(P_test, y_test, 1)] if P_test is not None else [])
    P = np.concatenate([p for p, _, _ in parts]) if parts else np.zeros((0, 2))
    return {"w": n_x, "h": n_y, "field": _b64(np.rint(field)), "binary": binary,
            "extent": [float(xs[0] - dx / 2), float(xs[-1] + dx / 2),
                       float(ys[0] - dy / 2), float(ys[-1] + dy / 2)],
            "x": _floats(P[:, 0]), "y": _floats(P[:, 1]),
            "c": _b64(np.concatenate([y for _, y, _ in parts])),
            "test": _b64(np.concatenate([np.full(len(p), t) for p, _, t in parts])),
            "any_test": P_test is not None}


def unit_pictures(outputs, activations):
    """Each unit's output over the plane as bytes (0 orange .. 128 grey .. 255 blue): zero
    grey and +-its largest magnitude at the ends, sigmoid units 0..1 (0.5 grey), the output
    layer's probabilities 0..1. ``outputs``: per layer (g*g, units)."""
    pics = []
    for out, name in zip(outputs, activations):
        v = np.asarray(out, np.float64)[:, :MAX_UNITS]
        g = int(round(np.sqrt(v.shape[0])))
        v = v.reshape(g, g, -1)[::-1]                   # row 0 = top of the plane
        if name in ("sigmoid", "softmax"):
            p = np.clip(v, 0, 1)
        else:
            p = (v / np.maximum(np.abs(v).max(axis=(0, 1)), 1e-12) + 1) / 2
        pics.append(_b64(np.rint(p * 255).transpose(2, 0, 1)))     # unit-major
    return pics


def network(sizes, weights, activations, input_names, input_pictures, outputs):
    """The diagram: weights as lines (blue positive, orange negative, thicker when larger),
    every unit as its picture over the plane. ``weights``: per layer W (n_in, n_out);
    ``input_pictures``: the inputs' values (g*g, n_in); ``outputs``: per layer (g*g, n_out)."""
    shown = [min(n, MAX_UNITS) for n in sizes]
    ws = [np.asarray(W, np.float64)[:MAX_UNITS, :MAX_UNITS] for W in weights]
    biggest = max((float(np.abs(W).max()) for W in ws if W.size), default=1.0)
    labels = ["input"] + [f"{n} {a}" for n, a in zip(sizes[1:-1], activations[:-1])] + ["output"]
    return {"sizes": [int(n) for n in sizes], "shown": shown, "labels": labels,
            "weights": [_floats(W.ravel()) for W in ws],
            "max_weight": biggest or 1.0, "inputs": [str(n) for n in input_names],
            "grid": int(round(np.sqrt(np.asarray(input_pictures).shape[0]))),
            "pictures": unit_pictures([input_pictures, *outputs], ["linear", *activations])}


def sample_grid(images, shape, labels, guesses, class_names, cols=8):
    """A few images (k, h*w) in [0, 1] with their labels and the network's guesses."""
    labels, guesses = [int(v) for v in labels], [int(v) for v in guesses]
    return {"shape": [int(shape[0]), int(shape[1])], "cols": cols, "labels": labels,
            "guesses": guesses, "names": [str(c) for c in class_names],
            "wrong": sum(a != b for a, b in zip(labels, guesses)),
            "pixels": _b64(np.rint(np.clip(np.asarray(images, np.float64), 0, 1) * 255))}
