"""A run's whole setup as one JSON-native config, validated at the door."""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields

from .activations import check_activation
from .conv import check_order, layer_kind, parse_layer
from .datasets import resolve_options
from .initializers import check_init
from .losses import check_loss
from .optimizers import OPTIMIZERS

BATCH_MODES = ("full", "mini", "online")
LR_SCHEDULES = ("constant", "exponential", "cosine")


@dataclass
class RunConfig:
    """Everything a run is made of. ``hidden`` lists the layers between input and output:
    ints are dense layers, ``"conv K@RxR"`` and ``"pool P"`` entries (before the dense
    ones) conv and max-pool layers. ``activations`` has one entry per layer with weights
    (conv and dense hidden layers, then the output; pools have none); ``None`` means relu
    hidden layers and a softmax (or single sigmoid) output."""

    dataset: str = "moons"
    dataset_options: dict = field(default_factory=dict)
    hidden: list = field(default_factory=lambda: [16, 8])
    activations: list | None = None
    biases: bool = True
    init: str = "auto"
    loss: str = "cross_entropy"
    optimizer: str = "adam"
    lr: float = 0.01
    lr_schedule: str = "constant"
    lr_decay: float = 0.9
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    batch: str = "mini"
    batch_size: int = 32
    shuffle: bool = True
    l2: float = 0.0
    dropout: float = 0.0
    epochs: int = 100
    passes_per_epoch: int = 1
    target_loss: float | None = None
    seed: int = 0
    dtype: str = "float32"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        if not isinstance(data, dict):
            raise ValueError(f"config must be an object, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"config: unknown field(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
        cfg = cls(**data)
        cfg.validate()
        return cfg

    def replace(self, **changes) -> RunConfig:
        return RunConfig.from_dict({**self.to_dict(), **changes})

    def validate(self) -> RunConfig:
        """Raise ValueError naming the first bad field; return self when all is well."""
        _check_type("dataset", self.dataset, str)
        _check_type("dataset_options", self.dataset_options, dict)
        self.dataset_options = resolve_options(self.dataset, self.dataset_options)
        if not isinstance(self.hidden, (list, tuple)) or not all(
                (_is_int(h) and 0 < h <= 100_000) or isinstance(h, str) for h in self.hidden):
            raise ValueError(f"hidden must be a list of positive integers, got {self.hidden!r} "
                             f"(conv and pool layers as 'conv K@RxR', 'pool P')")
        self.hidden = [parse_layer(h) for h in self.hidden]
        check_order(self.hidden)
        if self.activations is not None:
            n = self.n_weighted + 1
            if not isinstance(self.activations, (list, tuple)) or len(self.activations) != n:
                raise ValueError(f"activations must list {n} names (one per hidden conv or dense "
                                 f"layer, then the output), got {self.activations!r}")
            for a in self.activations:
                check_activation(a)
            self.activations = list(self.activations)
        _check_type("biases", self.biases, bool)
        check_init(self.init)
        check_loss(self.loss, self.activations[-1] if self.activations else None)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        _check_number("lr", self.lr, 0, 100, open_lo=True)
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, "
                             f"got {self.lr_schedule!r}")
        _check_number("lr_decay", self.lr_decay, 0, 1, open_lo=True)
        _check_number("momentum", self.momentum, 0, 0.9999)
        _check_number("beta1", self.beta1, 0, 0.9999)
        _check_number("beta2", self.beta2, 0, 0.99999)
        _check_number("eps", self.eps, 0, 1, open_lo=True)
        if self.batch not in BATCH_MODES:
            raise ValueError(f"batch must be one of {', '.join(BATCH_MODES)}, got {self.batch!r}")
        _check_int("batch_size", self.batch_size, 1, 1_000_000)
        _check_type("shuffle", self.shuffle, bool)
        _check_number("l2", self.l2, 0, 10)
        _check_number("dropout", self.dropout, 0, 0.95)
        _check_int("epochs", self.epochs, 1, 10_000_000)
        _check_int("passes_per_epoch", self.passes_per_epoch, 1, 1_000_000)
        if self.target_loss is not None:
            _check_number("target_loss", self.target_loss, 0, 1e9)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        return self

    def lr_at(self, done: int) -> float:
        """The learning rate of the epoch that follows ``done`` finished epochs.

        ``constant``: ``lr`` throughout; ``exponential``: ``lr * lr_decay**done``;
        ``cosine``: from ``lr`` down along half a cosine towards 0 over ``epochs`` epochs
        (the last epoch trains at about ``lr * (pi / epochs)**2 / 4``; epochs past the
        end keep that rate).
        """
        if self.lr_schedule == "exponential":
            return float(self.lr * self.lr_decay ** done)
        if self.lr_schedule == "cosine":
            e = min(done, self.epochs - 1)
            return float(self.lr * 0.5 * (1.0 + math.cos(math.pi * e / self.epochs)))
        return float(self.lr)

    def lr_text(self) -> str:
        """``lr 0.001``, with the schedule when there is one."""
        if self.lr_schedule == "exponential":
            return f"lr {self.lr:g} (x{self.lr_decay:g} per epoch)"
        if self.lr_schedule == "cosine":
            return f"lr {self.lr:g} (cosine over {self.epochs} epochs)"
        return f"lr {self.lr:g}"

    def optimizer_settings(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "beta1": self.beta1,
                "beta2": self.beta2, "eps": self.eps}

    def layer_activations(self, n_out: int, target: str | None = None) -> list:
        """Activations per layer; by default relu hidden layers and a softmax output, or
        sigmoid outputs for a single unit or 0/1 ("binary") targets."""
        if self.activations is not None:
            return list(self.activations)
        out = "sigmoid" if n_out == 1 or target == "binary" else "softmax"
        return ["relu"] * self.n_weighted + [out]

    @property
    def n_weighted(self) -> int:
        """Hidden layers with weights (conv and dense; pools have none)."""
        return sum(layer_kind(h) != "pool" for h in self.hidden)

    @property
    def spatial(self) -> bool:
        """True when the hidden layers include conv or pool layers."""
        return any(isinstance(h, str) for h in self.hidden)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_type(name, value, kind):
    if not isinstance(value, kind):
        raise ValueError(f"{name} must be {kind.__name__}, got {value!r}")


def _check_int(name, value, lo, hi):
    if not _is_int(value) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")


def _check_number(name, value, lo, hi, open_lo=False):
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
          and (value > lo if open_lo else value >= lo) and value <= hi)
    if not ok:
        bound = f"> {lo}" if open_lo else f">= {lo}"
        raise ValueError(f"{name} must be a number {bound} and <= {hi}, got {value!r}")


def parse_hidden(text: str) -> list:
    """Parse ``"16, 8"`` into ``[16, 8]`` and ``"conv 8@5x5, pool 2, 64"`` into
    ``["conv 8@5x5", "pool 2", 64]``; an empty string means no hidden layer."""
    # "16, 8", "16;8" and "16-8" (as shapes are written) all work; a leading minus does not
    parts = [p.strip() for p in re.split(r"[,;]|(?<=\d)\s*-\s*(?=\d)", str(text))]
    parts = [p for p in parts if p]
    out = []
    for p in parts:
        if p[:4].lower() in ("conv", "pool"):
            try:
                out.append(parse_layer(p))
            except ValueError as exc:
                raise ValueError(f"hidden layers: {exc} in {str(text)[:60]!r}") from None
            continue
        if not (p.isascii() and p.isdigit()) or int(p[:7]) <= 0:
            raise ValueError(f"hidden layers must be positive whole numbers separated by commas "
                             f"(or conv K@RxR, pool P before them), got {p[:20]!r} in "
                             f"{str(text)[:60]!r}")
        if len(p) > 6 or int(p) > 100_000:
            raise ValueError(f"hidden layer size {p[:20]} is too large (at most 100000)")
        out.append(int(p))
    check_order(out)
    return out


def hidden_text(hidden) -> str:
    """The Hidden layers text of a ``hidden`` list: ``"conv 8@5x5, pool 2, 64"``."""
    return ", ".join(str(h) for h in hidden)
