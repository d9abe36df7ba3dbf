"""course_utils.numpy_cnn ReLU, flatten, linear, loss, gradient checking, and all the layers
chained into a small CNN, against torch autograd and against known answers."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.numpy_cnn import (
    conv2d,
    conv2d_backward,
    elementwise_relative_error,
    flatten,
    flatten_backward,
    linear,
    linear_backward,
    max_pool2d,
    max_pool2d_backward,
    numerical_gradient,
    relative_error,
    relu,
    relu_backward,
    softmax_cross_entropy,
)

TOL = 1e-10


def autograd(fn, inputs, dout):
    """fn(*tensors) and the gradients of <fn(...), dout> with respect to every input."""
    tensors = [torch.tensor(a, requires_grad=True) for a in inputs]
    out = fn(*tensors)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


# --- ReLU, flatten, linear -----------------------------------------------------------------

def test_relu_matches_torch_including_the_gradient_at_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 5, 2))
    x[0, 0, 0] = 0.0  # torch's gradient of relu at 0 is 0
    dout = rng.normal(size=x.shape)
    expected_out, (expected_dx,) = autograd(F.relu, [x], dout)
    assert relative_error(relu(x), expected_out) < TOL
    np.testing.assert_array_equal(relu_backward(dout, x), expected_dx)


def test_flatten_and_its_backward_are_reshapes():
    x = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(flatten(x), torch.flatten(torch.tensor(x), 1).numpy())
    np.testing.assert_array_equal(flatten_backward(flatten(x), x.shape), x)


@pytest.mark.parametrize("seed", range(4))
def test_linear_matches_torch(seed):
    rng = np.random.default_rng(seed)
    N, D, M = rng.integers(1, 6), rng.integers(1, 9), rng.integers(1, 7)
    x, w, b = rng.normal(size=(N, D)), rng.normal(size=(M, D)), rng.normal(size=M)
    dout = rng.normal(size=(N, M))
    expected_out, expected_grads = autograd(F.linear, [x, w, b], dout)
    assert relative_error(linear(x, w, b), expected_out) < TOL
    for ours, theirs in zip(linear_backward(dout, x, w), expected_grads):
        assert ours.shape == theirs.shape and relative_error(ours, theirs) < TOL


# --- loss ----------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1.0, 1000.0])  # 1000: exp would overflow without the shift
def test_softmax_cross_entropy_matches_torch(scale):
    rng = np.random.default_rng(1)
    logits, labels = scale * rng.normal(size=(6, 5)), rng.integers(0, 5, size=6)
    logits_t = torch.tensor(logits, requires_grad=True)
    expected = F.cross_entropy(logits_t, torch.tensor(labels))
    expected.backward()
    loss, dlogits = softmax_cross_entropy(logits, labels)
    assert isinstance(loss, float) and np.isfinite(loss)
    assert abs(loss - expected.item()) <= TOL * abs(expected.item())
    assert relative_error(dlogits, logits_t.grad.numpy()) < TOL


def test_softmax_cross_entropy_of_uniform_logits_is_log_k():
    loss, dlogits = softmax_cross_entropy(np.zeros((3, 4)), np.array([0, 1, 3]))
    assert loss == pytest.approx(np.log(4))
    np.testing.assert_allclose(dlogits.sum(axis=1), 0, atol=1e-15)


# --- gradient checking ---------------------------------------------------------------------

def test_numerical_gradient_of_sum_of_cubes_is_three_x_squared():
    x = np.random.default_rng(2).normal(size=(3, 4))
    before = x.copy()
    grad = numerical_gradient(lambda v: np.sum(v ** 3), x)
    assert relative_error(grad, 3 * x ** 2) < 1e-8
    np.testing.assert_array_equal(x, before)  # x is restored


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.ones(3)

    def f(v):
        if v[0] != 1.0:
            raise RuntimeError("boom")
        return 0.0

    with pytest.raises(RuntimeError):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, np.ones(3))


def test_relative_error_is_max_abs_difference_over_max_sum_of_magnitudes():
    a, b = np.array([1.0, -2.0, 4.0]), np.array([1.0, -1.0, 3.0])
    assert relative_error(a, b) == pytest.approx(1.0 / 7.0)  # max|a-b| = 1, max(|a|+|b|) = 7
    assert relative_error(a, a) == 0.0
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0
    assert relative_error(np.zeros(2), np.array([0.0, 1e-3])) == 1.0


def test_elementwise_relative_error_is_cs231ns_definition():
    a, b = np.array([1.0, -3.0, 1e-9]), np.array([2.0, -4.0, 0.0])
    # entrywise: 1/3, 1/7, 1e-9 / max(1e-8, 1e-9) = 0.1; the max is 1/3
    assert elementwise_relative_error(a, b) == pytest.approx(1.0 / 3.0)
    assert elementwise_relative_error(a[1:], b[1:]) == pytest.approx(1.0 / 7.0)
    assert elementwise_relative_error(a[2:], b[2:]) == pytest.approx(0.1)
    assert elementwise_relative_error(np.zeros(3), np.zeros(3)) == 0.0


def test_the_global_relative_error_never_exceeds_cs231ns():
    rng = np.random.default_rng(7)
    for _ in range(20):
        a = rng.normal(size=30) * 10.0 ** rng.integers(-3, 3, size=30)
        b = a + rng.normal(size=30) * 1e-4
        assert relative_error(a, b) <= elementwise_relative_error(a, b)
    # one wrong small entry among large ones: small globally, large entrywise
    a = np.array([100.0, 1e-3])
    b = np.array([100.0, 2e-3])
    assert relative_error(a, b) < 1e-5 < 0.3 < elementwise_relative_error(a, b)


# --- the layers chained into a small CNN ----------------------------------------------------
# conv -> ReLU -> 2x2 max pool -> flatten -> linear -> softmax cross-entropy, as lesson 04 builds it

POOL = 2  # the max-pooling window and stride


def init_small_cnn(in_shape, n_filters, kernel_size, n_classes, rng, dtype=np.float32):
    """He-initialised weights, zero biases: a dict with conv_w, conv_b, fc_w, fc_b."""
    rng = np.random.default_rng(rng)
    (C, H, W), k = in_shape, kernel_size
    D = n_filters * ((H - k + 1) // POOL) * ((W - k + 1) // POOL)
    params = {
        "conv_w": rng.standard_normal((n_filters, C, k, k)) * np.sqrt(2 / (C * k * k)),
        "conv_b": np.zeros(n_filters),
        "fc_w": rng.standard_normal((n_classes, D)) * np.sqrt(2 / D),
        "fc_b": np.zeros(n_classes),
    }
    return {name: value.astype(dtype) for name, value in params.items()}


def small_cnn_loss(params, x, labels, method="fast"):
    """(loss, grads, logits): the forward pass through the numpy layers, then the backward pass."""
    z = conv2d(x, params["conv_w"], params["conv_b"], method=method)
    a = relu(z)
    p = max_pool2d(a, POOL, method=method)
    flat = flatten(p)
    logits = linear(flat, params["fc_w"], params["fc_b"])
    loss, dlogits = softmax_cross_entropy(logits, labels)
    grads = {}
    dflat, grads["fc_w"], grads["fc_b"] = linear_backward(dlogits, flat, params["fc_w"])
    da = max_pool2d_backward(flatten_backward(dflat, p.shape), a, POOL, method=method)
    dz = relu_backward(da, z)
    _, grads["conv_w"], grads["conv_b"] = conv2d_backward(dz, x, params["conv_w"], method=method)
    return loss, grads, logits


def torch_small_cnn(params, x, labels):
    t = {name: torch.tensor(value, requires_grad=True) for name, value in params.items()}
    z = F.max_pool2d(F.relu(F.conv2d(torch.tensor(x), t["conv_w"], t["conv_b"])), 2)
    loss = F.cross_entropy(F.linear(z.flatten(1), t["fc_w"], t["fc_b"]), torch.tensor(labels))
    loss.backward()
    return loss.item(), {name: tensor.grad.numpy() for name, tensor in t.items()}


@pytest.mark.parametrize("method", ["naive", "fast"])
def test_small_cnn_loss_and_gradients_match_torch_autograd(method):
    rng = np.random.default_rng(3)
    params = init_small_cnn((2, 11, 10), n_filters=3, kernel_size=4, n_classes=5, rng=4,
                            dtype=np.float64)
    params["conv_b"] = rng.normal(size=3)
    params["fc_b"] = rng.normal(size=5)
    x, labels = rng.normal(size=(4, 2, 11, 10)), rng.integers(0, 5, size=4)
    loss, grads, _ = small_cnn_loss(params, x, labels, method=method)
    expected_loss, expected_grads = torch_small_cnn(params, x, labels)
    assert abs(loss - expected_loss) <= TOL * abs(expected_loss)
    assert set(grads) == set(expected_grads)
    for name in grads:
        assert relative_error(grads[name], expected_grads[name]) < TOL, name


def test_sgd_steps_lower_the_loss_and_keep_float32():
    rng = np.random.default_rng(5)
    params = init_small_cnn((1, 12, 12), n_filters=4, kernel_size=3, n_classes=3, rng=6)
    x = rng.normal(size=(8, 1, 12, 12)).astype(np.float32)
    labels = rng.integers(0, 3, size=8)
    first, _, _ = small_cnn_loss(params, x, labels)
    for _ in range(20):
        _, grads, _ = small_cnn_loss(params, x, labels)
        assert all(grad.dtype == np.float32 for grad in grads.values())
        for name, grad in grads.items():
            params[name] -= 0.1 * grad
    last, _, logits = small_cnn_loss(params, x, labels)
    assert last < 0.5 * first
    assert all(value.dtype == np.float32 for value in params.values())
    assert logits.dtype == np.float32


# --- error messages ------------------------------------------------------------------------

@pytest.mark.parametrize("call,message", [
    (lambda: relu_backward(np.zeros(3), np.zeros(4)), r"dout must have the shape .* \(4,\), got \(3,\)"),
    (lambda: flatten(np.zeros(3)), "batch axis"),
    (lambda: flatten_backward(np.zeros((2, 5)), (2, 3, 2)), r"\(2, 6\), got \(2, 5\)"),
    (lambda: linear(np.zeros((2, 3)), np.zeros((4, 5)), np.zeros(4)),
     "x has 3 features but w expects 5"),
    (lambda: linear(np.zeros((2, 3, 1)), np.zeros((4, 3)), np.zeros(4)),
     r"x must have shape \(N, D\); flatten images first, got 3 dimensions"),
    (lambda: linear(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros(3)), r"b must have shape \(4,\)"),
    (lambda: linear_backward(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((4, 3))),
     r"dout must have the shape of the forward output \(2, 4\)"),
    (lambda: softmax_cross_entropy(np.zeros(3), np.zeros(3, int)), r"logits must have shape \(N, K\)"),
    (lambda: softmax_cross_entropy(np.zeros((2, 3)), np.zeros(3, int)), r"labels must have shape \(2,\)"),
    (lambda: softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])), r"labels must lie in \[0, 3\)"),
    (lambda: softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), "labels must be integers"),
    (lambda: numerical_gradient(lambda v: v, np.zeros(2)), "f must return a scalar"),
    (lambda: numerical_gradient(lambda v: 0.0, np.zeros(2, dtype=int)), "x must be a float numpy array"),
    (lambda: relative_error(np.zeros(2), np.zeros(3)), "same shape"),
    (lambda: elementwise_relative_error(np.zeros(2), np.zeros(3)), "same shape"),
    (lambda: elementwise_relative_error(np.zeros(2), np.zeros(2), floor=0), "floor must be positive"),
])
def test_bad_input_raises_a_value_error_that_names_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
