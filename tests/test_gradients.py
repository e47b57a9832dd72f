"""Every activation x loss x layer against central differences, in float64."""
import numpy as np
import pytest

from nncore import Network
from nncore.activations import ACTIVATIONS

HIDDEN = [a for a in ACTIVATIONS if a != "softmax"]
OUTPUTS = {"mse": list(ACTIVATIONS), "sse": list(ACTIVATIONS),
           "cross_entropy": ["softmax", "sigmoid"]}
CASES = [(h, o, loss) for loss, outs in OUTPUTS.items() for o in outs for h in HIDDEN]


def numeric_grads(net, X, Y, loss, l2=0.0, eps=1e-6):
    p = net.params
    out = np.zeros_like(p)
    for i in range(p.size):
        old = p[i]
        p[i] = old + eps
        up = net.loss(X, Y, loss) + 0.5 * l2 * sum(np.sum(l.weights ** 2) for l in net.layers)
        p[i] = old - eps
        down = net.loss(X, Y, loss) + 0.5 * l2 * sum(np.sum(l.weights ** 2) for l in net.layers)
        p[i] = old
        out[i] = (up - down) / (2 * eps)
    return out


def problem(out_act, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(5, 4))
    if out_act == "softmax":
        Y = np.eye(n_out)[rng.integers(0, n_out, 5)]
    else:
        Y = rng.uniform(0.1, 0.9, size=(5, n_out))
    return X, Y


@pytest.mark.parametrize("hidden,out,loss", CASES)
def test_backprop_matches_central_differences(hidden, out, loss):
    X, Y = problem(out)
    net = Network([4, 5, 4, 3], activations=[hidden, hidden, out], seed=1, dtype="float64")
    # Keep pre-activations away from relu's kink, where the derivative is undefined.
    net.params[...] += 0.05
    analytic = np.concatenate([np.r_[dW.ravel(), db] for dW, db in net.gradients(X, Y, loss)])
    numeric = numeric_grads(net, X, Y, loss)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("biases", [True, False, [False, True]])
def test_bias_switch_and_l2(biases):
    X, Y = problem("softmax")
    net = Network([4, 6, 3], activations=["tanh", "softmax"], biases=biases, seed=2, dtype="float64")
    grads = net.gradients(X, Y, "cross_entropy", l2=0.1)
    analytic = np.concatenate([np.r_[dW.ravel(), db[:0] if not l.use_bias else db]
                               for (dW, db), l in zip(grads, net.layers)])
    np.testing.assert_allclose(analytic, numeric_grads(net, X, Y, "cross_entropy", l2=0.1),
                               rtol=1e-5, atol=1e-7)
    for (_dW, db), layer in zip(grads, net.layers):
        assert layer.use_bias or not db.any()


def test_single_layer_and_deep_net():
    X, Y = problem("sigmoid", n_out=2)
    for sizes in ([4, 2], [4, 3, 3, 3, 3, 2]):
        acts = ["softplus"] * (len(sizes) - 2) + ["sigmoid"]
        net = Network(sizes, activations=acts, seed=3, dtype="float64")
        analytic = np.concatenate([np.r_[dW.ravel(), db] for dW, db in net.gradients(X, Y, "cross_entropy")])
        np.testing.assert_allclose(analytic, numeric_grads(net, X, Y, "cross_entropy"), rtol=1e-5, atol=1e-7)


def test_losses_values_by_hand():
    net = Network([1, 2], activations=["linear"], seed=0, dtype="float64")
    net.layers[0].weights = [[1.0, 2.0]]
    net.layers[0].biases = [0.0, 0.0]
    X, Y = np.array([[1.0], [2.0]]), np.array([[0.0, 0.0], [1.0, 1.0]])
    # outputs [[1, 2], [2, 4]]; squared errors 1, 4, 1, 9
    assert net.loss(X, Y, "mse") == pytest.approx(15 / 4)      # mean over all elements
    assert net.loss(X, Y, "sse") == pytest.approx(15 / 2)      # half the sum
    soft = Network([1, 2], activations=["softmax"], seed=0, dtype="float64")
    soft.layers[0].weights = [[0.0, np.log(3.0)]]
    soft.layers[0].biases = [0.0, 0.0]
    p = np.array([1 / 4, 3 / 4])
    assert soft.loss([[1.0]], [[0.0, 1.0]], "cross_entropy") == pytest.approx(-np.log(p[1]))


def test_cross_entropy_is_stable_for_huge_logits():
    net = Network([1, 2], activations=["softmax"], seed=0, dtype="float32")
    net.layers[0].weights = [[1000.0, -1000.0]]
    loss = net.loss([[1.0]], [[0.0, 1.0]], "cross_entropy")
    assert np.isfinite(loss) and loss == pytest.approx(2000.0, rel=1e-4)


@pytest.mark.parametrize("hidden", HIDDEN)
def test_dropout_gradients_match_central_differences(hidden):
    """With the same dropout masks (one seed per evaluation), for every hidden activation:
    sigmoid and tanh take their derivative from f(z), not from the dropped-out output."""
    X, Y = problem("softmax")
    net = Network([4, 6, 5, 3], activations=[hidden, hidden, "softmax"], seed=1, dtype="float64")
    net.params[...] += 0.05
    f = lambda: net.loss_and_grads(X, Y, "cross_entropy", dropout=0.3, rng=np.random.default_rng(7))
    f()
    analytic = net.grads.copy()
    p, numeric = net.params, np.zeros(net.params.size)
    for i in range(p.size):
        old = p[i]
        p[i] = old + 1e-6
        up = f()
        p[i] = old - 1e-6
        down = f()
        p[i] = old
        numeric[i] = (up - down) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)
