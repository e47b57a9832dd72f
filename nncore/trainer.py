"""Training one epoch at a time, with a bounded history of per-epoch weights."""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .config import RunConfig
from .datasets import Dataset, load_dataset
from .losses import LOSSES
from .network import Network, count_params
from .optimizers import make_optimizer

EXACT_TRAIN_EVAL_MAX = 20_000   # above this many samples the train metrics are running means
BLOWUP = 10_000                 # a training loss this many times its start counts as diverged
SOFT_SETTINGS = ("lr", "lr_schedule", "lr_decay", "momentum", "beta1", "beta2", "eps", "batch",
                 "batch_size", "shuffle", "l2", "dropout", "epochs", "target_loss", "passes_per_epoch")


def correct_rows(out, Y, target):
    """Boolean per sample: argmax matches (``classes``) or every output rounds to its 0/1
    target (``binary``)."""
    if target == "classes":
        return out.argmax(axis=1) == Y.argmax(axis=1)
    return np.all(np.round(out) == Y, axis=1)


def load_run_data(config: RunConfig) -> Dataset:
    """The dataset a run of ``config`` trains on, drawn from the data stream of its seed
    (the same arrays every time for the same config)."""
    data_ss, _ = np.random.SeedSequence(config.seed).spawn(2)
    return load_dataset(config.dataset, config.dataset_options, np.random.default_rng(data_ss),
                        config.dtype)


def network_sizes(config: RunConfig, data: Dataset) -> list:
    """The layer list of a run's network: ``[n_in, *hidden, n_out]``, or with conv and pool
    layers ``["CxHxW", *hidden, n_out]`` from the data's image shape. Raises ValueError
    when conv/pool layers meet data that are not images, or do not fit them."""
    if not config.spatial:
        return [data.n_in, *config.hidden, data.n_out]
    first = next(h for h in config.hidden if isinstance(h, str))
    shape = data.image_shape
    if shape is None or len(shape) != 2 or data.n_in % (shape[0] * shape[1]):
        raise ValueError(f"{first!r} needs images, but the dataset {data.name} has {data.n_in} "
                         f"flat inputs ({data.kind} data): use dense layers only (numbers)")
    c = data.n_in // (shape[0] * shape[1])
    sizes = [f"{c}x{shape[0]}x{shape[1]}", *config.hidden, data.n_out]
    count_params(sizes)          # raises naming the layer that does not fit
    return sizes


def check_data(data: Dataset):
    """Raise ValueError naming what is wrong with a dataset's arrays for training."""
    shapes = {k: np.shape(getattr(data, k)) for k in Dataset.ARRAYS}
    if any(len(v) != 2 for v in shapes.values()):
        raise ValueError(f"dataset {data.name}: every array must be 2-D (samples, values), got "
                         + ", ".join(f"{k} {v}" for k, v in shapes.items()))
    for part in ("train", "test"):
        x, y = shapes[f"X_{part}"], shapes[f"Y_{part}"]
        if x[0] != y[0]:
            raise ValueError(f"dataset {data.name}: X_{part} has {x[0]} rows but Y_{part} has {y[0]}")
    if shapes["X_train"][0] == 0:
        raise ValueError(f"dataset {data.name}: there are no training samples")
    if shapes["X_test"][1:] != shapes["X_train"][1:] or shapes["Y_test"][1:] != shapes["Y_train"][1:]:
        raise ValueError(f"dataset {data.name}: test arrays {shapes['X_test']}, {shapes['Y_test']} "
                         f"do not match the training arrays {shapes['X_train']}, {shapes['Y_train']}")


class _Stopped(Exception):
    """Raised between batches when ``run_epoch``'s ``stop`` asks for it."""


class Diverged(RuntimeError):
    """The loss became NaN or infinite; the trainer kept its last good weights."""


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    test_loss: float
    train_acc: float
    test_acc: float
    seconds: float = 0.0
    samples_per_s: float = 0.0
    iterations: int = 0
    lr: float = 0.0
    weight_norms: list = field(default_factory=list)
    grad_norms: list = field(default_factory=list)

    def to_dict(self):
        return asdict(self)


class History:
    """Per-epoch copies of the flat parameters and last-batch gradients.

    Kept within ``budget_bytes``: when full, every other stored epoch of the older half
    is dropped (epoch 0 and the latest epochs stay), and :attr:`thinned` says so.
    """

    def __init__(self, budget_bytes=256 * 2**20):
        self.budget_bytes = int(budget_bytes)
        self.weights, self.grads = {}, {}
        self.thinned = 0          # epochs dropped here to stay within the budget
        self.not_stored = 0       # epochs whose weights a loaded file did not hold

    def add(self, epoch, params, grads=None):
        """Store copies; ``grads=None`` (e.g. an epoch loaded from a snapshot) stores none."""
        self.weights[epoch] = params.copy()
        if grads is not None:
            self.grads[epoch] = grads.copy()
        while self.nbytes > self.budget_bytes and len(self.weights) > 3:
            self._thin()

    def _thin(self):
        epochs = sorted(self.weights)
        older = epochs[1:-2]
        drop = older[1::2] or older[:1]
        for e in drop:
            del self.weights[e]
            self.grads.pop(e, None)
        self.thinned += len(drop)

    @property
    def nbytes(self):
        return sum(a.nbytes for a in self.weights.values()) + sum(a.nbytes for a in self.grads.values())

    @property
    def epochs(self):
        return sorted(self.weights)

    def nearest(self, epoch):
        """The latest stored epoch at or before ``epoch`` (or the earliest stored)."""
        kept = [e for e in self.epochs if e <= epoch]
        return kept[-1] if kept else self.epochs[0]

    def truncate(self, last_epoch):
        for e in [e for e in self.weights if e > last_epoch]:
            del self.weights[e]
            self.grads.pop(e, None)


class Trainer:
    """Train a :class:`Network` on a :class:`Dataset` as a :class:`RunConfig` says.

    ``SeedSequence(config.seed)`` is split into one stream for the data and one for the
    run (initial weights, then shuffling, dropout and perturbation noise), so the same
    seed gives a bit-identical run.
    """

    def __init__(self, config: RunConfig, data: Dataset | None = None,
                 history_budget=256 * 2**20):
        self.config = config.validate()
        _, run_ss = np.random.SeedSequence(config.seed).spawn(2)
        if data is None:
            data = load_run_data(config)
        check_data(data)
        self.data = data.astype(config.dtype)
        self.rng = np.random.default_rng(run_ss)
        sizes = network_sizes(config, data)
        self.network = Network(sizes, config.layer_activations(data.n_out, data.target),
                               config.biases, config.init, self.rng, config.dtype)
        self.optimizer = self._new_optimizer()
        self.epoch, self.iterations = 0, 0
        self.stop_reason = None
        self.history = History(history_budget)
        self.records = [self._record(0.0, self._evaluate_train())]
        self.history.add(0, self.network.params, self.network.grads)
        self._xbuf = None

    # -- settings --------------------------------------------------------------------
    def update_settings(self, **changes):
        """Change soft settings (learning rate, batch, ...) from the next epoch on."""
        hard = sorted(set(changes) - set(SOFT_SETTINGS))
        if hard:
            raise ValueError(f"{', '.join(hard)} cannot change during a run (start a new run); "
                             f"changeable: {', '.join(SOFT_SETTINGS)}")
        self.config = self.config.replace(**changes)
        for key, value in self.config.optimizer_settings().items():
            if hasattr(self.optimizer, key):
                setattr(self.optimizer, key, float(value))
        self.stop_reason = None

    @property
    def done(self):
        """True once max epochs or the target loss is reached, or training diverged."""
        cfg, last = self.config, self.records[-1]
        return (self.epoch >= cfg.epochs or self.stop_reason is not None
                or (cfg.target_loss is not None and self.epoch > 0 and last.train_loss <= cfg.target_loss))

    # -- one epoch -------------------------------------------------------------------
    def run_epoch(self, stop=None) -> EpochRecord | None:
        """Train one epoch (``passes_per_epoch`` passes over the data) and record it.

        ``stop``: a callable asked between batches; once it returns True the partial epoch
        is discarded (weights, gradients, optimiser state, random stream and iteration
        count as they were before it) and None is returned, so training on later gives
        the same run, bit for bit, as if it had never been interrupted.

        Raises :class:`Diverged` (weights and optimiser state restored to the last
        epoch) if the loss or the weights stop being finite.
        """
        net, opt, cfg = self.network, self.optimizer, self.config
        lr = opt.lr = cfg.lr_at(self.epoch)
        good_params, good_state = net.params.copy(), opt.state_dict()
        if stop is not None:
            good_grads, good_rng = net.grads.copy(), copy.deepcopy(self.rng.bit_generator.state)
        start, its0, running = time.perf_counter(), self.iterations, [0.0, 0.0, 0]
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for _ in range(cfg.passes_per_epoch):
                    self._one_pass(running, stop)
        except FloatingPointError as exc:
            self._diverged(str(exc), lr, good_params, good_state, its0)
        except _Stopped:
            net.params[...], net.grads[...] = good_params, good_grads
            opt.load_state_dict(good_state)
            self.rng.bit_generator.state = good_rng
            self.iterations = its0
            return None
        seconds = time.perf_counter() - start
        samples = self.data.X_train.shape[0] * cfg.passes_per_epoch
        self.epoch += 1
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            train = self._evaluate_train(running)
            rec = self._record(seconds, train, samples / max(seconds, 1e-9), self.iterations - its0, lr)
        # finite weights can still give an infinite loss over the whole set: that epoch is
        # not a good one to keep either
        bad = [f"the {name} loss became {v}" for name, v, n in (
            ("training", rec.train_loss, len(self.data.X_train)),
            ("test", rec.test_loss, len(self.data.X_test))) if n and not np.isfinite(v)]
        first = max(self.records[0].train_loss, 1e-2)
        if not bad and rec.train_loss > BLOWUP * first:
            bad = [f"the training loss blew up to {rec.train_loss:.3g}, more than {BLOWUP:,} times "
                   f"its starting value {self.records[0].train_loss:.3g}"]
        if bad:
            self.epoch -= 1
            self._diverged(bad[0], lr, good_params, good_state, its0)
        self.records.append(rec)
        self.history.add(self.epoch, net.params, net.grads)
        return rec

    def _diverged(self, why, lr, good_params, good_state, iterations):
        """Put back the weights and optimiser state of the last epoch and raise Diverged."""
        self.network.params[...] = good_params
        grads = self.network.grads           # the failed batch's: keep them finite (files refuse NaN)
        grads[~np.isfinite(grads)] = 0
        self.optimizer.load_state_dict(good_state)
        self.iterations = iterations
        self.stop_reason = (f"training diverged in epoch {self.epoch + 1}: {why}. The weights of "
                            f"epoch {self.epoch} are kept; lower the learning rate "
                            f"(now {lr:g}) and train again.")
        raise Diverged(self.stop_reason) from None

    def fit(self, epochs=None, callback=None):
        """Run epochs until ``epochs`` more have run or :attr:`done`; return the records."""
        out = []
        while not self.done and (epochs is None or len(out) < epochs):
            try:
                out.append(self.run_epoch())
            except Diverged:
                break
            if callback:
                callback(out[-1])
        return out

    def _batch_size(self, n):
        return {"full": n, "online": 1}.get(self.config.batch, min(self.config.batch_size, n))

    def _one_pass(self, running, stop=None):
        net, opt, cfg, data = self.network, self.optimizer, self.config, self.data
        X = data.augmented(self.rng) if data.augment_shift else data.X_train
        Y = data.Y_train
        n = X.shape[0]
        bs = self._batch_size(n)
        order = self.rng.permutation(n) if cfg.shuffle and bs < n else None
        if order is not None and (self._xbuf is None or self._xbuf.shape != (bs, X.shape[1])):
            self._xbuf = np.empty((bs, X.shape[1]), net.dtype)
            self._ybuf = np.empty((bs, Y.shape[1]), net.dtype)
        needs_grads = getattr(opt, "needs_gradients", True)
        count_correct = n > EXACT_TRAIN_EVAL_MAX   # else the epoch ends with an exact evaluation
        for s in range(0, n, bs):
            if stop is not None and stop():
                raise _Stopped
            m = min(bs, n - s)
            if order is None:
                xb, yb = X[s:s + m], Y[s:s + m]
            else:
                idx = order[s:s + m]
                xb, yb = self._xbuf[:m], self._ybuf[:m]
                np.take(X, idx, axis=0, out=xb, mode="clip")
                np.take(Y, idx, axis=0, out=yb, mode="clip")
            if needs_grads:
                loss = net.loss_and_grads(xb, yb, cfg.loss, cfg.l2, cfg.dropout, self.rng)
                if not np.isfinite(loss):
                    raise FloatingPointError(f"the loss became {loss}")
                if count_correct:
                    running[1] += self._correct(net._bufs(m)[-1][1], yb)
                opt.step(net.params, net.grads)
            else:
                closure = lambda: self._batch_loss(xb, yb)
                loss = closure()
                opt.step(net.params, net.grads, closure)
            running[0] += loss * m
            running[2] += m
            self.iterations += 1
        if not np.all(np.isfinite(net.params)):
            raise FloatingPointError("the weights became infinite or NaN")

    def _batch_loss(self, xb, yb):
        z, a = self.network.forward(xb)[-1]
        return LOSSES[self.config.loss](z, a, yb, self.network.activations[-1])[0]

    # -- metrics ---------------------------------------------------------------------
    def _correct(self, out, Y):
        return int(np.count_nonzero(correct_rows(out, Y, self.data.target)))

    def evaluate(self, X, Y):
        """(mean loss, accuracy) of the current network on ``X``, ``Y``."""
        if X.shape[0] == 0:
            return float("nan"), float("nan")
        out = self.network.predict(X)
        loss = self.network.loss(X, Y, self.config.loss)
        return loss, self._correct(out, Y) / X.shape[0]

    def _evaluate_train(self, running=None):
        data = self.data
        if running is None or data.X_train.shape[0] <= EXACT_TRAIN_EVAL_MAX:
            return self.evaluate(data.X_train, data.Y_train)
        return running[0] / running[2], running[1] / running[2]

    def _record(self, seconds, train, speed=0.0, iterations=0, lr=None):
        test = self.evaluate(self.data.X_test, self.data.Y_test)
        net = self.network
        return EpochRecord(
            self.epoch, float(train[0]), float(test[0]), float(train[1]), float(test[1]),
            seconds, speed, iterations, self.config.lr_at(0) if lr is None else lr,
            [float(np.linalg.norm(l.weights)) for l in net.param_layers],
            [float(np.linalg.norm(l._dW)) for l in net.param_layers])

    def _new_optimizer(self):
        """A fresh optimiser for this run's network and settings (perturbation draws its
        noise from the run's random stream)."""
        cfg, net = self.config, self.network
        opt = make_optimizer(cfg.optimizer, net.n_params, net.dtype, **cfg.optimizer_settings())
        if cfg.optimizer == "perturb":
            opt.bind_rng(self.rng)
        return opt

    def copy(self) -> Trainer:
        """An independent copy of the run as it is now (the data and the stored epochs'
        arrays are shared: they are never written to), e.g. to undo a :meth:`rewind`."""
        other = copy.copy(self)
        other.network = self.network.clone()
        other.network.grads[...] = self.network.grads
        other.rng = copy.deepcopy(self.rng)
        other.optimizer = copy.deepcopy(self.optimizer)
        if self.config.optimizer == "perturb":
            other.optimizer.bind_rng(other.rng)
        other.records = list(self.records)
        other.history = copy.copy(self.history)
        other.history.weights, other.history.grads = dict(self.history.weights), dict(self.history.grads)
        other._xbuf = None
        return other

    def rewind(self, epoch):
        """Go back to stored epoch ``epoch`` and train on from there: its weights and records
        are kept, later epochs dropped. The optimiser's state (momentum, Adam's moments) is
        not stored per epoch, so it starts afresh; the random stream goes on from where it is.
        """
        if epoch not in self.history.weights:
            raise ValueError(f"epoch {epoch} is not stored (stored: {self.history.epochs}); "
                             "choose one of those")
        if epoch >= self.epoch:
            return self
        net = self.network
        net.params[...] = self.history.weights[epoch]
        grads = self.history.grads.get(epoch)
        net.grads[...] = 0 if grads is None else grads
        self.optimizer = self._new_optimizer()
        self.records = self.records[:epoch + 1]
        self.iterations = sum(r.iterations for r in self.records)
        self.history.truncate(epoch)
        self.epoch, self.stop_reason = epoch, None
        return self

    def weights_at(self, epoch):
        """[(W, b), ...] of the stored epoch nearest at or before ``epoch``, and that epoch."""
        kept = self.history.nearest(epoch)
        return self.network.unflatten(self.history.weights[kept]), kept

    def predict(self, X):
        return self.network.predict(X)

    # -- resumable state (snapshots: nncore/snapshot.py) -----------------------------
    def state_dict(self):
        """Copies of everything the next epoch depends on besides the config and data.

        ``params`` and ``grads`` are flat (``network.n_params``,); ``optimizer`` is the
        optimiser's ``state_dict()``; ``rng`` is ``rng.bit_generator.state``; ``records``
        are :class:`EpochRecord` dicts for epochs 0 .. ``epoch``.
        """
        return {"epoch": self.epoch, "iterations": self.iterations, "stop_reason": self.stop_reason,
                "params": self.network.params.copy(), "grads": self.network.grads.copy(),
                "optimizer": self.optimizer.state_dict(),
                "rng": copy.deepcopy(self.rng.bit_generator.state),
                "records": [r.to_dict() for r in self.records]}

    def load_state_dict(self, state, history=None):
        """Continue from ``state`` (as :meth:`state_dict` returns) with ``history``
        ({epoch: flat params}; the latest epoch is added from ``state`` if missing).

        Meant for a trainer just built from the same config and data: validate first
        (nncore.snapshot does), and discard this trainer if this raises.
        """
        net = self.network
        net.params[...] = state["params"]
        net.grads[...] = state.get("grads", 0)
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.epoch, self.iterations = int(state["epoch"]), int(state["iterations"])
        self.stop_reason = state.get("stop_reason")
        self.records = [r if isinstance(r, EpochRecord) else EpochRecord(**r) for r in state["records"]]
        kept = dict(history or {})
        kept.setdefault(self.epoch, net.params)
        self.history = History(self.history.budget_bytes)
        for e in sorted(kept):
            self.history.add(e, np.asarray(kept[e], net.dtype), net.grads if e == self.epoch else None)
        self.history.not_stored = self.epoch + 1 - len(self.history.weights) - self.history.thinned
        return self
