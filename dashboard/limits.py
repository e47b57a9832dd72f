"""The app's limits, in one place: generous when run locally, tighter on a hosted demo.

Hosted mode is on when the environment variable ``NNCORE_HOSTED`` is ``1``/``true`` (set it
in the shell, or as a root-level secret ``NNCORE_HOSTED = "1"`` on Streamlit Community
Cloud, which exposes such secrets as environment variables) or when the app runs from
Community Cloud's checkout folder ``/mount/src``. ``NNCORE_HOSTED=0`` forces local mode.

``NNCORE_MAX_PARAMS``, ``NNCORE_HISTORY_MB`` and ``NNCORE_BLAS_THREADS`` override those
settings in either mode.

The ``check_*`` functions raise ``ValueError`` with a message that names the limit and
what to change; the pages show it as it is.
"""
from __future__ import annotations

import ctypes
import functools
import os
import re
from dataclasses import dataclass, replace

from nncore.datasets import PATH_OPTIONS
from nncore.network import count_params, work_parts
from nncore.text import size_text


@dataclass(frozen=True)
class Limits:
    hosted: bool
    max_params: int               # largest network, in parameters
    max_epochs_per_run: int       # epochs one click of "Train N epochs" may ask for
    max_total_epochs: int         # epochs one run may reach
    max_epoch_samples: int        # training samples x passes per epoch (the work of one click)
    history_bytes: int            # per-epoch weights kept per session (older epochs thinned)
    max_upload_bytes: int         # one uploaded image
    max_image_pixels: int         # decoded size of one uploaded image
    max_images: int               # images per upload
    max_session_upload_bytes: int  # uploads one session may hold at a time (before they are read)
    max_snapshot_bytes: int       # a training-state file, uncompressed
    max_train_samples: int        # training samples of a dataset
    max_epoch_work: float         # cost of one epoch, in multiply-adds (see epoch_work)
    max_hidden_layers: int        # depth of a network (every page draws each layer)
    allow_paths: bool             # datasets may read files named in the sidebar (csv, IDX folder)
    checkpoints: bool             # offer to resume a run an earlier server left (local crash resume)
    blas_threads: int | None = None   # BLAS threads per matrix product (None: BLAS's default)
    max_compare_runs: int = 8     # runs kept side by side (Add to comparison) per session
    compare_bytes: int = 128 * 2**20  # ... and their bytes (latest weights, curves, pictures)

    def describe(self) -> list[str]:
        """One line per limit, for people."""
        lines = [f"networks up to {self.max_params:,} parameters",
                 f"up to {self.max_epochs_per_run:,} epochs per click of Train N epochs, "
                 f"{self.max_total_epochs:,} epochs per run",
                 f"{self.max_train_samples:,} training samples per dataset, "
                 f"{self.max_epoch_samples:,} samples per epoch (samples × passes per epoch)",
                 f"{self.max_hidden_layers:,} hidden layers; an epoch's work up to "
                 f"{self.max_epoch_work:.3g} multiply-adds (network × samples × passes, "
                 "more for small batches)",
                 f"{size_text(self.history_bytes)} of weight history per session: older epochs are "
                 "thinned (every other one dropped; their curves stay)",
                 f"images up to {size_text(self.max_upload_bytes)} and "
                 f"{self.max_image_pixels / 1e6:g} megapixels, {self.max_images} per upload, "
                 f"{size_text(self.max_session_upload_bytes)} of uploads at a time",
                 f"training-state files up to {size_text(self.max_snapshot_bytes)}",
                 f"{self.max_compare_runs} runs side by side on the Compare page, "
                 f"{size_text(self.compare_bytes)} in all"]
        if not self.allow_paths:
            lines.append("no datasets read from the server's files (CSV path, IDX folder)")
        return lines


# The cost of an epoch in multiply-adds, calibrated on one core of this machine (one BLAS
# thread, as hosted): a sample of a mini-batch costs about one multiply-add per weight (at
# ~0.2 ns each); a batch of one makes every product a matrix-vector one, ~25x slower per
# multiply-add (784-700-64-10 online: 5.4 ns); each step of each layer adds ~12 us of
# NumPy overhead (moons, 51 layers of 8, online: 650 us a step).
WORK_PER_SECOND = 5e9
SMALL_BATCH = 32                  # below this many samples a batch, products slow down
STEP_WORK = 60_000                # overhead of one step of one layer, in multiply-adds
# Conv layers cost more per multiply-add (im2col copies, col2im adds), and every value of a
# conv or pool output a few elementwise passes: measured on one core here, the mnist_cnn
# net trains at ~0.57 ns per multiply-add, conv 32@3x3 at ~1.2 ns, against ~0.13 ns for a
# dense net; these weights overestimate those by ~1.5x.
CONV_MAC_COST = 3                 # dense multiply-adds per conv multiply-add
MAP_VALUE_COST = 50               # dense multiply-adds per conv/pool output value


def epoch_work(sizes, n_train, passes=1, batch_size=None) -> float:
    """The cost of one epoch in multiply-adds: the network's multiply-adds per sample
    (``nncore.network.multiply_adds``; conv ones and conv/pool outputs weighted by
    ``CONV_MAC_COST`` and ``MAP_VALUE_COST``) × samples × passes, times up to ``SMALL_BATCH`` for
    small batches, plus a per-step overhead per layer. ``batch_size`` None: full batch."""
    bs = max(1, min(int(batch_size or n_train), max(1, n_train)))
    steps = -(-n_train // bs) * passes
    parts = work_parts(sizes)
    per_sample = (parts["dense"] + CONV_MAC_COST * parts["conv"]
                  + MAP_VALUE_COST * parts["map_values"]) * max(1.0, SMALL_BATCH / bs)
    return float(per_sample * n_train * passes + steps * (len(sizes) - 1) * STEP_WORK)


LOCAL = Limits(hosted=False, max_params=20_000_000, max_epochs_per_run=10_000,
               max_total_epochs=1_000_000, max_epoch_samples=10**12, history_bytes=256 * 2**20,
               max_upload_bytes=20 * 2**20, max_image_pixels=40_000_000, max_images=200,
               max_session_upload_bytes=4 * 2**30,
               max_snapshot_bytes=200 * 2**20, max_train_samples=10**9, max_epoch_work=1e18,
               max_hidden_layers=1000, allow_paths=True,
               checkpoints=True)

# A hosted session training the MNIST sample with 784-128-64-10 (Adam), its data shared
# with the other sessions, holds about 25 MB once its 6 MB of history is full (tracemalloc:
# 33 MB with 16 MB of history); the largest preset, 784-512-256-16-10, more. Most of the
# rest is the engine's cached evaluation buffers (units x training samples, ~16 MB here).
# Older epochs than the history keeps are in the run store's copy only if it kept them.
HOSTED = Limits(hosted=True, max_params=600_000, max_epochs_per_run=200,
                max_total_epochs=2_000, max_epoch_samples=100_000, history_bytes=6 * 2**20,
                max_upload_bytes=5 * 2**20, max_image_pixels=16_000_000, max_images=40,
                max_session_upload_bytes=40 * 2**20,
                max_snapshot_bytes=25 * 2**20, max_train_samples=10_000,
                max_epoch_work=WORK_PER_SECOND * 8, max_hidden_layers=16, allow_paths=False,
                checkpoints=False, blas_threads=1, max_compare_runs=4,
                compare_bytes=10 * 2**20)


def is_hosted(environ=os.environ) -> bool:
    flag = environ.get("NNCORE_HOSTED", "").strip().lower()
    if flag in ("1", "true", "yes", "on"):
        return True
    if flag in ("0", "false", "no", "off"):
        return False
    return os.path.isdir("/mount/src")


def current(environ=os.environ) -> Limits:
    lim = HOSTED if is_hosted(environ) else LOCAL
    changes = {}
    try:
        if environ.get("NNCORE_MAX_PARAMS"):
            changes["max_params"] = max(1, int(environ["NNCORE_MAX_PARAMS"]))
        if environ.get("NNCORE_HISTORY_MB"):
            changes["history_bytes"] = max(1, int(float(environ["NNCORE_HISTORY_MB"]) * 2**20))
        if environ.get("NNCORE_BLAS_THREADS"):
            changes["blas_threads"] = max(1, int(environ["NNCORE_BLAS_THREADS"]))
    except ValueError:
        pass                              # a malformed override keeps the mode's default
    return replace(lim, **changes) if changes else lim


# -- CPU ---------------------------------------------------------------------------------------
_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads", "MKL_Set_Num_Threads")


@functools.lru_cache(maxsize=1)
def _blas_setters():
    """The thread-count setters of the BLAS libraries loaded in this process (Linux)."""
    import numpy  # noqa: F401  (loads NumPy's BLAS, so that it is found below)
    found = []
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() or "mkl" in line.lower()}
    except OSError:
        return found
    for path in sorted(p for p in paths if p.startswith("/")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            if hasattr(lib, name):
                found.append(getattr(lib, name))
                break
    return found


def set_blas_threads(n) -> bool:
    """Make every BLAS call use ``n`` threads; True if a BLAS library took it.

    Many sessions training at once on a few cores each start a multi-threaded BLAS call;
    OpenBLAS threads then spin against each other and every epoch gets many times slower
    (bench/bench_load.py: 4 sessions, 38 s per click with 2 threads each, 3.5 s with one).
    One thread per call lets the sessions share the cores instead. ``OPENBLAS_NUM_THREADS``
    would do the same but must be set before NumPy is loaded, which a hosting platform's
    secrets cannot do.
    """
    return bool(n) and _apply_blas_threads(int(n))


@functools.lru_cache(maxsize=4)      # once per process and value: it is a process setting
def _apply_blas_threads(n) -> bool:
    setters = _blas_setters()
    for setter in setters:
        setter(int(n))
    if not setters:
        try:
            import threadpoolctl
            threadpoolctl.threadpool_limits(int(n), user_api="blas")
            return True
        except Exception:
            return False
    return True


# -- what a visitor may read -------------------------------------------------------------------
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[\w.@+-]+/)*([\w.@+-]+)/?")


def public_text(text, lim=None) -> str:
    """``text`` for a visitor: in hosted mode the server's absolute paths (where the sample
    data and IDX folders live) become their last names (``/srv/app/sample_data`` ->
    ``sample_data``); locally the text as it is."""
    lim = lim or current()
    return _ABSOLUTE_PATH.sub(r"\1", str(text)) if lim.hosted else str(text)


# -- checks (ValueError naming the limit) ---------------------------------------------------
def _where(lim) -> str:
    return "this hosted demo" if lim.hosted else "the app"


def check_paths(dataset, options, lim=None):
    """Refuse dataset options that read the server's files when ``allow_paths`` is off."""
    lim = lim or current()
    if lim.allow_paths:
        return
    for key in PATH_OPTIONS:
        if (options or {}).get(key):
            raise ValueError(f"{dataset}: {_where(lim)} does not read files from the server "
                             f"(the '{key}' option); run the app on your own machine for that")


def check_network(sizes, n_params, lim=None):
    lim = lim or current()
    if n_params > lim.max_params:
        shape = "-".join(str(s) for s in sizes)
        raise ValueError(f"the network {shape} has {n_params:,} parameters; {_where(lim)} trains "
                         f"at most {lim.max_params:,} (a limit): use fewer or smaller hidden layers")


def check_data(dataset, n_train, passes_per_epoch=1, lim=None):
    lim = lim or current()
    if n_train > lim.max_train_samples:
        raise ValueError(f"{dataset} has {n_train:,} training samples; {_where(lim)} trains on at "
                         f"most {lim.max_train_samples:,} (a limit): set 'training images to use' "
                         f"to {lim.max_train_samples:,} or fewer")
    work = n_train * passes_per_epoch
    if work > lim.max_epoch_samples:
        raise ValueError(f"one epoch would be {n_train:,} samples × {passes_per_epoch:,} passes = "
                         f"{work:,} samples; {_where(lim)} allows {lim.max_epoch_samples:,} per "
                         f"epoch (a limit): lower 'passes over the data per epoch'")


def check_depth(hidden, lim=None):
    lim = lim or current()
    if len(hidden) > lim.max_hidden_layers:
        raise ValueError(f"{len(hidden):,} hidden layers; {_where(lim)} trains at most "
                         f"{lim.max_hidden_layers:,} (a limit): use fewer hidden layers")


def batch_size_of(cfg, n_train):
    """Samples per step of ``cfg`` on ``n_train`` samples."""
    return {"full": n_train, "online": 1}.get(cfg.batch, min(cfg.batch_size, max(1, n_train)))


def check_work(sizes, n_train, cfg, lim=None):
    """Refuse an epoch whose cost (``epoch_work``) is over the limit, before it runs."""
    lim = lim or current()
    work = epoch_work(sizes, n_train, cfg.passes_per_epoch, batch_size_of(cfg, n_train))
    if work > lim.max_epoch_work:
        small = " or larger batches" if batch_size_of(cfg, n_train) < SMALL_BATCH else ""
        raise ValueError(f"one epoch of {'-'.join(map(str, sizes))} on {n_train:,} samples × "
                         f"{cfg.passes_per_epoch:,} passes ({cfg.batch} batch) would be about "
                         f"{work:.2g} multiply-adds; {_where(lim)} allows {lim.max_epoch_work:.2g} "
                         f"per epoch (a limit): use a smaller network, fewer samples or passes{small}")


def check_run(cfg, sizes, n_train, lim=None):
    """Every limit a run of ``cfg`` on a network of ``sizes`` and ``n_train`` training
    samples must meet (depth, parameters, samples, the work of an epoch)."""
    lim = lim or current()
    check_depth(sizes[1:-1], lim)
    check_network(sizes, count_params(sizes, cfg.biases), lim)
    check_data(cfg.dataset, n_train, cfg.passes_per_epoch, lim)
    check_work(sizes, n_train, cfg, lim)


def epochs_allowed(requested, epoch, lim=None) -> tuple[int, str | None]:
    """How many of ``requested`` more epochs a run at ``epoch`` may train, and why fewer
    (None if all)."""
    lim = lim or current()
    n, why = requested, None
    if n > lim.max_epochs_per_run:
        n, why = lim.max_epochs_per_run, (f"{_where(lim).capitalize()} trains at most "
                                          f"{lim.max_epochs_per_run:,} epochs per click (a limit)")
    left = max(0, lim.max_total_epochs - epoch)
    if n > left:
        n, why = left, (f"{_where(lim).capitalize()} stops a run at {lim.max_total_epochs:,} "
                        "epochs (a limit): download its training state to carry on with "
                        "`python -m nncore train --resume FILE` on your own machine")
    return n, why
