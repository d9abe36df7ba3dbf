"""Convolution layer, forward and backward, in numpy (NCHW, the layout of PyTorch).

Shapes: x (N, C, H, W), w (F, C, kh, kw), b (F,), out and dout (N, F, H_out, W_out)
with H_out = (H + 2 * ph - kh) // sh + 1 (the same for W). ``stride`` and ``padding``
are an int or a (height, width) pair, as in ``torch.nn.functional.conv2d``.

The forward passes are lesson 01's (``course_utils.convolution``); ``conv2d`` here
only picks one by ``method``. ``im2col`` comes from there too.

``method="naive"`` loops over the outputs and mirrors the lecture notes (§1.3.1):

* the forward pass is ``course_utils.convolution.conv2d_naive``;
* dL[i, j] / dG_c[a, b] = I_c[i + a, j + b], so every output (n, f, i, j) adds
  dout[n, f, i, j] times its input window to dw[f];
* dL[i, j] / dI_c[x, y] = G_c[x - i, y - j], so every output scatters
  dout[n, f, i, j] times the filter back onto its window of the *padded* input;
  the gradient of the padding is cropped away at the end.

``method="fast"`` does the same arithmetic with matrix products:

* ``im2col`` copies every input window into a column of a (C*kh*kw, H_out*W_out*N)
  matrix ``cols``; the forward pass (``course_utils.convolution.conv2d``) is then one
  product w (F, C*kh*kw) @ cols;
* the backward pass builds ``cols`` again and gets dw = dout (F, H_out*W_out*N) @ cols.T
  as the transpose of cols @ dout.T: the same sums, but OpenBLAS computes this order
  1.2 to 2 times faster on the course's layers;
* dx groups the notes' sum by kernel offset (a, b): the slab w[:, :, a, b].T (C, F)
  @ dout is what reaches the input shifted by (a, b). One product computes the
  slabs of all offsets, into the memory of ``cols`` (same shape, no longer needed);
  a loop over the kh*kw offsets adds each slab into the padded input (for all images
  and channels at once), then the padding is cropped.

Internally the fast path moves the batch axis last, (C, H, W, N), as ``im2col`` does:
a window slice then copies rows of W_out*N contiguous numbers instead of rows of
W_out, which saves numpy's per-row overhead. The backward pass computes in the common
dtype of its inputs: float32 stays float32, float64 stays float64.
"""

import numpy as np

from .. import convolution
from ..convolution import im2col, pad2d
from ..geometry import as_pair, check_dout, check_method, conv_output_shape, span, validate_conv_inputs

__all__ = ["conv2d", "conv2d_backward", "im2col"]


def conv2d(x, w, b=None, stride=1, padding=0, method="fast"):
    """Convolution layer forward pass (cross-correlation, as in PyTorch): lesson 01's
    ``conv2d_naive`` (method="naive") or ``conv2d`` (im2col, method="fast").

    x: (N, C, H, W), w: (F, C, kh, kw), b: (F,) or None -> (N, F, H_out, W_out)
    """
    check_method(method)
    forward = convolution.conv2d_naive if method == "naive" else convolution.conv2d
    return forward(x, w, b, stride, padding)


def conv2d_backward(dout, x, w, stride=1, padding=0, method="fast"):
    """Gradients of a convolution layer, given the gradient ``dout`` of its output.

    dout: (N, F, H_out, W_out), x: (N, C, H, W), w: (F, C, kh, kw)
    -> dx: (N, C, H, W), dw: (F, C, kh, kw), db: (F,)
    """
    check_method(method)
    x, w, _ = validate_conv_inputs(x, w, None)
    dout = check_dout(dout, conv_output_shape(x.shape, w.shape, stride, padding))
    backward = _conv2d_backward_naive if method == "naive" else _conv2d_backward_fast
    return backward(dout, x, w, stride, padding)


def _conv2d_backward_fast(dout, x, w, stride, padding):
    """im2col and two matrix products, the batch axis last inside (see the module docstring)."""
    dtype = np.result_type(dout, x, w)  # compute in one dtype: float32 stays float32
    dout, x, w = (a.astype(dtype, copy=False) for a in (dout, x, w))
    (N, C, H, W), (F, _, kh, kw), (_, _, Ho, Wo) = x.shape, w.shape, dout.shape
    (sh, sw), (ph, pw) = as_pair(stride, "stride"), as_pair(padding, "padding")
    dout2 = dout.transpose(1, 2, 3, 0).reshape(F, -1)  # (F, Ho*Wo*N): im2col's column order
    cols = im2col(x, (kh, kw), stride, padding)  # (C*kh*kw, Ho*Wo*N)
    dw = np.ascontiguousarray((cols @ dout2.T).T).reshape(w.shape)  # faster than dout2 @ cols.T
    taps = w.transpose(2, 3, 1, 0).reshape(kh * kw * C, F)  # row (a*kw + b)*C + c: w[:, c, a, b]
    # the slabs have the shape of cols, which is no longer needed: write them into its memory
    # (np.require copies it in the rare case where im2col returned a read-only view)
    slabs = np.matmul(taps, dout2, out=np.require(cols, requirements="W")).reshape(kh, kw, C, Ho, Wo, N)
    dxp = np.zeros((C, H + 2 * ph, W + 2 * pw, N), dtype=slabs.dtype)
    for a in range(kh):
        for b in range(kw):  # output (i, j) reaches input (i*sh + a, j*sw + b) via w[:, :, a, b]
            dxp[:, span(a, sh, Ho), span(b, sw, Wo)] += slabs[a, b]
    dx = np.ascontiguousarray(dxp[:, ph:ph + H, pw:pw + W].transpose(3, 0, 1, 2))
    return dx, dw, dout2.sum(axis=1)


def _conv2d_backward_naive(dout, x, w, stride, padding):
    """The notes' formulas with loops over the outputs (n, f, i, j).

    Each line updates all (c, a, b) at once through the window slice
    ``xp[n, :, i*sh : i*sh + kh, j*sw : j*sw + kw]``:
    dw[f, c, a, b] += dout[n, f, i, j] * xp[n, c, i*sh + a, j*sw + b] and
    dxp[n, c, i*sh + a, j*sw + b] += dout[n, f, i, j] * w[f, c, a, b].
    """
    (sh, sw), (ph, pw) = as_pair(stride, "stride"), as_pair(padding, "padding")
    xp = pad2d(x, padding)
    dtype = np.result_type(dout, x, w)
    dxp, dw, db = np.zeros(xp.shape, dtype), np.zeros(w.shape, dtype), np.zeros(w.shape[0], dtype)
    N, F, Ho, Wo = dout.shape
    kh, kw = w.shape[2:]
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
                    db[f] += dout[n, f, i, j]
                    dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    H, W = x.shape[2:]
    return dxp[:, :, ph:ph + H, pw:pw + W], dw, db
