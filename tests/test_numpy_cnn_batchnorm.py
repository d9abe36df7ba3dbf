"""course_utils.numpy_cnn.batchnorm against torch.nn.functional.batch_norm and finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.numpy_cnn import batchnorm, batchnorm_backward, numerical_gradient, relative_error

TOL = 1e-10
SHAPES = [(4, 3, 5, 6), (7, 5), (2, 1, 3, 3)]


def inputs(shape, seed):
    rng = np.random.default_rng(seed)
    C = shape[1]
    return (rng.normal(size=shape) * 2 + 1, rng.normal(size=C), rng.normal(size=C), rng.normal(size=shape),
            rng.normal(size=C), rng.random(C) + 0.5)


def torch_batchnorm(x, gamma, beta, dout, running_mean, running_var, training):
    """torch's output, gradients (dx, dgamma, dbeta) and the running statistics after the call."""
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    mean_t, var_t = torch.tensor(running_mean), torch.tensor(running_var)
    out = F.batch_norm(tensors[0], mean_t, var_t, tensors[1], tensors[2], training=training, momentum=0.1)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors], mean_t.numpy(), var_t.numpy()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_forward_backward_and_running_statistics_match_torch(shape, training):
    x, gamma, beta, dout, running_mean, running_var = inputs(shape, seed=len(shape))
    out_t, grads_t, mean_t, var_t = torch_batchnorm(x, gamma, beta, dout, running_mean, running_var, training)
    out = batchnorm(x, gamma, beta, training=training, running_mean=running_mean, running_var=running_var)
    assert relative_error(out, out_t) < TOL
    assert relative_error(running_mean, mean_t) < TOL and relative_error(running_var, var_t) < TOL
    stats = {} if training else {"running_mean": running_mean, "running_var": running_var}
    grads = batchnorm_backward(dout, x, gamma, training=training, **stats)
    for ours, theirs in zip(grads, grads_t):
        assert ours.shape == theirs.shape and relative_error(ours, theirs) < TOL


def test_training_mode_normalises_each_channel_over_batch_and_space():
    x, gamma, beta, *_ = inputs((6, 3, 4, 5), seed=0)
    out = batchnorm(x, np.ones(3), np.zeros(3), eps=0.0)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-12)
    shifted = batchnorm(x, gamma, beta)
    np.testing.assert_allclose(shifted.mean(axis=(0, 2, 3)), beta, atol=1e-12)


def test_running_statistics_converge_to_the_data_statistics():
    rng = np.random.default_rng(1)
    running_mean, running_var = np.zeros(2), np.ones(2)
    for _ in range(200):
        batch = rng.normal(size=(64, 2)) * np.array([3.0, 0.5]) + np.array([-1.0, 2.0])
        batchnorm(batch, np.ones(2), np.zeros(2), running_mean=running_mean, running_var=running_var)
    np.testing.assert_allclose(running_mean, [-1.0, 2.0], atol=0.2)
    np.testing.assert_allclose(running_var, [9.0, 0.25], rtol=0.2)


@pytest.mark.parametrize("shape", [(3, 2, 3, 4), (5, 3)])
def test_training_gradients_match_finite_differences(shape):
    x, gamma, beta, dout, *_ = inputs(shape, seed=2)
    dx, dgamma, dbeta = batchnorm_backward(dout, x, gamma)

    def loss(x_=x, gamma_=gamma, beta_=beta):
        return float(np.sum(batchnorm(x_, gamma_, beta_) * dout))

    assert relative_error(numerical_gradient(lambda v: loss(x_=v), x.copy()), dx) < 1e-7
    assert relative_error(numerical_gradient(lambda v: loss(gamma_=v), gamma.copy()), dgamma) < 1e-7
    assert relative_error(numerical_gradient(lambda v: loss(beta_=v), beta.copy()), dbeta) < 1e-7


def test_the_input_gradient_sums_to_zero_per_channel():
    # out does not change when a constant is added to a channel, so dx sums to 0 over each channel
    x, gamma, _, dout, *_ = inputs((4, 3, 2, 2), seed=3)
    dx, _, _ = batchnorm_backward(dout, x, gamma)
    np.testing.assert_allclose(dx.sum(axis=(0, 2, 3)), 0, atol=1e-12)


@pytest.mark.parametrize("call,message", [
    (lambda: batchnorm(np.zeros((2, 3, 4)), np.ones(3), np.zeros(3)), "(N, C, H, W)"),
    (lambda: batchnorm(np.zeros((2, 3)), np.ones(2), np.zeros(3)), "gamma must have shape (3,)"),
    (lambda: batchnorm(np.zeros((1, 3)), np.ones(3), np.zeros(3)), "at least 2 values per channel"),
    (lambda: batchnorm(np.zeros((2, 3)), np.ones(3), np.zeros(3), training=False), "running_mean"),
    (lambda: batchnorm(np.zeros((2, 3)), np.ones(3), np.zeros(3), running_mean=np.zeros(3)), "both"),
    (lambda: batchnorm(np.zeros((2, 3)), np.ones(3), np.zeros(3), running_mean=[0, 0, 0],
                       running_var=[1, 1, 1]), "in place"),
    (lambda: batchnorm_backward(np.zeros((2, 2)), np.zeros((2, 3)), np.ones(3)), "dout must have the shape"),
    (lambda: batchnorm_backward(np.zeros((2, 3)), np.zeros((2, 3)), np.ones(3), training=False), "running"),
])
def test_bad_input_raises_a_value_error_that_names_the_problem(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
