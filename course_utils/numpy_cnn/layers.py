"""ReLU, flatten and the fully connected (linear) layer, forward and backward, in numpy.

The linear layer follows PyTorch's convention (``torch.nn.functional.linear``):
x (N, D), w (M, D) with one row per output unit, b (M,), out = x @ w.T + b (N, M).
"""

import numpy as np

from ..geometry import check_dout, check_ndim

__all__ = ["relu", "relu_backward", "flatten", "flatten_backward", "linear", "linear_backward"]


def relu(x):
    """max(x, 0) elementwise; any shape, same dtype."""
    return np.maximum(np.asarray(x), 0)


def relu_backward(dout, x):
    """Gradient of ReLU: dout where x > 0, else 0 (also at x == 0, as PyTorch).

    dout, x: the same shape -> dx: that shape
    """
    x = np.asarray(x)
    dout = check_dout(dout, x.shape)
    return dout * (x > 0)


def flatten(x):
    """Keep the batch axis, flatten the rest: (N, C, H, W) -> (N, C*H*W) (any ndim >= 2)."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must have a batch axis and at least one more, got shape {x.shape}")
    return x.reshape(x.shape[0], -1)


def flatten_backward(dout, x_shape):
    """Gradient of flatten: reshape dout (N, D) back to the input's shape ``x_shape``."""
    x_shape = tuple(x_shape)
    if len(x_shape) < 2:
        raise ValueError(f"x_shape must have a batch axis and at least one more, got {x_shape}")
    dout = check_dout(dout, (x_shape[0], int(np.prod(x_shape[1:]))))
    return dout.reshape(x_shape)


def linear(x, w, b):
    """Fully connected layer: x (N, D), w (M, D), b (M,) -> x @ w.T + b, shape (N, M)."""
    x, w, b = _validate_linear(x, w, b)
    return x @ w.T + b


def linear_backward(dout, x, w):
    """Gradients of the linear layer.

    dout: (N, M), x: (N, D), w: (M, D) -> dx = dout @ w (N, D), dw = dout.T @ x (M, D),
    db = dout summed over the batch (M,)
    """
    x, w, _ = _validate_linear(x, w, None)
    dout = check_dout(dout, (x.shape[0], w.shape[0]))
    return dout @ w, dout.T @ x, dout.sum(axis=0)


def _validate_linear(x, w, b):
    x = check_ndim(x, 2, "x", "(N, D); flatten images first")
    w = check_ndim(w, 2, "w", "(M, D), one row per output unit as in PyTorch")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features but w expects {w.shape[1]} "
                         f"(w has shape (M, D) = {w.shape}; is w transposed?)")
    if b is not None:
        b = np.asarray(b)
        if b.shape != (w.shape[0],):
            raise ValueError(f"b must have shape ({w.shape[0]},), one bias per output, "
                             f"got {b.shape}")
    return x, w, b
