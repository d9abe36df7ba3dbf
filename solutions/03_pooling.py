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
# # Lesson 03 — Pooling: what it keeps and what it throws away
#
# **Lecture notes covered.** *Convolutional Neural Networks*, §1.2 "Pooling Layers" (max and
# average pooling, figure 7; spatial pooling and translation invariance, figure 8;
# cross-channel pooling and invariance to rotations, figure 9); *Lecture 4: ConvNets*, the
# "Pooling" bullet of "Convolution layers". (Derivatives of pooling layers are lesson 04.)
#
# **After this lesson you can**
# * compute max, average and global average pooling by hand, in loops and vectorized, and
#   predict the output size;
# * say, with numbers, how much spatial pooling makes a representation robust to small shifts,
#   which window sizes buy how much, and where the invariance is exact and where it is not;
# * build a cross-channel (maxout) pooling layer over rotated copies of a filter and measure
#   which rotations it is invariant to, and which it is not;
# * pool with overlapping windows and padding (AlexNet's and ResNet's 3×3, stride 2) and say
#   what fills the padding for max and for average pooling;
# * weigh pooling against a strided convolution, in a fixed feature stage and in a trained CNN
#   (several seeds, validation split, test set once), and say what information pooling discards.
#
# **Time.** About 139 minutes: 4,281 words to read (29 min at 150 words a minute), 492 lines of code to read and run (62 min at 8 a minute), 3 graded exercises (45 min), and 3 min of computing for the whole notebook on a 2-core CPU, measured when it was built (`course_tools.lesson_time`).
#
# Three graded exercises (⭐), each with an instant check.
#
# **How the exercises work.** Write the function in the cell marked `YOUR CODE HERE`, run it,
# then run the check below it: it says in words what is wrong. The cell after that is graded.
# Every later cell uses the course's reference implementation, so if you are stuck you can
# still run the rest of the notebook (*Run → Run Selected Cell and All Below*).

# %%
# %matplotlib inline
# First, before torch: course_utils.training makes torch's OpenMP threads wait passively, which
# on a busy CPU trains several times faster (section 5 trains small CNNs).
import course_utils.training  # noqa: F401

# isort: split
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import pooling as ref  # the reference implementations
from course_utils.checks import check_avg_pool2d, check_cross_channel_max, check_max_pool2d_single
from course_utils.convolution import conv2d
from course_utils.data import CLASS_NAMES, load_fashion_mnist, train_val_split
from course_utils.evaluation import accuracy_under_shift
from course_utils.geometry import pool_windows
from course_utils.kernels import KERNELS
from course_utils.plots import show_images
from course_utils.runtime import quick_or_full, seed_everything
from course_utils.training import default_optimizer, evaluate, fit
from course_utils.transforms import glyph_image, rotate_image, shift_image
from course_utils.widgets import PoolingExplorer

rng = seed_everything(0)
np.set_printoptions(precision=3, suppress=True)
torch.set_printoptions(precision=3, sci_mode=False)
plt.rcParams["figure.dpi"] = 100
print("torch", torch.__version__.split("+")[0])

# %% [markdown]
# ## 1. Max and average pooling
#
# The notes: a pooling layer slides "a fixed window across a layer", choosing "one value that
# effectively represents all of the units captured by the window": the **largest** (max pooling)
# or the **average** (average pooling), and "in practice, we stride pooling layers across the
# image with the stride equal to the size of the pooling layer" (a common choice, not the rule:
# see *Overlapping windows and padding* below). The notes' figure 7, in numbers: a 4×4 map,
# 2×2 windows, stride 2.

# %%
feature_map = np.array([[1.0, 1, 2, 4],
                        [5, 6, 7, 8],
                        [3, 2, 1, 0],
                        [1, 2, 3, 4]])
print("input:\n", feature_map)
print("2×2 max pooling, stride 2:\n", ref.max_pool2d(feature_map[None, None], 2)[0, 0])
print("2×2 average pooling, stride 2:\n", ref.avg_pool2d(feature_map[None, None], 2)[0, 0])

# %% [markdown]
# Pooling acts on every channel separately: a `(N, C, H, W)` batch of maps stays `(N, C, ·, ·)`.
# "None of these properties actually involve any weights": PyTorch's pooling layers have no
# parameters to learn, a convolution with the same window has many.

# %%
layers = {"nn.MaxPool2d(2)": nn.MaxPool2d(2), "nn.AvgPool2d(2)": nn.AvgPool2d(2),
          "nn.Conv2d(64, 64, 2, stride=2)": nn.Conv2d(64, 64, 2, stride=2)}
for name, layer in layers.items():
    print(f"{name:>31}: {sum(p.numel() for p in layer.parameters()):>6,} parameters, "
          f"output {tuple(layer(torch.zeros(1, 64, 28, 28)).shape)}")

# %% [markdown]
# ### Output size
#
# A pooling window is a kernel, so lesson 01's formula holds with no padding:
# $n_{\text{out}} = \lfloor (n - k)/s \rfloor + 1$, which for stride $s = k$ is $\lfloor n/k \rfloor$.
# When $k$ does not divide $n$ the last rows and columns fall in no window and are ignored
# (PyTorch's default, `ceil_mode=False`):

# %%
for k in (2, 3, 4, 5, 7):
    n_out = ref.pool_output_size(28, k)
    torch_out = F.max_pool2d(torch.zeros(1, 1, 28, 28), k).shape[-1]
    print(f"28×28, window {k}: {n_out}×{n_out} (torch: {torch_out}), "
          f"rows and columns never seen: {28 - n_out * k}")

# %% [markdown]
# ### Overlapping windows and padding
#
# The notes' "in practice … the stride equal to the size of the pooling layer" is loose. It
# describes LeNet and VGG (2×2 windows, stride 2), but not every network:
# * **AlexNet** (Krizhevsky et al., 2012) pools 3×3 windows with stride 2, so that neighbouring
#   windows overlap by a row or a column; its authors report slightly lower error and slightly
#   less overfitting than with non-overlapping 2×2 pooling. GoogLeNet also pools 3×3 windows with
#   stride 2.
# * **ResNet** (He et al., 2016) has a single 3×3, stride-2 max pooling with padding 1 after its
#   first convolution, and otherwise downsamples with stride-2 convolutions; the all-convolutional
#   net of section 5 has no spatial pooling at all.
#
# The output size is lesson 01's formula with padding $p$:
# $n_{\text{out}} = \lfloor (n + 2p - k)/s \rfloor + 1$. With $s < k$ an input pixel lies in up to
# $\lceil k/s \rceil^2$ windows:

# %%
for name, n, k, s, p in [("the notes, VGG: 2×2, stride 2", 224, 2, 2, 0),
                         ("AlexNet: 3×3, stride 2", 55, 3, 2, 0),
                         ("ResNet: 3×3, stride 2, padding 1", 112, 3, 2, 1)]:
    n_out = ref.pool_output_size(n, k, s, p)
    torch_out = F.max_pool2d(torch.zeros(1, 1, n, n), k, s, p).shape[-1]
    per_axis = -(-k // s)  # ceil(k / s): windows that cover one row
    print(f"{name:>33}: {n}×{n} -> {n_out}×{n_out} (torch: {torch_out}); "
          f"windows covering one pixel: up to {per_axis ** 2}")

# %% [markdown]
# **Padding** adds $p$ rows and columns on each side (at most half the window, so that no window
# covers padding alone). What goes into them decides what a border window computes:
# * **max pooling** pads with $-\infty$ (PyTorch does): the padding never wins, and a border
#   window keeps the largest of its real values. Zeros would be wrong wherever a map can be
#   negative (before a ReLU, after batch normalisation): a window of negative values would output
#   0, a value that is in none of them;
# * **average pooling** pads with zeros, and the question is the divisor: with
#   `count_include_pad=True` (PyTorch's default) the zeros count, every window divides by $k^2$
#   and the averages shrink towards 0 at the border; with `False` a window divides by the number
#   of real values it covers.
#
# `course_utils.pooling` takes `padding` (and `count_include_pad`) as PyTorch does. On a small
# map, 3×3 windows, stride 2, padding 1:

# %%
negative = -np.arange(1.0, 17.0).reshape(1, 1, 4, 4)  # a map whose values are all negative
zero_padded = np.pad(negative, ((0, 0), (0, 0), (1, 1), (1, 1)))
print("map:\n", negative[0, 0])
print("max pooling, padding -inf:\n", ref.max_pool2d(negative, 3, 2, 1)[0, 0])
print("max pooling, padding 0 (wrong: 0 is none of the map's values):\n",
      ref.max_pool2d(zero_padded, 3, 2)[0, 0] + 0.0)
ones = np.ones((1, 1, 4, 4))
for include in (True, False):
    print(f"average pooling of a map of ones, count_include_pad={include}:\n",
          ref.avg_pool2d(ones, 3, 2, 1, count_include_pad=include)[0, 0])

# %% [markdown]
# The corner windows of the map of ones cover 4 real values and 5 padded ones, the edge windows 6
# and 3. Our functions agree with PyTorch's for overlapping, padded and non-square windows, in
# loops and vectorized:

# %%
x_pad_check = np.random.default_rng(3).normal(size=(2, 3, 9, 8)) - 1.0  # mostly negative values
t_pad_check = torch.tensor(x_pad_check)
for k, s, p in [(3, 2, 1), (3, 2, 0), (2, 2, 1), ((3, 5), (2, 1), (1, 2))]:
    max_agree = all(np.allclose(pool(x_pad_check, k, s, p), F.max_pool2d(t_pad_check, k, s, p).numpy(),
                                rtol=1e-12, atol=1e-12) for pool in (ref.max_pool2d, ref.max_pool2d_naive))
    avg_agree = all(np.allclose(pool(x_pad_check, k, s, p, count_include_pad=include),
                                F.avg_pool2d(t_pad_check, k, s, p, count_include_pad=include).numpy(),
                                rtol=1e-12, atol=1e-12)
                    for pool in (ref.avg_pool2d, ref.avg_pool2d_naive) for include in (True, False))
    print(f"window {k!s:>6}, stride {s!s:>6}, padding {p!s:>6}: output {ref.max_pool2d(x_pad_check, k, s, p).shape}, "
          f"== torch: max {max_agree}, average (both divisors) {avg_agree}")

# %% [markdown]
# ## 2. Implementing it ⭐
#
# ### Exercise 1 (3 points): `max_pool2d_single`
#
# Write max pooling for one map `image` of shape `(H, W)` with a `k × k` window and stride `k`:
# `out[i, j]` is the largest value of `image[i*k:(i+1)*k, j*k:(j+1)*k]`. Windows that do not fit
# completely are dropped, so the output has shape `(H // k, W // k)`. Loops are fine.

# %% nbgrader={"grade": false, "grade_id": "max_pool2d_single", "locked": false, "schema_version": 3, "solution": true, "task": false}
def max_pool2d_single(image, k):
    """image: (H, W), window k x k, stride k -> (H // k, W // k)."""
    ### BEGIN SOLUTION
    H, W = image.shape
    out = np.zeros((H // k, W // k))
    for i in range(H // k):
        for j in range(W // k):
            out[i, j] = image[i * k:(i + 1) * k, j * k:(j + 1) * k].max()
    return out
    ### END SOLUTION


# %% tags=["raises-exception"]
check_max_pool2d_single(max_pool2d_single)

# %% nbgrader={"grade": true, "grade_id": "max_pool2d_single_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_max_pool2d_single(max_pool2d_single)
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(2025)
for _shape, _k in [((8, 8), 2), ((9, 7), 3), ((5, 5), 5), ((6, 10), 4), ((3, 8), 1)]:
    _image = _rng.normal(size=_shape)
    _expected = F.max_pool2d(torch.tensor(_image)[None, None], _k)[0, 0].numpy()
    _got = np.asarray(max_pool2d_single(_image.copy(), _k), dtype=float)
    assert _got.shape == _expected.shape and np.allclose(_got, _expected), (_shape, _k)
### END HIDDEN TESTS

# %% [markdown]
# ### Vectorized, for any window and stride
#
# The course's `max_pool2d` takes a batch `(N, C, H, W)`, any window `(kh, kw)` and any stride.
# It asks numpy for a view of every window (no copy; `course_utils.geometry.pool_windows`) and
# reduces the last two axes:

# %%
print(inspect.getsource(pool_windows))
print(inspect.getsource(ref.max_pool2d))

# %% [markdown]
# Loops, vectorized and PyTorch agree, also for non-square windows and strides that differ from
# the window (then windows overlap, or skip pixels):

# %%
x_batch = rng.normal(size=(4, 3, 20, 17))
for kernel_size, stride in [(2, None), ((3, 2), None), ((3, 3), (1, 2)), ((2, 4), (3, 1))]:
    torch_stride = kernel_size if stride is None else stride
    agree = []
    for ours_naive, ours, theirs in [(ref.max_pool2d_naive, ref.max_pool2d, F.max_pool2d),
                                     (ref.avg_pool2d_naive, ref.avg_pool2d, F.avg_pool2d)]:
        expected = theirs(torch.tensor(x_batch), kernel_size, stride=torch_stride).numpy()
        agree.append(np.allclose(ours_naive(x_batch, kernel_size, stride), expected, rtol=1e-12, atol=1e-12)
                     and np.allclose(ours(x_batch, kernel_size, stride), expected, rtol=1e-12, atol=1e-12))
    print(f"window {kernel_size!s:>6}, stride {stride!s:>6}: output {ref.max_pool2d(x_batch, kernel_size, stride).shape}, "
          f"max: loops == vectorized == torch {agree[0]}, average: {agree[1]}")

# %%
# NBVAL_IGNORE_OUTPUT
# Timings depend on the machine and its load, so nbval does not compare this output.
import timeit

for label, fn in [("loops", lambda: ref.max_pool2d_naive(x_batch, 2)),
                  ("vectorized numpy", lambda: ref.max_pool2d(x_batch, 2)),
                  ("torch", lambda: F.max_pool2d(torch.tensor(x_batch), 2))]:
    seconds = min(timeit.repeat(fn, number=1, repeat=3 if label == "loops" else 50))
    print(f"{label:>17}: {seconds * 1e3:8.3f} ms")

# %% [markdown]
# ### Exercise 2 (2 points): `avg_pool2d`, vectorized
#
# Average pooling of a batch `x` of shape `(N, C, H, W)`, window `k × k`, stride `k`, output
# `(N, C, H // k, W // k)`. Write it without loops over pixels, with one `reshape`:
# crop `x` to `H_out * k` rows and `W_out * k` columns, reshape to
# `(N, C, H_out, k, W_out, k)`, so that axes 3 and 5 run over the rows and columns *inside*
# a window, and average over them. (Think about which axis must come first in each pair.)

# %% nbgrader={"grade": false, "grade_id": "avg_pool2d", "locked": false, "schema_version": 3, "solution": true, "task": false}
def avg_pool2d(x, k):
    """x: (N, C, H, W), window k x k, stride k -> (N, C, H // k, W // k)."""
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    H_out, W_out = H // k, W // k
    blocks = x[:, :, :H_out * k, :W_out * k].reshape(N, C, H_out, k, W_out, k)
    return blocks.mean(axis=(3, 5))
    ### END SOLUTION


# %% tags=["raises-exception"]
check_avg_pool2d(avg_pool2d)

# %% nbgrader={"grade": true, "grade_id": "avg_pool2d_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_avg_pool2d(avg_pool2d)
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(2026)
for _shape, _k in [((2, 3, 8, 8), 2), ((1, 1, 9, 7), 3), ((3, 2, 10, 10), 5), ((1, 2, 4, 4), 4), ((2, 2, 3, 5), 1)]:
    _x = _rng.normal(size=_shape)
    _expected = F.avg_pool2d(torch.tensor(_x), _k).numpy()
    _got = np.asarray(avg_pool2d(_x.copy(), _k), dtype=float)
    assert _got.shape == _expected.shape and np.allclose(_got, _expected), (_shape, _k)
### END HIDDEN TESTS

# %% [markdown]
# ### Global average pooling
#
# The extreme case: one window as large as the map. Each channel becomes one number,
# `(N, C, H, W) → (N, C)`. GoogLeNet and ResNet (lesson 06) end with it instead of large fully
# connected layers. It equals PyTorch's `adaptive_avg_pool2d(x, 1)` and an average pooling whose
# window is the whole map:

# %%
maps = rng.normal(size=(2, 5, 7, 6))
gap = ref.global_avg_pool(maps)
print("shape:", maps.shape, "->", gap.shape)
print("== adaptive_avg_pool2d(x, 1):", np.allclose(gap, F.adaptive_avg_pool2d(torch.tensor(maps), 1).numpy()[:, :, 0, 0]))
print("== avg_pool2d with a 7×6 window:", np.allclose(gap, ref.avg_pool2d(maps, (7, 6))[:, :, 0, 0]))

# %% [markdown]
# ### "Pooling layers directly reduce the number of neurons": counted
#
# The notes put pooling next to weight sharing as a way to reduce variance. Pooling removes
# *neurons* (activations), not weights: a conv layer's weights do not depend on the size of its
# input. Weights shrink only in a layer whose size depends on the map, such as a fully connected
# classifier after the last pooling. We count both for 8 feature maps of a 28×28 image.

# %%
conv_after = nn.Conv2d(8, 16, 3, padding=1)
print(f"{'pooling':>12} {'neurons':>8} {'next conv weights':>18} {'FC → 10 weights':>16}")
for k in (1, 2, 4, 7):
    side = ref.pool_output_size(28, k)
    neurons = 8 * side * side
    print(f"{'none' if k == 1 else f'{k}×{k}':>12} {neurons:>8,} {conv_after.weight.numel():>18,} "
          f"{nn.Linear(neurons, 10).weight.numel():>16,}")

# %% [markdown]
# A $k \times k$ pooling divides the neurons by $k^2$ (compare the rows); the next conv layer
# keeps its weights; a fully connected layer after it shrinks by the same $k^2$.
#
# ## 3. Spatial pooling and translation invariance (figure 8)
#
# The notes' figure 8: the input is translated, "due to spatial pooling the next layer looks
# more or less the same". *Lecture 4*: pooling makes outputs "robust to small shifts in the input".
# How much is "more or less"? We measure it.
#
# **What we measure.** A fixed feature stage $f$: four edge detectors (Sobel x and y, each with
# both signs) with "same" padding and a ReLU, the first layer of a small CNN. Then pooling $P$
# with window $k$ and stride $k$. For 500 Fashion-MNIST test images $x$ we shift the input by $s$
# pixels (up, down, left, right; zeros enter at the border) and compute the **relative change**
#
# $$\frac{\lVert P(f(\operatorname{shift}_s x)) - P(f(x)) \rVert}{\lVert P(f(x)) \rVert},$$
#
# averaged over images and the four directions. Both pooled representations sit on **the same
# grid** (window $(i, j)$ of one is compared with window $(i, j)$ of the other), as a next layer
# would read them; we do not re-align them. $k = 1$ is no pooling. First, one image:

# %%
test_images, test_labels = load_fashion_mnist("test")
images = test_images[:500, 0].double().numpy()  # (500, 28, 28), values in [0, 1]
edge_bank = np.stack([KERNELS["sobel x"], -KERNELS["sobel x"], KERNELS["sobel y"], -KERNELS["sobel y"]])


def edge_features(images):
    """(N, H, W) -> (N, 4, H, W): four edge detectors, 'same' padding, then ReLU."""
    return np.maximum(conv2d(images[:, None], edge_bank[:, None], padding=1), 0.0)


def relative_change(new, old):
    """||new - old|| / ||old|| for each image: (N, ...) x (N, ...) -> (N,)."""
    new, old = new.reshape(len(new), -1), old.reshape(len(old), -1)
    return np.linalg.norm(new - old, axis=1) / np.linalg.norm(old, axis=1)


boot = images[int((test_labels[:500] == CLASS_NAMES.index("Ankle boot")).nonzero()[0, 0])]
pair = np.stack([boot, shift_image(boot, 0, 1)])  # the boot and the boot moved 1 pixel right
pair_maps = edge_features(pair)  # (2, 4, 28, 28)
top = pair_maps.max()  # one colour scale for every panel, so that sizes compare
fig, axes = plt.subplots(3, 4, figsize=(10, 7.6))
for row, k in enumerate((1, 2, 4)):
    pooled = ref.max_pool2d(pair_maps, k)
    change = relative_change(pooled[1:], pooled[:1])[0]
    print(f"max pooling {k}×{k}: relative change of the pooled maps under a 1-pixel shift = {change:.3f}")
    label = "no pooling" if k == 1 else f"{k}×{k} max pool"
    panels = [(pair[0], "gray", None, "input: boot" if row == 0 else ""),
              (pooled[0].max(axis=0), "magma", top, f"{label}: boot"),
              (pooled[1].max(axis=0), "magma", top, f"{label}: shifted 1 px"),
              (np.abs(pooled[1] - pooled[0]).max(axis=0), "magma", top, f"|difference|: {change:.2f} relative")]
    for ax, (image, cmap, vmax, title) in zip(axes[row], panels):
        ax.axis("off")
        if row == 0 or cmap != "gray":
            ax.imshow(image, cmap=cmap, vmin=0, vmax=vmax)
            ax.set_title(title, fontsize=9)
fig.suptitle("edge maps of a boot and of the boot shifted 1 pixel right (strongest of the 4 maps)")
fig.tight_layout()
plt.show()

# %% [markdown]
# The difference maps shrink as the window grows (one colour scale for all panels). Now the measurement over 500 images, for
# max and average pooling, windows 1, 2, 4, 7 (all divide 28), and global pooling. A third
# method is a control: **subsampling** keeps the top-left value of each window (what a stride-$k$
# layer without pooling does). It reduces the number of positions exactly as pooling does, so it
# tells whether the robustness comes from the aggregation or merely from a coarser grid.

# %%
methods = {"max": ref.max_pool2d, "avg": ref.avg_pool2d,
           "subsample": lambda maps, k: maps[:, :, ::k, ::k]}
windows, shifts = (1, 2, 4, 7), (1, 2, 3)


def directions(s):
    return [(0, s), (0, -s), (s, 0), (-s, 0)]


base_maps = edge_features(images)
shifted_maps = {(dy, dx): edge_features(shift_image(images, dy, dx))
                for s in shifts + (7,) for dy, dx in directions(s)}


def mean_change(pool, s):
    return np.mean([relative_change(pool(shifted_maps[d]), pool(base_maps)).mean() for d in directions(s)])


change = {(method, k, s): mean_change(lambda maps, pool=pool, k=k: pool(maps, k), s)
          for method, pool in methods.items() for k in windows for s in shifts + (7,)}
for name, pool in [("global avg", ref.global_avg_pool), ("global max", ref.global_max_pool)]:
    for s in shifts + (7,):
        change[(name, None, s)] = mean_change(pool, s)

print("relative change ||P(f(shift x)) - P(f(x))|| / ||P(f(x))||, mean over 500 images and 4 directions")
print(f"{'pooling':>10} {'window':>7} " + " ".join(f"{f'shift {s}':>8}" for s in shifts) + f" {'shift 7':>8}")
for method in methods:
    for k in windows:
        label = "none" if k == 1 else f"{k}×{k}"
        print(f"{method:>10} {label:>7} " + " ".join(f"{change[(method, k, s)]:8.3f}" for s in shifts + (7,)))
for name in ("global avg", "global max"):
    print(f"{name:>10} {'28×28':>7} " + " ".join(f"{change[(name, None, s)]:8.3f}" for s in shifts + (7,)))

print(f"\nno pooling, 1-pixel shift: the edge maps change by {change[('max', 1, 1)]:.0%} of their size")
for method in ("max", "avg"):
    shrinks = all(change[(method, k1, s)] > change[(method, k2, s)]
                  for s in shifts for k1, k2 in zip(windows, windows[1:]))
    print(f"{method}: the change shrinks with every larger window, at every shift of 1–3 px: {shrinks}")
print(f"7×7 max pooling still changes the representation by {change[('max', 7, 1)]:.0%} (1-pixel shift) "
      f"and {change[('max', 7, 3)]:.0%} (3-pixel shift)")
max_wins = all(change[("max", k, s)] < change[("avg", k, s)] for k in windows[1:] for s in shifts + (7,))
print(f"max pooling changes less than average pooling at every window and shift: {max_wins}")
control = [change[("subsample", k, s)] / change[("max", 1, s)] for k in windows[1:] for s in shifts]
print(f"control: subsampling's change / no pooling's, windows 2–7, shifts 1–3 px: "
      f"{min(control):.2f} to {max(control):.2f}; more than no pooling at window 7, every shift: "
      f"{all(change[('subsample', 7, s)] > change[('max', 1, s)] for s in shifts + (7,))}")
global_small = all(change[(name, None, s)] < 0.1 for name in ("global avg", "global max") for s in shifts)
print(f"global pooling changes by less than a tenth for shifts of 1–3 px: {global_small}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
for ax, method in zip(axes, methods):
    for k in windows:
        ax.plot((0,) + shifts, [0] + [change[(method, k, s)] for s in shifts], "o-",
                label="no pooling" if k == 1 else f"window {k}")
    ax.plot((0,) + shifts, [0] + [change[("global avg", None, s)] for s in shifts], "k--", label="global avg")
    ax.set_title(f"{method} pooling" if method != "subsample" else "control: subsampling (no pooling)")
    ax.set_xlabel("shift of the input (pixels)")
    ax.set_xticks((0,) + shifts)
axes[0].set_ylabel("relative change of the representation")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# What the measurement says (the lines under the table):
# * **Without pooling** a 1-pixel shift changes the edge maps by a large fraction of their size:
#   thin edge responses move off their pixels. This is not lost information (the conv layer is
#   equivariant, see below), but a next layer reading fixed positions sees a different input.
# * **Pooling helps, and larger windows help more** (read down the "shift 1" column). But "looks
#   more or less the same" is generous for small windows: even 7×7 max pooling still changes the
#   representation noticeably for a 1-pixel shift, and more for 3 pixels.
# * **Max and average** behave alike; on these edge maps max pooling is slightly more robust.
# * **The control** barely moves: subsampling alone is about as sensitive as no pooling (more at
#   window 7). The robustness comes from *aggregating* a window, not from the coarser grid.
# * **A shift by the window size** (the last column, 7 pixels) moves the content by one whole
#   pooled cell: the pooled map is then shifted, not invariant (the 7×7 rows' last column; the
#   re-alignment is checked below). Pooling buys invariance only to shifts that are small
#   compared with the window.
# * **Global pooling** is nearly invariant; what changes is the part of the object that leaves
#   the 28×28 frame or touches its border.
#
# The conv layer itself is equivariant: comparing $f(\operatorname{shift} x)$ with
# $\operatorname{shift} f(x)$ (re-aligning the maps) instead of with $f(x)$ gives almost no change,
# only at the border where zeros enter:

# %%
realigned = relative_change(shifted_maps[(0, 1)], shift_image(base_maps, 0, 1)).mean()
print(f"no pooling, 1-pixel shift: vs f(x) {change[('max', 1, 1)]:.3f}; "
      f"vs shift(f(x)), re-aligned: {realigned:.3f}")

# %% [markdown]
# ### A shift by a multiple of the window moves the pooled map: checked
#
# If a 7-pixel shift moves the 7×7-pooled map by exactly one cell, then the pooled map of the
# shifted image, $P(f(\operatorname{shift}_s x))$, equals the pooled map of the original moved
# by $s/k$ cells. We compare the two (relative change as above, 4 directions). When $s/k$ is
# not a whole number no whole-cell move can match; we take the better of the two nearest. Two
# frames: the 28×28 images themselves, where a 7-pixel shift pushes part of a garment out of the
# frame, and the same images in the middle of a 56×56 canvas, where nothing leaves the frame
# (56 is a multiple of 2, 4 and 7, so every window is complete).

# %%
def realigned_change(images, s, k):
    """k×k max pooling (stride k) of the edge maps under a shift by s pixels, mean over images
    and the 4 directions: (relative change as is, relative change after moving the original's
    pooled map by the better of the two nearest whole numbers of cells)."""
    base = ref.max_pool2d(edge_features(images), k)
    as_is, realigned = [], []
    for dy, dx in directions(s):
        moved = ref.max_pool2d(edge_features(shift_image(images, dy, dx)), k)
        as_is.append(relative_change(moved, base).mean())
        realigned.append(min(relative_change(moved, shift_image(base, np.sign(dy) * c, np.sign(dx) * c)).mean()
                             for c in {s // k, -(-s // k)}))
    return np.mean(as_is), np.mean(realigned)


canvas = np.pad(images, ((0, 0), (14, 14), (14, 14)))  # (500, 56, 56), the garment in the middle
print(f"{'frame':>12} {'shift':>5} {'window':>6} {'cells':>5} {'as is':>6} {'re-aligned':>10}  re-aligns exactly (< 1e-12)")
for frame, frame_images, cases in [("28×28 image", images, [(7, 7)]),
                                   ("56×56 canvas", canvas, [(7, 7), (8, 2), (8, 4), (7, 2), (7, 4), (8, 7)])]:
    for s, k in cases:
        as_is, realigned = realigned_change(frame_images, s, k)
        print(f"{frame:>12} {s:5d} {k:6d} {s / k:5.2f} {as_is:6.3f} {realigned:10.3f}  {bool(realigned < 1e-12)}")

# %% [markdown]
# The claim holds exactly where nothing leaves the frame and the shift is a multiple of the window
# (7 pixels for 7×7 windows, 8 for 2×2 and 4×4): the pooled map moves by whole cells and nothing
# else changes. In the 28×28 frame the same 7-pixel shift does not re-align exactly: what left the
# frame is gone and zeros came in. A shift that is not a multiple of the window (7 pixels for
# windows 2 and 4, 8 pixels for window 7) re-aligns with no whole-cell move: the content moved by
# a fraction of a cell, so the windows cut it elsewhere and the pooled values themselves change.
#
# ### Overlapping windows under shifts
#
# AlexNet's 3×3, stride-2 pooling with padding 1 gives a 28×28 map the same 14×14 grid as 2×2,
# stride 2, but every window reaches one pixel further on each side, into its neighbours. Does the
# overlap buy robustness to shifts? The same measurement as in the table above:

# %%
overlap_pools = {"max 2×2, stride 2": lambda maps: ref.max_pool2d(maps, 2),
                 "max 3×3, stride 2, pad 1": lambda maps: ref.max_pool2d(maps, 3, 2, 1),
                 "avg 2×2, stride 2": lambda maps: ref.avg_pool2d(maps, 2),
                 "avg 3×3, stride 2, pad 1": lambda maps: ref.avg_pool2d(maps, 3, 2, 1)}
overlap_change = {name: [mean_change(pool, s) for s in shifts] for name, pool in overlap_pools.items()}
print(f"{'pooling':>25} {'output':>8} " + " ".join(f"{f'shift {s}':>8}" for s in shifts))
for name, values in overlap_change.items():
    side = overlap_pools[name](base_maps[:1]).shape[-1]
    print(f"{name:>25} {f'{side}×{side}':>8} " + " ".join(f"{v:8.3f}" for v in values))
for method in ("max", "avg"):
    smaller = np.less(overlap_change[f"{method} 3×3, stride 2, pad 1"], overlap_change[f"{method} 2×2, stride 2"])
    print(f"{method}: overlapping 3×3 windows change less than 2×2 windows at every shift: {bool(smaller.all())}")

# %% [markdown]
# On the same grid, overlapping windows are more robust to small shifts, for max and for average
# pooling: a value near the edge of a window also lies in the neighbouring window, so a small move
# less often takes it out of the windows it counted in. The price is more arithmetic (9 values
# per window instead of 4), and neighbouring pooled values share inputs.

# %% [markdown]
# ### Is max pooling ever *exactly* invariant?
#
# A max-pooled value does not change when the largest value of its window stays inside the
# window after the shift (and nothing larger enters). For a 1-pixel shift to the right, we count
# the pooled values that are exactly unchanged, among those that are not zero (the empty
# background is trivially unchanged):

# %%
exact_fraction, images_unchanged = {}, {}
for k in (2, 4, 7):
    before, after = ref.max_pool2d(base_maps, k), ref.max_pool2d(shifted_maps[(0, 1)], k)
    nonzero = before > 0
    same = (after == before) & nonzero
    images_same = np.all(after == before, axis=(1, 2, 3))
    exact_fraction[k], images_unchanged[k] = same.sum() / nonzero.sum(), int(images_same.sum())
    print(f"window {k}: {same.sum() / nonzero.sum():6.1%} of the nonzero pooled values exactly unchanged; "
          f"whole pooled representation unchanged for {images_same.sum()} of 500 images")

# %% [markdown]
# So max pooling is exactly invariant for many individual windows (a maximum in the interior of a
# window stays in it) but never for a whole image: some maximum always sits at a window's edge and
# crosses into the neighbouring window. Invariance under pooling is approximate, and improves with
# the window.
#
# ## 4. Cross-channel pooling and invariance to rotations (figure 9)
#
# The notes: "Cross-channel pooling pools values across different channels, which induces
# transformational invariance". Their example: three filters, each detecting a "5" in some
# rotation; the maximum over the three channels responds to a "5" in any orientation. We build
# exactly that. The pattern: a "5" drawn from a font (`glyph_image`, no data set needed), on a
# 21×21 canvas so that it can turn without losing its corners.

# %%
five = np.pad(glyph_image("5", 15), 3)  # (21, 21)


def rotated_bank(template, K):
    """K copies of template rotated by 0, 360/K, ... degrees; zero mean, unit norm: (K, h, w)."""
    bank = np.stack([rotate_image(template, 360 * i / K) for i in range(K)])
    bank = bank - bank.mean(axis=(1, 2), keepdims=True)  # blind to flat areas
    return bank / np.linalg.norm(bank, axis=(1, 2), keepdims=True)


bank8 = rotated_bank(five, 8)
show_images(list(bank8), titles=[f"filter {i}: {45 * i}°" for i in range(8)], ncols=8, size=1.5, signed=True)
plt.show()

# %% [markdown]
# Each filter is a matched filter: its response to an input is largest where the input looks like
# it. A conv layer with these 8 filters gives 8 maps; cross-channel max pooling keeps, at every
# position, the largest of the 8.
#
# ### Exercise 3 (2 points): `cross_channel_max`
#
# `maps` has shape `(C, H, W)`. Split the channels into **consecutive** groups of `group_size`
# (channels `0 … g-1`, then `g … 2g-1`, …) and return, at every position, the maximum over
# each group: shape `(C // group_size, H, W)`. (`C` is a multiple of `group_size`.)

# %% nbgrader={"grade": false, "grade_id": "cross_channel_max", "locked": false, "schema_version": 3, "solution": true, "task": false}
def cross_channel_max(maps, group_size):
    """maps: (C, H, W) -> (C // group_size, H, W), max over consecutive groups of channels."""
    ### BEGIN SOLUTION
    C, H, W = maps.shape
    return maps.reshape(C // group_size, group_size, H, W).max(axis=1)
    ### END SOLUTION


# %% tags=["raises-exception"]
check_cross_channel_max(cross_channel_max)

# %% nbgrader={"grade": true, "grade_id": "cross_channel_max_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_cross_channel_max(cross_channel_max)
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(2027)
for _shape, _g in [((6, 5, 5), 3), ((8, 3, 4), 2), ((5, 2, 2), 5), ((4, 3, 3), 1), ((12, 2, 3), 4)]:
    _maps = _rng.normal(size=_shape)
    _expected = F.max_pool3d(torch.tensor(_maps)[None, None], (_g, 1, 1))[0, 0].numpy()
    _got = np.asarray(cross_channel_max(_maps.copy(), _g), dtype=float)
    assert _got.shape == _expected.shape and np.allclose(_got, _expected), (_shape, _g)
### END HIDDEN TESTS

# %% [markdown]
# ### Measured over rotation angles
#
# The input is the "5" turned by every angle from 0° to 359° (1° steps). The response of a
# filter is its feature map's value at the centre, where the "5" sits, after a ReLU: for a filter
# of the canvas' size that is the dot product of input and filter. We compare one filter with the
# maximum over a bank of $K$ rotated copies: $K = 3$ (the notes' three filters), 4 and 8.

# %%
angles = np.arange(360)
rotated_fives = np.stack([rotate_image(five, a) for a in angles])  # (360, 21, 21)

# The centre of a 'same' convolution equals the dot product with the whole canvas:
centre = conv2d(rotated_fives[:2, None], bank8[:, None], padding=10)[:, :, 10, 10]
print("centre of the conv map == dot product:",
      np.allclose(centre, np.einsum("ahw,khw->ak", rotated_fives[:2], bank8)))


def bank_response(inputs, K):
    """(A, h, w) inputs -> (A, K) responses of the K-filter bank, after ReLU."""
    return np.maximum(np.einsum("ahw,khw->ak", inputs, rotated_bank(five, K)), 0.0)


peak = bank_response(five[None], 1)[0, 0]  # a single filter on the upright "5"
curves = {"single filter": bank_response(rotated_fives, 1)[:, 0] / peak}
for K in (3, 4, 8):
    curves[f"max over {K} filters"] = ref.cross_channel_max(bank_response(rotated_fives, K)[:, :, None, None], K)[:, 0, 0, 0] / peak
print(f"{'response / peak':>20} {'min':>6} {'at':>5} {'max':>6} {'min/max':>8}")
for name, curve in curves.items():
    print(f"{name:>20} {curve.min():6.3f} {angles[curve.argmin()]:4d}° {curve.max():6.3f} {curve.min() / curve.max():8.3f}")
single = curves["single filter"]
print(f"single filter, '5' on its side: {single[90]:.3f} (90°), {single[270]:.3f} (270°) of the peak; "
      f"both under a tenth: {bool(max(single[90], single[270]) < 0.1)}")
print(f"single filter, '5' turned by 180°: {single[180]:.3f}; "
      f"max over 8 filters at 45° (a filter's angle): {curves['max over 8 filters'][45]:.3f}")
print(f"max over 8 filters: the worst angle keeps {curves['max over 8 filters'].min():.0%} of the peak")
worst = {K: curves[f"max over {K} filters"].min() for K in (3, 4, 8)}
print(f"the notes' 3 filters beat 4 at their worst angle: {bool(worst[3] > worst[4])}")
worst_4 = angles[curves["max over 4 filters"].argmin()]
print(f"4 filters: worst angle {worst_4}°, {min(abs(worst_4 - a) % 360 for a in (0, 90, 180, 270, 360))}° "
      f"from the nearest filter; 3 filters at 180° (between its 120° and 240° filters): "
      f"{curves['max over 3 filters'][180]:.3f}, above its worst angle: {bool(curves['max over 3 filters'][180] > worst[3])}")

# %%
fig, ax = plt.subplots(figsize=(10, 3.8))
for name, curve in curves.items():
    ax.plot(angles, curve, label=name, lw=2 if name == "max over 8 filters" else 1.2)
for a in range(0, 360, 45):
    ax.axvline(a, color="0.85", lw=0.8, zorder=0)
ax.set_xlabel("rotation of the input '5' (degrees); grey lines: the 8 filters' angles")
ax.set_ylabel("response / peak")
ax.set_xticks(range(0, 361, 45))
ax.set_ylim(0, 1.05)
ax.legend(loc="lower right", fontsize=8)
ax.set_title("cross-channel max pooling over rotated '5' detectors")
fig.tight_layout()
plt.show()

# %% [markdown]
# * A **single filter** responds well only near 0°: a "5" on its side (90°, 270°) gets a small
#   fraction of the peak (printed under the table). The second hump at 180° is the "5" being
#   nearly point-symmetric, like an "S".
# * The **maximum over the bank** stays high at every angle, but the notes' "no matter what
#   orientation … a large response" holds only *at the filters' angles*. Between them the curve
#   dips: the bank is invariant to the rotations it contains and only approximately to those in
#   between; with 8 filters (45° apart) the worst angle keeps the fraction of the peak printed
#   above. Even at a filter's angle the response can fall short of 1 (the printed value at 45°):
#   filter and input turned by 45° are interpolated, slightly blurred copies of the "5".
# * More filters is not automatically better: compare the worst angles of the notes' 3 filters
#   and of 4 (the table's "min" column). The 4-filter bank's worst angle lies halfway between two
#   of its filters; the 180° hump fills the 3-filter bank's gap at 180°, the 4-filter bank's
#   worst angles get no such help. How well a bank covers the rotations depends on the pattern:
#   measure it, do not assume it.
#
# ### What the bank is not invariant to, and what invariance costs
#
# The bank covers rotations, and only rotations: a mirrored "5" is not a rotated "5". And a
# detector that accepts a "5" at every angle accepts other shapes at some angle too. For the
# mirrored "5" and other characters we record the single filter's response to the upright
# character, and the bank's smallest and largest response over all angles (5° steps).

# %%
others = {"5 (itself)": five, "5 mirrored": five[:, ::-1].copy()}
others.update({f"'{c}'": np.pad(glyph_image(c, 15), 3) for c in "2378S"})
print(f"{'input':>12} {'upright, 1 filter':>18} {'max over 8, all angles: min':>28} {'max':>6}")
best, worst_5deg, upright = {}, {}, {}
for name, pattern in others.items():
    turned = np.stack([rotate_image(pattern, a) for a in range(0, 360, 5)])
    pooled = ref.cross_channel_max(bank_response(turned, 8)[:, :, None, None], 8)[:, 0, 0, 0] / peak
    best[name], worst_5deg[name] = pooled.max(), pooled.min()
    upright[name] = bank_response(pattern[None], 1)[0, 0] / peak
    print(f"{name:>12} {upright[name]:18.3f} {pooled.min():28.3f} {pooled.max():6.3f}")
worst_five = curves["max over 8 filters"].min()
beat_five = [name for name, value in best.items() if value > worst_five and name != "5 (itself)"]
print(f"shapes that, at their best angle, beat a '5' at its worst angle ({worst_five:.3f}):", beat_five)
print(f"the mirrored '5' at its best angle scores below a '5' at its worst: {bool(best['5 mirrored'] < worst_five)}")
print(f"5° steps miss the worst angle ({angles[curves['max over 8 filters'].argmin()]}°): the '5' row's minimum "
      f"is above the 1° curve's: {bool(worst_5deg['5 (itself)'] > worst_five)}")
ranking = sorted(upright, key=upright.get, reverse=True)
print(f"upright, one filter: ranked first {ranking[0]}, second {ranking[1]} ({upright[ranking[1]]:.3f})")

# %% [markdown]
# * The mirrored "5" scores, at its best angle, below a "5" at its worst: the bank is not
#   invariant to a reflection, a transformation it does not contain.
# * The "5" row's minimum (5° steps) is higher than the minimum of the 1° curve: testing in 5°
#   steps misses the worst angle. Coarse sampling flatters invariance.
# * Upright, the single filter ranks the "5" first, with the runner-up printed above coming
#   close. With the bank, a "5" at its worst angle scores below the listed shapes at their best:
#   no threshold on the pooled response separates "a 5 at any angle" from these shapes.
#
# Invariance is paid for with selectivity; a trained network balances the two by learning what
# to pool. (A matched filter this large is a blunt detector; the point is the trade-off, not the
# detector.)
#
# ### Cross-channel pooling is maxout
#
# Goodfellow et al. (2013), *Maxout Networks*: a maxout unit computes $k$ linear functions
# $z_j = w_j^\top x + b_j$ of its input and outputs their maximum, $h(x) = \max_j z_j$. A maxout
# conv layer is a conv layer with $C \cdot k$ filters followed by `cross_channel_max` with
# groups of $k$: our rotated bank plus the max is one maxout unit with 8 pieces whose weights
# happen to be rotated copies. Maxout also contains familiar activations as special cases:

# %%
z = np.linspace(-2, 2, 5)
pieces_relu = np.stack([z, np.zeros_like(z)])  # z and the constant 0
pieces_abs = np.stack([z, -z])
print("z:                ", z)
print("max(z, 0) = ReLU: ", ref.cross_channel_max(pieces_relu[None, :, None, :], 2)[0, 0, 0] + 0.0)
print("max(z, -z) = |z|: ", ref.cross_channel_max(pieces_abs[None, :, None, :], 2)[0, 0, 0] + 0.0)

maxout_layer = nn.Conv2d(1, 3 * 4, 5, padding=2)  # 3 maxout maps with 4 pieces each
x_demo = torch.randn(2, 1, 12, 12)
hidden = maxout_layer(x_demo).detach().numpy()
print("maxout conv layer: conv", tuple(hidden.shape), "-> cross_channel_max(·, 4)",
      ref.cross_channel_max(hidden, 4).shape)

# %% [markdown]
# ## 5. Trade-offs
#
# ### Pooling throws away position
#
# Within a window, max and average pooling do not care *where* a value is. Any rearrangement of
# the pixels inside each window gives exactly the same pooled output. We shuffle the pixels
# inside every 7×7 block of a Fashion-MNIST image:

# %%
def shuffle_within_blocks(image, k, rng):
    """Permute the pixels inside every k x k block of an (H, W) image (H, W multiples of k)."""
    H, W = image.shape
    blocks = image.reshape(H // k, k, W // k, k).transpose(0, 2, 1, 3).reshape(H // k, W // k, k * k)
    blocks = rng.permuted(blocks, axis=2)
    return blocks.reshape(H // k, W // k, k, k).transpose(0, 2, 1, 3).reshape(H, W)


scrambled = shuffle_within_blocks(boot, 7, rng)
for name, pool in [("max", ref.max_pool2d), ("average", ref.avg_pool2d)]:
    a, b = pool(boot[None, None], 7), pool(scrambled[None, None], 7)
    print(f"7×7 {name} pooling: max |difference of the pooled outputs| = {np.abs(a - b).max():.3f}")
print(f"the images themselves: mean |difference| = {np.abs(boot - scrambled).mean():.3f} "
      f"(mean pixel value {boot.mean():.3f})")
show_images([boot, scrambled, ref.max_pool2d(boot[None, None], 7)[0, 0], ref.max_pool2d(scrambled[None, None], 7)[0, 0]],
            titles=["boot", "shuffled within 7×7 blocks", "7×7 max pool of boot", "7×7 max pool of shuffled"], size=2.4)
plt.show()

# %% [markdown]
# The two images differ everywhere the boot has detail, yet every pooled value agrees. This is
# the invariance of section 3 seen from the other side: whatever pooling ignores, a later layer
# cannot recover. Stacking conv layers between pooling layers (lesson 02) lets a network encode
# *relative* positions in its channels before a pooling step discards the absolute ones.
#
# ### Pooling vs strided convolution
#
# A stride-$k$ convolution also divides the size by $k$. Average pooling *is* a strided
# convolution: a per-channel (depthwise, `groups=C`) kernel of constant weights $1/k^2$:

# %%
k, C = 4, base_maps.shape[1]
box = torch.full((C, 1, k, k), 1.0 / k**2, dtype=torch.float64)
as_conv = F.conv2d(torch.tensor(base_maps[:50]), box, stride=k, groups=C).numpy()
print("avg_pool2d(x, 4) == depthwise conv, 1/16 kernel, stride 4:",
      np.allclose(ref.avg_pool2d(base_maps[:50], k), as_conv, rtol=1e-12, atol=1e-12))

# %% [markdown]
# Max pooling is not a convolution of any kernel: a convolution is linear,
# $\operatorname{conv}(a + b) = \operatorname{conv}(a) + \operatorname{conv}(b)$ and
# $\operatorname{conv}(-a) = -\operatorname{conv}(a)$, and max pooling is neither:

# %%
a = np.array([[[[1.0, 0], [0, 0]]]])
b = np.array([[[[0.0, 1], [0, 0]]]])
print("maxpool(a + b) =", ref.max_pool2d(a + b, 2).item(), "  maxpool(a) + maxpool(b) =",
      ref.max_pool2d(a, 2).item() + ref.max_pool2d(b, 2).item())
print("maxpool(-a) =", ref.max_pool2d(-a, 2).item() + 0.0, "  -maxpool(a) =", -ref.max_pool2d(a, 2).item())

# %% [markdown]
# How close can a strided convolution come? We fit the best 2×2, stride-2 kernel (4 weights and a
# bias, least squares) to reproduce 2×2 max pooling of the edge maps of section 3:

# %%
windows_2x2 = base_maps[:200].reshape(200, 4, 14, 2, 14, 2).transpose(0, 1, 2, 4, 3, 5).reshape(-1, 4)
targets = windows_2x2.max(axis=1)
design = np.column_stack([windows_2x2, np.ones(len(windows_2x2))])
coef, *_ = np.linalg.lstsq(design, targets, rcond=None)
fit_error = np.linalg.norm(design @ coef - targets) / np.linalg.norm(targets)
avg_error = np.linalg.norm(windows_2x2.mean(axis=1) - targets) / np.linalg.norm(targets)
print("best kernel (row by row):", np.round(coef[:4], 3), " bias:", f"{coef[4]:.3f}")
print(f"relative error of the best linear fit: {fit_error:.3f}; of plain averaging: {avg_error:.3f}")
print(f"weights between {coef[:4].min():.2f} and {coef[:4].max():.2f}; "
      f"the best fit misses max pooling by more than a fifth: {bool(fit_error > 0.2)}")

# %% [markdown]
# The best linear kernel is a scaled average plus a bias (its four weights are close to each
# other) and still misses max pooling by a large fraction of its size, though by less than plain
# averaging (all printed above). The trade-off, in short:
#
# | | pooling | strided convolution |
# | --- | --- | --- |
# | weights | none | $C_{\text{in}} C_{\text{out}} k^2$ (+ biases; section 1 printed the count for 64 → 64, $k = 2$) |
# | what it computes | fixed: max (non-linear) or mean | learned, linear; can learn averaging, cannot learn max |
# | invariance to small shifts | built in (section 3) | only what it learns; plain subsampling has none |
# | channels | each channel separately | mixes channels |
#
# Springenberg et al. (2015, *Striving for Simplicity: The All Convolutional Net*) replaced
# every max pooling of a CNN by a strided convolution and lost no accuracy; ResNet uses strided
# convolutions to downsample and a single global average pooling at the end (lesson 06).
#
# ### Does pooling help a trained network generalize? Measured
#
# The notes credit spatial pooling with "adding generalization capabilities". Everything so far
# measured a fixed feature stage; now we train. Two small CNNs that differ only in how they halve
# the map:
# * **max pooling**: conv 3×3 → ReLU → 2×2 max pooling, twice, then a linear classifier;
# * **stride-2 conv**: the same two convolutions with stride 2, and no pooling.
#
# Why this comparison is fair: a stride-2 convolution computes exactly the stride-1 convolution
# at the top-left pixel of every 2×2 window, the subsampling control of section 3. The two
# networks have the same weights (the same parameter count, printed below), maps of the same size
# at every stage and the same classifier; the only difference is whether a 2×2 window is
# represented by its maximum or by one of its values. (Dropping the downsampling instead, with
# stride-1 convolutions and no pooling, would multiply the classifier's weights, printed below,
# and confound pooling with model size.) What the comparison does not equalise is arithmetic: the
# pooled network runs its convolutions on more positions (the ratio is printed below).
#
# The protocol:
# * each garment sits in the middle of a larger canvas, with as many empty pixels on every side
#   as the largest test shift, so that a shift (also diagonal) moves it without cutting it;
# * a few thousand training images, with a validation split carved off by `train_val_split`;
#   `fit(..., restore_best=True)` keeps the epoch with the best validation accuracy; no shift
#   augmentation;
# * three seeds (initial weights and batch order) per network; the seeds pair the runs;
# * each selected model is measured once on the whole test set, and on a subset of it shifted by
#   1 to 4 pixels in the 8 directions (`accuracy_under_shift`);
# * a difference between the networks is called real when the 95% interval of the mean paired
#   difference (Student's t with 2 degrees of freedom for 3 seeds) excludes 0.

# %%
PAD = 4  # empty pixels around each garment: the largest test shift that cuts nothing
SUBSET, VAL_SIZE = quick_or_full(1_500, 5_000), quick_or_full(500, 1_000)
EPOCHS, SEEDS = quick_or_full(1, 5), (0, 1, 2)
SHIFT_IMAGES, TEST_SHIFTS = quick_or_full(300, 1_000), (0, 1, 2, 3, 4)


class SmallCNN(nn.Module):
    """Two conv 3×3 + ReLU stages that halve the map, then a linear classifier.

    downsample "max": stride-1 conv, then 2×2 max pooling; "stride": stride-2 conv, no pooling.
    (N, 1, 36, 36) -> (N, 10) logits.
    """

    def __init__(self, downsample, channels=(8, 16), side=36):
        super().__init__()
        if downsample not in ("max", "stride"):
            raise ValueError(f"downsample must be 'max' or 'stride', got {downsample!r}")
        stride = 2 if downsample == "stride" else 1
        layers, c_in = [], 1
        for c_out in channels:
            layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.ReLU()]
            layers += [nn.MaxPool2d(2)] if downsample == "max" else []
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in * (side // 4) ** 2, 10)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def on_canvas(images):
    """(N, 1, 28, 28) -> (N, 1, 28 + 2 PAD, 28 + 2 PAD), the garment in the middle."""
    return F.pad(images, (PAD,) * 4)


train_x, train_y = load_fashion_mnist("train")
train_data, val_data = train_val_split(on_canvas(train_x[:SUBSET]), train_y[:SUBSET], val_size=VAL_SIZE, seed=0)
test_data = (on_canvas(test_images), test_labels)


def layer_shapes(model, side):
    """(C, H, W) after every conv and pooling layer for a side×side input, and the number of
    output positions (H × W) summed over the conv layers."""
    shapes, positions, x = [], 0, torch.zeros(1, 1, side, side)
    for layer in model.features:
        x = layer(x)
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            shapes.append(tuple(x.shape[1:]))
        if isinstance(layer, nn.Conv2d):
            positions += x.shape[-2] * x.shape[-1]
    return shapes, positions


side = test_data[0].shape[-1]
print(f"canvas {side}×{side}: {PAD} empty pixels around each 28×28 garment; test shifts up to {max(TEST_SHIFTS)}")
positions = {}
for name in ("max", "stride"):
    model = SmallCNN(name)
    shapes, positions[name] = layer_shapes(model, side)
    print(f"{name:>6}: {sum(p.numel() for p in model.parameters()):,} parameters; maps "
          + " -> ".join(map(str, shapes)))
with_downsampling = model.classifier.weight.numel()
without = shapes[-1][0] * side * side * 10  # the last conv's channels at full resolution, 10 classes
print(f"classifier weights: {with_downsampling:,} with downsampling, {without:,} without "
      f"({without // with_downsampling}×)")
print(f"conv output positions, max pooling / stride-2 conv: {positions['max'] / positions['stride']:.0f}×")

# %%
# NBVAL_IGNORE_OUTPUT
# The accuracies depend on COURSE_QUICK (data, epochs) and, in the last digits, on the CPU.
NAMES = {"max": "max pooling", "stride": "stride-2 conv"}
results = {name: {"val": [], "test": [], "train - test": [], "shift": []} for name in NAMES}
for seed in SEEDS:
    for name in NAMES:
        torch.manual_seed(seed)
        model = SmallCNN(name)
        history = fit(model, train_data, val_data, optimizer=default_optimizer(model, lr=3e-3), epochs=EPOCHS,
                      batch_size=64, seed=seed, restore_best=True, progress=False)
        test_accuracy = evaluate(model, *test_data).accuracy  # the test set, once per selected model
        results[name]["val"].append(max(history.val_accuracy))  # the selected epoch's
        results[name]["test"].append(test_accuracy)
        results[name]["train - test"].append(evaluate(model, *train_data).accuracy - test_accuracy)
        results[name]["shift"].append([accuracy_under_shift(model, test_data[0][:SHIFT_IMAGES],
                                                            test_data[1][:SHIFT_IMAGES], s) for s in TEST_SHIFTS])
print(f"{len(train_data[1]):,} training and {len(val_data[1]):,} validation images, {EPOCHS} epochs, "
      f"seeds {SEEDS}; shifts measured on {SHIFT_IMAGES:,} test images")

# %%
# NBVAL_IGNORE_OUTPUT
# The accuracies depend on COURSE_QUICK (data, epochs) and, in the last digits, on the CPU.
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}  # Student's t, 97.5% quantile, by degrees of freedom


def paired_verdict(difference, higher_is_better=True):
    """difference: (seeds,) max pooling − stride-2 conv, paired by seed -> text with a verdict."""
    mean, sd = difference.mean(), difference.std(ddof=1)
    half_width = T_975[len(difference) - 1] * sd / np.sqrt(len(difference))
    if mean - half_width > 0 or mean + half_width < 0:  # the 95% interval excludes 0
        verdict = "yes" if (mean > 0) == higher_is_better else "no, it hurts"
    else:
        verdict = "within noise"
    return f"{100 * mean:+5.1f} ± {100 * sd:3.1f} points (95% interval ±{100 * half_width:4.1f}): {verdict}"


shift_acc = {name: np.array(results[name]["shift"]) for name in NAMES}  # (seeds, shifts)
rows = [("validation accuracy", "val"), ("test accuracy", "test"), ("train − test accuracy", "train - test")]
rows += [(f"test, shifted {s} px", ("shift", i)) for i, s in enumerate(TEST_SHIFTS) if s]
print(f"{'':>22} {'max pooling':>13} {'stride-2 conv':>13}   does pooling help? (max − stride, mean ± sd over seeds)")
verdicts = {}
for label, key in rows:
    values = {name: (shift_acc[name][:, key[1]] if isinstance(key, tuple) else np.array(results[name][key]))
              for name in NAMES}
    cells = " ".join(f"{100 * v.mean():7.1f} ± {100 * v.std(ddof=1):3.1f}" for v in values.values())
    difference = values["max"] - values["stride"]
    verdicts[label] = paired_verdict(difference, higher_is_better=key != "train - test")
    print(f"{label:>22} {cells}   {verdicts[label]}")
print("(accuracies in %; for the train − test gap, helping means a smaller gap)")
shift_labels = [label for label in verdicts if label.startswith("test, shifted")]
print(f"pooling helps on the shifted test images at every shift (95% interval above 0): "
      f"{all(verdicts[label].endswith(': yes') for label in shift_labels)}")
kept = {name: shift_acc[name][:, -1].mean() / np.mean(results[name]["test"]) for name in NAMES}
print(f"at a {TEST_SHIFTS[-1]}-pixel shift, share of the centred test accuracy kept: "
      + ", ".join(f"{NAMES[name]} {kept[name]:.0%}" for name in NAMES)
      + f"; both below half: {all(value < 0.5 for value in kept.values())}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
for name, label in NAMES.items():
    acc = 100 * shift_acc[name]
    ax.errorbar(TEST_SHIFTS, acc.mean(axis=0), yerr=acc.std(axis=0, ddof=1), marker="o", capsize=3, label=label)
ax.set_xlabel("shift of the test garment inside the canvas (pixels, 8 directions)")
ax.set_ylabel(f"accuracy (%), {SHIFT_IMAGES:,} test images")
ax.set_xticks(TEST_SHIFTS)
ax.set_title(f"same CNN, max pooling vs stride-2 conv (mean ± sd, {len(SEEDS)} seeds)")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the verdicts above from the numbers, not from the notes. Trained without shift
# augmentation, does the pooled network keep more of its accuracy when the garment moves? The
# line "pooling helps on the shifted test images at every shift" answers it; where it says True,
# section 3's robustness of the representation carries over to the trained classifier.
# Whether pooling also raises the accuracy on centred test images, or shrinks the train–test gap,
# is a separate question, and the printed verdicts answer it for this network and data; a
# difference smaller than the spread over seeds is not evidence either way. The last line says
# how much of its accuracy each network keeps at the largest shift: pooling over 2×2 windows
# twice buys robustness to shifts small compared with its windows (section 3), not to large
# ones; for those, train with shifted images (lesson 05) or pool globally.

# %% [markdown]
# ## 6. Explore
#
# Shift or rotate the "5" and watch the 8 feature maps of the rotated bank, the same maps
# after spatial pooling, and the cross-channel maximum. The numbers above the figure say how
# much each stage changed relative to the untransformed "5". Try: a 1-pixel shift with window 1,
# then 2, 4, 7; max vs average; rotations by 45° (a filter's angle) and by 20° (between two
# filters). Note that a rotation turns the cross-channel *map* as well; what stays (nearly) the
# same is its maximum over positions, the last line.

# %%
# NBVAL_IGNORE_OUTPUT
# The widget's text representation includes model ids that change with every run.
PoolingExplorer(np.pad(glyph_image("5", 15), 6), bank8)

# %% [markdown]
# ## Summary, and what the notes get loose
#
# The key measurements of this lesson, collected in one cell:

# %%
print("translation (500 Fashion-MNIST test images, 4 edge maps + ReLU), relative change for shifts of 1 / 2 / 3 px:")
for method in ("max", "avg"):
    for k in windows:
        print(f"  {method} pooling, window {k}: " + " / ".join(f"{change[(method, k, s)]:.3f}" for s in shifts))
print("  global average pooling:   " + " / ".join(f"{change[('global avg', None, s)]:.3f}" for s in shifts))
print("overlapping windows, same 14×14 grid, relative change for shifts 1 / 2 / 3 px:")
for name, values in overlap_change.items():
    print(f"  {name}: " + " / ".join(f"{v:.3f}" for v in values))
print(f"  2×2 max pooling, 1-pixel shift: still {change[('max', 2, 1)]:.0%} change; exactly unchanged nonzero "
      "pooled values, windows 2 / 4 / 7: " + " / ".join(f"{exact_fraction[k]:.1%}" for k in (2, 4, 7))
      + f"; whole images unchanged: {sum(images_unchanged.values())}")
print(f"  subsampling without pooling, windows 2–7: change {min(control):.2f}× to {max(control):.2f}× "
      "that of no pooling")
print("rotation (a '5', 1° steps), min/max ratio of the response over all angles:")
for name, curve in curves.items():
    print(f"  {name}: {curve.min() / curve.max():.3f}")
print(f"  mirrored '5': at most {best['5 mirrored']:.3f} at any angle; a '5' at its worst ({worst_five:.3f}) "
      f"scores below {', '.join(beat_five)} at their best")
print(f"neurons after 8 maps of 28×28: {8 * 28 * 28:,}, with 2×2 pooling {8 * 14 * 14:,}; "
      f"weights of a fully connected layer to 10 classes: {8 * 28 * 28 * 10:,} -> {8 * 14 * 14 * 10:,}")

# %% [markdown]
# * Pooling has **no weights** and divides the **number of neurons** by $k^2$; it reduces
#   weights only in a layer whose size depends on the map (a fully connected layer; the last
#   printed line).
# * **Spatial pooling and shifts** (figure 8). Pooling makes the edge maps more robust to small
#   shifts, more so with larger windows; max pooling slightly more than average pooling, global
#   pooling most. The notes' "looks more or less the same" is true for large windows and shifts
#   well below the window size; a 2×2 pooling still changes a lot. Max pooling is *exactly*
#   invariant for many single windows, for no whole image. A shift by the window size moves the
#   pooled map by a cell. Subsampling without pooling gives no robustness.
# * **Cross-channel pooling and rotations** (figure 9). A bank of rotated filters with a
#   cross-channel max keeps a much larger share of the peak over all angles than one filter, but
#   the notes' 3 filters beat 4. The notes' "no matter what orientation … a large response" holds
#   at the filters' angles and only approximately between them; the bank is not invariant to
#   transformations it does not contain (a mirrored "5"), and its worst response to a "5" is
#   below its best to some other characters: invariance costs selectivity.
# * **Overlap and padding.** "Stride equal to the window" is a common choice, not the rule: AlexNet
#   and GoogLeNet pool 3×3 windows with stride 2, ResNet has one padded 3×3, stride-2 pooling and
#   otherwise downsamples with strided convolutions. Max pooling pads with −∞ (the padding never
#   wins), average pooling with zeros that count in the divisor or not (`count_include_pad`). On
#   the same 14×14 grid, overlapping 3×3 windows change less under small shifts than 2×2 windows.
# * **Shifts by a multiple of the window** move the pooled map by whole cells, exactly, when
#   nothing leaves the frame; shifts by a fraction of a window re-align with no whole-cell move.
# * **In a trained CNN** (section 5), max pooling against the same convolutions with stride 2:
#   the pooled network is more robust to small shifts of the test images; whether it generalizes
#   better on centred images is what the printed verdicts there say, with their noise.
# * Cross-channel max pooling is **maxout** (Goodfellow et al., 2013) over groups of channels.
# * **Pooling vs strided convolution**: average pooling is a depthwise strided convolution with a
#   constant kernel; max pooling is non-linear, so no convolution equals it. Pooling discards the
#   position inside each window: shuffling pixels within 7×7 blocks leaves 7×7 pooling unchanged.
