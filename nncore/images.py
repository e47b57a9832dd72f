"""Turn a photo of one handwritten digit into the input a network was trained on.

The training images follow fixed conventions, and a user's photo is brought to them:

* ``"mnist"``: 28×28 floats in [0, 1], ink high (1) on a background of 0. The digit's
  bounding box is fitted into 20×20 keeping its aspect ratio, with anti-aliased grey
  edges, and the digit is placed so that its centre of mass sits at the centre of the
  28×28 field (pixel (14, 14), as in MNIST itself).
* ``"digits8"``: 8×8 floats in {0, 1/16, ..., 1} (the UCI / scikit-learn digits). The
  digit's slant is halved, then it is drawn as a 32×32 bitmap, 32 px high and at most
  20 px wide (narrow digits keep their aspect ratio, wide ones are squeezed, as in the UCI
  set, whose digits never reach the outer columns), centred by its bounding box; each 4×4
  block's count of ink pixels is divided by 16.

Pipeline (each step adds a line to ``Preprocessed.steps`` when it changes something):
decode safely → first frame → EXIF orientation → transparency on white → grey →
subtract a smooth background (lighting gradient, paper colour) → decide which side is
ink → robust contrast normalisation → drop specks → crop to the ink → normalise the
stroke width → (digits8: halve the slant) → fit and centre.

Anything wrong with the input raises :class:`ImageError` with a message meant for the
person who uploaded the file; no other exception escapes :func:`preprocess_image`.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow warns about a file's quirks ("Corrupt EXIF data", "Tag data larger than file") on
# stderr, with its own path; what matters of them is said in the steps or an ImageError.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL(\.|$)")

# name -> (height, width) of the array the network sees.
IMAGE_FORMATS = {"mnist": (28, 28), "digits8": (8, 8)}

WORK_SIDE = 1024      # longest side of the working copy, px
DISPLAY_SIDE = 512    # longest side of Preprocessed.original, px
LABEL_SIDE = 128      # longest side of the mask on which specks are found, px
FIT_SIDE = 80         # longest side of the digit's bitmap before the final reduction, px
SPECK_FRACTION = 0.06  # a blob smaller than this fraction of the largest one is a speck
MIN_CONTRAST = 0.06   # weakest ink-to-background difference taken as ink (grey levels, 0..1)
NOISE_FACTOR = 6.0    # ... and at least this many noise standard deviations
STROKE_FACTOR = 1.5   # typical stroke must be this many times that threshold (else: texture)
# Stroke width a digit is thickened to, in px at FIT_SIDE scale. MNIST's own digits
# measure 9.6 / 11.3 / 13.1 (quartiles) by 2 * area / perimeter at this scale. For the UCI
# digits 12 scores best on rendered photos (mean value 0.27; 14 matches the set's 0.30 but
# scores no better once wide digits are squeezed to DIGITS8_WIDTH).
STROKE_WIDTH = {"mnist": 10.0, "digits8": 12.0}
# Widest a digit is drawn in the 32×32 UCI bitmap, px (its height is always 32): the UCI
# digits never reach the outer block columns, and a 0 spans 6 columns with light edges.
DIGITS8_WIDTH = 20
# digits8: share of a digit's slant taken out (the UCI digits keep their writers' slant:
# 1/2 scores as well as 1 on photos and keeps real UCI digits closer to themselves).
DESLANT = 0.5
MAX_SLANT = 0.5       # ... of a slant of at most this, in px sideways per px of height
READABLE = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "AVIF", "PPM")

NO_INK = "no ink found: the image looks blank"
TRUNCATED = "truncated {} file: the data ends before the image does (was the upload cut short?)"
NOT_AN_IMAGE = ("not an image, or an image format that cannot be read "
                "(use PNG, JPEG, GIF, BMP, TIFF or WebP)")


class ImageError(ValueError):
    """An uploaded file cannot be turned into a digit image; the message says why."""


@dataclass
class Preprocessed:
    """A preprocessed digit.

    Attributes
    ----------
    array : ndarray of float32, shape (h, w)
        What the network sees, in [0, 1], ink high; (h, w) is ``IMAGE_FORMATS[fmt]``.
    original : PIL.Image.Image
        The upright input in RGB, transparency on white, at most 512 px on a side.
    steps : list of str
        What was done, in order, in a few words each.
    fmt : str
        The key of ``IMAGE_FORMATS`` the array follows.
    """

    array: np.ndarray
    original: Image.Image
    steps: list[str] = field(default_factory=list)
    fmt: str = "mnist"

    @property
    def flat(self) -> np.ndarray:
        """The array as one input row, shape (h * w,)."""
        return self.array.reshape(-1)


def check_format(fmt: str) -> tuple:
    """Return the (height, width) of format ``fmt``; unknown names raise ValueError."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"unknown image format {fmt!r}; valid formats: "
                         f"{', '.join(sorted(IMAGE_FORMATS))}")
    return IMAGE_FORMATS[fmt]


def preprocess_image(data: bytes, fmt: str = "mnist", *, max_pixels: int = 40_000_000,
                     max_bytes: int = 20_000_000) -> Preprocessed:
    """Turn the bytes of an image file showing one digit into a network input.

    Parameters
    ----------
    data : bytes
        The whole file (PNG, JPEG, GIF, BMP, TIFF, WebP, ...).
    fmt : {"mnist", "digits8"}
        Which training convention to follow (see the module docstring).
    max_pixels : int
        Largest width × height decoded; checked from the header, before decoding.
    max_bytes : int
        Largest file size accepted, in bytes.

    Returns
    -------
    Preprocessed
        ``array`` of shape ``IMAGE_FORMATS[fmt]``, float32 in [0, 1], ink high.

    Raises
    ------
    ValueError
        ``fmt`` is not a key of ``IMAGE_FORMATS``.
    ImageError
        For any problem with ``data``; the message says which.
    """
    check_format(fmt)
    steps = []
    try:
        _check_bytes(data, max_bytes)
        im = _decode(bytes(data), max_pixels, steps)
        grey, original = _flatten(im, steps)
        ink = _ink_map(grey, steps)
        crop = _digit_crop(ink, steps)
        array = _LAYOUTS[fmt](_bitmap(crop, STROKE_WIDTH[fmt], steps), steps)
    except ImageError:
        raise
    except Exception as exc:  # Pillow and its decoders raise many types on odd files
        raise ImageError(f"could not read the image: {exc}") from exc
    return Preprocessed(array.astype(np.float32), original, steps, fmt)


def load_image_batch(files: list, fmt: str = "mnist", **limits) -> list:
    """Preprocess several uploads; a bad file gives its ImageError instead of raising.

    Parameters
    ----------
    files : list of (str, bytes)
        (name, file contents) pairs.
    fmt : str
        A key of ``IMAGE_FORMATS``; an unknown one raises ValueError at once.
    **limits
        ``max_pixels`` and ``max_bytes`` for :func:`preprocess_image`.

    Returns
    -------
    list of (str, Preprocessed or ImageError)
        One entry per file, in order.
    """
    check_format(fmt)
    out = []
    for name, data in files:
        try:
            out.append((name, preprocess_image(data, fmt, **limits)))
        except ImageError as exc:
            out.append((name, exc))
    return out


# -- decoding ---------------------------------------------------------------------------------

def _check_bytes(data, max_bytes):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError(f"expected the file's bytes, got {type(data).__name__}")
    n = memoryview(data).nbytes
    if n == 0:
        raise ImageError("empty file: 0 bytes")
    if n > max_bytes:
        raise ImageError(f"file too large: {n:,} bytes (the limit is {max_bytes:,})")


def _sniff(data):
    """Name of the image format announced by the first bytes, or None."""
    magic = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF",
             b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}
    for prefix, name in magic.items():
        if data.startswith(prefix):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return "HEIF"
    return None


def _bomb(size, max_pixels):
    return (f"image too large: {size} pixels (the limit is {max_pixels:,}); not decoded, "
            "as it could be a decompression bomb")


def _open(data, max_pixels):
    kind = _sniff(data)
    if kind == "HEIF":
        raise ImageError("HEIC/HEIF photos cannot be read here: save the photo as JPEG or PNG")
    try:
        Image.init()
        return Image.open(io.BytesIO(data), formats=[f for f in READABLE if f in Image.OPEN])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # over Pillow's own global limit (the warning is raised only if warnings are errors)
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise ImageError(_bomb(f"{int(found[1]):,}" if found else "too many", max_pixels)) from exc
    except (UnidentifiedImageError, SyntaxError, EOFError, OSError) as exc:
        if kind:  # the right signature, then an unreadable header
            msg = f"truncated or corrupt {kind} file: its header cannot be read"
            raise ImageError(msg) from exc
        raise ImageError(NOT_AN_IMAGE) from exc


def _decode(data, max_pixels, steps):
    """Open ``data`` and decode its first frame, upright; the header is checked first."""
    im = _open(data, max_pixels)
    w, h = im.size
    if w * h > max_pixels:
        raise ImageError(_bomb(f"{w}×{h} = {w * h:,}", max_pixels))
    if w < 1 or h < 1:
        raise ImageError(f"the image has no pixels ({w}×{h})")
    steps.append(f"read {im.format} image, {w}×{h} px, mode {im.mode}")
    if getattr(im, "is_animated", False):
        steps.append("animated: used the first frame")
    if im.format == "JPEG":
        im.draft(None, (WORK_SIDE, WORK_SIDE))  # decode at 1/2, 1/4 or 1/8 scale when big
    try:
        im.load()
    except Exception as exc:
        text = str(exc).lower()
        if isinstance(exc, EOFError) or "truncated" in text:
            raise ImageError(TRUNCATED.format(im.format)) from exc
        raise ImageError(f"corrupt {im.format} file: {exc}") from exc
    return _upright(im, steps)


def _upright(im, steps):
    try:
        orientation = im.getexif().get(0x0112, 1)
        if orientation in range(2, 9):
            im = ImageOps.exif_transpose(im)
            steps.append(f"rotated per EXIF (orientation {orientation})")
    except Exception:  # a malformed EXIF block only costs the orientation
        steps.append("EXIF unreadable: orientation ignored")
    return im


# -- to one grey channel ----------------------------------------------------------------------

def _shrink(im, side):
    """``im`` resized (area average) so that its longer side is at most ``side`` px."""
    w, h = im.size
    s = side / max(w, h)
    if s >= 1:
        return im
    return im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BOX)


def _flatten(im, steps):
    """Grey working copy, float32 (h, w) in [0, 1] (1 = white), and the display image."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _flatten_deep(im, steps)
    rgb = _on_white(im, steps)
    work = np.asarray(_shrink(rgb, WORK_SIDE), dtype=np.float32) / 255
    grey = work @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return grey, _shrink(rgb, DISPLAY_SIDE)


def _flatten_deep(im, steps):
    """16-bit, 32-bit integer and float images: scaled to [0, 1] by their range."""
    a = np.asarray(_shrink(im.convert("F"), WORK_SIDE), dtype=np.float64)
    a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    if im.mode.startswith("I;16"):
        lo, hi = 0.0, 65535.0
        steps.append("16-bit grey scaled to [0, 1]")
    else:
        lo, hi = float(a.min()), float(a.max())
        steps.append(f"mode {im.mode} scaled to [0, 1] by its range")
    grey = np.clip((a - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(a)
    display = Image.fromarray(np.round(grey * 255).astype(np.uint8)).convert("RGB")
    return grey.astype(np.float32), _shrink(display, DISPLAY_SIDE)


def _on_white(im, steps):
    """RGB version of ``im``; transparent parts become white paper (at WORK_SIDE px)."""
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = _shrink(im.convert("RGBA"), WORK_SIDE)  # Pillow resizes RGBA premultiplied
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        if _light_ink_only(rgba):  # light strokes on nothing: white paper would hide them
            paper = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
            steps.append("transparency put on black (the ink is light)")
        else:
            steps.append("transparency put on white")
        return Image.alpha_composite(paper, rgba).convert("RGB")
    if im.mode not in ("RGB", "L"):
        steps.append(f"mode {im.mode} converted to RGB")
    return im.convert("RGB")


def _light_ink_only(rgba):
    """True when the opaque pixels of a partly transparent image are light."""
    a = np.asarray(_shrink(rgba, LABEL_SIDE), dtype=np.float32) / 255
    opaque = a[..., 3] >= 0.5
    if opaque.all() or not opaque.any():
        return False
    return float(np.median(a[opaque][:, :3] @ [0.299, 0.587, 0.114])) > 0.75


# -- from grey levels to ink ------------------------------------------------------------------

def _quadratic_terms(h, w):
    """The six terms 1, x, y, x², xy, y² on pixel centres, x and y in [-1, 1]."""
    x = (np.arange(w) + 0.5) / w * 2 - 1
    y = ((np.arange(h) + 0.5) / h * 2 - 1)[:, None]
    return [np.ones((1, 1)), x[None, :], y, x[None, :] ** 2, y * x[None, :], y ** 2]


def _background(grey):
    """Smooth paper or board level under ``grey``, and where the paper shows.

    A quadratic surface (lighting gradient) fitted to a ≤64 px copy by least squares,
    refitted on the pixels within 3 robust standard deviations, so ink is left out. The
    first fit uses the pixels that look like the border: paper surrounds a digit even
    when the ink covers most of the picture.

    Returns
    -------
    level : ndarray of float32, shape (h, w)
        The fitted paper level, in the units of ``grey``.
    paper : ndarray of bool, shape (h, w)
        The pixels the last fit used (background, not ink), at the copy's resolution.
    """
    h, w = grey.shape
    thumb = np.asarray(_shrink(Image.fromarray(grey), 64), dtype=np.float64)
    th, tw = thumb.shape
    A = np.stack([np.broadcast_to(t, (th, tw)).ravel() for t in _quadratic_terms(th, tw)], 1)
    z = thumb.ravel()
    border = np.concatenate([thumb[0], thumb[-1], thumb[:, 0], thumb[:, -1]])
    keep = np.abs(z - np.median(border)) <= 3 * _robust_sigma(border)
    coef = np.array([np.median(border), 0, 0, 0, 0, 0])
    for _ in range(4):
        if keep.sum() < A.shape[1]:
            break
        Ak = A[keep]   # solved as the 6×6 normal equations: LAPACK's lstsq on the tall
        # matrix runs multi-threaded and costs milliseconds (tens on a busy machine)
        coef = np.linalg.lstsq(Ak.T @ Ak, Ak.T @ z[keep], rcond=None)[0]
        r = z - A @ coef
        keep = np.abs(r) <= 3 * _robust_sigma(r[keep])
    # the surface at full size in three float32 passes (x and y terms per column and row)
    x = ((np.arange(w) + 0.5) / w * 2 - 1)
    y = ((np.arange(h) + 0.5) / h * 2 - 1)
    level = np.outer((coef[4] * y).astype(np.float32), x.astype(np.float32))
    level += (coef[2] * y + coef[5] * y ** 2).astype(np.float32)[:, None]
    level += (coef[0] + coef[1] * x + coef[3] * x ** 2).astype(np.float32)[None, :]
    paper = keep.reshape(th, tw)[np.arange(h) * th // h][:, np.arange(w) * tw // w]
    return level, paper


def _robust_sigma(r):
    """Standard deviation of ``r``'s bulk from its median absolute deviation (≥ 1/255).

    Over 65,536 values, an evenly spread subsample of about that many is used (two medians
    of a million pixels were a quarter of the time of a photo).
    """
    r = np.ravel(r)
    if r.size > 2**16:
        r = r[::-(-r.size // 2**16)]
    return max(1.4826 * float(np.median(np.abs(r - np.median(r)))), 1 / 255)


def _ink_map(grey, steps):
    """Ink strength, float32 (h, w) in [0, 1], from a grey image (1 = white)."""
    level, paper = _background(grey)
    r = grey - level
    noise = _robust_sigma(r[paper] if paper.sum() >= 16 else r)
    t = max(NOISE_FACTOR * noise, MIN_CONTRAST)
    dark = float(np.clip(-r - t, 0, None).sum())
    light = float(np.clip(r - t, 0, None).sum())
    if dark == 0 and light == 0:
        raise ImageError(NO_INK)
    steps.append("background levelled (paper colour, lighting gradient)")
    if dark >= light:
        ink = -r
        steps.append("inverted: dark ink on light paper")
    else:
        ink = r
        steps.append("kept as is: light ink on a dark background")
    return _stretch(ink, t, steps)


def _stretch(ink, t, steps):
    """Map ink strength to [0, 1]: 0 below a quarter of the stroke level, 1 from 3/4."""
    level = float(np.percentile(ink[ink > t], 75))
    if level < STROKE_FACTOR * t:  # only the tail of the paper's texture crossed t
        raise ImageError(NO_INK)
    lo = max(0.25 * level, 0.5 * t)
    steps.append(f"contrast normalised (ink {level:.2f} above the background)")
    return np.clip((ink - lo) / (0.75 * level - lo), 0, 1).astype(np.float32)


# -- the digit's outline ----------------------------------------------------------------------

def _components(mask):
    """8-connected components of a bool (h, w) mask: labels (h, w) int, sizes (n + 1,)."""
    h, w = mask.shape
    W = w + 2
    flat = bytearray(np.pad(mask, 1).astype(np.uint8).tobytes())
    labels = [0] * len(flat)
    sizes = [0]
    offsets = (-W - 1, -W, -W + 1, -1, 1, W - 1, W, W + 1)
    for start in np.flatnonzero(np.pad(mask, 1)).tolist():
        if labels[start]:
            continue
        n = len(sizes)
        labels[start] = n
        stack, size = [start], 0
        while stack:
            p = stack.pop()
            size += 1
            for d in offsets:
                q = p + d
                if flat[q] and not labels[q]:
                    labels[q] = n
                    stack.append(q)
        sizes.append(size)
    lab = np.array(labels, dtype=np.int32).reshape(h + 2, W)[1:-1, 1:-1]
    return lab, np.array(sizes)


def _block_max(a, k):
    """Max over k×k blocks of a 2-D array (edges padded with zeros): shape ceil(h/k, w/k)."""
    if k == 1:
        return a
    h, w = a.shape
    p = np.pad(a, ((0, -h % k), (0, -w % k)))
    return p.reshape(p.shape[0] // k, k, p.shape[1] // k, k).max(axis=(1, 3))


def _dilate(mask, n=1):
    """Binary dilation by a 3×3 square, ``n`` times; same shape."""
    for _ in range(n):
        p = np.pad(mask, 1)
        h, w = mask.shape
        mask = np.zeros_like(mask)
        for dy in range(3):
            for dx in range(3):
                mask |= p[dy:dy + h, dx:dx + w]
    return mask


def _digit_crop(ink, steps):
    """The ink's bounding box with specks removed, float32 (h', w') in [0, 1]."""
    h, w = ink.shape
    k = -(-max(h, w) // LABEL_SIDE)
    labels, sizes = _components(_block_max(ink > 0.5, k))
    if len(sizes) < 2:
        raise ImageError(NO_INK)
    big = np.flatnonzero(sizes >= max(SPECK_FRACTION * sizes.max(), 1))
    if len(sizes) - 1 > len(big):
        steps.append(f"ignored {len(sizes) - 1 - len(big)} speck(s)")
    keep = _dilate(np.isin(labels, big))
    keep = np.repeat(np.repeat(keep, k, 0), k, 1)[:h, :w]
    ink = ink * keep
    rows, cols = np.flatnonzero((ink > 0.5).any(1)), np.flatnonzero((ink > 0.5).any(0))
    if (ink > 0.5).sum() < 4:
        raise ImageError(NO_INK)
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    steps.append(f"cropped to the ink: {c1 - c0}×{r1 - r0} px")
    return ink[max(r0 - 1, 0):r1 + 1, max(c0 - 1, 0):c1 + 1]


def _trim(mask):
    """``mask`` cut to the bounding box of its True pixels (at least 1×1)."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if len(rows) == 0:
        return np.ones((1, 1), bool)
    return mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _resize(a, size, resample):
    """Resize a float 2-D array to ``size`` = (width, height) with Pillow."""
    return np.asarray(Image.fromarray(a.astype(np.float32)).resize(size, resample))


def _fit(a, side, resample):
    """Resize ``a`` so that its longer side is ``side`` px, keeping the aspect ratio."""
    h, w = a.shape
    s = side / max(h, w)
    return _resize(a, (max(1, round(w * s)), max(1, round(h * s))), resample)


def _stroke_width(mask):
    """Mean stroke width of a bool mask in px: 2 × area / number of edge pixels."""
    p = np.pad(mask, 1)
    inner = p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return 2 * mask.sum() / max((mask & ~inner).sum(), 1)


def _bitmap(crop, target, steps):
    """The digit as a bool bitmap whose longer side is about FIT_SIDE px.

    Big crops are reduced by a block maximum first, so thin pen strokes survive; strokes
    thinner than ``target`` px (at this scale) are thickened by dilation.
    """
    crop = _block_max(crop, -(-max(crop.shape) // FIT_SIDE))
    mask = _trim(_fit(crop, FIT_SIDE, Image.Resampling.BILINEAR) > 0.5)
    width = _stroke_width(mask)
    n = int(round((target - width) / 2))
    if n > 0:
        mask = _dilate(np.pad(mask, n), n)
        steps.append(f"strokes thickened from {width:.1f} to about {width + 2 * n:.0f} px "
                     f"at {FIT_SIDE} px height")
    return mask


# -- layouts: from the bitmap to the training convention --------------------------------------

def _layout_mnist(mask, steps):
    """MNIST: fit into 20×20 (anti-aliased), centre of mass at (14, 14) of 28×28."""
    small = np.clip(_fit(mask.astype(np.float32), 20, Image.Resampling.BOX), 0, 1)
    h, w = small.shape
    yy, xx = np.indices(small.shape)
    total = small.sum()
    cy, cx = (yy * small).sum() / total, (xx * small).sum() / total
    top = int(np.clip(round(14 - cy), 0, 28 - h))
    left = int(np.clip(round(14 - cx), 0, 28 - w))
    out = np.zeros((28, 28), np.float32)
    out[top:top + h, left:left + w] = small
    steps.append(f"fitted into 20×20 ({w}×{h}), centre of mass moved to the middle of 28×28")
    return out


def _deslant(mask, steps):
    """``mask`` sheared to take DESLANT of its slant (from its ink's second moments) out."""
    yy, xx = np.nonzero(mask)
    cy, cx = yy.mean(), xx.mean()
    spread = ((yy - cy) ** 2).sum()
    if spread == 0:
        return mask
    slant = float(np.clip(-((xx - cx) * (yy - cy)).sum() / spread, -MAX_SLANT, MAX_SLANT))
    shift = np.rint(DESLANT * slant * (np.arange(mask.shape[0]) - cy)).astype(int)
    if shift.max() - shift.min() < 2:  # under a pixel either way: left alone
        return mask
    shift -= shift.min()
    out = np.zeros((mask.shape[0], mask.shape[1] + shift.max()), bool)
    out[yy, xx + shift[yy]] = True
    side = "right" if slant > 0 else "left"
    steps.append(f"slant halved (the digit leaned {abs(np.degrees(np.arctan(slant))):.0f}° "
                 f"to the {side})")
    return _trim(out)


def _layout_digits8(mask, steps):
    """UCI digits: slant halved, 32 px high, ≤20 px wide, centred in 32×32; 4×4 counts / 16."""
    mask = _deslant(mask, steps)
    h, w = mask.shape
    natural = max(1, round(w * 32 / h))  # the width that keeps the aspect ratio
    width = min(natural, DIGITS8_WIDTH)
    big = _resize(mask.astype(np.float32), (width, 32), Image.Resampling.BOX) > 0.5
    field32 = np.zeros((32, 32), np.float32)
    left = (32 - width) // 2
    field32[:, left:left + width] = big
    squeezed = f", squeezed from {natural} px wide" if natural > width else ""
    steps.append(f"drawn {width}×32 px{squeezed}, centred in a 32×32 bitmap; 4×4 blocks "
                 "counted, divided by 16")
    return field32.reshape(8, 4, 8, 4).mean(axis=(1, 3))


_LAYOUTS = {"mnist": _layout_mnist, "digits8": _layout_digits8}
