"""Optimisers over one flat parameter buffer, in increasing complexity.

Each has ``step(params, grads)`` updating ``params`` in place, ``state_dict()`` and
``load_state_dict()`` (flat arrays plus the step count) so a run resumes exactly.
Hyper-parameters (``lr``, ``momentum``, ...) can be changed between steps.
"""
from __future__ import annotations

import numpy as np


class Optimizer:
    name = ""
    settings: tuple = ("lr",)

    def __init__(self, size, dtype, lr=0.01, **kw):
        self.lr = float(lr)
        for key, value in kw.items():
            if key not in self.settings:
                raise ValueError(f"{self.name} has no setting {key!r}; valid: {', '.join(self.settings)}")
            setattr(self, key, float(value))
        self.t = 0
        self._tmp = np.zeros(size, dtype)

    def step(self, params, grads, closure=None):
        self.t += 1
        self._step(params, grads, closure)

    def state_dict(self):
        return {"t": self.t, **{k: v.copy() for k, v in self._state().items()}}

    def load_state_dict(self, state):
        self.t = int(state["t"])
        for key, arr in self._state().items():
            arr[...] = state[key]

    def _state(self):
        return {}

    def get_settings(self):
        return {k: getattr(self, k) for k in self.settings}


class SGD(Optimizer):
    """p -= lr * g."""
    name = "sgd"

    def _step(self, params, grads, closure):
        np.multiply(grads, self.lr, out=self._tmp)
        params -= self._tmp


class Momentum(Optimizer):
    """Heavy ball, PyTorch form: v = mu v + g; p -= lr v (nesterov: p -= lr (g + mu v))."""
    name = "momentum"
    settings = ("lr", "momentum")
    nesterov = False

    def __init__(self, size, dtype, lr=0.01, momentum=0.9, **kw):
        super().__init__(size, dtype, lr, momentum=momentum, **kw)
        self.v = np.zeros(size, dtype)

    def _state(self):
        return {"v": self.v}

    def _step(self, params, grads, closure):
        mu = self.v.dtype.type(self.momentum)
        self.v *= mu
        self.v += grads
        if self.nesterov:
            np.multiply(self.v, mu, out=self._tmp)
            self._tmp += grads
            self._tmp *= self.v.dtype.type(self.lr)
        else:
            np.multiply(self.v, self.lr, out=self._tmp)
        params -= self._tmp


class Nesterov(Momentum):
    """Nesterov momentum (Sutskever et al. 2013), PyTorch form."""
    name = "nesterov"
    nesterov = True


class Adam(Optimizer):
    """Adam (Kingma & Ba 2014, https://arxiv.org/abs/1412.6980), PyTorch form."""
    name = "adam"
    settings = ("lr", "beta1", "beta2", "eps")

    def __init__(self, size, dtype, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, **kw):
        super().__init__(size, dtype, lr, beta1=beta1, beta2=beta2, eps=eps, **kw)
        self.m = np.zeros(size, dtype)
        self.v = np.zeros(size, dtype)

    def _state(self):
        return {"m": self.m, "v": self.v}

    def _step(self, params, grads, closure):
        # m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
        # p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps), computed as
        # p -= (lr sqrt(bc2) / bc1) * m / (sqrt(v) + eps sqrt(bc2)): 12 passes, in place,
        # preferring in-place scalar passes (about half the cost of two-array ones).
        f, m, v, tmp = self.m.dtype.type, self.m, self.v, self._tmp
        b1, b2 = self.beta1, self.beta2
        np.multiply(grads, f(1 - b1), out=tmp)
        m *= f(b1)
        m += tmp
        np.square(grads, out=tmp)
        tmp *= f(1 - b2)
        v *= f(b2)
        v += tmp
        bc1, sqrt_bc2 = 1 - b1 ** self.t, np.sqrt(1 - b2 ** self.t)
        np.sqrt(v, out=tmp)
        tmp += f(self.eps * sqrt_bc2)
        np.divide(m, tmp, out=tmp)
        tmp *= f(self.lr * sqrt_bc2 / bc1)
        params -= tmp


class Perturb(Optimizer):
    """The tutorials' random-perturbation hill climber (a teaching contrast, not backprop).

    Draw u ~ U[0, 1) per parameter; of p - lr u, p + lr u and p keep the one with the
    lowest loss. Needs ``closure()`` returning the loss at the current ``params``; the
    noise comes from the generator given to :meth:`bind_rng`.
    """
    name = "perturb"
    needs_gradients = False

    def bind_rng(self, rng):
        self.rng = rng

    def _step(self, params, grads, closure):
        base = params.copy()
        noise = self.rng.random(params.size).astype(params.dtype) * params.dtype.type(self.lr)
        best, best_loss = None, closure()
        for sign in (-1, 1):
            np.add(base, sign * noise, out=params)
            value = closure()
            if value < best_loss:
                best, best_loss = params.copy(), value
        params[...] = base if best is None else best


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, Nesterov, Adam, Perturb)}


def make_optimizer(name, size, dtype, **settings):
    """Build an optimiser by name; unknown names and settings raise ValueError."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    cls = OPTIMIZERS[name]
    settings = {k: v for k, v in settings.items() if k in cls.settings}
    return cls(size, dtype, **settings)
