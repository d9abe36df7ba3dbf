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
# # Lesson 02 — Receptive fields: what a unit can see
#
# **Lecture notes covered.** *Convolutional Neural Networks*, the end of §1.1 (stacking layers
# grows the receptive field, figure 6) and the VGGNet paragraph of §2.3 (three 3×3 layers see
# what one 7×7 layer sees); *Lecture 4*, the receptive field in "Convolution layers".
#
# **After this lesson you can**
# * compute the receptive field, effective stride and effective padding of any stack of
#   convolutions and poolings, by hand and with `course_utils.receptive_field`;
# * say which input pixels a given unit sees, and check it by backpropagation;
# * explain VGG's choice of 3×3 kernels with numbers;
# * tell the theoretical receptive field from the *effective* one, and say how each grows with depth.
#
# **Time.** About 109 minutes: 2,620 words to read (18 min at 150 words a minute), 359 lines of code to read and run (45 min at 8 a minute), 3 graded exercises (45 min), and 1 min of computing for the whole notebook on a 2-core CPU, measured when it was built (`course_tools.lesson_time`).
#
# Three graded exercises (⭐), each with an instant check. If you are
# stuck, run the rest of the notebook: later cells use the course's reference implementation.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from matplotlib.patches import Rectangle

from course_utils import receptive_field as ref  # the reference implementations
from course_utils.checks import check_input_region, check_rf_recurrence, check_vgg_stack_rf
from course_utils.data import CLASS_NAMES, load_fashion_mnist, load_sample_photo
from course_utils.models import alexnet_features, vgg16_features
from course_utils.runtime import seed_everything
from course_utils.widgets import ReceptiveFieldExplorer

rng = seed_everything(0)
np.set_printoptions(precision=3, suppress=True, linewidth=110)
plt.rcParams["figure.dpi"] = 100


def conv_stack(*kernels, channels=1):
    """A stack of stride-1, unpadded convolutions with the given kernel sizes."""
    return nn.Sequential(*[nn.Conv2d(channels, channels, k) for k in kernels])


# %% [markdown]
# ## 1. Two 3×3 layers: how much does a unit see?
#
# The notes: "if we use two successive layers of 3 × 3 filters, any one unit in the first
# convolutional layer is informed by 9 separate image pixels. Any one unit in the second
# convolutional layer is informed by 9 separate units of the first convolutional layer, which
# could [be] informed by up to 9 × 9 = 81 original pixels."
#
# We can count exactly. `ref.path_counts` backpropagates a one-hot gradient from one output unit
# through a copy of the stack whose weights are all 1, so the gradient that reaches an input pixel
# is the number of paths joining it to the unit.

# %%
two_layers = conv_stack(3, 3)
paths = ref.path_counts(two_layers, input_size=(5, 5))
print("paths from each input pixel to the centre unit of layer 2:")
print(paths.astype(int))
print(f"paths in total: {int(paths.sum())}, distinct input pixels: {int((paths > 0).sum())}")

# %% [markdown]
# So 81 is the number of **paths**, not of pixels. The nine first-layer windows overlap, and
# together they cover only a 5×5 patch: **25 distinct pixels**. The centre pixel is reached by
# 9 paths, a corner pixel by one. In general $n$ stacked 3×3 layers reach $(2n+1)^2$ pixels
# through $9^n$ paths:

# %%
print(f"{'layers':>6} {'pixels seen':>12} {'(2n+1)²':>8} {'paths':>10} {'9^n':>10}")
for n in range(1, 6):
    counts = ref.path_counts(conv_stack(*[3] * n), input_size=(2 * n + 1, 2 * n + 1))
    print(f"{n:>6} {int((counts > 0).sum()):>12} {(2 * n + 1) ** 2:>8} {int(counts.sum()):>10} {9 ** n:>10}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
for ax, n in zip(axes, (1, 2, 4)):
    counts = ref.path_counts(conv_stack(*[3] * n), input_size=(9, 9))
    shown = ax.imshow(np.ma.masked_equal(counts, 0), cmap="viridis")
    ax.set_title(f"{n} layer{'s' * (n > 1)}: {int((counts > 0).sum())} pixels, {int(counts.sum())} paths")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(shown, ax=ax, fraction=0.046)
fig.suptitle("number of paths from each input pixel to one output unit (blank: none)")
fig.tight_layout()
plt.show()

# %% [markdown]
# The paths pile up in the middle: already here the centre of the receptive field matters more
# than its border. Section 6 measures what that means for a trained-size network.
#
# ## 2. The receptive-field recurrence
#
# Follow one axis. Layer $l$ has kernel $k_l$, stride $s_l$, padding $p_l$ and dilation $d_l$
# (a dilated kernel spans $k'_l = d_l(k_l - 1) + 1$ positions). Let $r_l$ be the receptive field
# of a unit after layer $l$, and $j_l$ the **jump**: the distance, in input pixels, between two
# neighbouring units of layer $l$. Starting from the input ($r_0 = 1$, $j_0 = 1$):
#
# $$r_l = r_{l-1} + (k'_l - 1)\, j_{l-1}, \qquad j_l = j_{l-1}\, s_l.$$
#
# A kernel of $k'$ positions adds $k' - 1$ neighbours, and neighbours of layer $l-1$ are $j_{l-1}$
# input pixels apart. (Araujo, Norris & Sim, *Computing receptive fields of convolutional neural
# networks*, Distill 2019, derive this and the closed forms.)
#
# ### Exercise 1 (3 points): `rf_recurrence`
#
# `layers` is a list of `(kernel, stride, dilation)` triples, first layer first. Return the pair
# `(size, jump)` after the last layer.

# %% nbgrader={"grade": false, "grade_id": "rf_recurrence", "locked": false, "schema_version": 3, "solution": true, "task": false}
def rf_recurrence(layers):
    """layers: [(kernel, stride, dilation), ...] -> (receptive field size, jump)."""
    ### BEGIN SOLUTION
    size, jump = 1, 1
    for kernel, stride, dilation in layers:
        size += dilation * (kernel - 1) * jump
        jump *= stride
    return size, jump
    ### END SOLUTION


# %% tags=["raises-exception"]
check_rf_recurrence(rf_recurrence)

# %% nbgrader={"grade": true, "grade_id": "rf_recurrence_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_rf_recurrence(rf_recurrence)
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(7)
for _ in range(20):
    _layers = [tuple(int(v) for v in _rng.integers(1, 4, size=3)) for _ in range(_rng.integers(1, 6))]
    _stack = nn.Sequential(*[nn.Conv2d(1, 1, k, stride=s, dilation=d) for k, s, d in _layers])
    _rf = ref.receptive_field(_stack)
    assert tuple(rf_recurrence(_layers)) == (_rf.size[0], _rf.stride[0]), _layers
### END HIDDEN TESTS

# %% [markdown]
# `ref.receptive_field(model)` runs the same recurrence over an `nn.Sequential` of Conv2d,
# MaxPool2d and AvgPool2d layers (activations, batch norm and dropout change nothing) and keeps a
# per-layer table. Given an input size it also tracks the feature-map sizes.

# %%
small = nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(16, 16, 3, dilation=2))
print(ref.receptive_field(small, input_size=(28, 28)).table())

# %% [markdown]
# ## 3. VGG's argument for 3×3 kernels
#
# The notes (§2.3): three stacked 3×3 layers "have the same effective receptive field as one 7×7
# layer", at a lower cost, with more nonlinearities. With $C$ channels in and out, each 3×3 layer
# has $3^2 C^2$ weights, so the stack has $27C^2$ against $49C^2$ for one 7×7 layer. We count both
# from PyTorch layers with $C = 64$:

# %%
C = 64
three_3x3 = nn.Sequential(*[m for _ in range(3) for m in (nn.Conv2d(C, C, 3, bias=False), nn.ReLU())])
one_7x7 = nn.Sequential(nn.Conv2d(C, C, 7, bias=False), nn.ReLU())
weights_3 = sum(p.numel() for p in three_3x3.parameters())
weights_7 = sum(p.numel() for p in one_7x7.parameters())
print(f"receptive field: three 3×3 → {ref.receptive_field(three_3x3).size[0]}, "
      f"one 7×7 → {ref.receptive_field(one_7x7).size[0]}")
print(f"weights: three 3×3 → {weights_3:,} = 27·C², one 7×7 → {weights_7:,} = 49·C² "
      f"(ratio {weights_3 / weights_7:.3f} = 27/49)")
print(f"nonlinearities: {sum(isinstance(m, nn.ReLU) for m in three_3x3)} vs "
      f"{sum(isinstance(m, nn.ReLU) for m in one_7x7)}")
print(f"multiply-adds per output pixel: {27 * C * C:,} vs {49 * C * C:,}")

# %% [markdown]
# The notes write the costs as $3 \cdot (3^2 C)$ and $7^2 C$: that is the count for *one* output
# channel. A layer with $C$ output channels has $C$ times as many; the ratio 27/49 is unchanged.
#
# ### Can three 3×3 layers do what one 7×7 layer does?
#
# Seeing the same pixels is not computing the same functions. Take one channel and no
# nonlinearity. Layers with kernels $a$, $b$, $c$ applied in turn are one convolution whose kernel
# is the full convolution $a * b * c$ (`ref.compose_kernels`), a 7×7 kernel. Is every 7×7 kernel of
# that form? Its rank is no obstacle:

# %%
random_stacks = np.random.default_rng(0).standard_normal((1000, 3, 3, 3))
ranks = np.linalg.matrix_rank(ref.compose_kernels(random_stacks))
print(f"composed 7×7 kernels of 1000 random stacks of three 3×3 kernels: {(ranks == 7).sum()} have "
      f"rank 7 (full), the lowest rank is {ranks.min()}")

# %% [markdown]
# Counting is. The stack has 27 weights, but two directions change nothing (double $a$ and halve
# $b$), so its composed kernels form a family of at most 25 dimensions inside the 49 dimensions of
# all 7×7 kernels: most 7×7 kernels are out of reach. How far? `ref.fit_composition` fits
# $a * b * c$ to a target kernel $K$ by nonlinear least squares in the 27 weights
# (Levenberg–Marquardt from 100 seeded random starts: the problem has local minima) and returns the
# relative residual $\lVert a * b * c - K \rVert / \lVert K \rVert$: 0 is exact, 1 is no better
# than the zero kernel.

# %%
x = np.arange(7) - 3
r2 = x[:, None] ** 2 + x[None, :] ** 2
along = x[None, :] * np.cos(np.pi / 6) + x[:, None] * np.sin(np.pi / 6)  # 30° from the x axis
log_kernel = (r2 - 2 * 1.2 ** 2) * np.exp(-r2 / (2 * 1.2 ** 2))
targets = {
    "Gaussian, σ = 1.5": np.exp(-r2 / (2 * 1.5 ** 2)),
    "box (7×7 mean)": np.ones((7, 7)),
    "disc, radius 3": (r2 <= 9).astype(float),
    "Laplacian of Gaussian": log_kernel - log_kernel.mean(),
    "Gabor, 30°": np.exp(-r2 / 8) * np.cos(2 * np.pi * along / 4),
}
targets.update({f"random N(0, 1) #{i + 1}": kernel
                for i, kernel in enumerate(np.random.default_rng(1).standard_normal((5, 7, 7)))})
fits = {name: ref.fit_composition(target) for name, target in targets.items()}
for name, (_, residual) in fits.items():
    verdict = "exact (< 1e-9)" if residual < 1e-9 else f"{residual:.3f}"
    print(f"{name:>22}: relative residual {verdict}")
random_residuals = np.array([residual for name, (_, residual) in fits.items() if name.startswith("random")])
print(f"random kernels: {random_residuals.mean():.2f} ± {random_residuals.std(ddof=1):.2f} (mean ± sd of 5): "
      f"the best stack misses about {random_residuals.mean():.0%} of a random kernel's norm")

# %%
shown = list(targets)[:6]
fig, axes = plt.subplots(2, len(shown), figsize=(12, 4.4))
for column, name in enumerate(shown):
    limit = np.abs(targets[name]).max()
    composed = ref.compose_kernels(fits[name][0])
    for row, kernel in enumerate((targets[name], composed)):
        axes[row, column].imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[row, column].set_xticks([])
        axes[row, column].set_yticks([])
    axes[0, column].set_title(name, fontsize=10)
    residual = fits[name][1]
    axes[1, column].set_xlabel("exact" if residual < 1e-9 else f"residual {residual:.2f}", fontsize=10)
axes[0, 0].set_ylabel("target 7×7")
axes[1, 0].set_ylabel("best a * b * c")
fig.suptitle("7×7 targets (top) and the closest composition of three 3×3 kernels (bottom); "
             "red > 0 > blue")
fig.tight_layout()
plt.show()

# %% [markdown]
# * **Separable kernels are exact** (the Gaussian, the box: $K = u v^\top$). A 7-tap 1-D kernel
#   is a polynomial of degree 6, which always factors into three real quadratics, that is, three
#   3-tap kernels; so $u$ and $v$ both split into three, and each 3×3 layer takes one factor of each.
# * **Non-separable kernels are approximations**, some close (the Laplacian of Gaussian), some not
#   (the disc); a random 7×7 kernel is far out of reach.
# * **Per channel pair** the stack has 27 weights (25 that matter) against 49. With $C$ channels in
#   and out, mixing the channels between two layers by an invertible $C \times C$ matrix and undoing
#   it in the next layer changes nothing, so of the stack's $27C^2$ weights at most $25C^2$
#   directions matter, against $49C^2$ for one 7×7 layer:

# %%
for channels in (1, 64):
    stack_weights, mixing = 3 * 9 * channels ** 2, 2 * channels ** 2
    print(f"C = {channels:>2}: three 3×3 layers {stack_weights:>7,} weights, at most "
          f"{stack_weights - mixing:>7,} that matter; one 7×7 layer {49 * channels ** 2:>7,}")

# %% [markdown]
# So without nonlinearities the stack is a strictly smaller family than one 7×7 layer, for every
# $C$. VGG trades that for 27/49 of the weights and the compute, and for three nonlinearities
# instead of one: with ReLUs between the layers the stack computes functions that no single
# 7×7 convolution (linear before its one ReLU) can.
#
# ## 4. Stride, pooling and dilation multiply the growth; padding shifts it
#
# With stride 1, each 3×3 layer adds 2 pixels: growth is linear in depth. A stride or pooling
# layer multiplies the jump, so every later layer adds more. Dilations that double at every layer
# (1, 2, 4, ..., as in WaveNet or DeepLab) make the receptive field grow exponentially.

# %%
def grow(kind, depth):
    layers = []
    for index in range(depth):
        if kind == "3×3 convs":
            layers.append(nn.Conv2d(1, 1, 3))
        elif kind == "3×3 conv + 2×2 pool":
            layers += [nn.Conv2d(1, 1, 3), nn.MaxPool2d(2)]
        elif kind == "3×3 convs, stride 2":
            layers.append(nn.Conv2d(1, 1, 3, stride=2))
        elif kind == "3×3 convs, dilation 2^(l−1)":
            layers.append(nn.Conv2d(1, 1, 3, dilation=2 ** index))  # dilations 1, 2, 4, ...
    return nn.Sequential(*layers)


kinds = ["3×3 convs", "3×3 convs, stride 2", "3×3 conv + 2×2 pool", "3×3 convs, dilation 2^(l−1)"]
depths = range(1, 7)
sizes = {kind: [ref.receptive_field(grow(kind, d)).size[0] for d in depths] for kind in kinds}
print(f"{'depth':>28}" + "".join(f"{d:>6}" for d in depths))
for kind in kinds:
    print(f"{kind:>28}" + "".join(f"{s:>6}" for s in sizes[kind]))
styles = {"3×3 convs": dict(marker="o"), "3×3 conv + 2×2 pool": dict(marker="^"),
          "3×3 convs, stride 2": dict(marker="s", markersize=11, markerfacecolor="none", linewidth=4, alpha=0.5),
          "3×3 convs, dilation 2^(l−1)": dict(marker="x", markersize=8, linestyle="--", color="k")}
fig, ax = plt.subplots(figsize=(9, 3.8))
for kind in kinds:
    label = kind + (" (same sizes as stride 2)" if "dilation" in kind else "")
    ax.plot(list(depths), sizes[kind], label=label, **styles[kind])
ax.set_yscale("log")
ax.set_xlabel("layers")
ax.set_ylabel("receptive field (pixels)")
ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1))
fig.tight_layout()
plt.show()

# %% [markdown]
# The stride-2 and the doubling-dilation stacks have the same receptive field at every depth, and
# their curves lie on top of each other. The recurrence says why: layer $l$ adds
# $(k'_l - 1)\, j_{l-1}$ pixels. Stride 2 keeps the kernel ($k' = 3$) and doubles the jump; dilation
# $2^{l-1}$ keeps the jump at 1 and doubles the kernel's span. Both add $2 \cdot 2^{l-1}$:

# %%
strided, dilated = (ref.receptive_field(grow(kind, 6)).layers
                    for kind in ("3×3 convs, stride 2", "3×3 convs, dilation 2^(l−1)"))
added = {}
for name, rows in (("stride 2", strided), ("dilation 2^(l−1)", dilated)):
    jumps_before = [1] + [row.jump[0] for row in rows[:-1]]
    spans = [row.dilation[0] * (row.kernel[0] - 1) + 1 for row in rows]
    added[name] = [(span - 1) * jump for span, jump in zip(spans, jumps_before)]
    terms = "  ".join(f"{span - 1}·{jump}" for span, jump in zip(spans, jumps_before))
    print(f"{name:>17}: (k' − 1)·j per layer  {terms}  = {added[name]}")
print(f"same pixels added at every layer: {added['stride 2'] == added['dilation 2^(l−1)']}")
padded = {"stride 2": [nn.Conv2d(1, 1, 3, stride=2, padding=1) for _ in range(6)],
          "dilation 2^(l−1)": [nn.Conv2d(1, 1, 3, dilation=2 ** i, padding=2 ** i) for i in range(6)]}
for name, layers in padded.items():
    output = ref.receptive_field(nn.Sequential(*layers), input_size=(128, 128)).layers[-1].output
    print(f"{name:>17}, padded: a 128×128 input gives a {output[0]}×{output[1]} map after 6 layers")

# %% [markdown]
# What differs is the resolution: every stride halves the feature map, while the dilated stack
# (padded) keeps a unit for every input pixel. That is why segmentation networks such as DeepLab
# use dilation to grow the receptive field.

# %% [markdown]
# Dilation has a catch: the receptive field has holes. A unit of a stack with dilations 1, 2, 4
# spans 15 pixels, but does it depend on all of them? Backpropagation tells:

# %%
for dilations in [(1, 2, 4), (2, 2, 2)]:
    stack = nn.Sequential(*[nn.Conv2d(1, 1, 3, dilation=d) for d in dilations])
    size = ref.receptive_field(stack).size[0]
    reached = ref.empirical_receptive_field(stack, input_size=(size, size))
    print(f"dilations {dilations}: receptive field {size}×{size} = {size * size} pixels, "
          f"{int(reached.sum())} of them reached ({reached.mean():.0%})")

# %% [markdown]
# Doubling dilations (1, 2, 4) cover every pixel; a constant dilation of 2 reaches only the pixels
# at even offsets from the corner, a 7×7 lattice inside the 13×13 field (the "gridding" artefact
# of dilated networks).
#
# **Padding** does not change the size of the receptive field; it shifts where it sits. With
# effective padding $P_L$ (accumulated like the size: $P_l = P_{l-1} + p_l\, j_{l-1}$), output unit
# $i$ sees input positions $i\, j_L - P_L$ through $i\, j_L - P_L + r_L - 1$. Units near the border
# see partly into the zero padding.
#
# ### Exercise 2 (2 points): `input_region`
#
# Given an output unit's index `i` along one axis, the receptive field `size`, the `jump` and the
# effective `padding`, return `(first, last)`: the first and last input positions it sees (both
# included; they may be negative or beyond the image when the unit sees padding).

# %% nbgrader={"grade": false, "grade_id": "input_region", "locked": false, "schema_version": 3, "solution": true, "task": false}
def input_region(i, size, jump, padding):
    """First and last input position (inclusive) seen by output unit i."""
    ### BEGIN SOLUTION
    first = i * jump - padding
    return first, first + size - 1
    ### END SOLUTION


# %% tags=["raises-exception"]
check_input_region(input_region)

# %% nbgrader={"grade": true, "grade_id": "input_region_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_input_region(input_region)
### BEGIN HIDDEN TESTS
_stack = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(1, 1, 5, padding=2, stride=2))
_rf = ref.receptive_field(_stack, input_size=(32, 32))
for _i in range(_rf.layers[-1].output[0]):
    _rows = ref.empirical_receptive_field(_stack, (32, 32), unit=(_i, 0)).any(axis=1).nonzero()[0]
    _first, _last = input_region(_i, _rf.size[0], _rf.stride[0], _rf.padding[0])
    assert (max(_first, 0), min(_last, 31)) == (_rows.min(), _rows.max()), _i
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Receptive fields of real networks
#
# ### AlexNet's convolutional stack
#
# AlexNet (Krizhevsky et al. 2012) on a 227×227 input: an 11×11 stride-4 convolution, then 5×5
# and 3×3 convolutions with three 3×3 stride-2 max poolings. The table follows the recurrence layer
# by layer:

# %%
alexnet_rf = ref.receptive_field(alexnet_features(), input_size=(227, 227))
print(alexnet_rf.table())
print(f"\nunits after the last pooling see {alexnet_rf.size[0]}×{alexnet_rf.size[1]} pixels, "
      f"{alexnet_rf.stride[0]} pixels apart")

# %% [markdown]
# ### VGG16's convolutional stack
#
# Thirteen 3×3 convolutions (padding 1) in five blocks, each closed by a 2×2 max pooling, on a
# 224×224 input:

# %%
vgg_rf = ref.receptive_field(vgg16_features(), input_size=(224, 224))
print(vgg_rf.table())
print(f"\nunits after the last pooling see {vgg_rf.size[0]}×{vgg_rf.size[1]} pixels, "
      f"{vgg_rf.stride[0]} apart, effective padding {vgg_rf.padding[0]}")

# %% [markdown]
# ### Exercise 3 (3 points): `vgg_stack_rf`
#
# A VGG-style stack is a sequence of blocks; block $b$ has `convs_per_block[b]` 3×3 convolutions
# (stride 1, padding 1) followed by one 2×2 max pooling with stride 2. Return the receptive-field
# size of a unit after the last pooling. VGG16 is `convs_per_block = (2, 2, 3, 3, 3)`. You may use
# your `rf_recurrence`, or find a closed form.

# %% nbgrader={"grade": false, "grade_id": "vgg_stack_rf", "locked": false, "schema_version": 3, "solution": true, "task": false}
def vgg_stack_rf(convs_per_block):
    """Receptive field (pixels) after blocks of 3x3 convs, each block closed by a 2x2/2 pool."""
    ### BEGIN SOLUTION
    size, jump = 1, 1
    for n_convs in convs_per_block:
        size += 2 * jump * n_convs  # each 3x3 conv adds (3 - 1) jumps
        size += jump                # the 2x2 pool adds (2 - 1) jump ...
        jump *= 2                   # ... and doubles the jump
    return size
    ### END SOLUTION


# %% tags=["raises-exception"]
check_vgg_stack_rf(vgg_stack_rf)

# %% nbgrader={"grade": true, "grade_id": "vgg_stack_rf_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_vgg_stack_rf(vgg_stack_rf)
### BEGIN HIDDEN TESTS
for _blocks in [(4,), (1, 2, 3), (3, 3, 3, 3), (2, 2, 4, 4, 4), (0, 1)]:
    _layers = [m for n in _blocks for m in [nn.Conv2d(1, 1, 3, padding=1) for _ in range(n)] + [nn.MaxPool2d(2)]]
    assert vgg_stack_rf(_blocks) == ref.receptive_field(nn.Sequential(*_layers)).size[0], _blocks
assert vgg_stack_rf((2, 2, 3, 3, 3)) == 212
### END HIDDEN TESTS

# %% [markdown]
# ### Drawn on an image
#
# Boxes show the receptive fields of three units of the last layer, on the photo resized to the
# network's input size. For VGG16 the corner unit's box starts 90 pixels outside the image: most
# of what it "sees" is zero padding.

# %%
photo = torch.tensor(load_sample_photo(gray=True))[None, None]


def draw_units(ax, rf, size, units, title):
    image = F.interpolate(photo, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    ax.imshow(image[0, 0], cmap="gray")
    for (i, j), colour in zip(units, ("tab:red", "tab:cyan", "tab:orange")):
        (top, bottom), (left, right) = rf.region(i, j, clip=False)
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1,
                               fill=False, edgecolor=colour, linewidth=2, label=f"unit ({i}, {j})"))
    ax.set_xlim(-100, size + 100)
    ax.set_ylim(size + 100, -100)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)


fig, axes = plt.subplots(1, 2, figsize=(11, 5.4))
last = alexnet_rf.layers[-1].output[0] - 1
draw_units(axes[0], alexnet_rf, 227, [(0, 0), (last // 2, last // 2), (last, last)],
           f"AlexNet stack: {alexnet_rf.size[0]}×{alexnet_rf.size[0]}, jump {alexnet_rf.stride[0]}")
last = vgg_rf.layers[-1].output[0] - 1
draw_units(axes[1], vgg_rf, 224, [(0, 0), (last // 2, last // 2), (last, last)],
           f"VGG16 stack: {vgg_rf.size[0]}×{vgg_rf.size[0]}, jump {vgg_rf.stride[0]}")
fig.tight_layout()
plt.show()

# %% [markdown]
# The empirical method agrees. We backpropagate from the centre unit of each stack (a copy with
# 1/16 of the channels: the geometry, and so the receptive field, does not depend on the channel
# count) and find the extent of the input pixels reached:

# %%
for name, stack, size in [("AlexNet", alexnet_features(width=1 / 16), 227),
                          ("VGG16", vgg16_features(width=1 / 16), 224)]:
    rf = ref.receptive_field(stack, input_size=(size, size))
    centre = (rf.layers[-1].output[0] // 2, rf.layers[-1].output[1] // 2)
    rows, cols = np.nonzero(ref.empirical_receptive_field(stack, (size, size), unit=centre))
    print(f"{name} unit {centre}: analytic rows/cols {rf.region(*centre)}, "
          f"reached rows ({rows.min()}, {rows.max()}), cols ({cols.min()}, {cols.max()})")

# %% [markdown]
# ## 6. The effective receptive field
#
# Every pixel in the receptive field *can* influence a unit, but not equally: section 1 showed
# that far more paths lead from the centre. Luo, Li, Urtasun & Zemel (*Understanding the effective
# receptive field in deep convolutional neural networks*, NeurIPS 2016) define the **effective
# receptive field** (ERF) as the magnitude of the gradient of a central output unit with respect to
# the input, averaged over inputs and initialisations. They find it roughly Gaussian, with a width
# that grows like $\sqrt{n}$ with depth $n$, while the theoretical receptive field grows like $n$:
# the ERF occupies a shrinking fraction of it.
#
# `ref.effective_receptive_field(build_model, input_size, trials, seed)` measures it: it builds a
# fresh randomly initialised model per trial (PyTorch's default initialisation), feeds
# standard-normal noise, and averages |gradient|. Our stacks: a 3×3 convolution from 1 to 8
# channels, then $n - 1$ blocks of ReLU and a 3×3 convolution (padding 1 throughout). We measure
# 20 networks per depth (one seed, one fresh model and one input each), so that every width comes
# with its spread.

# %%
class Shortcut(nn.Module):
    """A residual connection: x + block(x)."""

    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return x + self.block(x)


def conv_relu_stack(n, residual=False, channels=8):
    """A model builder: conv 1→channels, then n − 1 blocks ReLU → conv, with shortcuts if residual."""
    def build():
        layers = [nn.Conv2d(1, channels, 3, padding=1)]
        for _ in range(n - 1):
            block = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1))
            layers.append(Shortcut(block) if residual else block)
        return nn.Sequential(*layers)
    return build


def erf_samples(build, seeds=range(20)):
    """(seeds, H, W): the ERF of one fresh model and one input per seed."""
    return np.array([ref.effective_receptive_field(build, input_size, trials=1, seed=seed) for seed in seeds])


def widths_of(samples):
    """(seeds, 2): the ERF width σ along rows and along columns, per sample."""
    return np.array([ref.spread(erf) for erf in samples])


input_size = (72, 72)  # larger than the biggest receptive field below (65)
depths = [1, 2, 4, 8, 16, 32]
samples = {n: erf_samples(conv_relu_stack(n)) for n in depths}
widths = {n: widths_of(samples[n]) for n in depths}

fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
for ax, n in zip(axes, (2, 8, 32)):
    ax.imshow(samples[n].mean(axis=0), cmap="magma")
    size = 2 * n + 1
    ax.add_patch(Rectangle((35.5 - n, 35.5 - n), size, size, fill=False, edgecolor="cyan", linewidth=1.5))
    ax.set_title(f"{n} layers: RF {size}, ERF σ = {widths[n].mean():.2f} (mean)", fontsize=11)
    ax.axis("off")
fig.suptitle("effective receptive field (mean |gradient| over 20 networks) inside the theoretical one (cyan);\n"
             "σ: the width of each network's ERF, averaged")
fig.tight_layout()
plt.show()

# %% [markdown]
# How the width grows with depth, along both axes (mean ± sd over the 20 networks). Two references:
#
# * A stack of *uniform* linear 3×3 filters (all weights 1/9, deterministic: one trial). Its ERF is
#   exactly the $n$-fold convolution of a 3-tap box with itself along each axis; variances add, so
#   its width is exactly $\sigma = \sqrt{n \cdot (3^2 - 1)/12} = \sqrt{2n/3}$.
# * For random zero-mean weights, independent across layers, the *squared* gradient spreads like
#   the uniform stack (the mean of $w^2$ is the same at all nine taps, and cross terms average
#   out). If the gradient at each pixel is roughly normal, its mean magnitude goes like the square
#   root of its mean square, so the prediction for the ERF is the square root of the uniform
#   stack's profile, renormalised: a profile that starts as the box and becomes a Gaussian
#   $\sqrt 2$ times wider than the uniform one, $\sqrt{4n/3}$.

# %%
def box_power(n):
    """The n-fold convolution of the 3-tap box [1, 1, 1] / 3: (2n + 1,), offsets −n..n."""
    profile = np.array([1.0])
    for _ in range(n):
        profile = np.convolve(profile, np.ones(3) / 3)
    return profile


def profile_width(profile):
    """Standard deviation of a non-negative 1-D profile (normalised here)."""
    profile = profile / profile.sum()
    offsets = np.arange(profile.size)
    mean = (offsets * profile).sum()
    return float(np.sqrt(((offsets - mean) ** 2 * profile).sum()))


def uniform_linear_stack(n):
    def build():
        stack = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1, bias=False) for _ in range(n)])
        for conv in stack:
            nn.init.constant_(conv.weight, 1 / 9)
        return stack
    return build


uniform = {n: ref.effective_receptive_field(uniform_linear_stack(n), input_size, trials=1) for n in depths}
exact = all(np.allclose(uniform[n][36 - n:37 + n, 36 - n:37 + n], np.outer(box_power(n), box_power(n)),
                        rtol=0, atol=1e-12) for n in depths)
print(f"uniform stack's ERF = outer product of the n-fold box convolutions (to 1e-12): {exact}\n")
predicted = {n: profile_width(np.sqrt(box_power(n))) for n in depths}
print(f"{'layers n':>8} {'RF':>4} {'σ rows (ReLU)':>14} {'σ cols (ReLU)':>14} {'√-prediction':>13} "
      f"{'σ uniform':>10} {'√(2n/3)':>8} {'4σ/RF':>6}")
for n in depths:
    (rows_mean, cols_mean), (rows_sd, cols_sd) = widths[n].mean(axis=0), widths[n].std(axis=0, ddof=1)
    print(f"{n:>8} {2 * n + 1:>4} {rows_mean:>7.2f} ± {rows_sd:.2f} {cols_mean:>7.2f} ± {cols_sd:.2f} "
          f"{predicted[n]:>13.2f} {ref.spread(uniform[n])[0]:>10.2f} {np.sqrt(2 * n / 3):>8.2f} "
          f"{4 * widths[n].mean() / (2 * n + 1):>6.2f}")

# %% [markdown]
# The exponent $a$ in $\sigma \propto n^a$: the slope of a straight line through
# $(\log n, \log \sigma)$, and its uncertainty from 1000 bootstrap resamples of the 20 networks at
# each depth. The local slope between successive depths shows whether one exponent fits them all.

# %%
def growth_exponent(per_depth, boots=1000, seed=0):
    """Log-log slope of the mean width against depth, and its bootstrap sd over the networks.

    per_depth: one array per depth of ``depths``, shape (networks,) or (networks, 2).
    """
    def slope(arrays):
        return np.polyfit(np.log(depths), np.log([a.mean() for a in arrays]), 1)[0]
    resample = np.random.default_rng(seed)
    boot = [slope([a[resample.integers(0, len(a), len(a))] for a in per_depth]) for _ in range(boots)]
    return slope(per_depth), np.std(boot, ddof=1)


for axis, name in ((0, "rows"), (1, "columns")):
    a, sd = growth_exponent([widths[n][:, axis] for n in depths])
    print(f"exponent along {name:<7}: {a:.2f} ± {sd:.3f}")
exponent_relu, sd_relu = growth_exponent([widths[n] for n in depths])
local = np.diff(np.log([widths[n].mean() for n in depths])) / np.diff(np.log(depths))
exponent_predicted = np.polyfit(np.log(depths), np.log([predicted[n] for n in depths]), 1)[0]
exponent_uniform = np.polyfit(np.log(depths), np.log([ref.spread(uniform[n])[0] for n in depths]), 1)[0]
print(f"exponent, both axes: {exponent_relu:.2f} ± {sd_relu:.3f} (random ReLU stacks, n = 1 to 32); "
      f"√-prediction {exponent_predicted:.2f}; uniform stacks {exponent_uniform:.2f}; theoretical RF 1")
print(f"random ReLU stacks: exponent above ½ by more than 3 bootstrap sd: {exponent_relu - 0.5 > 3 * sd_relu}")
print("local exponent between successive depths: " + ", ".join(f"{value:.2f}" for value in local)
      + f"; falling with depth: {bool(np.all(np.diff(local) < 0))}; last one within 0.05 of ½: "
      f"{bool(abs(local[-1] - 0.5) < 0.05)}")

# %% [markdown]
# Is the ERF a Gaussian? For the uniform stack it is a repeated convolution of a box, so by the
# central limit theorem it *approaches* a Gaussian; it is never exactly one (it is zero beyond
# the receptive field, for a start). We measure the gap as the total variation distance between the
# profile and a sampled Gaussian of the same width (0: identical; 1: disjoint), for the uniform
# stacks and for the mean ERF of the 20 random ReLU stacks.

# %%
def gap_to_gaussian(profile):
    """Total variation distance between a centred 1-D profile and the Gaussian of its width."""
    profile = profile / profile.sum()
    offsets = np.arange(profile.size) - (profile.size - 1) / 2
    gaussian = np.exp(-offsets ** 2 / (2 * profile_width(profile) ** 2))
    return 0.5 * np.abs(profile - gaussian / gaussian.sum()).sum()


print(f"{'layers n':>8} {'uniform stack':>14} {'random ReLU stacks (mean ERF), rows / cols':>44}")
for n in depths:
    mean_erf = samples[n].mean(axis=0)
    print(f"{n:>8} {gap_to_gaussian(box_power(n)):>14.3f} {gap_to_gaussian(mean_erf.sum(axis=1)):>30.3f} / "
          f"{gap_to_gaussian(mean_erf.sum(axis=0)):.3f}")
uniform_gaps = [gap_to_gaussian(box_power(n)) for n in depths]
print(f"uniform stack: the gap falls at every depth: {bool(np.all(np.diff(uniform_gaps) < 0))}, "
      f"and is never 0: {min(uniform_gaps) > 0}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
means = np.array([widths[n].mean(axis=0) for n in depths])
sds = np.array([widths[n].std(axis=0, ddof=1) for n in depths])
axes[0].errorbar(depths, means[:, 0], sds[:, 0], fmt="o", capsize=3, label="random ReLU stacks, rows (mean ± sd)")
axes[0].errorbar(np.array(depths) * 1.06, means[:, 1], sds[:, 1], fmt="^", capsize=3, label="... columns")
axes[0].loglog(depths, [predicted[n] for n in depths], "-", color="tab:green", label="√-prediction")
axes[0].loglog(depths, [ref.spread(uniform[n])[0] for n in depths], "s", color="tab:red",
               label="uniform linear stack (measured)")
axes[0].loglog(depths, np.sqrt(2 * np.array(depths) / 3), "k--", label="√(2n/3)")
axes[0].loglog(depths, (2 * np.array(depths) + 1) / 4, "k:", label="theoretical RF / 4")
axes[0].set_xlabel("layers n")
axes[0].set_ylabel("width σ (pixels)")
axes[0].legend(fontsize=8)
profile = samples[32].mean(axis=0).sum(axis=0)
positions = np.arange(profile.size) - 36
sigma = profile_width(profile)
gaussian = np.exp(-positions ** 2 / (2 * sigma ** 2))
axes[1].plot(positions, profile / profile.max(), label="mean ERF profile, 32 ReLU layers")
axes[1].plot(positions, gaussian, "--", label=f"Gaussian of the same width, σ = {sigma:.2f}")
axes[1].axvspan(-32, 32, color="cyan", alpha=0.15, label="theoretical RF")
axes[1].set_xlabel("input column − centre")
axes[1].set_ylabel("relative weight")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# What the numbers say:
#
# * The ERF grows far more slowly than the theoretical receptive field (exponent 1), and the last
#   column of the table (the ERF's ±2σ band as a fraction of the receptive field) falls with depth.
# * Over depths 1 to 32 the fitted exponent of random ReLU stacks is above ½, by much more than
#   its bootstrap uncertainty: one power law does not describe these depths. The
#   local exponent falls with depth towards ½, as the square-root prediction does: its width starts
#   as the box's and only becomes $\sqrt 2$ times the uniform stack's for deep stacks. Luo et al.'s
#   $\sqrt{n}$ is the deep-stack limit.
# * The profiles are close to Gaussian, not equal to one: the gap is printed above. For the
#   uniform stack it shrinks as depth grows, as the central limit theorem says; for the random
#   stacks it shrinks too, but part of it is the noise of averaging only 20 networks.
#
# ### Do skip connections widen the ERF?
#
# A residual network adds shortcuts, $x + \mathrm{block}(x)$. The theoretical receptive field does
# not change (the path through every block still exists), but the shortcuts add short paths:
# through $m$ of the blocks and around the others. Luo et al. report that skip connections make the
# effective receptive field *smaller*. We measure the same stacks with a shortcut around every
# ReLU → conv block:

# %%
residual_samples = {n: erf_samples(conv_relu_stack(n, residual=True)) for n in depths}
residual_widths = {n: widths_of(residual_samples[n]) for n in depths}
print(f"{'layers n':>8} {'RF':>4} {'plain σ rows / cols':>22} {'residual σ rows / cols':>25}")
for n in depths:
    plain, residual = widths[n], residual_widths[n]
    print(f"{n:>8} {2 * n + 1:>4} "
          + "   ".join(f"{w[:, 0].mean():5.2f} ± {w[:, 0].std(ddof=1):.2f} / {w[:, 1].mean():5.2f} ± "
                       f"{w[:, 1].std(ddof=1):.2f}" for w in (plain, residual)))
narrower = all(residual_widths[n].mean() < widths[n].mean() for n in depths[1:])
exponent_residual, sd_residual = growth_exponent([residual_widths[n] for n in depths])
print(f"\nwith shortcuts the ERF is narrower at every depth n ≥ 2: {narrower}; at 32 layers "
      f"{residual_widths[32].mean() / widths[32].mean():.0%} of the plain stack's width")
print(f"exponent, both axes: plain {exponent_relu:.2f} ± {sd_relu:.3f}, "
      f"residual {exponent_residual:.2f} ± {sd_residual:.3f}")

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.8))
positions = np.arange(input_size[1]) - input_size[1] // 2
for name, maps in (("plain", samples[32]), ("with shortcuts", residual_samples[32])):
    profile = maps.mean(axis=0).sum(axis=0)
    ax.plot(positions, profile / profile.sum() * 100, label=f"{name}, 32 layers")
ax.axvspan(-32, 32, color="cyan", alpha=0.15, label="theoretical RF (both)")
ax.set_xlabel("input column − centre")
ax.set_ylabel("share of the ERF (%)")
ax.set_title("ERF profile, mean over 20 networks")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The shortcuts shrink the effective receptive field, as Luo et al. found: much of the gradient
# takes the short paths around the blocks, and a short path sees a small neighbourhood. (With
# PyTorch's default initialisation each block starts weak, so the shortcuts dominate even more.)
# So depth alone grows the ERF slowly, and shortcuts slow it further. What does widen it is what
# widens the theoretical receptive field faster than depth (section 4): pooling, strides and
# dilation. A deep unit's decision rests mostly on the centre of what it could see.
#
# ## 7. Explore
#
# Build a three-layer stack and pick an output unit: the cyan box is the analytic receptive field
# (it may extend beyond the image), the coloured pixels are those the unit actually depends on,
# brighter where more paths arrive. Try stride 2 in the first layer and dilation 3 in the last;
# try kernel 1 with stride 3 (gaps between the pixels seen).

# %%
test_images, test_labels = load_fashion_mnist("test")
coat = test_images[(test_labels == CLASS_NAMES.index("Coat")).nonzero()[0, 0], 0].numpy()

# %%
# NBVAL_IGNORE_OUTPUT
# The widget's text representation includes model ids that change with every run.
ReceptiveFieldExplorer(coat)

# %% [markdown]
# ## Summary, and what the notes get loose
#
# * $r_l = r_{l-1} + (k'_l - 1) j_{l-1}$, $j_l = j_{l-1} s_l$: strides and pooling multiply the
#   growth, dilation widens kernels, padding shifts the region.
# * Without nonlinearities, three 3×3 layers are a strict subset of one 7×7 layer: separable 7×7
#   kernels are exact, others only approximated ($25C^2$ useful directions against $49C^2$).
# * The effective receptive field is approximately Gaussian and grows much more slowly than the
#   theoretical one, like $\sqrt{n}$ for deep stacks; skip connections make it smaller still.
#
# Checked against the notes in this lesson:
# * "up to 9 × 9 = 81 original pixels" after two 3×3 layers: 81 is the number of **paths**; the
#   unit sees **25** distinct pixels (a 5×5 patch). ✘
# * Three 3×3 layers see 7×7, like one 7×7 layer. ✔ (The notes say "effective receptive field" and
#   mean the theoretical one.) Their weights are $27C^2$ vs $49C^2$; the notes' $3 \cdot (3^2 C)$ and
#   $7^2 C$ count one output channel only. (loose) Seeing the same pixels is not computing the same
#   functions: without nonlinearities the stack reaches only part of the 7×7 kernels (section 3).
# * "the effective receptive field of each successive layer increases" (§1.1): the notes mean the
#   theoretical receptive field; the *effective* one, in Luo et al.'s sense, grows too, but only
#   like the square root of depth (for deep stacks). (loose)
