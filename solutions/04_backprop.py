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
# * extend them to stride and padding, and to max and average pooling;
# * check any gradient against finite differences and against `torch.autograd`;
# * train a CNN written in numpy alone, and match it step for step with PyTorch.
#
# **Time.** About 2 hours. Four graded exercises (⭐), each with an instant check. If you are
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
    check_conv_backward_dw,
    check_conv_backward_dx,
    check_max_pool_backward,
    check_softmax_cross_entropy_grad,
)
from course_utils.convolution import conv_matrix
from course_utils.data import load_fashion_mnist
from course_utils.runtime import quick_or_full, seed_everything

rng = seed_everything(0)
np.set_printoptions(precision=4, suppress=True, linewidth=110)


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
# `course_utils.numpy_cnn` implements all of it, in two versions: `method="naive"`, loops that
# follow the formulas line by line, and `method="fast"`, vectorized. Both against autograd on a
# batch with several channels and filters, stride 2 and padding 1 (float64; relative error is
# $\max|a - b| / \max(|a| + |b|)$):

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
# ### Exercise 3 (2 points): `max_pool_backward`
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
# ## 7. Naive vs fast
#
# The loops mirror the math; the fast path reorganises the same arithmetic into one big matrix
# product (im2col) and a scatter over the filter offsets (col2im).

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
# ### Exercise 4 (2 points): `softmax_cross_entropy_grad`
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


train_x, train_y = load_fashion_mnist("train")
test_x, test_y = load_fashion_mnist("test")
train_x, train_y, test_x, test_y = (t.numpy().astype(np.float64) if t.is_floating_point() else t.numpy()
                                    for t in (train_x, train_y, test_x, test_y))

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


def verdict(error):
    """A relative error as a verdict with a bound (its last digits depend on rounding)."""
    if error < 1e-7:
        return "agrees with finite differences (relative error < 1e-7)"
    if error > 1e-3:
        return "DISAGREES with finite differences (relative error > 1e-3)"
    return "unclear (relative error between 1e-7 and 1e-3)"


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
        print(f"  {name}: {len(entries):>3} of {size:>5} entries, {verdict(error)}")


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
# ties), or use inputs where they are unlikely.
#
# Now training. In quick mode (`COURSE_QUICK=1`, used by CI) the run is shortened; the stored
# outputs come from the full run.

# %%
# NBVAL_IGNORE_OUTPUT
# The numbers depend on COURSE_QUICK (CI runs the short version) and the timings on the machine.
train_size = quick_or_full(quick=2_000, full=20_000)
epochs = quick_or_full(quick=1, full=4)
batch_size, learning_rate = 64, 0.05
rng_train = np.random.default_rng(2)
params = init_params(np.random.default_rng(1))
history = {"loss": [], "test_accuracy": []}


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
    history["test_accuracy"].append(accuracy(params, test_x, test_y))
    print(f"epoch {epoch + 1}: last batch loss {loss:.3f}, test accuracy {history['test_accuracy'][-1]:.2%}, "
          f"{time.perf_counter() - start_time:.0f} s")
numpy_accuracy = history["test_accuracy"][-1]
print(f"numpy CNN: {numpy_accuracy:.2%} test accuracy after {epochs} epoch(s) on {train_size:,} images")

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.2))
ax_loss.plot(np.convolve(history["loss"], np.ones(20) / 20, mode="valid"))
ax_loss.set_xlabel("SGD step")
ax_loss.set_ylabel("training loss (20-step mean)")
ax_acc.plot(range(1, epochs + 1), history["test_accuracy"], "o-")
ax_acc.set_xlabel("epoch")
ax_acc.set_ylabel("test accuracy")
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
# ## Summary, and what the notes get loose
#
# * $\partial f/\partial G$ = cross-correlation of the input with the upstream gradient;
#   $\partial f/\partial I$ = full convolution of the upstream gradient with the filter, i.e. full
#   cross-correlation with the filter rotated by 180° (a transposed convolution, $M^\top$).
# * Stride: dilate the upstream gradient; padding: crop; bias: sum. Max pooling routes, average
#   pooling spreads.
#
# Checked against the notes in this lesson:
# * §1.3.1's formulas for $\partial f/\partial G$ and $\partial f/\partial I$. ✔ (numerically, above)
# * The summation ranges switch from $0 \ldots h-1$ (§1.1) to $1 \ldots w$ (§1.3), and the channel
#   sum from $c \in \{1 \ldots D\}$ to $c \in \{r, g, b\}$. (loose)
# * §1.3.2's $\partial L/\partial I_j = \mathbb{1}(I_j = \max)$ double-counts on ties; frameworks pick
#   one maximum. (loose)
