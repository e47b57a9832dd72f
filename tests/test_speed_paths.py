"""The optimised training path against a plain NumPy reference written here.

``Network`` keeps preallocated buffers, fuses softmax with cross-entropy, computes bias
gradients and softmax sums through BLAS, and ``Adam`` reorders its arithmetic. These tests
check that none of that changes the numbers: every activation and loss, float32 and float64,
with and without biases, against a naive forward/backward pass built from textbook formulas.
"""
import tracemalloc

import numpy as np
import pytest

from nncore import Network, RunConfig, Trainer
from nncore.optimizers import make_optimizer

SLOPE = 0.01   # leaky_relu's negative slope


# -- the naive reference ---------------------------------------------------------------------
def ref_act(name, z):
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, SLOPE * z)
    if name == "softplus":
        return np.log1p(np.exp(z))
    if name == "linear":
        return z
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise AssertionError(name)


def ref_dact(name, z, a):
    """Elementwise da/dz (not for softmax)."""
    return {"sigmoid": lambda: a * (1 - a), "tanh": lambda: 1 - a ** 2,
            "relu": lambda: (z > 0) * 1.0, "leaky_relu": lambda: np.where(z > 0, 1.0, SLOPE),
            "softplus": lambda: 1.0 / (1.0 + np.exp(-z)), "linear": lambda: np.ones_like(z)}[name]()


def ref_loss(loss, out_act, z, a, Y):
    """(loss value, dL/dz of the output layer), all in float64."""
    n = Y.shape[0]
    if loss == "cross_entropy" and out_act == "softmax":
        logp = z - z.max(axis=1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
        return -np.sum(Y * logp) / n, (a - Y) / n
    if loss == "cross_entropy" and out_act == "sigmoid":
        value = -np.sum(Y * np.log(a) + (1 - Y) * np.log(1 - a)) / n
        return value, (a - Y) / n
    if loss == "mse":
        value, grad_a = np.mean((a - Y) ** 2), 2 * (a - Y) / Y.size
    else:   # sse
        value, grad_a = 0.5 * np.sum((a - Y) ** 2), a - Y
    if out_act == "softmax":
        # Jacobian of softmax per row: diag(a) - a a^T.
        return value, np.stack([(np.diag(r) - np.outer(r, r)) @ g for r, g in zip(a, grad_a)])
    return value, grad_a * ref_dact(out_act, z, a)


def ref_gradients(layers, acts, X, Y, loss):
    """Plain backprop over [(W, b), ...] in float64: (loss, [(dW, db), ...], outputs)."""
    xs, zs, as_ = [], [], []
    a = X
    for (W, b), name in zip(layers, acts):
        xs.append(a)
        z = a @ W + b
        a = ref_act(name, z)
        zs.append(z)
        as_.append(a)
    value, delta = ref_loss(loss, acts[-1], zs[-1], as_[-1], Y)
    grads = [None] * len(layers)
    for i in range(len(layers) - 1, -1, -1):
        grads[i] = (xs[i].T @ delta, delta.sum(axis=0))
        if i:
            delta = (delta @ layers[i][0].T) * ref_dact(acts[i - 1], zs[i - 1], as_[i - 1])
    return value, grads, as_[-1]


# -- cases -------------------------------------------------------------------------------------
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "linear"]
OUTPUTS = [("cross_entropy", "softmax"), ("cross_entropy", "sigmoid"), ("mse", "softmax"),
           ("mse", "sigmoid"), ("mse", "linear"), ("mse", "tanh"), ("sse", "softmax"),
           ("sse", "linear"), ("mse", "relu")]
TOL = {"float64": dict(rtol=1e-9, atol=1e-12), "float32": dict(rtol=2e-4, atol=2e-6)}


def make_problem(loss, out_act, n=37, n_in=6, n_out=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    if out_act == "softmax":
        Y = np.eye(n_out)[rng.integers(0, n_out, n)]
    else:
        Y = rng.uniform(0.1, 0.9, size=(n, n_out))
    return X, Y


def net_layers(net):
    return [(l.weights.astype(np.float64), l.biases.astype(np.float64)) for l in net.layers]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("biases", [True, False, [False, True, True]])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("loss,out_act", OUTPUTS)
def test_gradients_match_the_plain_reference(loss, out_act, hidden, biases, dtype):
    X, Y = make_problem(loss, out_act)
    acts = [hidden, hidden, out_act]
    net = Network([6, 9, 7, 4], activations=acts, biases=biases, seed=3, dtype=dtype)
    net.params[...] += net.dtype.type(0.03)        # keep pre-activations off relu's kink
    # Cast the inputs as the network will, so both sides see the same numbers.
    Xd, Yd = X.astype(dtype).astype(np.float64), Y.astype(dtype).astype(np.float64)
    value, ref, out = ref_gradients(net_layers(net), acts, Xd, Yd, loss)
    got = net.gradients(X, Y, loss)
    for i, ((dW, db), (rW, rb), layer) in enumerate(zip(got, ref, net.layers)):
        assert dW.dtype == np.dtype(dtype) and dW.shape == rW.shape
        np.testing.assert_allclose(dW, rW, **TOL[dtype], err_msg=f"dW of layer {i}")
        if layer.use_bias:
            np.testing.assert_allclose(db, rb, **TOL[dtype], err_msg=f"db of layer {i}")
        else:
            assert not db.any()
    # The loss the training step returns, and the forward output, agree too.
    Xc, Yc = X.astype(dtype), Y.astype(dtype)
    assert net.loss_and_grads(Xc, Yc, loss) == pytest.approx(value, rel=TOL[dtype]["rtol"] * 10)
    np.testing.assert_allclose(net.predict(X), out, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_buffers_are_reused_without_leaking_state(dtype):
    """Alternate batch sizes and batches: each call must give the fresh reference answer."""
    acts = ["relu", "tanh", "softmax"]
    net = Network([6, 9, 7, 4], activations=acts, seed=5, dtype=dtype)
    batches = [make_problem("cross_entropy", "softmax", n=n, seed=s)
               for s, n in enumerate([32, 32, 5, 32, 1, 5])]
    for X, Y in batches:
        Xd, Yd = X.astype(dtype).astype(np.float64), Y.astype(dtype).astype(np.float64)
        _, ref, _ = ref_gradients(net_layers(net), acts, Xd, Yd, "cross_entropy")
        for (dW, db), (rW, rb) in zip(net.gradients(X, Y, "cross_entropy"), ref):
            np.testing.assert_allclose(dW, rW, **TOL[dtype])
            np.testing.assert_allclose(db, rb, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_cross_entropy_is_stable_for_huge_logits(dtype):
    net = Network([2, 3], activations=["softmax"], seed=0, dtype=dtype)
    net.layers[0].weights = [[900.0, -900.0, 0.0], [0.0, 0.0, 0.0]]
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    Y = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    value = net.loss_and_grads(X.astype(dtype), Y.astype(dtype))
    # Sample 1: log p(class 1) = -1800; sample 2: log p(class 2) = -900.
    assert value == pytest.approx((1800 + 900) / 2, rel=1e-5)
    assert np.all(np.isfinite(net.grads))
    (dW, db), = net.gradients(X, Y)
    # Each sample puts all its mass on the wrong class: db = sum (a - y) / n.
    np.testing.assert_allclose(db, [0.5, 0.0, -0.5], atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adam_matches_the_pytorch_formula_step_by_step(dtype):
    rng = np.random.default_rng(1)
    size = 1000
    p0 = rng.normal(size=size)
    grads = [rng.normal(size=size) * s for s in (1.0, 1e-3, 10.0, 0.0, 1e-6)]
    opt = make_optimizer("adam", size, np.dtype(dtype), lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    p = p0.astype(dtype)
    m, v, ref = np.zeros(size), np.zeros(size), p.astype(np.float64)
    settings = [(0.01, 0.9, 0.999), (0.01, 0.9, 0.999), (0.003, 0.8, 0.99), (0.003, 0.8, 0.99),
                (0.05, 0.95, 0.9999)]
    for t, (g, (lr, b1, b2)) in enumerate(zip(grads, settings), start=1):
        opt.lr, opt.beta1, opt.beta2 = lr, b1, b2          # settings may change between steps
        g = g.astype(dtype)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g.astype(np.float64) ** 2
        ref = ref - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + 1e-8)
        opt.step(p, g)
        tol = TOL[dtype]
        np.testing.assert_allclose(p, ref, rtol=tol["rtol"], atol=tol["atol"] * 10, err_msg=f"step {t}")
        np.testing.assert_allclose(opt.m, m, rtol=tol["rtol"], atol=1e-12)
        np.testing.assert_allclose(opt.v, v, rtol=tol["rtol"], atol=1e-12)
    assert p.dtype == np.dtype(dtype)


def test_a_training_step_allocates_no_batch_sized_temporaries():
    """After the first batch the hot loop reuses its buffers (memory, not time)."""
    n = 1024
    net = Network([64, 256, 128, 16], seed=0)           # relu, relu, softmax
    opt = make_optimizer("adam", net.n_params, net.dtype)
    X, Y = make_problem("cross_entropy", "softmax", n=n, n_in=64, n_out=16)
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    net.loss_and_grads(X, Y, "cross_entropy")
    opt.step(net.params, net.grads)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(3):
            net.loss_and_grads(X, Y, "cross_entropy")
            opt.step(net.params, net.grads)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # The smallest batch-sized array, the (1024, 16) output, is 64 KB; NumPy's own ufunc
    # buffers (8,192 elements, whatever the batch size) stay below the limit.
    assert peak < 48 * 1024, f"a training step allocated {peak} bytes at its peak"


def test_same_seed_gives_bit_identical_minibatch_runs():
    cfg = RunConfig(dataset="mnist_sample", dataset_options={"limit": 600, "augment_shift": 1},
                    hidden=[32, 16], batch_size=64, epochs=2, seed=11)
    a, b = Trainer(cfg), Trainer(cfg)
    a.fit()
    b.fit()
    assert a.network.params.tobytes() == b.network.params.tobytes()
    assert a.optimizer.state_dict()["v"].tobytes() == b.optimizer.state_dict()["v"].tobytes()
    assert [r.train_loss for r in a.records] == [r.train_loss for r in b.records]
