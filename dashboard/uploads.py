"""Uploaded and drawn images, prepared once per session: the Predictions page's cache.

A file is hashed once (SHA-1 of its bytes), preprocessed the way the training images were
made (``nncore.images.preprocess_image``), and kept as the network's input array with two
small pictures already encoded, so that reruns (every epoch while training) send the same
bytes instead of encoding them again. The cache is a plain dict the caller keeps in its
session: (digest, format) -> (array, thumbnail JPEG, network's-eye PNG, steps) or an error
text. No Streamlit here.
"""
from __future__ import annotations

import hashlib
import io
import logging
from concurrent.futures import ThreadPoolExecutor

from dashboard.figures.predictions import digit_picture
from nncore.images import ImageError, preprocess_image

log = logging.getLogger("dashboard")

THUMB = 256                      # px, longest side of the kept copy of an uploaded image
FORGOTTEN = "the image was forgotten: upload it again"


def digest(data) -> str:
    """The cache's name for a file's bytes."""
    return hashlib.sha1(data).hexdigest()


def _image_bytes(im, fmt, **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def prepare(data, spec, lim):
    """One file -> (array, thumbnail JPEG, network's-eye PNG, steps) or an error text."""
    try:
        pre = preprocess_image(data, spec.fmt, max_pixels=lim.max_image_pixels,
                               max_bytes=lim.max_upload_bytes)
    except ImageError as exc:
        return str(exc)
    except Exception as exc:           # a bug, not a bad file: keep the other files going
        log.error("preprocessing failed", exc_info=exc)
        return f"unexpected problem ({type(exc).__name__}); details are in the server log"
    thumb = pre.original.copy()
    thumb.thumbnail((THUMB, THUMB))
    return (pre.array, _image_bytes(thumb, "JPEG", quality=88),
            _image_bytes(digit_picture(pre.array, 112), "PNG"), pre.steps)


def cached(cache, sources, spec, lim):
    """Preprocess each file once (two at a time) into ``cache``; returns their cache keys.
    ``sources`` are (digest, function giving the bytes): the bytes are only read for files
    not prepared yet. The cache keeps at most ``2 * lim.max_images + 8`` entries."""
    keys = [(d, spec.fmt) for d, _ in sources]
    todo = {k: read for k, (_, read) in zip(keys, sources) if k not in cache}
    if len(todo) > 1:
        with ThreadPoolExecutor(max_workers=2) as pool:   # decoding and NumPy release the GIL
            done = dict(zip(todo, pool.map(lambda read: prepare(read(), spec, lim), todo.values())))
    else:
        done = {k: prepare(read(), spec, lim) for k, read in todo.items()}
    cache.update(done)
    for k in keys:                     # the newest last, so that they are dropped last
        cache[k] = cache.pop(k)
    while len(cache) > 2 * lim.max_images + 8:
        cache.pop(next(iter(cache)))
    return keys


def entries(cache, named_keys):
    """[(name, cache key)] -> [(name, entry)]; an entry no longer cached says so."""
    return [(name, cache.get(key, FORGOTTEN)) for name, key in named_keys]
