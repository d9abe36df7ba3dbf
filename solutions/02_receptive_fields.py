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
# **Time.** About 75 minutes. Three graded exercises (⭐), each with an instant check. If you are
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
# Note also that the 7×7 layer can express functions the 3×3 stack cannot (the stack's combined
# kernel, without nonlinearities, is a 7×7 kernel of rank limited by the 3×3 factors); VGG bets
# that depth and nonlinearity are worth more.
#
# ## 4. Stride, pooling and dilation multiply the growth; padding shifts it
#
# With stride 1, each 3×3 layer adds 2 pixels: growth is linear in depth. A stride or pooling
# layer multiplies the jump, so every later layer adds more. Dilations that double at every layer
# (as in WaveNet or DeepLab) make the receptive field grow exponentially.

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
        elif kind == "3×3 convs, dilation 2^l":
            layers.append(nn.Conv2d(1, 1, 3, dilation=2 ** index))
    return nn.Sequential(*layers)


kinds = ["3×3 convs", "3×3 convs, stride 2", "3×3 conv + 2×2 pool", "3×3 convs, dilation 2^l"]
depths = range(1, 7)
sizes = {kind: [ref.receptive_field(grow(kind, d)).size[0] for d in depths] for kind in kinds}
print(f"{'depth':>26}" + "".join(f"{d:>6}" for d in depths))
for kind in kinds:
    print(f"{kind:>26}" + "".join(f"{s:>6}" for s in sizes[kind]))
fig, ax = plt.subplots(figsize=(6, 3.5))
for kind in kinds:
    ax.plot(list(depths), sizes[kind], "o-", label=kind)
ax.set_yscale("log")
ax.set_xlabel("layers")
ax.set_ylabel("receptive field (pixels)")
ax.legend()
plt.show()

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
# the input, averaged over inputs and initialisations. They show it is roughly Gaussian and that
# its width grows like $\sqrt{n}$ with depth $n$, while the theoretical receptive field grows like
# $n$: the ERF occupies a shrinking fraction of it.
#
# `ref.effective_receptive_field(build_model, input_size, trials)` measures it: it builds a fresh
# randomly initialised model per trial, feeds standard-normal noise, and averages |gradient|.
# We use stacks of $n$ 3×3 convolutions (padding 1, 8 channels) with ReLU.

# %%
def relu_stack(n, channels=8):
    def build():
        layers, in_channels = [], 1
        for _ in range(n):
            layers += [nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU()]
            in_channels = channels
        return nn.Sequential(*layers)
    return build


def uniform_linear_stack(n):
    def build():
        stack = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1, bias=False) for _ in range(n)])
        for conv in stack:
            nn.init.constant_(conv.weight, 1 / 9)
        return stack
    return build


input_size = (72, 72)  # larger than the biggest receptive field below (65)
erf_maps = {n: ref.effective_receptive_field(relu_stack(n), input_size, trials=8) for n in (2, 8, 32)}
fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
for ax, (n, erf) in zip(axes, erf_maps.items()):
    ax.imshow(erf, cmap="magma")
    size = 2 * n + 1
    ax.add_patch(Rectangle((35.5 - n, 35.5 - n), size, size, fill=False, edgecolor="cyan", linewidth=1.5))
    ax.set_title(f"{n} layers: RF {size}, ERF σ = {ref.spread(erf)[0]:.2f}")
    ax.axis("off")
fig.suptitle("effective receptive field (mean |gradient|) inside the theoretical one (cyan)")
fig.tight_layout()
plt.show()

# %% [markdown]
# How the width grows with depth. For a stack of *uniform* linear 3×3 filters the ERF is exactly
# the $n$-fold convolution of a box, a discrete Gaussian by the central limit theorem, with
# standard deviation $\sigma = \sqrt{n \cdot (3^2 - 1)/12} = \sqrt{2n/3}$. For random ReLU stacks
# we measure, and fit the exponent $a$ in $\sigma \propto n^a$ on a log-log scale.

# %%
depths = [1, 2, 4, 8, 16, 32]
sigma_relu = [ref.spread(ref.effective_receptive_field(relu_stack(n), input_size, trials=8))[0] for n in depths]
sigma_uniform = [ref.spread(ref.effective_receptive_field(uniform_linear_stack(n), input_size, trials=1))[0]
                 for n in depths]
print(f"{'layers n':>9} {'RF':>5} {'σ ReLU':>8} {'σ uniform':>10} {'√(2n/3)':>8} {'4σ_ReLU / RF':>13}")
for n, s_relu, s_uniform in zip(depths, sigma_relu, sigma_uniform):
    print(f"{n:>9} {2 * n + 1:>5} {s_relu:>8.2f} {s_uniform:>10.2f} {np.sqrt(2 * n / 3):>8.2f} "
          f"{4 * s_relu / (2 * n + 1):>13.2f}")
exponent_relu = np.polyfit(np.log(depths), np.log(sigma_relu), 1)[0]
exponent_uniform = np.polyfit(np.log(depths), np.log(sigma_uniform), 1)[0]
print(f"fitted exponent: random ReLU stacks {exponent_relu:.2f}, uniform linear stacks "
      f"{exponent_uniform:.2f} (theory 0.5; the theoretical RF grows with exponent 1)")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].loglog(depths, sigma_relu, "o-", label="random ReLU stack (measured)")
axes[0].loglog(depths, sigma_uniform, "s-", label="uniform linear stack (measured)")
axes[0].loglog(depths, np.sqrt(2 * np.array(depths) / 3), "k--", label="√(2n/3)")
axes[0].loglog(depths, (2 * np.array(depths) + 1) / 4, "k:", label="theoretical RF / 4")
axes[0].set_xlabel("layers n")
axes[0].set_ylabel("width σ (pixels)")
axes[0].legend(fontsize=8)
profile = erf_maps[32].sum(axis=0)
positions = np.arange(profile.size) - 36
sigma = ref.spread(erf_maps[32])[1]
gaussian = np.exp(-positions ** 2 / (2 * sigma ** 2))
axes[1].plot(positions, profile / profile.max(), label="ERF profile, 32 ReLU layers")
axes[1].plot(positions, gaussian, "--", label=f"Gaussian, σ = {sigma:.2f}")
axes[1].axvspan(-32, 32, color="cyan", alpha=0.15, label="theoretical RF")
axes[1].set_xlabel("input column − centre")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()
gap = np.abs(profile / profile.sum() - gaussian / gaussian.sum()).sum()
print(f"32 layers: total variation distance between the ERF profile and the Gaussian: {gap / 2:.3f}")

# %% [markdown]
# Measured: the ERF width grows with an exponent near ½ (exactly ½ in the uniform linear case,
# slightly above for random ReLU stacks at these depths), far below the theoretical receptive
# field's exponent 1. The last column is the width of the ERF's ±2σ band as a fraction of the
# theoretical receptive field: it falls steadily with depth. The ERF's profile is close to a
# Gaussian. A deep unit's decision rests mostly on
# the centre of what it could see, which is one reason architectures add pooling, strides,
# dilation or skip connections to grow the receptive field faster than depth alone.
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
# * The effective receptive field is roughly Gaussian and grows like $\sqrt{n}$, much slower than
#   the theoretical one.
#
# Checked against the notes in this lesson:
# * "up to 9 × 9 = 81 original pixels" after two 3×3 layers: 81 is the number of **paths**; the
#   unit sees **25** distinct pixels (a 5×5 patch). ✘
# * Three 3×3 layers see 7×7, like one 7×7 layer. ✔ Their weights are $27C^2$ vs $49C^2$; the notes'
#   $3 \cdot (3^2 C)$ and $7^2 C$ count one output channel only. (loose)
# * "the effective receptive field of each successive layer increases" (§1.1): the notes mean the
#   theoretical receptive field; the *effective* one, in Luo et al.'s sense, grows too, but only
#   like the square root of depth. (loose)
