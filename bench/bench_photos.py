"""How many digit "photos" nobody trained on does the default MNIST network get right?

Usage: ``python bench/bench_photos.py [--per-digit 20] [--seed 0] [--epochs N] [--digits8]``

1. Writes the photo set with ``bench/make_digit_photos.py`` (handwriting fonts on paper,
   tinted paper, chalk boards and transparent PNGs; JPEG, PNG, EXIF-rotated) into
   bench/out/digit_photos/.
2. Trains the default MNIST preset (``mnist_modern``: 784-256-128-10, ReLU, Adam, shifted
   digits) on the shipped MNIST sample.
3. Predicts every photo through ``nncore.images`` (the app's and the CLI's preprocessing)
   and, for comparison, through a naive resize to 28×28 (as is, and inverted).
4. Prints the accuracy overall, per style and per digit, the preprocessing time per
   image, and draws the failures into bench/out/photo_failures.png (original, what the
   network saw, true label and guess).

``--digits8`` also trains the 8×8 digits network (``default_config("digits")``) and
scores the same photos in the ``digits8`` format. Benchmark with ``OPENBLAS_CORETYPE``
unset (see the design notes).
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import make_digit_photos  # noqa: E402

from nncore import Trainer  # noqa: E402
from nncore.images import ImageError, preprocess_image  # noqa: E402
from nncore.predict import class_probabilities, image_input_of  # noqa: E402
from nncore.presets import default_config, preset_config  # noqa: E402

OUT = ROOT / "bench" / "out"


def naive(data, invert):
    """The photo squashed to 28×28 grey, /255 (optionally inverted): no preprocessing."""
    im = Image.open(io.BytesIO(data))
    im.seek(0)
    a = np.asarray(im.convert("L").resize((28, 28), Image.Resampling.BILINEAR), np.float32) / 255
    return (1 - a) if invert else a


def train(cfg, label):
    t = time.perf_counter()
    tr = Trainer(cfg)
    tr.fit()
    rec = tr.records[-1]
    print(f"{label}: {'-'.join(map(str, tr.network.sizes))}, {tr.epoch} epochs in "
          f"{time.perf_counter() - t:.1f} s; held-out accuracy {rec.test_acc:.1%}")
    return tr


def score(tr, rows, folder, fmt):
    """Guesses for every photo (None where the preprocessing refused it) and timings."""
    spec = image_input_of(tr)
    arrays, guesses, errors, seconds = [], [], [], []
    for file, _, _ in rows:
        data = (folder / file).read_bytes()
        t = time.perf_counter()
        try:
            pre = preprocess_image(data, fmt)
            arrays.append(pre.array)
            errors.append(None)
        except ImageError as exc:
            arrays.append(np.zeros(spec.shape, np.float32))
            errors.append(str(exc))
        seconds.append(time.perf_counter() - t)
    X = np.stack([spec.prepare(a) for a in arrays])
    probs, _ = class_probabilities(tr.predict(X), tr.network.activations[-1])
    guesses = [None if e else int(g) for g, e in zip(probs.argmax(1), errors)]
    return guesses, probs, arrays, errors, np.array(seconds)


def report(title, rows, guesses):
    labels = np.array([r[1] for r in rows])
    right = np.array([g == l for g, l in zip(guesses, labels)])
    print(f"\n{title}: {right.sum()} of {len(rows)} right ({right.mean():.1%})")
    styles = {}
    for (file, _, _), ok in zip(rows, right):
        style = file.split("_")[2]
        kind = "png" if file.endswith(".png") else ("jpeg+exif" if "exif" in file else "jpeg")
        for key in (style, kind):
            styles.setdefault(key, []).append(ok)
    print("  by style/file: " + ", ".join(f"{k} {np.mean(v):.0%} ({len(v)})" for k, v in styles.items()))
    print("  by digit:      " + ", ".join(f"{d}: {right[labels == d].mean():.0%}" for d in range(10)))
    return right


def contact_sheet(rows, folder, arrays, guesses, probs, right, dest, cols=6):
    """Every failure: the photo, what the network saw, 'true → guess (p)'."""
    bad = [i for i, ok in enumerate(right) if not ok]
    if not bad:
        return None
    side, pad, text = 110, 8, 30
    cell_w, cell_h = 2 * side + 3 * pad, side + text + pad
    sheet = Image.new("RGB", (cols * cell_w, -(-len(bad) // cols) * cell_h), (245, 245, 245))
    draw = ImageDraw.Draw(sheet)
    for k, i in enumerate(bad):
        x, y = (k % cols) * cell_w + pad, (k // cols) * cell_h + pad
        photo = ImageOps.exif_transpose(Image.open(folder / rows[i][0]))
        photo = photo.convert("RGBA")
        bg = Image.new("RGBA", photo.size, (255, 255, 255, 255))
        photo = Image.alpha_composite(bg, photo).convert("RGB")
        photo.thumbnail((side, side))
        sheet.paste(photo, (x, y))
        a = np.clip(arrays[i], 0, 1)
        seen = Image.fromarray(np.round(255 * (1 - a)).astype(np.uint8)).resize((side, side),
                                                                              Image.Resampling.NEAREST)
        sheet.paste(seen.convert("RGB"), (x + side + pad, y))
        g = guesses[i]
        what = "refused" if g is None else f"{g} ({probs[i, g]:.0%})"
        draw.text((x, y + side + 2), f"{rows[i][1]} -> {what}", fill=(200, 0, 0))
        draw.text((x, y + side + 14), rows[i][0][3:28], fill=(90, 90, 90))
    dest.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(dest)
    return dest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-digit", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0, help="seed of the photo set")
    ap.add_argument("--train-seed", type=int, default=0, help="seed of the training run")
    ap.add_argument("--epochs", type=int, help="epochs to train (default: the preset's)")
    ap.add_argument("--digits8", action="store_true", help="also score an 8×8 digits network")
    a = ap.parse_args(argv)

    folder = OUT / "digit_photos"
    fonts, rows = make_digit_photos.make(folder, a.per_digit, a.seed)
    print(f"photos: {len(rows)} in {folder} (fonts: {', '.join(n for n, _ in fonts)})")

    overrides = {"seed": a.train_seed, **({"epochs": a.epochs} if a.epochs else {})}
    tr = train(preset_config("mnist_modern", **overrides), "mnist_modern")
    guesses, probs, arrays, errors, secs = score(tr, rows, folder, "mnist")
    right = report("Preprocessed (nncore.images, 'mnist')", rows, guesses)
    refused = [(r[0], e) for r, e in zip(rows, errors) if e]
    if refused:
        print(f"  refused: {len(refused)}: " + "; ".join(f"{f}: {e}" for f, e in refused[:5]))
    print(f"  preprocessing: median {1000 * np.median(secs):.1f} ms, max {1000 * secs.max():.0f} ms "
          "per image")

    labels = np.array([r[1] for r in rows])
    for invert in (False, True):
        X = np.stack([naive((folder / r[0]).read_bytes(), invert).reshape(-1) for r in rows])
        g = tr.predict(X).argmax(1)
        print(f"\nNaive resize to 28×28{', inverted' if invert else ''}: "
              f"{(g == labels).sum()} of {len(rows)} right ({(g == labels).mean():.1%})")

    sheet = contact_sheet(rows, folder, arrays, guesses, probs, right, OUT / "photo_failures.png")
    if sheet:
        print(f"\nfailures drawn in {sheet}")

    if a.digits8:
        tr8 = train(default_config("digits", seed=a.train_seed), "\ndigits (8×8)")
        g8, _, _, _, secs8 = score(tr8, rows, folder, "digits8")
        report("Preprocessed (nncore.images, 'digits8')", rows, g8)
        print(f"  preprocessing: median {1000 * np.median(secs8):.1f} ms per image")


if __name__ == "__main__":
    main()
