# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 04 — Backpropagation through convolution and pooling
#
# **Lecture notes covered.** *Convolutional Neural Networks* §1.3 (derivatives for conv layers,
# 1.3.1, and for pooling layers, 1.3.2); *Lecture 4*, "Training a CNN" (the notes there skip the
# derivation: "let's not derive the updates in detail here"; we do).
#
# **After this lesson you can**
# * derive the gradients of a conv layer with respect to its filter and its input, and recognise
#   them as a cross-correlation and a full convolution with the rotated filter;
# * extend them to stride, padding, batches and several filters (the whole conv layer), and to
#   max and average pooling; see im2col and col2im as the forward and backward of one matrix product;
# * check any gradient against finite differences and against `torch.autograd`, and say which
#   relative error a threshold refers to;
# * run the sanity checks before training (the loss at initialisation, overfitting a tiny subset);
# * train a CNN written in numpy alone, and match it step for step with PyTorch;
# * derive and check the backward passes of batch normalisation and dropout.
#
# **Time.** About 151 minutes: 3,401 words to read (23 min at 150 words a minute), 399 lines of code to read and run (50 min at 8 a minute), 5 graded exercises (75 min), and 3 min of computing for the whole notebook on a 2-core CPU, measured when it was built (`course_tools.lesson_time`).
#
# Five graded exercises (⭐), each with an instant check. If you are
# stuck, run the rest of the notebook: later cells use `course_utils.numpy_cnn`.

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import numpy_cnn as nc  # the reference implementations
from course_utils.checks import (
    check_conv_backward,
    check_conv_backward_dw,
    check_conv_backward_dx,
    check_max_pool_backward,
    check_softmax_cross_entropy_grad,
)
from course_utils.convolution import conv_matrix
from course_utils.data import load_fashion_mnist, train_val_split
from course_utils.diagrams.im2col import draw_col2im, draw_im2col, overlap_counts
from course_utils.runtime import quick_or_full, seed_everything

rng = seed_everything(0)
np.set_printoptions(precision=4, suppress=True, linewidth=110)
plt.rcParams["figure.dpi"] = 100


def autograd(fn, *arrays, upstream):
    """Gradients of sum(fn(*arrays) * upstream) with respect to each array, by torch.autograd."""
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    fn(*tensors).backward(torch.tensor(upstream, dtype=torch.float64))
    return [t.grad.numpy() for t in tensors]


def single_conv(image, kernel):
    """(C, H, W) ⋆ (C, kh, kw) -> (H - kh + 1, W - kw + 1): the notes' L = I * G."""
    return F.conv2d(image[None], kernel[None])[0, 0]


# %% [markdown]
# ## 1. The set-up
#
# A conv layer maps an input $I$ (channels $c$) and a filter $G$ to $L = I * G$ with
# $L[i, j] = \sum_{a}\sum_{b}\sum_{c} I_c[i + a, j + b]\, G_c[a, b]$ (lesson 01). Somewhere
# downstream a loss $f$ is computed. Backpropagation hands the layer the **upstream gradient**
# $\partial f / \partial L$, an array with $L$'s shape, and asks for $\partial f/\partial G$ (to
# update the filter) and $\partial f/\partial I$ (to pass further back). By the chain rule
#
# $$\frac{\partial f}{\partial G_c[x, y]} = \sum_{i,j} \frac{\partial f}{\partial L[i,j]}\,
#   \frac{\partial L[i,j]}{\partial G_c[x,y]}, \qquad
#   \frac{\partial f}{\partial I_c[x, y]} = \sum_{i,j} \frac{\partial f}{\partial L[i,j]}\,
#   \frac{\partial L[i,j]}{\partial I_c[x,y]}.$$
#
# (The notes index the filter from 1 in §1.3 and from 0 in §1.1; we use 0 throughout, as numpy does.)
#
# ## 2. The gradient with respect to the filter
#
# Only the term with $a = x$, $b = y$ of the sum depends on $G_c[x, y]$, so
# $\partial L[i,j] / \partial G_c[x,y] = I_c[i + x, j + y]$ and
#
# $$\frac{\partial f}{\partial G_c[x,y]} = \sum_{i,j} \frac{\partial f}{\partial L[i,j]}\; I_c[i + x, j + y].$$
#
# Read it as lesson 01's formula with the roles swapped: **the filter gradient is the
# cross-correlation of the input with the upstream gradient** (the upstream gradient plays the
# filter; it has the output's size, so it fits exactly $k_h \times k_w$ times). Every output
# position used the same weight, so their contributions add up. A numerical check:

# %%
image = rng.normal(size=(2, 6, 5))
kernel = rng.normal(size=(2, 3, 2))
dout = rng.normal(size=(4, 4))
_, dG_autograd = autograd(single_conv, image, kernel, upstream=dout)
dG_formula = np.array([[[np.sum(dout * image[c, x:x + 4, y:y + 4]) for y in range(2)] for x in range(3)]
                       for c in range(2)])
print("dG by the formula:\n", dG_formula)
print("agrees with autograd:", np.allclose(dG_formula, dG_autograd, rtol=1e-12, atol=1e-12))

# %% [markdown]
# ### Exercise 1 (2 points): `conv_backward_dw`
#
# Given the upstream gradient `dout` of shape `(Ho, Wo)` and the `image` of shape `(C, H, W)`
# (stride 1, no padding), return the filter gradient of shape `(C, kh, kw)`, where
# `kernel_size = (kh, kw)`.

# %% nbgrader={"grade": false, "grade_id": "conv_backward_dw", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_backward_dw(dout, image, kernel_size):
    """dout: (Ho, Wo), image: (C, H, W), kernel_size: (kh, kw) -> dw: (C, kh, kw)."""
    ### BEGIN SOLUTION
    kh, kw = kernel_size
    Ho, Wo = dout.shape
    dw = np.zeros((image.shape[0], kh, kw))
    for x in range(kh):
        for y in range(kw):
            dw[:, x, y] = np.sum(dout * image[:, x:x + Ho, y:y + Wo], axis=(1, 2))
    return dw
    ### END SOLUTION


# %% tags=["raises-exception"]
check_conv_backward_dw(conv_backward_dw)

# %% nbgrader={"grade": true, "grade_id": "conv_backward_dw_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_conv_backward_dw(conv_backward_dw)
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(40)
for _c, _h, _w, _kh, _kw in [(1, 4, 4, 4, 4), (3, 9, 7, 2, 5), (2, 5, 8, 1, 1)]:
    _image, _kernel = _rng.normal(size=(_c, _h, _w)), _rng.normal(size=(_c, _kh, _kw))
    _dout = _rng.normal(size=(_h - _kh + 1, _w - _kw + 1))
    _expected = autograd(single_conv, _image, _kernel, upstream=_dout)[1]
    assert np.allclose(conv_backward_dw(_dout, _image, (_kh, _kw)), _expected)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. The gradient with respect to the input
#
# Input pixel $I_c[x, y]$ enters $L[i, j]$ through the weight $G_c[a, b]$ with $i + a = x$ and
# $j + b = y$, so $\partial L[i,j] / \partial I_c[x,y] = G_c[x - i, y - j]$, zero when $x - i$ or
# $y - j$ falls outside the filter. Hence
#
# $$\frac{\partial f}{\partial I_c[x,y]} = \sum_{i,j} \frac{\partial f}{\partial L[i,j]}\; G_c[x - i, y - j].$$
#
# The index $x - i$ runs *backwards* in $i$: this is a true convolution (with the flip) of the
# upstream gradient with $G_c$, the signal-processing one of lesson 01, in its **full** form (every
# overlap, including partial ones at the borders, so the result has the input's size
# $H_o + k_h - 1 = H$). Equivalently: zero-pad the upstream gradient by $k - 1$ on every side and
# cross-correlate it with the filter **rotated by 180°**.

# %%
dI_autograd, _ = autograd(single_conv, image, kernel, upstream=dout)
padded = np.pad(dout, ((2, 2), (1, 1)))                    # kh - 1 = 2 rows, kw - 1 = 1 column
rotated = kernel[:, ::-1, ::-1]
dI_formula = np.array([[[np.sum(padded[x:x + 3, y:y + 2] * rotated[c]) for y in range(5)] for x in range(6)]
                       for c in range(2)])
print("dI has the input's shape:", dI_formula.shape)
print("agrees with autograd:", np.allclose(dI_formula, dI_autograd, rtol=1e-12, atol=1e-12))
print("without the rotation:", np.allclose(
    np.array([[[np.sum(padded[x:x + 3, y:y + 2] * kernel[c]) for y in range(5)] for x in range(6)]
              for c in range(2)]), dI_autograd))

# %% [markdown]
# Two more ways to see the same thing. PyTorch calls this operation a **transposed convolution**
# (`conv_transpose2d`), and the name is literal: lesson 01 wrote a conv layer as a matrix $M$ with
# `L.ravel() = M @ I.ravel()`; the gradient of a linear map is its transpose, so
# `dI.ravel() = M.T @ dout.ravel()`.

# %%
transposed = F.conv_transpose2d(torch.tensor(dout)[None, None], torch.tensor(kernel)[None])[0].numpy()
M = conv_matrix(kernel[0], image.shape[1:])
print("conv_transpose2d == dI:", np.allclose(transposed, dI_autograd))
print("M.T @ dout == dI (channel 0):", np.allclose(M.T @ dout.ravel(), dI_autograd[0].ravel()))

# %% [markdown]
# ### Exercise 2 (3 points): `conv_backward_dx`
#
# Given the upstream gradient `dout` of shape `(Ho, Wo)` and the `kernel` of shape `(C, kh, kw)`
# (stride 1, no padding), return the input gradient of shape `(C, Ho + kh - 1, Wo + kw - 1)`.

# %% nbgrader={"grade": false, "grade_id": "conv_backward_dx", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_backward_dx(dout, kernel):
    """dout: (Ho, Wo), kernel: (C, kh, kw) -> dx: (C, Ho + kh - 1, Wo + kw - 1)."""
    ### BEGIN SOLUTION
    C, kh, kw = kernel.shape
    Ho, Wo = dout.shape
    dx = np.zeros((C, Ho + kh - 1, Wo + kw - 1))
    for i in range(Ho):
        for j in range(Wo):
            dx[:, i:i + kh, j:j + kw] += dout[i, j] * kernel  # scatter: L[i, j] used this window
    return dx
    ### END SOLUTION


# %% tags=["raises-exception"]
check_conv_backward_dx(conv_backward_dx)

# %% nbgrader={"grade": true, "grade_id": "conv_backward_dx_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_conv_backward_dx(conv_backward_dx)
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(41)
for _c, _h, _w, _kh, _kw in [(1, 4, 4, 4, 4), (3, 9, 7, 2, 5), (2, 5, 8, 1, 1)]:
    _image, _kernel = _rng.normal(size=(_c, _h, _w)), _rng.normal(size=(_c, _kh, _kw))
    _dout = _rng.normal(size=(_h - _kh + 1, _w - _kw + 1))
    _expected = autograd(single_conv, _image, _kernel, upstream=_dout)[0]
    assert np.allclose(conv_backward_dx(_dout, _kernel), _expected)
### END HIDDEN TESTS

# %% [markdown]
# The natural answer to this exercise (and the library's naive version) computes $\partial f/\partial I$
# by *scattering*: output $L[i,j]$ was made from
# one window of the input, so its gradient flows back into that window, weighted by the filter.
# Scattering (one loop over outputs) and gathering (the full convolution, one loop over inputs) give
# the same numbers; the library's fast path scatters with one loop over the $k_h k_w$ filter
# offsets (col2im).
#
# ## 4. Stride, padding, bias, batches
#
# * **Padding** $p$: the layer convolves the padded input, so compute the gradient with respect to
#   the padded input and crop $p$ rows and columns from each side.
# * **Stride** $s$: output $L[i,j]$ used the window at $(s i, s j)$. The formulas keep their form with
#   $i + x$ replaced by $s i + x$. In the full-convolution view, insert $s - 1$ zeros between the
#   entries of the upstream gradient ("dilate" it), then proceed as for stride 1.
# * **Bias**: $\partial f / \partial b_f = \sum_{n,i,j} \partial f / \partial L[n, f, i, j]$.
# * **Batches and several filters**: gradients of the weights add up over the batch; the input
#   gradient adds up over the filters.
#
# The stride rule, checked numerically for stride 2 and padding 1:

# %%
x = rng.normal(size=(1, 1, 7, 7))
w = rng.normal(size=(1, 1, 3, 3))
upstream = rng.normal(size=(1, 1, 4, 4))                      # (7 + 2 - 3) // 2 + 1 = 4
dx_autograd, _ = autograd(lambda a, b: F.conv2d(a, b, stride=2, padding=1), x, w, upstream=upstream)
dilated = np.zeros((7, 7))
dilated[::2, ::2] = upstream[0, 0]                            # 4 values, s - 1 = 1 zero between
full = np.pad(dilated, 2)                                     # full convolution: pad by k - 1
dx_padded = np.array([[np.sum(full[r:r + 3, c:c + 3] * w[0, 0, ::-1, ::-1]) for c in range(9)]
                      for r in range(9)])
print("dilate, full-convolve, crop the padding == autograd:",
      np.allclose(dx_padded[1:-1, 1:-1], dx_autograd[0, 0]))

# %% [markdown]
# ### Exercise 3 (4 points): `conv_backward`, the whole layer
#
# Now all of it at once: a batch `x` of shape `(N, C, H, W)`, `F` filters `w` of shape
# `(F, C, k, k)`, a bias per filter, stride `s` and zero padding `p` (both ints), and the upstream
# gradient `dout` of shape `(N, F, Ho, Wo)` with $H_o = (H + 2p - k) // s + 1$. Return the tuple
# `(dx, dw, db)` with the shapes of `x`, `w` and `(F,)`.
#
# A plan that follows the bullets above: pad `x` (`np.pad`); for every output $(n, f, i, j)$, the
# window of the padded input that starts at $(s i, s j)$ made that output, so add
# `dout[n, f, i, j]` times the window to `dw[f]` and `dout[n, f, i, j] * w[f]` to the window of a
# padded `dx`; crop the padding from `dx` at the end; `db` sums `dout` over everything but `f`.
# (Loops over $n, f, i, j$ are fine here; the library's fast version comes later.)

# %% nbgrader={"grade": false, "grade_id": "conv_backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_backward(dout, x, w, stride, padding):
    """dout: (N, F, Ho, Wo), x: (N, C, H, W), w: (F, C, k, k), stride, padding: ints
    -> (dx: (N, C, H, W), dw: (F, C, k, k), db: (F,))."""
    ### BEGIN SOLUTION
    k, s, p = w.shape[2], stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros(xp.shape), np.zeros(w.shape)
    N, F_, Ho, Wo = dout.shape
    for n in range(N):
        for f in range(F_):
            for i in range(Ho):
                for j in range(Wo):
                    window = (n, slice(None), slice(s * i, s * i + k), slice(s * j, s * j + k))
                    dw[f] += dout[n, f, i, j] * xp[window]
                    dxp[window] += dout[n, f, i, j] * w[f]
    dx = dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]]
    return dx, dw, dout.sum(axis=(0, 2, 3))
    ### END SOLUTION


# %% tags=["raises-exception"]
check_conv_backward(conv_backward)

# %% nbgrader={"grade": true, "grade_id": "conv_backward_tests", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_conv_backward(conv_backward)
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(44)
for _n, _c, _h, _w, _f, _k, _s, _p in [(2, 3, 8, 6, 4, 3, 2, 1), (1, 1, 5, 5, 1, 5, 1, 2), (3, 2, 9, 9, 2, 2, 3, 0),
                                       (2, 2, 7, 7, 3, 3, 1, 1), (1, 2, 6, 9, 2, 1, 2, 0)]:
    _x, _wt, _b = _rng.normal(size=(_n, _c, _h, _w)), _rng.normal(size=(_f, _c, _k, _k)), _rng.normal(size=_f)
    _dout = _rng.normal(size=(_n, _f, (_h + 2 * _p - _k) // _s + 1, (_w + 2 * _p - _k) // _s + 1))
    _expected = autograd(lambda a, b, c, s=_s, p=_p: F.conv2d(a, b, c, stride=s, padding=p), _x, _wt, _b,
                         upstream=_dout)
    _got = conv_backward(_dout, _x, _wt, _s, _p)
    assert len(_got) == 3 and all(np.allclose(g, e) for g, e in zip(_got, _expected))
### END HIDDEN TESTS

# %% [markdown]
# `course_utils.numpy_cnn` implements all of it, in two versions: `method="naive"`, loops that
# follow the formulas line by line (your answer to Exercise 3), and `method="fast"`, vectorized.
# Both against autograd on a batch with several channels and filters, stride 2 and padding 1
# (float64). `nc.relative_error(a, b)` is $\max_k|a_k - b_k| \,/\, \max_k(|a_k| + |b_k|)$: the largest
# difference over the largest magnitude, both over all entries (section 6 compares it with CS231n's
# definition):

# %%
x = rng.normal(size=(4, 3, 11, 9))
w = rng.normal(size=(5, 3, 3, 3))
b = rng.normal(size=5)
out = nc.conv2d(x, w, b, stride=2, padding=1)
upstream = rng.normal(size=out.shape)
reference = autograd(lambda x_, w_, b_: F.conv2d(x_, w_, b_, stride=2, padding=1), x, w, b, upstream=upstream)
for method in ("naive", "fast"):
    grads = nc.conv2d_backward(upstream, x, w, stride=2, padding=1, method=method)
    errors = [nc.relative_error(mine, theirs) for mine, theirs in zip(grads, reference)]
    print(f"{method:>5}: relative errors dx, dw, db below 1e-12: {all(e < 1e-12 for e in errors)}")

# %% [markdown]
# ## 5. Pooling layers
#
# Pooling has no weights, so only $\partial f/\partial I$ is needed. For **max pooling**,
# $L = \max(I_1, \dots, I_n)$ over a window, and the notes give
# $\partial L / \partial I_j = \mathbb{1}(I_j = \max)$: the upstream gradient goes to the maximum of
# the window, and the other inputs get nothing (changing them a little does not change the output).
# For **average pooling**, $L = \frac{1}{n}\sum I_j$, so every input of the window gets $1/n$ of it.
#
# The notes' indicator is loose when the maximum is **tied**: $\mathbb{1}(I_j = \max)$ would send the
# full gradient to every tied element, so the gradient would double-count. What does PyTorch do?

# %%
tied = torch.tensor([[[[1.0, 3.0], [3.0, 2.0]]]], requires_grad=True)
F.max_pool2d(tied, 2).backward(torch.ones(1, 1, 1, 1))
print("window:\n", tied.detach()[0, 0].numpy(), "\ntorch's gradient:\n", tied.grad[0, 0].numpy())
x_tied = tied.detach().double().numpy()
print("course library agrees:", np.allclose(nc.max_pool2d_backward(np.ones((1, 1, 1, 1)), x_tied, 2),
                                            tied.grad.double().numpy()))

# %% [markdown]
# PyTorch gives the whole gradient to **one** of the tied maxima, the first in row-major order;
# the others get zero. (The max is not differentiable at a tie; any convex combination of the tied
# entries is a valid subgradient, and picking one keeps the gradient's total equal to the upstream
# value.) With overlapping windows (stride smaller than the window), an input that is the maximum
# of several windows collects the sum of their gradients.
#
# ### Exercise 4 (2 points): `max_pool_backward`
#
# `x` has shape `(H, W)`, pooling uses `k × k` windows with stride `k` (H and W are multiples of k),
# `dout` has shape `(H // k, W // k)`. Return `dx` of shape `(H, W)`. (Random inputs have no ties.)

# %% nbgrader={"grade": false, "grade_id": "max_pool_backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def max_pool_backward(dout, x, k):
    """dout: (H // k, W // k), x: (H, W) -> dx: (H, W) for k x k max pooling with stride k."""
    ### BEGIN SOLUTION
    dx = np.zeros_like(x)
    for i in range(dout.shape[0]):
        for j in range(dout.shape[1]):
            window = x[i * k:(i + 1) * k, j * k:(j + 1) * k]
            a, b = np.unravel_index(np.argmax(window), window.shape)
            dx[i * k + a, j * k + b] += dout[i, j]
    return dx
    ### END SOLUTION


# %% tags=["raises-exception"]
check_max_pool_backward(max_pool_backward)

# %% nbgrader={"grade": true, "grade_id": "max_pool_backward_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_max_pool_backward(max_pool_backward)
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(42)
for (_h, _w), _k in [((2, 2), 2), ((9, 6), 3), ((4, 8), 4), ((5, 5), 1)]:
    _x, _dout = _rng.normal(size=(_h, _w)), _rng.normal(size=(_h // _k, _w // _k))
    _expected = autograd(lambda t, k=_k: F.max_pool2d(t[None, None], k)[0, 0], _x, upstream=_dout)[0]
    assert np.allclose(max_pool_backward(_dout, _x, _k), _expected)
### END HIDDEN TESTS

# %% [markdown]
# The library's pooling backward passes against autograd, with overlapping windows (kernel 3,
# stride 2) so that some inputs collect gradient from several windows:

# %%
x = rng.normal(size=(2, 3, 9, 9))
for name, forward, backward, torch_pool in [
        ("max", nc.max_pool2d, nc.max_pool2d_backward, F.max_pool2d),
        ("average", nc.avg_pool2d, nc.avg_pool2d_backward, F.avg_pool2d)]:
    upstream = rng.normal(size=forward(x, 3, 2).shape)
    expected, = autograd(lambda t, pool=torch_pool: pool(t, 3, 2), x, upstream=upstream)
    for method in ("naive", "fast"):
        error = nc.relative_error(backward(upstream, x, 3, 2, method=method), expected)
        print(f"{name:>7} pooling, {method:>5}: relative error below 1e-12: {error < 1e-12}")

# %% [markdown]
# ## 6. Gradient checking
#
# Finite differences need no derivation: $\partial f / \partial x_k \approx
# \frac{f(x + h e_k) - f(x - h e_k)}{2h}$ (centered; its error shrinks like $h^2$). `nc.numerical_gradient`
# does this for every entry. The step $h$ is a trade-off: too large and the $h^2$ truncation error
# dominates, too small and the rounding error of $f$ (about $10^{-16}|f|/h$) takes over. We check
# the conv layer's filter gradient for a range of $h$, on a *nonlinear* loss
# $L = \sum \tanh(\mathrm{conv}(x, w)) \cdot g$ (with a loss linear in $w$ the centered difference
# would be exact but for rounding, and the trade-off would not show):

# %%
x = rng.normal(size=(2, 2, 6, 6))
w = rng.normal(size=(3, 2, 3, 3))
b = np.zeros(3)
upstream = rng.normal(size=(2, 3, 4, 4))


def loss_of_w(w_):
    return float(np.sum(np.tanh(nc.conv2d(x, w_, b)) * upstream))


dz = upstream * (1 - np.tanh(nc.conv2d(x, w, b)) ** 2)  # through tanh: tanh' = 1 - tanh²
_, dw_analytic, _ = nc.conv2d_backward(dz, x, w)
steps = 10.0 ** np.arange(-1, -11, -1)
errors = np.array([nc.relative_error(nc.numerical_gradient(loss_of_w, w.copy(), h), dw_analytic)
                   for h in steps])
large, small = steps >= 1e-3, steps <= 1e-7
truncation_slope = np.polyfit(np.log10(steps[large]), np.log10(errors[large]), 1)[0]
print(f"large h (1e-1 to 1e-3): error ∝ h^{truncation_slope:.1f} (truncation; theory h²)")
print(f"small h (1e-7 to 1e-10): error grows as h shrinks (rounding): "
      f"{bool(np.all(np.diff(errors[small]) > 0))}")
best = steps[np.argmin(errors)]
print(f"best step between 1e-6 and 1e-4: {1e-6 <= best <= 1e-4}; "
      f"its relative error below 1e-8: {errors.min() < 1e-8}")
fig, ax = plt.subplots(figsize=(5.5, 3.5), dpi=100)
ax.loglog(steps, errors, "o-", label="measured")
ax.loglog(steps, errors[0] * (steps / steps[0]) ** 2, ":", color="gray", label="∝ h² (truncation)")
ax.loglog(steps, errors[-1] * steps[-1] / steps, "--", color="gray", label="∝ 1/h (rounding)")
ax.set_ylim(errors.min() / 10, errors.max() * 10)
ax.set_xlabel("step h")
ax.set_ylabel("relative error")
ax.set_title("finite differences vs the analytic gradient")
ax.invert_xaxis()
ax.legend()
plt.show()

# %% [markdown]
# The V is the trade-off: on the left (large $h$) the truncation error falls like $h^2$, on the
# right (small $h$) rounding takes over and grows like $1/h$; in between, around
# $h \approx 10^{-5}$, the two meet. A relative error near $10^{-7}$ or below means the gradient is
# right; near $10^{-2}$ means a bug.
#
# ### Which relative error do these thresholds refer to?
#
# The thresholds are the rules of thumb of Stanford's CS231n notes on gradient checking: above
# $10^{-2}$ the gradient is probably wrong, $10^{-4}$ to $10^{-2}$ is uncomfortable, below $10^{-4}$ is
# fine for objectives with kinks (ReLU, max pooling), below $10^{-7}$ is good. CS231n measures
# **entry by entry**, $\max_k |a_k - b_k| / \max(10^{-8}, |a_k| + |b_k|)$
# (`nc.elementwise_relative_error`); `nc.relative_error` divides the **largest difference by the
# largest magnitude**, $\max_k |a_k - b_k| / \max_k (|a_k| + |b_k|)$. Where the $10^{-8}$ floor is not
# reached, ours is never the larger: the worst entry's difference is divided by the largest scale
# rather than by its own. So "ours above a threshold" implies theirs is too, while "ours below
# $10^{-7}$" is the weaker statement. Two small examples show where they part, then the check above
# under both:

# %%
def verdict(error):
    """A relative error as a verdict with a bound (its last digits depend on rounding)."""
    if error < 1e-7:
        return "agrees with finite differences (relative error < 1e-7)"
    if error > 1e-3:
        return "DISAGREES with finite differences (relative error > 1e-3)"
    return "unclear (relative error between 1e-7 and 1e-3)"


def cs231n_verdict(error):
    """CS231n's rules of thumb for their entrywise relative error. Their "good" band (< 1e-7) is
    not told apart from "fine": in the checks here the entrywise error of a right gradient is
    rounding noise near 1e-7, whose digits depend on the CPU."""
    for bound, words in [(1e-4, "< 1e-4, fine (with kinks)"), (1e-2, "1e-4 to 1e-2, uncomfortable")]:
        if error < bound:
            return words
    return "> 1e-2, probably wrong"


examples = {"one small entry wrong by a factor 2": (np.array([1.0, 1e-4]), np.array([1.0, 2e-4])),
            "an exact 0 against rounding noise 1e-11": (np.array([1.0, 0.0]), np.array([1.0, 1e-11]))}
for name, (first, second) in examples.items():
    ours, theirs = nc.relative_error(first, second), nc.elementwise_relative_error(first, second)
    print(f"{name}:\n  ours {ours:.0e}: {verdict(ours)}\n  CS231n's {theirs:.0e}: {cs231n_verdict(theirs)}")
numeric = nc.numerical_gradient(loss_of_w, w.copy(), 1e-5)
ours, theirs = nc.relative_error(numeric, dw_analytic), nc.elementwise_relative_error(numeric, dw_analytic)
print(f"conv filter gradient at h = 1e-5: ours below 1e-7: {ours < 1e-7}, CS231n's below 1e-7: {theirs < 1e-7}; "
      f"ours <= CS231n's: {ours <= theirs}")

# %% [markdown]
# The first example is a real bug that ours calls unclear and CS231n's calls wrong: an error
# confined to entries much smaller than the largest one hides in a global ratio. The second is no
# bug at all: a gradient entry that is exactly 0, against a finite difference that carries rounding
# noise, which CS231n's floor makes look uncomfortable. On the conv gradient, whose
# entries are all of similar size, both definitions agree that the gradient is right. This lesson
# keeps the global ratio (it does not cry wolf on exact zeros, which ReLU networks have in
# numbers) and checks each parameter array separately, so that one array's scale does not hide
# another's error; the network check in section 9 prints both.
#
# ## 7. Naive vs fast
#
# The loops mirror the math; the fast path reorganises the same arithmetic into one big matrix
# product (im2col) and a scatter over the filter offsets (col2im). **im2col** copies every patch
# of the input into a column of a matrix; one filter, flattened to a row, times that matrix gives
# the filter's output at every position, and all $F$ filters at once are one matrix product (GEMM):

# %%
draw_im2col(input_size=4, kernel_size=3, stride=1)
plt.show()

# %% [markdown]
# The backward pass runs the picture from right to left. The gradient of the product with respect
# to the matrix of patches is `dcols = w.T @ dout`: one column per patch, one entry per copied
# pixel. **col2im** adds each column back onto its patch. A pixel that im2col copied into several
# columns (several overlapping patches) receives the sum of their gradients: this is the scatter of
# Exercises 2 and 3, done for all positions at once.

# %%
draw_col2im(input_size=4, kernel_size=3, stride=1)
plt.show()
counts = overlap_counts(4, 3, 1)
print(f"terms added per pixel (4×4 input, 3×3 kernel): corners {counts[0, 0]}, edges {counts[0, 1]}, "
      f"centre {counts[1, 1]}")

# %%
# NBVAL_IGNORE_OUTPUT
# Timings depend on the machine and its load, so nbval does not compare this output.
x = rng.normal(size=(16, 8, 14, 14))
w = rng.normal(size=(16, 8, 3, 3))
upstream = rng.normal(size=(16, 16, 14, 14))
for method in ("naive", "fast"):
    start = time.perf_counter()
    nc.conv2d(x, w, None, padding=1, method=method)
    nc.conv2d_backward(upstream, x, w, padding=1, method=method)
    print(f"{method:>5}: {time.perf_counter() - start:.3f} s for forward + backward")

# %% [markdown]
# `benchmarks/conv_numpy_vs_torch.py` compares the fast path with PyTorch's CPU convolution on the
# layer shapes of this course.
#
# ## 8. The softmax cross-entropy gradient
#
# The network ends with a linear layer producing logits $z$ and the mean cross-entropy
# $f = -\frac1N \sum_n \log \mathrm{softmax}(z_n)_{y_n}$. Its gradient is short:
# $\partial f / \partial z_n = (\mathrm{softmax}(z_n) - \mathrm{onehot}(y_n)) / N$.
#
# ### Exercise 5 (2 points): `softmax_cross_entropy_grad`
#
# `logits` has shape `(N, K)`, `labels` shape `(N,)` with values in `0..K-1`. Return
# $\partial f/\partial z$, shape `(N, K)`. Subtract each row's maximum before exponentiating, so that
# large logits do not overflow.

# %% nbgrader={"grade": false, "grade_id": "softmax_cross_entropy_grad", "locked": false, "schema_version": 3, "solution": true, "task": false}
def softmax_cross_entropy_grad(logits, labels):
    """logits: (N, K), labels: (N,) -> d(mean cross-entropy)/d logits: (N, K)."""
    ### BEGIN SOLUTION
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    probabilities[np.arange(len(labels)), labels] -= 1.0
    return probabilities / len(labels)
    ### END SOLUTION


# %% tags=["raises-exception"]
check_softmax_cross_entropy_grad(softmax_cross_entropy_grad)

# %% nbgrader={"grade": true, "grade_id": "softmax_cross_entropy_grad_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_softmax_cross_entropy_grad(softmax_cross_entropy_grad)
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(43)
_logits, _labels = _rng.normal(size=(6, 4)) * 500, _rng.integers(0, 4, size=6)  # large: needs the shift
_t = torch.tensor(_logits, requires_grad=True)
F.cross_entropy(_t, torch.tensor(_labels)).backward()
_got = np.asarray(softmax_cross_entropy_grad(_logits, _labels))
assert np.all(np.isfinite(_got)) and np.allclose(_got, _t.grad.numpy())
### END HIDDEN TESTS

# %% [markdown]
# ## 9. Payoff: a CNN in numpy, trained on Fashion-MNIST
#
# conv (8 filters 5×5) → ReLU → max pool 2×2 → flatten → linear (8·12·12 → 10) → softmax
# cross-entropy, trained with plain minibatch SGD. Every gradient comes from this lesson's formulas,
# through `course_utils.numpy_cnn`. First, a gradient check of the whole network on a few images
# (every entry of the small parameter arrays, 100 random entries of the big ones):

# %%
def init_params(rng, filters=8):
    return {"w1": rng.normal(size=(filters, 1, 5, 5)) * np.sqrt(2 / 25), "b1": np.zeros(filters),
            "w2": rng.normal(size=(10, filters * 12 * 12)) * np.sqrt(1 / (filters * 12 * 12)),
            "b2": np.zeros(10)}


def forward_backward(params, x, y):
    """Loss and gradients of the numpy CNN on a batch x: (N, 1, 28, 28), y: (N,)."""
    conv = nc.conv2d(x, params["w1"], params["b1"])
    activated = nc.relu(conv)
    pooled = nc.max_pool2d(activated, 2)
    flat = nc.flatten(pooled)
    logits = nc.linear(flat, params["w2"], params["b2"])
    loss, dlogits = nc.softmax_cross_entropy(logits, y)
    dflat, dw2, db2 = nc.linear_backward(dlogits, flat, params["w2"])
    dpooled = nc.flatten_backward(dflat, pooled.shape)
    dactivated = nc.max_pool2d_backward(dpooled, activated, 2)
    dconv = nc.relu_backward(dactivated, conv)
    _, dw1, db1 = nc.conv2d_backward(dconv, x, params["w1"])
    return loss, {"w1": dw1, "b1": db1, "w2": dw2, "b2": db2}, logits


(train_x, train_y), (val_x, val_y) = train_val_split(*load_fashion_mnist("train"), val_size=5_000)
test_x, test_y = load_fashion_mnist("test")  # measured once, at the very end
train_x, train_y, val_x, val_y, test_x, test_y = (
    t.numpy().astype(np.float64) if t.is_floating_point() else t.numpy()
    for t in (train_x, train_y, val_x, val_y, test_x, test_y))

few_x, few_y = train_x[:4], train_y[:4]


def sampled_numerical_gradient(loss_of, value, entries, h=1e-6):
    """Centered differences at the given flat indices only (a full check of w2's 11,520
    weights would cost 23,040 forward passes)."""
    numeric = []
    for index in entries:
        plus, minus = value.copy(), value.copy()
        plus.flat[index] += h
        minus.flat[index] -= h
        numeric.append((loss_of(plus) - loss_of(minus)) / (2 * h))
    return np.array(numeric)


def gradient_check(params, names=("w1", "b1", "w2", "b2"), samples=100):
    _, grads, _ = forward_backward(params, few_x, few_y)
    pick = np.random.default_rng(5)
    for name in names:
        def loss_of(value, name=name):
            return forward_backward({**params, name: value}, few_x, few_y)[0]
        size = params[name].size
        entries = np.arange(size) if size <= samples else pick.choice(size, samples, replace=False)
        numeric = sampled_numerical_gradient(loss_of, params[name], entries)
        error = nc.relative_error(numeric, grads[name].flat[entries])
        entrywise = nc.elementwise_relative_error(numeric, grads[name].flat[entries])
        print(f"  {name}: {len(entries):>3} of {size:>5} entries, {verdict(error)}; "
              f"CS231n's: {cs231n_verdict(entrywise)}")


params = init_params(np.random.default_rng(1))
print("biases initialised to 0:")
gradient_check(params)
conv_outputs = nc.conv2d(few_x, params["w1"], params["b1"])
print(f"conv outputs exactly 0 (ReLU's kink): {np.mean(conv_outputs == 0):.0%}")
print("conv biases initialised to 0.1:")
gradient_check({**params, "b1": np.full(8, 0.1)})

# %% [markdown]
# With zero biases the check **fails** for the conv bias `b1`, though the code is right. The
# Fashion-MNIST background is exactly 0, so on the background every conv output equals its bias,
# 0: exactly at ReLU's kink. The analytic gradient uses ReLU's derivative 0 there (PyTorch does
# too), while a centered difference straddles the kink and sees slope ½. Move the biases off the
# kink and all four gradients agree. Gradient checks should avoid kinks (ReLU at 0, max pooling
# ties), or use inputs where they are unlikely. (CS231n's entrywise error, section 6, reaches the
# same verdicts here: with kinks in the network its "fine" band is below $10^{-4}$.)
#
# ### Two sanity checks before training
#
# CS231n's assignments run two more checks before any long training run.
#
# **The loss at initialisation.** With small random weights every logit is near 0, the softmax gives
# each of the 10 classes about $1/10$, and the mean cross-entropy is about $-\ln(1/10) = \ln 10$. A
# loss far above $\ln 10$ at the start means large initial logits (weights too large, inputs not
# scaled); far below means the labels leak into the inputs. We measure it on 1,000 training images
# for 5 initialisations: the lesson's (`init_params`: He-scaled conv filters, a last layer with
# variance $1/D$) and the same with the last layer scaled down 100 times.

# %%
check_x, check_y = train_x[:1000], train_y[:1000]
for label, scale in [("the lesson's init", 1.0), ("last layer x 0.01", 0.01)]:
    losses = []
    for seed in range(5):
        start = init_params(np.random.default_rng(seed))
        losses.append(forward_backward({**start, "w2": start["w2"] * scale}, check_x, check_y)[0])
    close = np.abs(np.array(losses) - np.log(10)) < 0.05
    print(f"{label}: loss at init {np.mean(losses):.3f} ± {np.std(losses, ddof=1):.3f} (mean ± sd, 5 seeds); "
          f"within 0.05 of ln 10 = {np.log(10):.3f}: {bool(close.all())} ({close.sum()} of 5)")

# %% [markdown]
# Read the two lines together. The lesson's last layer is not "small" in CS231n's sense: it keeps
# the logits' spread at the size of its inputs', so the starting loss sits above $\ln 10$ by an
# amount that depends on the seed. Scaled down, the logits shrink to nearly 0 and the loss lands on
# $\ln 10$: the softmax, the labels and the mean are wired correctly. (The lesson keeps its own
# initialisation for training; it trains well, as the next cells show.)
#
# **Overfit a tiny subset.** A network with far more parameters than 50 labels and a correct
# backward pass must be able to memorise 50 images: full-batch gradient descent (each step one epoch) should reach 100%
# training accuracy. If it cannot, the gradients, the update or the data are broken, and training on
# all the data would only hide it. Three initialisations:

# %%
tiny_x, tiny_y = train_x[:50], train_y[:50]
parameter_count = sum(value.size for value in init_params(np.random.default_rng(0)).values())


def epochs_to_memorise(params, x, y, learning_rate=0.1, limit=300):
    """Full-batch gradient steps until every image of x is classified right; None if not within limit."""
    for epoch in range(limit + 1):
        _, grads, logits = forward_backward(params, x, y)
        if np.all(logits.argmax(axis=1) == y):
            return epoch
        for name in params:
            params[name] -= learning_rate * grads[name]
    return None


epochs_needed = [epochs_to_memorise(init_params(np.random.default_rng(seed)), tiny_x, tiny_y) for seed in range(3)]
print(f"{parameter_count:,} parameters, 50 images, learning rate 0.1, full-batch steps")
print(f"epochs to 100% training accuracy, per seed: {epochs_needed}")
print(f"every seed reached 100% within 300 epochs: {all(e is not None for e in epochs_needed)}")

# %% [markdown]
# Now training, with 5,000 training images held out for validation (the test set is measured once,
# after the last epoch). In quick mode (`COURSE_QUICK=1`, used by CI) the run is shortened; the
# stored outputs come from the full run.

# %%
# NBVAL_IGNORE_OUTPUT
# The numbers depend on COURSE_QUICK (CI runs the short version) and the timings on the machine.
train_size = quick_or_full(quick=2_000, full=20_000)
epochs = quick_or_full(quick=1, full=4)
batch_size, learning_rate = 64, 0.05
rng_train = np.random.default_rng(2)
params = init_params(np.random.default_rng(1))
history = {"loss": [], "val_accuracy": []}


def accuracy(params, x, y, batch=1000):
    correct = 0
    for start in range(0, len(x), batch):
        _, _, logits = forward_backward(params, x[start:start + batch], y[start:start + batch])
        correct += int((logits.argmax(axis=1) == y[start:start + batch]).sum())
    return correct / len(x)


start_time = time.perf_counter()
for epoch in range(epochs):
    order = rng_train.permutation(train_size)
    for start in range(0, train_size, batch_size):
        batch = order[start:start + batch_size]
        loss, grads, _ = forward_backward(params, train_x[batch], train_y[batch])
        for name in params:
            params[name] -= learning_rate * grads[name]
        history["loss"].append(loss)
    history["val_accuracy"].append(accuracy(params, val_x, val_y))
    print(f"epoch {epoch + 1}: last batch loss {loss:.3f}, validation accuracy "
          f"{history['val_accuracy'][-1]:.2%}, {time.perf_counter() - start_time:.0f} s")
numpy_accuracy = accuracy(params, test_x, test_y)
print(f"numpy CNN: {numpy_accuracy:.2%} test accuracy (measured once) after {epochs} epoch(s) "
      f"on {train_size:,} images")

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.2))
ax_loss.plot(np.convolve(history["loss"], np.ones(20) / 20, mode="valid"))
ax_loss.set_xlabel("SGD step")
ax_loss.set_ylabel("training loss (20-step mean)")
ax_acc.plot(range(1, epochs + 1), 100 * np.array(history["val_accuracy"]), "o-")
ax_acc.set_xlabel("epoch")
ax_acc.set_ylabel("validation accuracy (%)")
ax_acc.set_xticks(range(1, epochs + 1))
fig.suptitle("numpy CNN on Fashion-MNIST")
fig.tight_layout()
plt.show()

# %% [markdown]
# ### The same network in PyTorch
#
# Same architecture, same initial weights, same batches, same learning rate. If the numpy
# gradients are right, the two runs must take the *same* steps: we compare the first 50 losses.

# %%
torch_model = nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 12 * 12, 10)).double()
start_params = init_params(np.random.default_rng(1))
with torch.no_grad():
    torch_model[0].weight.copy_(torch.tensor(start_params["w1"]))
    torch_model[0].bias.copy_(torch.tensor(start_params["b1"]))
    torch_model[4].weight.copy_(torch.tensor(start_params["w2"]))
    torch_model[4].bias.copy_(torch.tensor(start_params["b2"]))
optimizer = torch.optim.SGD(torch_model.parameters(), lr=learning_rate)
numpy_params = {name: value.copy() for name, value in start_params.items()}
order = np.random.default_rng(3).permutation(len(train_x))
numpy_losses, torch_losses = [], []
for step in range(50):
    batch = order[step * batch_size:(step + 1) * batch_size]
    loss, grads, _ = forward_backward(numpy_params, train_x[batch], train_y[batch])
    for name in numpy_params:
        numpy_params[name] -= learning_rate * grads[name]
    numpy_losses.append(loss)
    torch_loss = F.cross_entropy(torch_model(torch.tensor(train_x[batch])), torch.tensor(train_y[batch]))
    optimizer.zero_grad()
    torch_loss.backward()
    optimizer.step()
    torch_losses.append(torch_loss.item())
gap = max(abs(a - b) for a, b in zip(numpy_losses, torch_losses))
print(f"loss at steps 1, 10, 50: numpy {numpy_losses[0]:.6f} {numpy_losses[9]:.6f} {numpy_losses[49]:.6f}")
print(f"                         torch {torch_losses[0]:.6f} {torch_losses[9]:.6f} {torch_losses[49]:.6f}")
print(f"largest difference over 50 steps below 1e-9: {gap < 1e-9}")

# %% [markdown]
# The numpy network and PyTorch take the same 50 steps to within rounding: the derivations of this
# lesson are exactly what autograd computes.
#
# ## 10. Two more layers: batch normalisation and dropout
#
# The lecture notes mention normalisation (AlexNet) and dropout (in AlexNet's fully connected
# layers); lesson 07 uses batch norm in PyTorch. Here are their backward passes, derived like the
# conv layer's and checked the same way.
#
# ### Batch normalisation
#
# In training mode batch norm normalises each channel with the statistics of the current batch:
# per **channel** $c$ over $(n, h, w)$ for conv feature maps $N \times C \times H \times W$, per
# **feature** over $n$ for $N \times D$. Fix one channel and call its $m$ values $x_k$ ($m = NHW$ or
# $N$):
#
# $$\mu = \frac1m \sum_k x_k, \quad \sigma^2 = \frac1m \sum_k (x_k - \mu)^2, \quad
#   \hat\sigma = \sqrt{\sigma^2 + \varepsilon}, \quad \hat x_k = \frac{x_k - \mu}{\hat\sigma}, \quad
#   y_k = \gamma \hat x_k + \beta.$$
#
# With $g_k = \partial f / \partial y_k$ the upstream gradient, the parameters are easy:
# $\partial f/\partial\beta = \sum_k g_k$ and $\partial f/\partial\gamma = \sum_k g_k \hat x_k$. The input
# is not, because every $x_j$ also moves $\mu$ and $\hat\sigma$, which every $\hat x_k$ uses. From
# $\partial\mu/\partial x_j = 1/m$ and $\partial \sigma^2/\partial x_j = \frac2m\sum_k (x_k - \mu)(\delta_{kj} - \frac1m)
# = \frac2m (x_j - \mu)$ (the sum of $x_k - \mu$ is 0), so $\partial\hat\sigma/\partial x_j = \hat x_j / m$:
#
# $$\frac{\partial \hat x_k}{\partial x_j} = \frac{1}{\hat\sigma}\Big(\delta_{kj} - \frac1m - \frac{\hat x_k \hat x_j}{m}\Big),
# \qquad
# \frac{\partial f}{\partial x_j} = \sum_k \gamma g_k \frac{\partial \hat x_k}{\partial x_j}
# = \frac{\gamma}{m \hat\sigma}\Big(m\, g_j - \sum_k g_k - \hat x_j \sum_k g_k \hat x_k\Big).$$
#
# The two subtracted terms are the paths through $\mu$ and $\hat\sigma$. They make the input gradient
# of each channel sum to 0 (shifting a channel's inputs does not change its output, so the loss
# cannot change along that direction) and, for $\varepsilon = 0$, orthogonal to $\hat x$ (nor does
# scaling them; $\varepsilon > 0$ breaks this slightly, since $\sum_k \hat x_k^2 = m\,\sigma^2/(\sigma^2 + \varepsilon)$).
#
# **Eval mode** cannot use batch statistics (one test image has none, and a prediction should not
# depend on its batch). Training keeps running averages, $r \leftarrow (1 - 0.1)\,r + 0.1\,\text{batch}$
# (PyTorch's default momentum, with the unbiased variance $\sigma^2 m/(m-1)$), and eval mode
# normalises with them: a fixed affine map per channel, whose input gradient is
# $\gamma g / \sqrt{\sigma^2_{\text{running}} + \varepsilon}$. `nc.batchnorm` and `nc.batchnorm_backward`
# implement both modes, against PyTorch and finite differences:

# %%
def batchnorm_loss(inputs, index, value, upstream):
    """sum(batchnorm(x, gamma, beta) * upstream) with inputs[index] replaced by value."""
    args = list(inputs)
    args[index] = value
    return float(np.sum(nc.batchnorm(*args) * upstream))


def check_batchnorm(shape, rng):
    """Training-mode batch norm on random data against torch and finite differences: verdicts."""
    x = rng.normal(size=shape) * 3 + 2
    gamma, beta, upstream = rng.normal(size=shape[1]), rng.normal(size=shape[1]), rng.normal(size=shape)
    running = [np.zeros(shape[1]), np.ones(shape[1])]
    torch_running = [torch.tensor(r) for r in running]  # copies; torch updates them in place
    out = nc.batchnorm(x, gamma, beta, running_mean=running[0], running_var=running[1])
    grads = nc.batchnorm_backward(upstream, x, gamma)
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    torch_out = F.batch_norm(tensors[0], *torch_running, tensors[1], tensors[2], training=True)
    torch_out.backward(torch.tensor(upstream))
    numeric = [nc.numerical_gradient(lambda v, i=i: batchnorm_loss((x, gamma, beta), i, v, upstream), a.copy(),
                                     1e-5) for i, a in enumerate((x, gamma, beta))]
    axes = (0, 2, 3) if len(shape) == 4 else (0,)
    x_hat = nc.batchnorm(x, np.ones(shape[1]), np.zeros(shape[1]), eps=0.0)
    dx_without_eps = nc.batchnorm_backward(upstream, x, gamma, eps=0.0)[0]
    return {
        "output, dx, dgamma, dbeta agree with torch within 1e-10":
            nc.relative_error(out, torch_out.detach().numpy()) < 1e-10
            and all(nc.relative_error(g, t.grad.numpy()) < 1e-10 for g, t in zip(grads, tensors)),
        "dx, dgamma, dbeta agree with finite differences (relative error < 1e-7)":
            all(nc.relative_error(g, n) < 1e-7 for g, n in zip(grads, numeric)),
        "running mean and variance agree with torch's within 1e-12":
            all(nc.relative_error(r, t.numpy()) < 1e-12 for r, t in zip(running, torch_running)),
        "dx sums to 0 in every channel (within 1e-10)": bool(np.allclose(grads[0].sum(axis=axes), 0, atol=1e-10)),
        "with eps = 0, dx is orthogonal to x_hat in every channel (within 1e-10)":
            bool(np.allclose((dx_without_eps * x_hat).sum(axis=axes), 0, atol=1e-10)),
    }


bn_rng = np.random.default_rng(6)
for layout, shape in [("conv maps N×C×H×W, per channel", (8, 3, 5, 5)), ("features N×D, per feature", (16, 6))]:
    print(f"{layout}:")
    for claim, holds in check_batchnorm(shape, bn_rng).items():
        print(f"  {claim}: {holds}")

# %% [markdown]
# Eval mode after some training: 50 batches from a distribution with mean 2 and standard deviation
# 3 in every channel. The running statistics approach those values, and the eval-mode layer then
# agrees with PyTorch's, forward and backward:

# %%
running_mean, running_var = np.zeros(3), np.ones(3)
torch_mean, torch_var = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
gamma, beta = np.ones(3), np.zeros(3)
for _ in range(50):
    batch = bn_rng.normal(size=(16, 3, 4, 4)) * 3 + 2
    nc.batchnorm(batch, gamma, beta, running_mean=running_mean, running_var=running_var)
    F.batch_norm(torch.tensor(batch), torch_mean, torch_var, training=True)
close = np.allclose(running_mean, 2, atol=0.3) and np.allclose(np.sqrt(running_var), 3, atol=0.3)
print(f"running mean {np.round(running_mean, 1)}, running std {np.round(np.sqrt(running_var), 1)} "
      f"(data: 2 and 3; within 0.3: {close})")
test_batch, upstream = bn_rng.normal(size=(4, 3, 4, 4)), bn_rng.normal(size=(4, 3, 4, 4))
statistics = {"running_mean": running_mean, "running_var": running_var}
eval_out = nc.batchnorm(test_batch, gamma, beta, training=False, **statistics)
eval_dx = nc.batchnorm_backward(upstream, test_batch, gamma, training=False, **statistics)[0]
torch_eval_dx, = autograd(lambda x_: F.batch_norm(x_, torch_mean, torch_var, training=False),
                          test_batch, upstream=upstream)
torch_eval_out = F.batch_norm(torch.tensor(test_batch), torch_mean, torch_var, training=False).numpy()
agree = nc.relative_error(eval_out, torch_eval_out) < 1e-10 and nc.relative_error(eval_dx, torch_eval_dx) < 1e-10
print(f"eval mode: output and dx agree with torch within 1e-10: {agree}")

# %% [markdown]
# ### Dropout
#
# Inverted dropout, in training, keeps each value with probability $1 - p$ and divides it by $1 - p$:
# $y = x \odot M$ with $M_k = B_k / (1 - p)$, $B_k \sim \text{Bernoulli}(1 - p)$. Then
# $\mathbb{E}[y_k] = x_k$, so eval mode is the identity (no rescaling at test time). For a fixed mask
# the layer is linear in $x$ and $\partial f/\partial x = g \odot M$: the gradient flows only through the
# units that were kept, scaled the same way. `nc.dropout` draws the mask from a seeded numpy
# generator and returns it; the backward pass needs that same mask.

# %%
p_drop = 0.3
x = np.random.default_rng(7).normal(size=(200, 500))
out, mask = nc.dropout(x, p_drop, np.random.default_rng(8))
print(f"p = {p_drop}: fraction dropped {np.mean(mask == 0):.3f}, kept values scaled by "
      f"{mask.max():.4f} = 1/(1 - p), mean of the mask {mask.mean():.3f}")
print("the same seed gives the same mask:",
      np.array_equal(mask, nc.dropout(x, p_drop, np.random.default_rng(8))[1]))
small_x, small_upstream = x[:6, :7].copy(), np.random.default_rng(9).normal(size=(6, 7))
_, small_mask = nc.dropout(small_x, p_drop, np.random.default_rng(10))
numeric = nc.numerical_gradient(lambda v: float(np.sum(v * small_mask * small_upstream)), small_x.copy())
print("backward agrees with finite differences (relative error < 1e-8):",
      nc.relative_error(nc.dropout_backward(small_upstream, small_mask), numeric) < 1e-8)
torch.manual_seed(0)
x_t = torch.tensor(small_x, requires_grad=True)
F.dropout(x_t, p_drop, training=True).backward(torch.tensor(small_upstream))
torch.manual_seed(0)
torch_mask = F.dropout(torch.ones(small_x.shape, dtype=torch.float64), p_drop, training=True).numpy()
print("with torch's mask, our backward equals torch's gradient:",
      np.allclose(nc.dropout_backward(small_upstream, torch_mask), x_t.grad.numpy(), rtol=1e-14, atol=0))
print("eval mode is the identity:", np.array_equal(nc.dropout(x, p_drop, training=False)[0], x))

# %% [markdown]
# ## Summary, and what the notes get loose
#
# * $\partial f/\partial G$ = cross-correlation of the input with the upstream gradient;
#   $\partial f/\partial I$ = full convolution of the upstream gradient with the filter, i.e. full
#   cross-correlation with the filter rotated by 180° (a transposed convolution, $M^\top$).
# * Stride: dilate the upstream gradient; padding: crop; bias: sum. Max pooling routes, average
#   pooling spreads. im2col turns the layer into one matrix product; col2im, its backward, adds
#   overlapping patch gradients.
# * Say which relative error a threshold refers to: ours (largest difference over largest
#   magnitude) never exceeds CS231n's entrywise one, so it passes some bugs in small entries that
#   theirs flags, and does not flag exact zeros that theirs does.
# * Before training: the loss at a small initialisation is $\ln K$ for $K$ classes, and a correct
#   network overfits a tiny subset.
# * Batch norm's input gradient has two extra terms, the paths through the batch mean and variance;
#   dropout's backward reuses the forward mask.
#
# Checked against the notes in this lesson:
# * §1.3.1's formulas for $\partial f/\partial G$ and $\partial f/\partial I$. ✔ (numerically, above)
# * The summation ranges switch from $0 \ldots h-1$ (§1.1) to $1 \ldots w$ (§1.3), and the channel
#   sum from $c \in \{1 \ldots D\}$ to $c \in \{r, g, b\}$. (loose)
# * §1.3.2's $\partial L/\partial I_j = \mathbb{1}(I_j = \max)$ double-counts on ties; frameworks pick
#   one maximum. (loose)
