"""Conv and pool layers: against loops written here and against central differences."""
import numpy as np
import pytest

from nncore import Network, RunConfig, Trainer
from nncore.activations import ACTIVATIONS
from nncore.config import parse_hidden
from nncore.conv import MaxPool2D
from nncore.network import count_params, multiply_adds

HIDDEN = [a for a in ACTIVATIONS if a != "softmax"]
NETS = {   # conv alone; conv + pool with rows left over; two conv/pool stages; a pool first
    "conv": ["2x6x5", "conv 3@3x3", 3],
    "conv_pool": ["2x7x6", "conv 3@2x2", "pool 2", 3],
    "two_stages": ["1x9x9", "conv 2@2x2", "pool 2", "conv 3@2x2", 4, 3],
    "pool_first": ["1x8x8", "pool 2", "conv 2@3x3", 3],
}


def n_weighted(sizes):
    return sum(not (isinstance(t, str) and t.startswith("pool")) for t in sizes[1:])


def problem(net, n=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, net.n_in))
    Y = np.eye(net.n_out)[rng.integers(0, net.n_out, n)]
    return X, Y


def flat_grads(grads):
    return np.concatenate([np.r_[dW.ravel(), db] for dW, db in grads])


def numeric(net, f, eps=1e-6):
    """Central differences of ``f()`` over every entry of ``net.params``."""
    p, out = net.params, np.zeros(net.params.size)
    for i in range(p.size):
        old = p[i]
        p[i] = old + eps
        up = f()
        p[i] = old - eps
        down = f()
        p[i] = old
        out[i] = (up - down) / (2 * eps)
    return out


def as_float64(net):
    other = Network(net.sizes, net.activations, net.use_biases, net.init, 0, "float64")
    other.params[...] = net.params
    return other


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize("act", HIDDEN)
def test_backprop_matches_central_differences(act, name, dtype):
    sizes = NETS[name]
    acts = [act] * (n_weighted(sizes) - 1) + ["softmax"]
    net = Network(sizes, activations=acts, seed=1, dtype=dtype)
    net.params[...] += net.dtype.type(0.05)        # biases off relu's kink at zero
    X, Y = problem(net)
    analytic = flat_grads(net.gradients(X, Y, "cross_entropy"))
    ref = as_float64(net)
    num = numeric(ref, lambda: ref.loss(X, Y, "cross_entropy"))
    if dtype == "float64":
        np.testing.assert_allclose(analytic, num, rtol=1e-5, atol=1e-8)
    else:
        np.testing.assert_allclose(analytic, num, rtol=2e-3, atol=2e-4 * np.abs(num).max())


@pytest.mark.parametrize("loss,out", [("mse", "sigmoid"), ("sse", "linear"), ("mse", "softmax")])
def test_other_losses_no_biases_and_l2(loss, out):
    sizes = NETS["two_stages"]
    net = Network(sizes, activations=["tanh", "leaky_relu", "softplus", out],
                  biases=[False, True, False, True], seed=2, dtype="float64")
    X, Y = problem(net, seed=3)
    l2 = 0.1
    penalty = lambda: 0.5 * l2 * sum(np.sum(layer.weights ** 2) for layer in net.param_layers)
    grads = net.gradients(X, Y, loss, l2=l2)
    analytic = np.concatenate([np.r_[dW.ravel(), db if layer.use_bias else db[:0]]
                               for (dW, db), layer in zip(grads, net.param_layers)])
    np.testing.assert_allclose(analytic, numeric(net, lambda: net.loss(X, Y, loss) + penalty()),
                               rtol=1e-5, atol=1e-8)
    assert not any(db.any() for (_, db), layer in zip(grads, net.param_layers) if not layer.use_bias)


def test_dropout_gradients_use_the_same_masks():
    net = Network(NETS["two_stages"], activations=["sigmoid", "tanh", "relu", "softmax"], seed=4,
                  dtype="float64")
    net.params[...] += 0.05
    X, Y = problem(net, seed=5)
    f = lambda: net.loss_and_grads(X, Y, "cross_entropy", dropout=0.3, rng=np.random.default_rng(7))
    f()
    analytic = net.grads.copy()
    np.testing.assert_allclose(analytic, numeric(net, f), rtol=1e-5, atol=1e-8)


# -- an independent forward pass, with loops over every position ----------------------------
def ref_forward(net, X):
    n = X.shape[0]
    a = X.reshape(n, *net.input_shape)
    for layer in net.layers:
        if layer.kind == "conv":
            W, b = layer.weights, layer.biases
            k, ho, wo = layer.out_shape
            kh, kw = layer.kernel
            z = np.zeros((n, k, ho, wo))
            for r in range(ho):
                for c in range(wo):
                    patch = a[:, :, r:r + kh, c:c + kw]
                    z[:, :, r, c] = np.einsum("nchw,kchw->nk", patch, W) + b
            a = ACTIVATIONS[layer.activation][0](z)
        elif layer.kind == "pool":
            p = layer.p
            c, ho, wo = layer.out_shape
            out = np.zeros((n, c, ho, wo))
            for r in range(ho):
                for col in range(wo):
                    out[:, :, r, col] = a[:, :, r * p:r * p + p, col * p:col * p + p].max(axis=(2, 3))
            a = out
        else:
            a = a.reshape(n, -1) @ layer.weights + layer.biases
            a = ACTIVATIONS[layer.activation][0](a) if layer.activation != "softmax" else \
                np.exp(a - a.max(1, keepdims=True)) / np.exp(a - a.max(1, keepdims=True)).sum(1, keepdims=True)
    return a


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_and_feature_maps_match_loops(dtype):
    net = Network(["2x11x10", "conv 3@3x2", "pool 2", "conv 4@2x2", "pool 2", 5, 3],
                  activations=["tanh", "relu", "sigmoid", "softmax"], seed=3, dtype=dtype)
    X, _ = problem(net, n=3)
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(net.predict(X), ref_forward(as_float64(net), X), atol=tol)
    maps = net.feature_maps(X)
    assert [(i, m.shape) for i, m in maps] == [(0, (3, 3, 9, 9)), (1, (3, 3, 4, 4)),
                                               (2, (3, 4, 3, 3)), (3, (3, 4, 1, 1))]
    part = Network(["2x11x10", "conv 3@3x2", 1], activations=["tanh", "linear"], dtype="float64")
    part.layers[0].weights = net.layers[0].weights
    part.layers[0].biases = net.layers[0].biases
    ref = ref_forward(part, X)    # through the dense layer; the map itself:
    z = part.layer_outputs(X)[0][1].reshape(3, 3, 9, 9)
    np.testing.assert_allclose(maps[0][1], z, atol=tol)
    assert ref.shape == (3, 1)


def test_flatten_is_channel_major():
    net = Network(["2x4x4", "pool 1", 32], activations=["linear"], dtype="float64")
    net.layers[1].weights = np.eye(32)
    net.layers[1].biases = np.zeros(32)
    X = np.arange(64.0).reshape(2, 32)
    np.testing.assert_array_equal(net.predict(X), X)     # (C, H, W) order, as torch.flatten


# -- pools with ties ------------------------------------------------------------------------
def test_pool_gradient_goes_to_the_first_maximum_of_a_tie():
    x = np.array([[1, 1, 0, 2, 5],
                  [1, 0, 2, 2, 5],
                  [3, 3, 0, 0, 5],
                  [3, 3, 0, 0, 5],
                  [9, 9, 9, 9, 9]], float)
    pool = MaxPool2D((1, 5, 5), 2)
    buf = pool.buffers(1, np.float64, need_grad_x=True)
    a = pool.forward(x[None, None], buf)
    np.testing.assert_array_equal(a[0, 0], [[1, 2], [3, 0]])
    g = pool.backward(np.ones((1, 1, 2, 2)), buf)[0, 0]
    expected = np.zeros((5, 5))
    expected[0, 0] = expected[0, 3] = expected[2, 0] = expected[2, 2] = 1   # row-major first max
    np.testing.assert_array_equal(g, expected)                             # last row/col dropped


def test_a_tie_passes_its_gradient_on_once():
    net = Network(["1x4x4", "conv 1@1x1", "pool 2", 1], activations=["linear", "linear"],
                  dtype="float64")
    net.layers[0].weights = np.ones((1, 1, 1, 1))
    net.layers[0].biases = [0.0]
    net.layers[2].weights = np.ones((4, 1))
    X = np.ones((1, 16))                 # every window is a four-way tie
    (dW, db), _ = net.gradients(X, [[0.0]], "sse")
    # output 4, dL/dout 4: each of the 4 windows hands 4 to one pixel (not to all four)
    assert dW.item() == pytest.approx(16.0) and db.item() == pytest.approx(16.0)


# -- the grammar and its errors -------------------------------------------------------------
def test_the_issue_example():
    net = Network(["1x28x28", "conv 8@5x5", "pool 2", 64, 10],
                  activations=["relu", "relu", "softmax"], seed=0, dtype="float64")
    assert [layer.weights.shape for layer in net.layers if layer.weights is not None] == \
        [(8, 1, 5, 5), (1152, 64), (64, 10)]
    X, Y = problem(net, n=2)
    assert [dW.shape for dW, _ in net.gradients(X, Y, loss="cross_entropy")] == \
        [(8, 1, 5, 5), (1152, 64), (64, 10)]
    assert net.n_params == count_params(net.sizes) == 8 * 26 + 1152 * 64 + 64 + 650
    assert multiply_adds(net.sizes) == 8 * 24 * 24 * 25 + 1152 * 64 + 640
    assert multiply_adds([784, 64, 10]) == 784 * 64 + 640


def test_parse_hidden_reads_the_grammar():
    assert parse_hidden("conv 8@5x5, pool 2, conv 16@5x5, pool 2, 64") == \
        ["conv 8@5x5", "pool 2", "conv 16@5x5", "pool 2", 64]
    assert parse_hidden(" CONV 4@3×3 ;pool 3; 10 ") == ["conv 4@3x3", "pool 3", 10]
    assert parse_hidden("16-8") == [16, 8]
    cfg = RunConfig(dataset="digits", hidden=["conv 4 @ 3x3", "pool 2", 16]).validate()
    assert cfg.hidden == ["conv 4@3x3", "pool 2", 16]
    assert cfg.layer_activations(10) == ["relu", "relu", "softmax"]
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("sizes,needle", [
    (["1x28x28", "conv 8@30x30", 10], "'conv 8@30x30' does not fit its input 1x28x28"),
    (["1x28x28", "conv 8@5x5", "pool 30", 10], "'pool 30' does not fit its input 8x24x24"),
    (["1x28x28", "pool 0", 10], "'pool 0': the pool size must be from 1"),
    (["1x28x28", 64, "conv 8@5x5", 10], "'conv 8@5x5' after a dense layer.*64 units"),
    ([784, "conv 8@5x5", 10], "'conv 8@5x5' needs an image input.*784 flat inputs"),
    (["1x28x28", "conv 8@5x5"], "output layer must be a dense layer"),
    (["1x28x28", "conv 0@5x5", 10], "'conv 0@5x5': the number of filters"),
    (["28x28", "conv 8@5x5", 10], "'CxHxW'"),
    (["1x28x28", "dense 8", 10], "got 'dense 8'"),
])
def test_bad_specs_name_the_token_and_the_shape(sizes, needle):
    with pytest.raises(ValueError, match=needle):
        Network(sizes)


@pytest.mark.parametrize("text,needle", [
    ("conv 8@5x5, 64, pool 2", "'pool 2' after a dense layer"),
    ("pool 0", "'pool 0'"), ("conv 8@5", "'conv 8@5'"), ("conv 2000@3x3", "number of filters"),
])
def test_bad_hidden_text_names_the_token(text, needle):
    with pytest.raises(ValueError, match=needle):
        parse_hidden(text)


# -- through the trainer --------------------------------------------------------------------
def test_a_conv_net_trains_and_repeats_bit_for_bit():
    cfg = RunConfig(dataset="digits", hidden=["conv 4@3x3", "pool 2", 16], epochs=3, lr=0.01,
                    dropout=0.1)
    runs = []
    for _ in range(2):
        tr = Trainer(cfg)
        tr.fit()
        runs.append(tr)
    a, b = runs
    assert a.network.sizes == ["1x8x8", "conv 4@3x3", "pool 2", 16, 10]
    assert a.records[-1].train_loss < 0.5 * a.records[0].train_loss
    assert a.records[-1].test_acc > 0.8
    assert len(a.records[-1].weight_norms) == 3
    np.testing.assert_array_equal(a.network.params, b.network.params)
    W, b_ = a.weights_at(2)[0][0]
    assert W.shape == (4, 1, 3, 3) and b_.shape == (4,)


def test_conv_layers_on_data_that_are_not_images_is_a_clear_error():
    with pytest.raises(ValueError, match="'conv 2@3x3' needs images.*moons has 2 flat inputs"):
        Trainer(RunConfig(dataset="moons", hidden=["conv 2@3x3", 4]))
    with pytest.raises(ValueError, match="'conv 2@9x9' does not fit its input 1x8x8"):
        Trainer(RunConfig(dataset="digits", hidden=["conv 2@9x9", 4]))
