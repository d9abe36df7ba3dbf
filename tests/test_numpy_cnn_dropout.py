"""course_utils.numpy_cnn.dropout: inverted dropout against torch and finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.numpy_cnn import dropout, dropout_backward, dropout_mask, numerical_gradient, relative_error


def test_the_mask_drops_a_fraction_p_and_scales_the_rest():
    mask = dropout_mask((200, 500), 0.3, np.random.default_rng(0))
    assert set(np.unique(mask)) == {0.0, 1 / 0.7}
    assert abs(np.mean(mask == 0) - 0.3) < 0.005
    assert abs(mask.mean() - 1.0) < 0.01  # inverted dropout keeps the expectation


def test_the_same_seed_gives_the_same_mask():
    x = np.ones((3, 4, 5))
    out_a, mask_a = dropout(x, 0.5, np.random.default_rng(4))
    out_b, mask_b = dropout(x, 0.5, np.random.default_rng(4))
    np.testing.assert_array_equal(mask_a, mask_b)
    np.testing.assert_array_equal(out_a, out_b)
    assert not np.array_equal(mask_a, dropout(x, 0.5, np.random.default_rng(5))[1])


@pytest.mark.parametrize("p", [0.0, 0.25, 0.6])
def test_forward_and_backward_match_torch_with_torchs_mask(p):
    rng = np.random.default_rng(1)
    x, dout = rng.normal(size=(4, 3, 6, 5)), rng.normal(size=(4, 3, 6, 5))
    torch.manual_seed(0)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = F.dropout(x_t, p, training=True)
    out_t.backward(torch.tensor(dout))
    torch.manual_seed(0)
    torch_mask = F.dropout(torch.ones(x.shape, dtype=torch.float64), p, training=True).numpy()
    np.testing.assert_allclose(x * torch_mask, out_t.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(dropout_backward(dout, torch_mask), x_t.grad.numpy(), rtol=1e-15)
    # our mask takes the same two values as torch's
    assert set(np.unique(dropout_mask(x.shape, p, rng))) <= {0.0, 1 / (1 - p)}


def test_backward_matches_finite_differences_for_a_fixed_mask():
    rng = np.random.default_rng(2)
    x, dout = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    _, mask = dropout(x, 0.4, np.random.default_rng(3))

    def loss(x_):
        return float(np.sum(x_ * mask * dout))  # the forward pass with the mask held fixed

    assert relative_error(numerical_gradient(loss, x.copy()), dropout_backward(dout, mask)) < 1e-8


def test_eval_mode_is_the_identity():
    x = np.random.default_rng(0).normal(size=(3, 4))
    out, mask = dropout(x, 0.5, training=False)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(dropout_backward(x, mask), x)
    torch_out = F.dropout(torch.tensor(x), 0.5, training=False).numpy()
    np.testing.assert_array_equal(out, torch_out)


@pytest.mark.parametrize("call,message", [
    (lambda: dropout_mask((2,), 1.0, np.random.default_rng(0)), "0 <= p < 1"),
    (lambda: dropout_mask((2,), -0.1, np.random.default_rng(0)), "0 <= p < 1"),
    (lambda: dropout_mask((2,), 0.5, 0), "numpy Generator"),
    (lambda: dropout(np.zeros(2), 0.5), "pass rng"),
    (lambda: dropout_backward(np.zeros(3), np.ones(2)), "dout must have the shape"),
])
def test_bad_input_raises_a_value_error_that_names_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
