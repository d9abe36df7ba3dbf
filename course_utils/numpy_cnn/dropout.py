"""Inverted dropout, forward and backward, in numpy.

In training, every value is kept with probability 1 - p and then divided by 1 - p, or set to
0 with probability p: out = x * mask with mask = keep / (1 - p), keep ~ Bernoulli(1 - p).
The division keeps the expected output equal to x, so eval mode is the identity (no rescaling
at test time). The backward pass sends the gradient through the same mask: dx = dout * mask.
The mask comes from a numpy Generator, so a seed reproduces it.
"""

import numpy as np

from ..geometry import check_dout

__all__ = ["dropout_mask", "dropout", "dropout_backward"]


def dropout_mask(shape, p, rng):
    """Mask of the given shape: 0 with probability p, else 1 / (1 - p); rng: np.random.Generator."""
    _check_p(p)
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy Generator (np.random.default_rng(seed)), "
                         f"got {type(rng).__name__}")
    keep = rng.random(shape) >= p
    return keep / (1 - p)


def dropout(x, p, rng=None, *, training=True):
    """Dropout forward pass: x (any shape) -> (out, mask), both x's shape.

    training=True: out = x * dropout_mask(x.shape, p, rng); training=False: out = x and the
    mask is all ones (nothing is dropped and nothing rescaled).
    """
    x = np.asarray(x)
    _check_p(p)
    if not training:
        return x.copy(), np.ones(x.shape)
    if rng is None:
        raise ValueError("training mode draws a random mask: pass rng=np.random.default_rng(seed)")
    mask = dropout_mask(x.shape, p, rng)
    return x * mask, mask


def dropout_backward(dout, mask):
    """Gradient of dropout: dout * mask (the mask the forward pass returned), mask's shape."""
    mask = np.asarray(mask)
    dout = check_dout(dout, mask.shape)
    return dout * mask


def _check_p(p):
    if not 0 <= p < 1:
        raise ValueError(f"p is the probability of dropping a value and must satisfy 0 <= p < 1, got {p!r}")
