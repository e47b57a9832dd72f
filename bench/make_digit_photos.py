"""Make a test set of digit "photos" that no network trained on.

Usage: ``python bench/make_digit_photos.py [--out DIR] [--per-digit 20] [--seed 0]
[--preview]`` (default out: bench/out/digit_photos/; ``--preview`` also draws
bench/out/preview.png: 40 photos beside what ``nncore.images`` makes of them, and real
MNIST and UCI digits from sample_data/ to compare). Fonts come from Debian packages:
``apt-get install fonts-comic-neue fonts-humor-sans fonts-breip fonts-urw-base35
fonts-dkg-handwriting fonts-rufscript fonts-sjfonts fonts-dancingscript fonts-sil-andika``;
missing fonts are skipped, and the fonts used are printed.

Each image shows one digit 0-9 drawn with a handwriting-like font, the way a phone photo
or a scan might show it: dark ink on light paper, coloured ink on tinted paper, light chalk
on a dark board, or ink only on a transparent background; with paper texture, noise, a
lighting gradient and a little blur; off-centre, of various sizes, rotated by up to ±15°.
Files are JPEG (quality 35-95), PNG, or RGBA PNG; some JPEGs store their pixels rotated
with an EXIF orientation tag that turns them upright. ``labels.csv`` lists file,label.
The same seed gives the same files.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# (name, path): handwriting-like first, a plain sans last as a fallback.
FONTS = [
    ("Comic Neue", "/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf"),
    ("Comic Neue Bold Italic", "/usr/share/fonts/opentype/comic-neue/ComicNeue-BoldItalic.otf"),
    ("Humor Sans", "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf"),
    ("Breip", "/usr/share/fonts/truetype/breip/Breip.ttf"),
    ("URW Z003 (chancery)", "/usr/share/fonts/opentype/urw-base35/Z003-MediumItalic.otf"),
    ("dkg handwriting", "/usr/share/fonts/truetype/fifthhorseman/dkg.ttf"),
    ("dkg handwriting bold", "/usr/share/fonts/truetype/fifthhorseman/dkgBd.ttf"),
    ("Rufscript", "/usr/share/fonts/truetype/rufscript/Rufscript010.ttf"),
    ("SJ Steve Hand", "/usr/share/fonts/truetype/sjfonts/SteveHand.ttf"),
    ("SJ Delphine", "/usr/share/fonts/truetype/sjfonts/Delphine.ttf"),
    ("Dancing Script", "/usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf"),
    ("Andika", "/usr/share/fonts/truetype/andika/Andika-Regular.ttf"),
]
FALLBACK = [("DejaVu Sans", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
            ("Liberation Sans", "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")]

PAPERS = [(245, 243, 235), (250, 250, 250), (238, 232, 210), (225, 235, 245), (250, 240, 200)]
INKS = [(20, 20, 25), (25, 35, 110), (15, 60, 160), (150, 20, 30), (20, 90, 40), (70, 30, 100)]
BOARDS = [(30, 45, 35), (25, 25, 28), (40, 55, 70)]
CHALKS = [(235, 235, 230), (240, 230, 150), (200, 230, 240)]
# style -> share of the images
STYLES = {"paper": 0.45, "colour": 0.2, "board": 0.2, "transparent": 0.15}
ROOT = Path(__file__).resolve().parent.parent
EXIF_TURNS = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
              8: Image.Transpose.ROTATE_270}  # orientation -> how the pixels are stored


def available_fonts():
    """(name, path) of the fonts present, handwriting-like ones first."""
    found = [(n, p) for n, p in FONTS if Path(p).is_file()]
    return found or [(n, p) for n, p in FALLBACK if Path(p).is_file()][:1]


def glyph_mask(digit, font_path, height, angle, rng):
    """The digit as an 'L' mask (255 = ink), its ink about ``height`` px tall, rotated."""
    font = ImageFont.truetype(font_path, size=max(8, int(height * 1.4)))
    x0, y0, x1, y1 = font.getbbox(str(digit))
    pad = height // 4 + 4
    mask = Image.new("L", (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), 0)
    ImageDraw.Draw(mask).text((pad - x0, pad - y0), str(digit), font=font, fill=255)
    box = mask.getbbox()
    scale = height / max(box[3] - box[1], 1)
    mask = mask.resize((max(1, round(mask.width * scale)), max(1, round(mask.height * scale))),
                       Image.Resampling.LANCZOS)
    if rng.random() < 0.3:  # a broader pen
        mask = mask.filter(ImageFilter.MaxFilter(3 if height < 200 else 5))
    return mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)


def background(size, colour, rng):
    """Paper or board: a base colour, a lighting gradient and texture, float (h, w, 3)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    theta = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0.05, 0.3) * ((xx * np.cos(theta) + yy * np.sin(theta)) - 0.5)
    blotch = Image.fromarray(rng.normal(0, 1, (8, 8)).astype(np.float32))
    blotch = np.asarray(blotch.resize((w, h), Image.Resampling.BICUBIC))[..., None]
    grain = rng.normal(0, rng.uniform(2, 8), (h, w, 1))
    return np.asarray(colour, float) * light[..., None] + 4 * blotch + grain


def compose(digit, font_path, style, rng):
    """One photo: an RGB or RGBA image of ``digit``."""
    w, h = int(rng.integers(220, 900)), int(rng.integers(220, 900))
    height = int(min(w, h) * rng.uniform(0.2, 0.75))
    mask = glyph_mask(digit, font_path, height, rng.uniform(-15, 15), rng)
    mask = mask.crop(mask.getbbox())
    mask.thumbnail((w, h), Image.Resampling.LANCZOS)  # the whole digit stays in the picture
    x = int(rng.integers(0, w - mask.width + 1))
    y = int(rng.integers(0, h - mask.height + 1))
    alpha = np.zeros((h, w))
    alpha[y:y + mask.height, x:x + mask.width] = np.asarray(mask, float) / 255
    if style == "transparent":
        ink = np.array(INKS[rng.integers(len(INKS))], np.uint8)
        rgba = np.dstack([np.broadcast_to(ink, (h, w, 3)), np.round(alpha * 255)])
        return Image.fromarray(rgba.astype(np.uint8), "RGBA")
    if style == "board":
        paper, ink = BOARDS[rng.integers(len(BOARDS))], CHALKS[rng.integers(len(CHALKS))]
        alpha *= np.clip(rng.normal(0.85, 0.25, alpha.shape), 0, 1)  # grainy chalk
    elif style == "colour":
        paper, ink = PAPERS[rng.integers(2, len(PAPERS))], INKS[rng.integers(1, len(INKS))]
    else:
        paper, ink = PAPERS[rng.integers(2)], INKS[rng.integers(2)]
    alpha *= rng.uniform(0.75, 1.0)
    bg = background((w, h), paper, rng)
    img = bg * (1 - alpha[..., None]) + np.asarray(ink, float) * alpha[..., None]
    img = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    return img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))


def encode(img, rng):
    """(file bytes, extension, note) for one image, in a randomly chosen container."""
    buf = io.BytesIO()
    if img.mode == "RGBA":
        img.save(buf, "PNG")
        return buf.getvalue(), "png", "rgba"
    pick = rng.random()
    if pick < 0.2:
        img.save(buf, "PNG")
        return buf.getvalue(), "png", "png"
    if pick < 0.35:
        orientation = int(rng.choice(list(EXIF_TURNS)))
        exif = Image.Exif()
        exif[0x0112] = orientation
        img.transpose(EXIF_TURNS[orientation]).save(buf, "JPEG", quality=85, exif=exif)
        return buf.getvalue(), "jpg", f"exif{orientation}"
    quality = int(rng.integers(35, 96))
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue(), "jpg", f"q{quality}"


def make(out, per_digit=20, seed=0):
    """Write ``per_digit`` photos of each digit and labels.csv into ``out``; return rows."""
    out.mkdir(parents=True, exist_ok=True)
    fonts = available_fonts()
    if not fonts:
        raise SystemExit("no usable font found; install e.g. fonts-comic-neue")
    rng = np.random.default_rng(seed)
    styles, shares = list(STYLES), np.array(list(STYLES.values()))
    rows = []
    for digit in range(10):
        for i in range(per_digit):
            name, path = fonts[(i + digit) % len(fonts)]
            style = str(rng.choice(styles, p=shares / shares.sum()))
            data, ext, note = encode(compose(digit, path, style, rng), rng)
            file = f"d{digit}_{i:02d}_{style}_{note}.{ext}"
            (out / file).write_bytes(data)
            rows.append((file, digit, name))
    with open(out / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("file", "label")] + [r[:2] for r in rows])
    return fonts, rows


def _tile(array, side):
    """A float (h, w) array in [0, 1] as a grey RGB tile ``side`` px wide (nearest)."""
    im = Image.fromarray(np.round(np.clip(array, 0, 1) * 255).astype(np.uint8))
    return im.resize((side, side), Image.Resampling.NEAREST).convert("RGB")


def _real_digits(file, n, shape, scale):
    """``n`` images spread over a sample_data CSV (pixels then label), in [0, 1]."""
    path = ROOT / "sample_data" / file
    if not path.is_file():
        return []
    rows = np.loadtxt(gzip.open(path), delimiter=",")
    return [r[:-1].reshape(shape) / scale for r in rows[:: len(rows) // n][:n]]


def preview(folder, rows, dest, n=40, cols=4):
    """Draw ``n`` photos, each with its MNIST and 8×8 preprocessed arrays, into ``dest``."""
    sys.path.insert(0, str(ROOT))
    from nncore.images import ImageError, preprocess_image
    side, pad, label = 96, 6, 14
    cell = (3 * side + 3 * pad, side + label)
    picks = rows[:: max(1, len(rows) // n)][:n]
    grid_h = -(-len(picks) // cols) * cell[1]
    sheet = Image.new("RGB", (cols * cell[0], grid_h + 2 * cell[1] + 20), (90, 90, 90))
    draw = ImageDraw.Draw(sheet)
    for k, (file, digit, _) in enumerate(picks):
        x, y = (k % cols) * cell[0], (k // cols) * cell[1]
        data = (folder / file).read_bytes()
        try:
            shown = [preprocess_image(data).original.copy()]
            shown += [_tile(preprocess_image(data, f).array, side) for f in ("mnist", "digits8")]
        except ImageError as exc:
            draw.text((x, y), f"{file}: {exc}", fill=(255, 80, 80))
            continue
        shown[0].thumbnail((side, side))
        for j, im in enumerate(shown):
            sheet.paste(im, (x + j * (side + pad), y))
        draw.text((x, y + side), f"{digit}  {file[4:30]}", fill=(255, 255, 0))
    y = grid_h + 10
    real = [("real MNIST", _real_digits("mnist_5k.csv.gz", 12, (28, 28), 255)),
            ("real UCI 8x8", _real_digits("digits_8x8.csv.gz", 12, (8, 8), 16))]
    for title, arrays in real:
        draw.text((4, y), title, fill=(255, 255, 255))
        for i, a in enumerate(arrays):
            sheet.paste(_tile(a, side - 16), (100 + i * (side - 10), y))
        y += cell[1]
    dest.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(dest)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "digit_photos")
    ap.add_argument("--per-digit", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preview", action="store_true",
                    help="also draw bench/out/preview.png (originals beside preprocessed)")
    args = ap.parse_args(argv)
    fonts, rows = make(args.out, args.per_digit, args.seed)
    missing = [n for n, p in FONTS if not Path(p).is_file()]
    print(f"fonts used ({len(fonts)}): " + ", ".join(n for n, _ in fonts))
    if missing:
        print("fonts missing (skipped): " + ", ".join(missing))
    print(f"wrote {len(rows)} images and labels.csv to {args.out}")
    if args.preview:
        dest = ROOT / "bench" / "out" / "preview.png"
        preview(args.out, rows, dest)
        print(f"wrote {dest}")


if __name__ == "__main__":
    main()
