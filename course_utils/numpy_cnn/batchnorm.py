"""Batch normalisation, forward and backward, in numpy (as ``torch.nn.functional.batch_norm``).

Shapes: x (N, C, H, W) for conv feature maps, normalised per channel over (N, H, W), or
(N, D) for features, normalised per feature over N; gamma, beta and the running statistics
have shape (C,) (or (D,)). Below, m is the number of values per channel: N*H*W (or N).

Training mode normalises with the batch statistics

    mu = mean(x),  var = mean((x - mu)**2)  (biased, over the m values),
    x_hat = (x - mu) / sqrt(var + eps),  out = gamma * x_hat + beta,

and updates the running statistics in place: running = (1 - momentum) * running
+ momentum * batch, with the *unbiased* variance var * m / (m - 1), as PyTorch does.
Eval mode uses the running statistics instead, so it is a fixed affine map per channel.

Backward (training mode), with sigma = sqrt(var + eps) and sums over the m values:

    dbeta = sum(dout),  dgamma = sum(dout * x_hat),
    dx = gamma / (m * sigma) * (m * dout - sum(dout) - x_hat * sum(dout * x_hat)).

The two subtracted terms are the paths through mu and var: every x moves the batch mean
and variance, which every output of the channel uses.
"""

import numpy as np

from ..geometry import check_dout

__all__ = ["batchnorm", "batchnorm_backward"]


def batchnorm(x, gamma, beta, *, training=True, running_mean=None, running_var=None,
              momentum=0.1, eps=1e-5):
    """Batch norm forward pass: x (N, C, H, W) or (N, C); gamma, beta (C,) -> out, x's shape.

    training=True normalises with the batch's mean and (biased) variance and, if running_mean
    and running_var (float arrays of shape (C,)) are given, updates them in place.
    training=False normalises with running_mean and running_var (both required).
    """
    x, gamma, beta = _validate(x, gamma, beta)
    if training:
        mean, var = _batch_statistics(x)
        _update_running(running_mean, running_var, mean, var, _count(x), momentum, x.shape[1])
    else:
        mean, var = _running_statistics(running_mean, running_var, x.shape[1])
    x_hat = (x - _per_channel(mean, x)) / np.sqrt(_per_channel(var, x) + eps)
    return _per_channel(gamma, x) * x_hat + _per_channel(beta, x)


def batchnorm_backward(dout, x, gamma, *, training=True, running_mean=None, running_var=None, eps=1e-5):
    """Gradients of batch norm, given the gradient ``dout`` of its output.

    dout, x: (N, C, H, W) or (N, C); gamma: (C,) -> dx: x's shape, dgamma: (C,), dbeta: (C,).
    training=True: the batch statistics depend on x (the formula in the module docstring);
    training=False: dx = dout * gamma / sqrt(running_var + eps) (running_mean and running_var
    required: x_hat, for dgamma, uses them).
    """
    x, gamma, _ = _validate(x, gamma, None)
    dout = check_dout(dout, x.shape)
    axes = _axes(x)
    if training:
        mean, var = _batch_statistics(x)
    else:
        mean, var = _running_statistics(running_mean, running_var, x.shape[1])
    inv_sigma = 1 / np.sqrt(_per_channel(var, x) + eps)
    x_hat = (x - _per_channel(mean, x)) * inv_sigma
    dbeta, dgamma = dout.sum(axis=axes), (dout * x_hat).sum(axis=axes)
    if not training:
        return dout * _per_channel(gamma, x) * inv_sigma, dgamma, dbeta
    m = _count(x)
    dx = _per_channel(gamma, x) * inv_sigma / m * (
        m * dout - _per_channel(dbeta, x) - x_hat * _per_channel(dgamma, x))
    return dx, dgamma, dbeta


def _axes(x):
    """The axes a channel's statistics run over: all but axis 1."""
    return (0,) + tuple(range(2, x.ndim))


def _count(x):
    """m: the number of values per channel."""
    return x.size // x.shape[1]


def _per_channel(vector, x):
    """A (C,) vector shaped to broadcast against x: (1, C, 1, 1) or (1, C)."""
    return vector.reshape((1, -1) + (1,) * (x.ndim - 2))


def _batch_statistics(x):
    """Mean and biased variance of each channel, both (C,)."""
    if _count(x) < 2:
        raise ValueError(f"training mode needs at least 2 values per channel to estimate a variance, "
                         f"got x of shape {x.shape}; use a larger batch or training=False")
    axes = _axes(x)
    return x.mean(axis=axes), x.var(axis=axes)


def _running_statistics(running_mean, running_var, channels):
    """The running statistics eval mode normalises with, both (C,)."""
    if running_mean is None or running_var is None:
        raise ValueError("eval mode (training=False) normalises with the running statistics: "
                         "pass running_mean and running_var, each of shape (C,)")
    return (_channel_vector(running_mean, channels, "running_mean"),
            _channel_vector(running_var, channels, "running_var"))


def _update_running(running_mean, running_var, mean, var, m, momentum, channels):
    """running = (1 - momentum) * running + momentum * batch, in place (unbiased variance)."""
    if (running_mean is None) != (running_var is None):
        raise ValueError("pass both running_mean and running_var (or neither)")
    if running_mean is None:
        return
    for name, running in [("running_mean", running_mean), ("running_var", running_var)]:
        if not isinstance(running, np.ndarray) or not np.issubdtype(running.dtype, np.floating):
            raise ValueError(f"{name} must be a float numpy array (it is updated in place)")
        _channel_vector(running, channels, name)
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += momentum * var * m / (m - 1)


def _channel_vector(vector, channels, name):
    vector = np.asarray(vector)
    if vector.shape != (channels,):
        raise ValueError(f"{name} must have shape ({channels},), one value per channel, got {vector.shape}")
    return vector


def _validate(x, gamma, beta):
    x = np.asarray(x)
    if x.ndim not in (2, 4):
        raise ValueError(f"x must have shape (N, C, H, W) (feature maps) or (N, D) (features), "
                         f"got {x.ndim} dimensions {x.shape}")
    gamma = _channel_vector(gamma, x.shape[1], "gamma")
    beta = None if beta is None else _channel_vector(beta, x.shape[1], "beta")
    return x, gamma, beta
