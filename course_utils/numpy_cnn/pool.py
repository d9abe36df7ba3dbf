"""Max and average pooling, forward and backward, in numpy (NCHW).

Shapes: x (N, C, H, W), out and dout (N, C, H_out, W_out) with
H_out = (H - kh) // sh + 1; ``kernel_size`` and ``stride`` are an int or a
(height, width) pair, and ``stride`` defaults to ``kernel_size`` (as in PyTorch).
The forward passes are lesson 03's ``course_utils.pooling`` functions, picked by
``method``.

There is no padding argument: pad the input yourself if you need it
(``course_utils.convolution.pad2d`` pads with zeros). PyTorch pads max pooling
with -inf and, for average pooling, counts the padded zeros by default; these
functions copy neither rule.

Backward passes (lecture notes §1.3.2):

* max pooling routes each dout[n, c, i, j] to the input that was the maximum
  of window (i, j), since dL/dI_k = 1(I_k = max). On ties the whole gradient
  goes to *one* element, the first maximum of the window in row-major order
  (the rule of ``torch.nn.functional.max_pool2d``). An input that is the
  maximum of several overlapping windows receives the sum of their gradients.
* average pooling spreads dout[n, c, i, j] / (kh * kw) over the window.
"""

import numpy as np

from .. import pooling
from ..geometry import check_dout, check_method, pool_windows, span, validate_pool_inputs

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"]


def max_pool2d(x, kernel_size, stride=None, method="fast"):
    """Max pooling forward: the maximum of every kh x kw window.

    x: (N, C, H, W) -> (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1)
    """
    check_method(method)
    if method == "naive":
        return pooling.max_pool2d_naive(x, kernel_size, stride)
    return pooling.max_pool2d(x, kernel_size, stride)


def avg_pool2d(x, kernel_size, stride=None, method="fast"):
    """Average pooling forward: the mean of every kh x kw window.

    x: (N, C, H, W) -> (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1)
    """
    check_method(method)
    if method == "naive":
        return pooling.avg_pool2d_naive(x, kernel_size, stride)
    return pooling.avg_pool2d(x, kernel_size, stride)


def max_pool2d_backward(dout, x, kernel_size, stride=None, method="fast"):
    """Gradient of max pooling: each dout goes to the (first) maximum of its window.

    dout: (N, C, H_out, W_out), x: (N, C, H, W) -> dx: (N, C, H, W)
    """
    check_method(method)
    x, (kh, kw), (sh, sw), dout, dx = _prepare_backward(dout, x, kernel_size, stride)
    N, C, Ho, Wo = dout.shape
    if method == "naive":
        for n in range(N):
            for c in range(C):
                for i in range(Ho):
                    for j in range(Wo):
                        a, b = _first_argmax(x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw])
                        dx[n, c, i * sh + a, j * sw + b] += dout[n, c, i, j]
        return dx
    windows = pool_windows(x, (kh, kw), (sh, sw)).reshape(N, C, Ho, Wo, kh * kw)
    winner = windows.argmax(axis=-1)  # np.argmax returns the first maximum, row-major
    for a in range(kh):
        for b in range(kw):
            dx[:, :, span(a, sh, Ho), span(b, sw, Wo)] += np.where(winner == a * kw + b, dout, 0)
    return dx


def avg_pool2d_backward(dout, x, kernel_size, stride=None, method="fast"):
    """Gradient of average pooling: each dout is spread evenly, dout / (kh * kw), over its window.

    dout: (N, C, H_out, W_out), x: (N, C, H, W) -> dx: (N, C, H, W)
    """
    check_method(method)
    x, (kh, kw), (sh, sw), dout, dx = _prepare_backward(dout, x, kernel_size, stride)
    N, C, Ho, Wo = dout.shape
    share = dout / (kh * kw)
    if method == "naive":
        for n in range(N):
            for c in range(C):
                for i in range(Ho):
                    for j in range(Wo):
                        dx[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw] += share[n, c, i, j]
        return dx
    for a in range(kh):
        for b in range(kw):
            dx[:, :, span(a, sh, Ho), span(b, sw, Wo)] += share
    return dx


def _prepare_backward(dout, x, kernel_size, stride):
    """Validate a backward call; returns x, (kh, kw), (sh, sw), dout and a zero dx."""
    x, kernel, strides, (Ho, Wo) = validate_pool_inputs(x, kernel_size, stride)
    dout = check_dout(dout, (*x.shape[:2], Ho, Wo))
    dx = np.zeros(x.shape, dtype=np.result_type(dout, x, np.float16))  # float even for int x
    return x, kernel, strides, dout, dx


def _first_argmax(window):
    """(a, b) of the first maximum of a 2-D window, scanning rows top to bottom."""
    best = (0, 0)
    for a in range(window.shape[0]):
        for b in range(window.shape[1]):
            if window[a, b] > window[best]:  # strictly greater: a later tie does not win
                best = (a, b)
    return best
