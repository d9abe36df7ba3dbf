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
# # Lesson 01 — Convolution: from the definition to a layer
#
# **Lecture notes covered.** *Convolutional Neural Networks*, the introduction and §1.1
# (convolutional layers); *Lecture 4: ConvNets*, "Beyond fully connected networks",
# "Convolutional neural networks" and "Convolution layers" (padding and strides; pooling is
# lesson 03, receptive fields lesson 02).
#
# **After this lesson you can**
# * say, with numbers, why a fully connected network does not scale to images;
# * state the two principles behind conv layers (locality, shift invariance) and tell shift
#   *equivariance* (what a conv layer has) from shift *invariance* (what pooling adds);
# * compute a convolution by hand, in loops and vectorized, and tell convolution from the
#   cross-correlation that deep learning calls convolution, and say which of convolution's
#   properties (linear, commutative, associative) cross-correlation keeps;
# * predict the output size of a conv layer for any kernel, padding and stride;
# * count the parameters of conv and FC layers, and write a conv layer as a sparse matrix with
#   shared weights;
# * count a conv layer's multiply-accumulates, and what stride and 1×1 convolutions save;
# * say where shift equivariance holds and where it breaks;
# * learn a filter from data by gradient descent.
#
# **Time.** About 130 minutes: 3,921 words to read (27 min at 150 words a minute), 451 lines of code to read and run (57 min at 8 a minute), 3 graded exercises (45 min), and 1 min of computing for the whole notebook on a 2-core CPU, measured when it was built (`course_tools.lesson_time`).
#
# Three graded exercises (⭐), each with an instant check.
#
# **How the exercises work.** Write the function in the cell marked `YOUR CODE HERE`, run it,
# then run the check below it: it says in words what is wrong. The cell after that is graded.
# Every later cell uses the course's reference implementation, so if you are stuck you can
# still run the rest of the notebook (*Run → Run Selected Cell and All Below*).

# %%
# %matplotlib inline
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from course_utils import convolution as ref  # the reference implementations
from course_utils.checks import check_conv2d_single, check_conv_matrix, check_output_size
from course_utils.data import CLASS_NAMES, load_fashion_mnist, load_sample_photo
from course_utils.diagrams.convolution import filter_bank_figure, sliding_window_figure
from course_utils.kernels import KERNELS
from course_utils.plots import show_images, show_kernel
from course_utils.runtime import seed_everything
from course_utils.widgets import ConvExplorer

plt.rcParams["figure.dpi"] = 100
rng = seed_everything(0)
np.set_printoptions(precision=3, suppress=True)
torch.set_printoptions(precision=3, sci_mode=False)
print("torch", torch.__version__.split("+")[0])

# %% [markdown]
# ## 1. Why fully connected networks do not scale to images
#
# A fully connected (FC) layer joins each of its $n_i$ inputs to each of its $n_o$ outputs, so
# it has $n_i \times n_o$ weights (plus $n_o$ biases). An RGB image of width $W$ and height $H$
# flattened into a vector has $n_i = W \cdot H \cdot 3$ inputs. If the first hidden layer is
# about as wide as its input ($n_o \approx n_i$), the notes count
# $n_i n_o \approx W^2 H^2 3^2$ weights. Let us compute that for a few image sizes.

# %%
def fc_weights(n_in, n_out):
    """Weights (without biases) of a fully connected layer."""
    return n_in * n_out


print(f"{'image':>12} {'inputs n_i':>12} {'FC weights, n_o = n_i':>24} {'W²H²3²':>20}")
for side in (28, 32, 224, 400):
    n_in = side * side * 3
    print(f"{side:>5}x{side}x3 {n_in:>12,} {fc_weights(n_in, n_in):>24,} {side**4 * 9:>20,}")

# %% [markdown]
# *Lecture 4* takes a two-layer network: a 400×400 RGB image, 1000 hidden units, 10 classes,
# and says it has "nearly 500 million" trainable parameters. Here is the exact count, by
# building the network in PyTorch (on the `meta` device, so no memory is allocated for the
# weights) and adding up its parameters.

# %%
with torch.device("meta"):
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(400 * 400 * 3, 1000), nn.ReLU(), nn.Linear(1000, 10))
for name, p in mlp.named_parameters():
    print(f"{name:>10}: {tuple(p.shape)!s:>16} {p.numel():>13,}")
total = sum(p.numel() for p in mlp.parameters())
print(f"{'total':>10}: {'':>16} {total:>13,}  ≈ {total / 1e9:.2f} billion")
print(f"share of the first layer: {mlp[1].weight.numel() / total:.4%}")
nearly_500_million = 0.9 * 500e6 <= total <= 500e6
print(f"the notes' \"nearly 500 million\" (within 10% below): {total / 1e6:.0f} million, "
      f"{'holds' if nearly_500_million else 'does not hold'}")
print(f"memory of the weights at float32 (4 bytes each): {4 * total / 1e9:.2f} GB")

# %% [markdown]
# Almost every parameter sits in the first layer, and the last line is what the weights alone
# occupy in memory, before any gradients or optimizer state (training keeps at least one more
# copy of that size for the gradients).
#
# *Lecture 4* also says the parameter count of most architectures scales as
# $O(\tilde d^2 L)$ for width $\tilde d$ and depth $L$: every layer is a $\tilde d \times \tilde d$
# matrix. The count below is exact (weights and biases of $L$ square layers); the last column
# shows how close $\tilde d^2 L$ comes.

# %%
def mlp_parameters(width, depth):
    """Weights and biases of `depth` fully connected layers of size width x width."""
    return depth * (width * width + width)


for width in (100, 1_000, 10_000):
    for depth in (2, 8):
        n = mlp_parameters(width, depth)
        print(f"d = {width:>6,}, L = {depth}: {n:>15,} parameters, n / (d² L) = {n / (width**2 * depth):.4f}")

# %% [markdown]
# Doubling the width quadruples the count; doubling the depth doubles it. Convolutional layers
# break the dependence on the input size altogether (section 8).

# %% [markdown]
# ## 2. Two principles: locality and shift invariance
#
# Before any mechanics, *Lecture 4* names two guiding principles for a network that classifies
# images:
#
# * **Locality**: look at local regions of the image, without too much regard to what happens
#   elsewhere.
# * **Shift invariance**: respond in the same way to an object wherever it appears in the image.
#
# A convolution layer builds in both. *Locality*: each output is computed from a small window of
# the input (the support of the filter, which sets the output's *receptive field*), so a pixel
# outside that window cannot change it. *Shifts*: the same filter is applied at every position,
# so when the object moves, its response moves with it.
#
# That last property is **equivariance**, not invariance. The two words mean different things:
#
# * $f$ is shift-**equivariant** if $f(\text{shift}(x)) = \text{shift}(f(x))$: the output moves
#   with the input;
# * $f$ is shift-**invariant** if $f(\text{shift}(x)) = f(x)$: the output does not change at all.
#
# A conv layer is equivariant: its output is a map of *where* each pattern occurs, and the map
# moves with the object. A classifier's answer should be invariant ("ankle boot", wherever the
# boot is). Invariance comes from what follows the conv layers: pooling (lesson 03), and in the
# extreme a **global pool**, the maximum or the mean of each map over all positions, which keeps
# *how strongly* each pattern occurs and forgets *where*.
#
# The notes mix the two. They say, correctly, that convolution is *equivariant* to shifts and that
# this addresses the second principle; but they also say that conv layers share their weights
# "because of the shift invariance property". It is the other way round: sharing the weights
# across positions is a design choice, and it is what *makes* the layer shift-equivariant; the
# layer itself is not shift-invariant. Invariance of the network's answer needs pooling on top.
#
# We measure both with PyTorch's conv layer (sections 3 to 5 build it from scratch): an ankle
# boot from Fashion-MNIST on a larger black canvas, four random 3×3 filters, and the boot moved
# 5 pixels down and 7 to the left. The canvas is large enough that the boot stays inside, away
# from the borders; section 10 looks at what happens at the borders.

# %%
def agree(a, b, tol=1e-10):
    """A verdict, not digits: same shape and largest absolute difference below tol."""
    a, b = np.asarray(a), np.asarray(b)
    return f"max difference below {tol:.0e}: {a.shape == b.shape and bool(np.abs(a - b).max() < tol)}"


test_images, test_labels = load_fashion_mnist("test")
principles_rng = np.random.default_rng(1)  # its own generator: later cells draw from rng as before
canvas = torch.zeros(1, 1, 48, 48, dtype=torch.float64)
canvas[0, 0, 10:38, 10:38] = test_images[0, 0].double()
random_filters = torch.tensor(principles_rng.normal(size=(4, 1, 3, 3)))
move = (5, -7)  # (down, right) in pixels


def moved(x):
    """The image (..., H, W) moved by `move`; the canvas is black where the boot is not."""
    return torch.roll(x, shifts=move, dims=(-2, -1))


def conv_layer(x):
    return F.conv2d(x, random_filters, padding=1)  # (1, 1, 48, 48) -> (1, 4, 48, 48)


def strongest(maps):
    """(row, column) of the largest value of the first map."""
    return tuple(int(i) for i in np.unravel_index(maps[0, 0].argmax().item(), maps.shape[-2:]))


maps, maps_of_moved = conv_layer(canvas), conv_layer(moved(canvas))
print(f"image: {CLASS_NAMES[int(test_labels[0])]}, moved by {move}; "
      f"the canvas border stays black: {bool(moved(canvas)[..., [0, -1], :].abs().max() == 0)}")
print(f"conv(moved x) = moved(conv x)   equivariant? {agree(maps_of_moved, moved(maps))}")
print(f"conv(moved x) = conv(x)         invariant?   {agree(maps_of_moved, maps)}")
print(f"  strongest response of map 1: at {strongest(maps)}, after the move at {strongest(maps_of_moved)}")
for pool in ("amax", "mean"):
    pooled, pooled_moved = getattr(maps, pool)((-2, -1)), getattr(maps_of_moved, pool)((-2, -1))
    print(f"global {pool:>4} pool of the 4 maps, moved = not moved   invariant? {agree(pooled_moved, pooled)}")
with torch.no_grad():
    fc = nn.Linear(48 * 48, 4, dtype=torch.float64)
    print(f"a fully connected layer on the flattened image, FC(moved x) = FC(x)? "
          f"{agree(fc(moved(canvas).flatten(1)), fc(canvas.flatten(1)))}")

# %% [markdown]
# The conv maps move with the boot (equivariance: the strongest response moves by exactly the
# shift) but do change (no invariance). A global pool of each map does not change (invariance).
# A fully connected layer is neither: its output is not a map, so it cannot move with the boot,
# and it changes when the boot moves. That is the "loss of context" of *Lecture 4*.

# %% [markdown]
# ## 3. Convolution in one dimension
#
# *Lecture 4* recalls the convolution of an input $x$ with a filter $w$:
#
# $$(x \star w)[t] = \sum_\tau x[t-\tau]\, w[\tau] = \sum_\tau x[\tau]\, w[t-\tau].$$
#
# The first sum reads as **translate and scale**: shift copies of $x$ by $\tau$, scale each by
# $w[\tau]$, add them up. The second reads as **flip and dot**: flip $w$, slide it to position $t$,
# take the dot product with $x$. Both are implemented in `course_utils.convolution`:

# %%
print(inspect.getsource(ref.conv1d_translate_and_scale))
print(inspect.getsource(ref.conv1d_flip_and_dot))

# %%
x = np.array([0.0, 1, 3, 2, 0, 0, 1])
w = np.array([2.0, 1, -1])
print("translate and scale:", ref.conv1d_translate_and_scale(x, w))
print("flip and dot:       ", ref.conv1d_flip_and_dot(x, w))
print("np.convolve:        ", np.convolve(x, w))
print("commutative, x*w == w*x:", np.allclose(ref.conv1d_flip_and_dot(x, w), ref.conv1d_flip_and_dot(w, x)))

# %% [markdown]
# The translate-and-scale view, drawn: three shifted, scaled copies of $x$ add up to $x \star w$.

# %%
fig, axes = plt.subplots(1, 4, figsize=(12, 2.4), sharey=True)
n_out = len(x) + len(w) - 1
for tau, ax in enumerate(axes[:3]):
    copy = np.zeros(n_out)
    copy[tau:tau + len(x)] = w[tau] * x
    ax.stem(copy)
    ax.set_title(f"w[{tau}] · x shifted by {tau}")
axes[3].stem(ref.conv1d_translate_and_scale(x, w), linefmt="C3-", markerfmt="C3o")
axes[3].set_title("sum = x ⋆ w")
fig.tight_layout()
plt.show()

# %% [markdown]
# ### What deep learning calls convolution
#
# *Lecture 4* then says that conv layers ignore the flip: they compute
# $z[t] = \sum_\tau x[t+\tau]\,w[\tau]$, which signal processing calls **cross-correlation**.
# In two dimensions the notes write it with a filter centred on the output pixel,
#
# $$z[s,t] = \sum_{\sigma=-\Delta}^{\Delta} \sum_{\tau=-\Delta}^{\Delta} x[s+\sigma,\, t+\tau]\, w[\sigma,\tau],$$
#
# and then say that "the support of $w$ ranges from $-\Delta$ to $-\Delta$". That is a typo for
# $-\Delta$ to $\Delta$, the range of the sums: the filter is $(2\Delta+1) \times (2\Delta+1)$
# (3×3 for $\Delta = 1$). The course, like numpy and PyTorch, numbers the filter's taps from 0 to
# $k-1$ with $k = 2\Delta+1$; that only moves the output by $\Delta$ pixels.
#
# PyTorch's `conv1d` is exactly that cross-correlation. With a filter that is not symmetric the difference shows:

# %%
torch_out = F.conv1d(torch.tensor(x)[None, None], torch.tensor(w)[None, None])[0, 0].numpy()
print("torch conv1d:                  ", torch_out)
print("np.correlate (no flip):        ", np.correlate(x, w, mode="valid"))
print("np.convolve  (flip):           ", np.convolve(x, w, mode="valid"))
print("np.convolve with w reversed:   ", np.convolve(x, w[::-1], mode="valid"))
print("torch == correlate:", np.allclose(torch_out, np.correlate(x, w, mode="valid")),
      "| torch == convolve:", np.allclose(torch_out, np.convolve(x, w, mode="valid")))

# %% [markdown]
# The same holds in two dimensions: `torch.nn.functional.conv2d` equals the true 2-D convolution
# with the kernel rotated by 180°. For a learned filter this is only a relabelling (the network
# learns the rotated kernel), which is why *Lecture 4* calls it "a cosmetic change". It is not
# cosmetic when you apply a *given* filter, as section 6 shows.

# %%
image = rng.normal(size=(6, 7))
kernel = rng.normal(size=(3, 3))


def true_convolution_2d(image, kernel):
    """Signal-processing 2-D convolution, 'valid' part: sum x[s - σ, t - τ] w[σ, τ]."""
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for s in range(out.shape[0]):
        for t in range(out.shape[1]):
            for sigma in range(kh):
                for tau in range(kw):
                    out[s, t] += image[s + kh - 1 - sigma, t + kw - 1 - tau] * kernel[sigma, tau]
    return out


torch_2d = F.conv2d(torch.tensor(image)[None, None], torch.tensor(kernel)[None, None])[0, 0].numpy()
print("conv2d == true convolution:                 ", np.allclose(torch_2d, true_convolution_2d(image, kernel)))
print("conv2d == true convolution, kernel rotated: ",
      np.allclose(torch_2d, true_convolution_2d(image, kernel[::-1, ::-1])))

# %% [markdown]
# ### Linear, commutative, associative: what survives without the flip
#
# *Lecture 4*: "one can prove that convolution is linear, associative, and commutative". We check
# each property numerically on random 2-D arrays, for the true convolution (with the flip) and for
# the cross-correlation that conv layers compute. To compare $x \star w$ with $w \star x$ neither
# argument may play the special role of "the image", so we take the **full** output: every
# position where the two overlap (the course's `conv2d` with padding $k-1$).

# %%
def correlate_full(x, w):
    """What a conv layer computes (no flip), at every overlap: (H, W), (kh, kw) -> (H+kh-1, W+kw-1)."""
    kh, kw = w.shape
    return ref.conv2d(x[None, None], w[None, None], padding=(kh - 1, kw - 1))[0, 0]


def convolve_full(x, w):
    """True convolution (the filter flipped), at every overlap."""
    return correlate_full(x, w[::-1, ::-1].copy())


properties_rng = np.random.default_rng(2)
x1, x2 = properties_rng.normal(size=(6, 7)), properties_rng.normal(size=(6, 7))
k1, k2 = properties_rng.normal(size=(3, 3)), properties_rng.normal(size=(2, 4))
alpha, beta = 2.5, -0.7
for name, op in [("true convolution", convolve_full), ("cross-correlation (a conv layer)", correlate_full)]:
    print(name)
    print(f"  linear:      op(αx1 + βx2, k1) = α op(x1, k1) + β op(x2, k1)   "
          f"{agree(op(alpha * x1 + beta * x2, k1), alpha * op(x1, k1) + beta * op(x2, k1))}")
    print(f"  commutative: op(x1, k1) = op(k1, x1)                            {agree(op(x1, k1), op(k1, x1))}")
    print(f"  associative: op(op(x1, k1), k2) = op(x1, op(k1, k2))            "
          f"{agree(op(op(x1, k1), k2), op(x1, op(k1, k2)))}")
print("what cross-correlation keeps instead:")
print(f"  correlate(x1, k1) = correlate(k1, x1) rotated by 180°:          "
      f"{agree(correlate_full(x1, k1), correlate_full(k1, x1)[::-1, ::-1])}")
print(f"  correlate(correlate(x1, k1), k2) = correlate(x1, convolve(k1, k2)): "
      f"{agree(correlate_full(correlate_full(x1, k1), k2), correlate_full(x1, convolve_full(k1, k2)))}")
print(f"  so a {k1.shape[0]}×{k1.shape[1]} layer, then a {k2.shape[0]}×{k2.shape[1]} layer, equal one layer with a "
      f"{'×'.join(map(str, convolve_full(k1, k2).shape))} kernel")

# %% [markdown]
# Both are linear (a conv layer is a linear map; section 10 writes it as a matrix). Only the true
# convolution is commutative and associative: dropping the flip costs both. What is left: swapping
# the arguments of a cross-correlation rotates the result by 180°, and two cross-correlations in a
# row equal *one* cross-correlation whose kernel is the *true convolution* of the two kernels. So
# two stacked conv layers with nothing between them are a single conv layer with a larger kernel;
# that is why a network puts a nonlinearity after every conv layer.

# %% [markdown]
# ## 4. Two-dimensional convolution with depth
#
# The notes define the convolution of a $W \times H \times D$ input $I$ with a
# $w \times h \times D$ filter $G$ as
#
# $$(I * G)[x, y] = \sum_{a=0}^{h-1} \sum_{b=0}^{w-1} \sum_{c=1}^{D} I_c[x+a,\, y+b]\; G_c[a, b].$$
#
# (No flip: it is the cross-correlation of section 3. The notes let $a$ run over the filter's
# height $h$ while adding it to $x$, which they pair with the width $W$; the formula is only
# consistent for square filters. Below, the first index is the row, as in numpy and PyTorch.)
#
# The notes offer two views:
# 1. a **2-D operator broadcast over depth**: convolve each channel $I_c$ with its slice $G_c$,
#    then add the $D$ results;
# 2. a **3-D operator** that slides over height, width *and* depth; since the filter is as deep
#    as the input, it has exactly one position along depth.

# %%
D, H, W = 3, 7, 7
I = rng.normal(size=(D, H, W))
G = rng.normal(size=(D, 3, 3))

# View 1: a 2-D operator per channel, then the sum over channels.
view_2d = sum(ref.conv2d_single(I[c], G[c]) for c in range(D))

# View 2: a 3-D sliding window over (depth, height, width).
windows = np.lib.stride_tricks.sliding_window_view(I, G.shape)  # (depth positions, H', W', D, 3, 3)
view_3d = np.einsum("dxyabc,abc->dxy", windows, G)
print("3-D view output shape:", view_3d.shape, "→ one position along depth")
print("both views agree:", np.allclose(view_2d, view_3d[0]))
print("and agree with torch:", np.allclose(view_2d, F.conv2d(torch.tensor(I)[None], torch.tensor(G)[None])[0, 0].numpy()))

# %% [markdown]
# The output has $(W - w + 1) \times (H - h + 1)$ values. The notes' figure 2 example: a 7×7
# input, one channel, a 3×3 filter.

# %%
example_input = np.arange(49.0).reshape(7, 7)
example_filter = np.ones((3, 3))
example_output = ref.conv2d_single(example_input, example_filter)
print(f"inputs n_i = {example_input.size}, outputs n_o = {example_output.size} "
      f"({example_output.shape[0]}x{example_output.shape[1]} = (7 - 3 + 1)²), weights = {example_filter.size}")

# %% [markdown]
# ## 5. Implementing it ⭐
#
# ### Exercise 1 (3 points): `conv2d_single`
#
# Write the notes' formula as loops. `image` has shape `(C, H, W)` and `kernel` shape
# `(C, kh, kw)`; return the `(H - kh + 1, W - kw + 1)` array
# $L[x, y] = \sum_{a}\sum_{b}\sum_{c} I_c[x+a, y+b]\, G_c[a, b]$. No flip, no padding, stride 1.
# Loops are fine (and clearer); numpy slicing is fine too.

# %% nbgrader={"grade": false, "grade_id": "conv2d_single", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv2d_single(image, kernel):
    """image: (C, H, W), kernel: (C, kh, kw) -> (H - kh + 1, W - kw + 1)."""
    ### BEGIN SOLUTION
    C, H, W = image.shape
    _, kh, kw = kernel.shape
    out = np.zeros((H - kh + 1, W - kw + 1))
    for x in range(H - kh + 1):
        for y in range(W - kw + 1):
            out[x, y] = np.sum(image[:, x:x + kh, y:y + kw] * kernel)
    return out
    ### END SOLUTION


# %% tags=["raises-exception"]
check_conv2d_single(conv2d_single)

# %% nbgrader={"grade": true, "grade_id": "conv2d_single_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_conv2d_single(conv2d_single)
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(2024)
for _shape, _kshape in [((1, 4, 4), (1, 4, 4)), ((4, 9, 5), (4, 2, 3)), ((2, 3, 8), (2, 1, 5))]:
    _image, _kernel = _rng.normal(size=_shape), _rng.normal(size=_kshape)
    _expected = F.conv2d(torch.tensor(_image)[None], torch.tensor(_kernel)[None])[0, 0].numpy()
    assert np.allclose(np.asarray(conv2d_single(_image, _kernel)), _expected), (_shape, _kshape)
### END HIDDEN TESTS

# %% [markdown]
# ### Vectorized
#
# Five nested loops are slow in Python. The course's `conv2d` takes a whole batch
# `(N, C, H, W)` and a bank of filters `(F, C, kh, kw)`. `im2col` copies every `kh × kw` window
# (all C channels of it) into one column of a matrix; each filter, flattened, is one row of
# another; then a single matrix product computes every output at once (the trick behind
# fast CPU and GPU convolutions, and the subject of lesson 04's backward pass):

# %%
print(inspect.getsource(ref.conv2d))
print(inspect.getsource(ref.im2col))

# %% [markdown]
# Loops, vectorized and PyTorch agree on a random layer with several channels and filters:

# %%
x_batch = rng.normal(size=(4, 3, 20, 17))
w_bank = rng.normal(size=(5, 3, 4, 3))
b_bank = rng.normal(size=5)
out_loops = ref.conv2d_naive(x_batch, w_bank, b_bank)
out_vectorized = ref.conv2d(x_batch, w_bank, b_bank)
out_torch = F.conv2d(torch.tensor(x_batch), torch.tensor(w_bank), torch.tensor(b_bank)).numpy()
print("output shape:", out_vectorized.shape)
print("loops == vectorized:", np.allclose(out_loops, out_vectorized, rtol=1e-12, atol=1e-12))
print("vectorized == torch:", np.allclose(out_vectorized, out_torch, rtol=1e-12, atol=1e-12))

# %%
# NBVAL_IGNORE_OUTPUT
# Timings depend on the machine and its load, so nbval does not compare this output.
import timeit

for label, fn in [("loops", lambda: ref.conv2d_naive(x_batch, w_bank, b_bank)),
                  ("vectorized numpy", lambda: ref.conv2d(x_batch, w_bank, b_bank)),
                  ("torch", lambda: F.conv2d(torch.tensor(x_batch), torch.tensor(w_bank), torch.tensor(b_bank)))]:
    repeats = 3 if label == "loops" else 50
    seconds = min(timeit.repeat(fn, number=1, repeat=repeats))
    print(f"{label:>17}: {seconds * 1e3:8.2f} ms")

# %% [markdown]
# ## 6. Filters as feature detectors
#
# A filter responds strongly where the image looks like it. We use a real photograph that ships
# with matplotlib (Grace Hopper, in grey levels) and Fashion-MNIST images.

# %%
photo = load_sample_photo(gray=True)
print("photo:", photo.shape, f"values in [{photo.min():.2f}, {photo.max():.2f}]")
print("Fashion-MNIST test split:", tuple(test_images.shape), test_images.dtype)
examples = {name: test_images[(test_labels == CLASS_NAMES.index(name)).nonzero()[0, 0], 0].numpy()
            for name in ("Trouser", "Sneaker", "Bag")}
show_images([photo, *examples.values()], titles=["photo", *examples], size=2.6)
plt.show()


# %%
def filter_image(image, kernel, padding=0):
    """Apply one 2-D kernel to one 2-D image with the course's conv2d (cross-correlation)."""
    return ref.conv2d(image[None, None], np.asarray(kernel)[None, None], padding=padding)[0, 0]


# %% [markdown]
# ### The [1 −1] filter, and the sign of its response
#
# The notes say the filter $[1\ {-1}]$ "will produce large negative values for inputs in which
# the left pixel is bright and the right pixel is dark". Under the notes' own definition (no flip),
# the response at a position is $1 \cdot I[\text{left}] + (-1) \cdot I[\text{right}]$. Let us measure
# it on a bright-to-dark edge:

# %%
difference = KERNELS["difference [1 -1]"]
bright_to_dark = np.array([[1.0, 1.0, 1.0, 0.0, 0.0, 0.0]])
print("input row:                         ", bright_to_dark[0])
print("cross-correlation (the notes' def.):", filter_image(bright_to_dark, difference)[0])
print("true convolution (with the flip):  ", np.convolve(bright_to_dark[0], difference[0], mode="valid"))

# %% [markdown]
# Under the definition the notes use, a bright-left/dark-right edge gives a **positive** response
# (+1), not a negative one; the notes' statement holds only for the flipped (signal-processing)
# convolution. The notes also call it a *horizontal* edge detector. It differentiates along the
# horizontal axis, so the edges it finds run **vertically**, and it is blind to a horizontal edge.
# On the trouser (red: positive, blue: negative) the left side, dark-to-bright, comes out blue and
# the right side, bright-to-dark, red.

# %%
vertical_edge = np.tile([1.0, 1, 1, 0, 0, 0], (6, 1))  # bright left, dark right
horizontal_edge = vertical_edge.T.copy()               # bright top, dark bottom
print("strongest |response| to a vertical edge:  ", np.abs(filter_image(vertical_edge, difference)).max())
print("strongest |response| to a horizontal edge:", np.abs(filter_image(horizontal_edge, difference)).max())
responses = [filter_image(img, difference) for img in (photo, examples["Trouser"])]
show_images(responses, titles=["[1 −1] on the photo", "[1 −1] on a trouser"], signed=True, size=4)
plt.show()


# %% [markdown]
# ### The notes' 45° filter
#
# The notes give
# $\begin{pmatrix}0.6 & 0.2 & 0\\ 0.2 & 0 & 0.2\\ 0 & 0.2 & 0.6\end{pmatrix}$ as a detector of
# "edges at a positive 45-degree angle". We probe it with small test patterns: a line along each
# diagonal, a vertical line, an edge, and a flat bright patch, and record the strongest response.

# %%
def probes(size=9):
    eye = np.eye(size)
    step = np.zeros((size, size))
    step[:, size // 2:] = 1.0
    vertical = np.zeros((size, size))
    vertical[:, size // 2] = 1.0
    return {"line ╲": eye, "line ╱": eye[:, ::-1], "vertical line": vertical,
            "edge": step, "flat bright patch": np.ones((size, size))}


notes_diagonal = KERNELS["notes diagonal"]
zero_mean_diagonal = notes_diagonal - notes_diagonal.mean()
print(f"sum of the notes' weights: {notes_diagonal.sum():.1f}; "
      f"smallest weight: {notes_diagonal.min():.1f}")
print(f"{'probe':>18} {'notes filter':>13} {'zero-mean version':>18}")
strongest_response = {}
for name, probe in probes().items():
    # round(·, 6) + 0.0: a response that is 0 up to rounding prints as 0.00, never as -0.00
    strongest_response[name] = [round(filter_image(probe, k).max(), 6) + 0.0
                                for k in (notes_diagonal, zero_mean_diagonal)]
    print(f"{name:>18} {strongest_response[name][0]:>13.2f} {strongest_response[name][1]:>18.2f}")
notes_col, zero_col = ({name: values[i] for name, values in strongest_response.items()} for i in (0, 1))
print(f"notes' filter: ╲ line above ╱ line: {notes_col['line ╲'] > notes_col['line ╱']}; "
      f"edge above flat patch: {notes_col['edge'] > notes_col['flat bright patch']}; "
      f"flat patch above ╲ line: {notes_col['flat bright patch'] > notes_col['line ╲']}")
print(f"zero-mean version: ╲ line above every other probe: "
      f"{all(zero_col['line ╲'] > value for name, value in zero_col.items() if name != 'line ╲')}")

# %% [markdown]
# What the measurements say:
# * the filter prefers the line ╲ (top-left to bottom-right, as an image is displayed with row 0
#   at the top) over ╱: the "positive 45°" of the notes is the ╲ direction on screen, i.e. the
#   axes point right and *down*;
# * it is a **line** detector, not an edge detector: it has no negative weights, so an edge
#   gives no stronger response than a flat area;
# * its weights sum to 2, so a flat bright patch excites it *more* than the ╲ line it is meant to
#   detect (the last and first rows of the table). Subtracting the mean makes it blind to flat
#   areas, and then the ╲ line wins. A good detector has weights that sum to zero.
#
# The figure shows the same probes (15×15, no padding) and the photograph, every probe of a row on
# one colour scale, positive part only (what a ReLU after the layer would pass on): the ╲ line
# brighter than the ╱ line in both rows; the flat patch brightest of all for the notes' filter,
# and dark for the zero-mean version. On the photograph the notes' filter gives a blurred copy of
# the brightness; the zero-mean version keeps thin strokes.

# %%
shown_probes = {name: probe for name, probe in probes(15).items()
                if name in ("line ╲", "line ╱", "flat bright patch")}
fig, axes = plt.subplots(2, 5, figsize=(13, 5.4))
for row, (name, kernel) in zip(axes, [("notes' filter", notes_diagonal),
                                      ("zero-mean version", zero_mean_diagonal)]):
    show_kernel(kernel, ax=row[0], title=name)
    responses = {probe: np.maximum(filter_image(image, kernel), 0) for probe, image in shown_probes.items()}
    top = max(response.max() for response in responses.values())  # one colour scale per row
    for ax, (probe, response) in zip(row[1:4], responses.items()):
        ax.imshow(response, cmap="magma", vmin=0, vmax=top)
        ax.set_title(f"on a {probe}: max {round(response.max(), 6) + 0.0:.2f}", fontsize=9)
    on_photo = np.maximum(filter_image(photo, kernel, padding=1), 0)[100:400, 120:420]
    row[4].imshow(on_photo, cmap="magma", vmin=0, vmax=np.percentile(on_photo, 99.5))
    row[4].set_title("on the photo", fontsize=9)
    for ax in row[1:]:
        ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Smoothing and sharpening
#
# *Lecture 4*: low-pass filters smooth, high-pass filters sharpen. A box blur averages a
# neighbourhood, a Gaussian weights it by distance; "sharpen" adds a high-pass (Laplacian)
# response back to the image. We measure the fine detail left in each result as the mean
# absolute Laplacian response, relative to the original.

# %%
def fine_detail(image):
    return np.abs(filter_image(image, KERNELS["laplacian (high-pass)"])).mean()


filtered = {name: filter_image(photo, KERNELS[name], padding=KERNELS[name].shape[0] // 2)
            for name in ("box blur 3x3", "gaussian 5x5", "sharpen")}
for name, result in filtered.items():
    print(f"{name:>13}: fine detail × {fine_detail(result) / fine_detail(photo):.2f}")
low, high = photo.min(), photo.max()
outside = np.mean((filtered["sharpen"] < low) | (filtered["sharpen"] > high))
print(f"sharpened pixels outside the photo's range [{low:.0f}, {high:.0f}]: {outside:.1%} "
      "(shown clipped to that range)")
crop = (slice(150, 330), slice(170, 350))  # the face, to see the detail
fig, axes = plt.subplots(1, 4, figsize=(12, 3.3))
for ax, (title, result) in zip(axes, [("original", photo), *filtered.items()]):
    # Every panel on the same grey scale as the original: a value beyond it shows as black or white,
    # instead of stretching the scale (which would make the sharpened face look greyer, not sharper).
    ax.imshow(np.clip(result[crop], low, high), cmap="gray", vmin=low, vmax=high)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ### A high-pass filter followed by a step: an edge detector
#
# *Lecture 4*'s aside: composing a high-pass filter with a step nonlinearity locates edges. Here
# the high-pass filter is the gradient magnitude (two Sobel filters), and the step keeps the
# pixels whose response exceeds a threshold.

# %%
def edge_map(image, threshold):
    gx = filter_image(image, KERNELS["sobel x"], padding=1)
    gy = filter_image(image, KERNELS["sobel y"], padding=1)
    magnitude = np.hypot(gx, gy)
    return magnitude, (magnitude > threshold).astype(float)


photo_magnitude, photo_edges = edge_map(photo, threshold=0.5)
bag_magnitude, bag_edges = edge_map(examples["Bag"], threshold=1.0)
print(f"edge pixels: photo {photo_edges.mean():.1%}, bag {bag_edges.mean():.1%}")
show_images([photo_magnitude, photo_edges, bag_magnitude, bag_edges],
            titles=["photo: |gradient|", "photo: step(|gradient| > 0.5)",
                    "bag: |gradient|", "bag: step(|gradient| > 1)"], size=3)
plt.show()

# %% [markdown]
# ## 7. Many filters, padding and stride
#
# A layer applies $k$ filters and stacks the $k$ maps. The notes' figure 5: six 5×5×3 filters on a
# 32×32×3 input give a 28×28×6 output. (PyTorch and the course put channels first: 6×28×28.)
#
# Drawn smaller: a $C \times H \times W$ input, $F$ filters of $C \times k \times k$. Each filter is as
# deep as the input, so it slides over height and width only and gives one map; $F$ filters give
# $F$ maps. The shapes in the figure are those the course's `conv2d` returns:

# %%
print("conv2d of a 3×7×7 input with four 3×3×3 filters:",
      ref.conv2d(np.zeros((1, 3, 7, 7)), np.zeros((4, 3, 3, 3))).shape[1:])
filter_bank_figure(channels=3, size=7, kernel_size=3, n_filters=4, position=(1, 2))
plt.show()

# %%
cifar_like = rng.normal(size=(1, 3, 32, 32))
six_filters = rng.normal(size=(6, 3, 5, 5))
ours = ref.conv2d(cifar_like, six_filters)
layer = nn.Conv2d(3, 6, kernel_size=5)
print("course conv2d:", ours.shape, "| nn.Conv2d(3, 6, 5):", tuple(layer(torch.zeros(1, 3, 32, 32)).shape))

# %% [markdown]
# **Zero padding** adds $p$ rows and columns of zeros on each side; with $p = (k-1)/2$ an odd
# kernel keeps the size ("same" padding). **Stride** $s$ moves the kernel $s$ pixels at a time.
# *Lecture 4* describes a stride as "retaining every alternate output index": a stride-2 output is
# the stride-1 output subsampled.
#
# The figure shows both on a small case: a 3×3 window with stride 2 on a 5×5 input padded by 1.
# Each panel is one position of the window and the output value it computes; the padding cells
# hold zeros. The window's top-left corner sits at (stride × i, stride × j) of the padded input.

# %%
print(f"5×5 input, 3×3 window, padding 1, stride 2: output "
      f"{ref.output_size(5, 3, 1, 2)}×{ref.output_size(5, 3, 1, 2)}")
sliding_window_figure(size=5, kernel_size=3, padding=1, stride=2, positions=[(0, 0), (0, 1), (1, 0), (2, 2)])
plt.show()

# %%
for padding in (0, 1, 2):
    for stride in (1, 2):
        shape = ref.conv2d(cifar_like, six_filters, stride=stride, padding=padding).shape
        print(f"padding {padding}, stride {stride}: {shape}")
full = ref.conv2d(cifar_like, six_filters, padding=2)
strided = ref.conv2d(cifar_like, six_filters, stride=2, padding=2)
print("stride 2 == stride 1 keeping every other output:", np.allclose(strided, full[:, :, ::2, ::2]))

# %% [markdown]
# Along one axis of length $n$, with kernel $k$, padding $p$ and stride $s$, the kernel fits at
#
# $$n_{\text{out}} = \left\lfloor \frac{n + 2p - k}{s} \right\rfloor + 1$$
#
# positions: the padded input has $n + 2p$ entries, the first window starts at 0, the last
# window must end inside, and the starts are $s$ apart.
#
# ### Exercise 2 (2 points): `conv_output_size`
#
# Return the output length as an `int` for input length `n`, kernel size `kernel_size`,
# padding `padding` (on each side) and stride `stride`.

# %% nbgrader={"grade": false, "grade_id": "conv_output_size", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_output_size(n, kernel_size, padding, stride):
    """Number of positions of a kernel along an axis of length n."""
    ### BEGIN SOLUTION
    return (n + 2 * padding - kernel_size) // stride + 1
    ### END SOLUTION


# %% tags=["raises-exception"]
check_output_size(conv_output_size)

# %% nbgrader={"grade": true, "grade_id": "conv_output_size_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_output_size(conv_output_size)
### BEGIN HIDDEN TESTS
for _n, _k, _p, _s in [(227, 11, 0, 4), (224, 7, 3, 2), (13, 3, 1, 1), (9, 9, 0, 5), (10, 4, 3, 3)]:
    _out = F.conv2d(torch.zeros(1, 1, _n, _n), torch.zeros(1, 1, _k, _k), stride=_s, padding=_p)
    assert conv_output_size(_n, _k, _p, _s) == _out.shape[-1], (_n, _k, _p, _s)
### END HIDDEN TESTS

# %% [markdown]
# The formula against PyTorch over every setting with $n \le 40$, $k \le 7$, $p \le 3$,
# $s \le 4$ where the kernel fits:

# %%
settings = [(n, k, p, s) for n in range(1, 41) for k in range(1, 8) for p in range(4)
            for s in range(1, 5) if k <= n + 2 * p]
disagreements = [setting for setting in settings
                 if ref.output_size(*setting)
                 != F.conv2d(torch.zeros(1, 1, setting[0], 1), torch.zeros(1, 1, setting[1], 1),
                             stride=(setting[3], 1), padding=(setting[2], 0)).shape[2]]
print(f"{len(settings)} settings checked, {len(disagreements)} disagreements")

# %% [markdown]
# ## 8. Counting parameters
#
# Back to the notes' figure 2 (49 inputs, 25 outputs). An FC layer between them has
# $49 \times 25$ weights; the conv layer has the 9 of its filter. *Lecture 4*'s example, a 5×5
# filter with 20 input and 10 output maps, has $5 \cdot 5 \cdot 20 \cdot 10$ weights. We count
# them from the PyTorch layers themselves.

# %%
def n_weights(layer):
    return layer.weight.numel()


print("figure 2, FC 49 → 25:        ", n_weights(nn.Linear(49, 25)))
print("figure 2, conv 3×3, 1 → 1:   ", n_weights(nn.Conv2d(1, 1, 3)))
print("5×5 conv, 20 → 10 maps:      ", n_weights(nn.Conv2d(20, 10, 5)), "(+ 10 biases)")

# %% [markdown]
# The conv layer's count does not depend on the image size; an FC layer producing the same
# output would grow with the fourth power of the side:

# %%
conv = nn.Conv2d(20, 10, 5)
print(f"{'input':>10} {'conv weights':>13} {'output':>14} {'FC weights for the same map':>30}")
for side in (28, 64, 224):
    out = conv(torch.zeros(1, 20, side, side))
    fc = 20 * side * side * out[0].numel()
    print(f"{side:>4}x{side:<5} {n_weights(conv):>13,} {str(tuple(out.shape[1:])):>14} {fc:>30,}")

# %% [markdown]
# ## 9. The cost of a conv layer: multiply-accumulates
#
# Parameters are not the whole cost. Each output value is the dot product of one $C \times k \times k$
# window with one filter: $C k^2$ **multiply-accumulates** (MACs; one multiplication and one
# addition each). A layer of $F$ filters with an $H_{out} \times W_{out}$ output does
#
# $$\text{MACs} = H_{out} \cdot W_{out} \cdot F \cdot C \cdot k \cdot k .$$
#
# Unlike the parameter count, this grows with the image. The example: a 3×3 layer with 64 input
# and 64 output channels on a 224×224 input, padding 1 (the shape of VGG's second layer). We compute
# the formula and count the MACs in code with PyTorch's FLOP counter, which counts 2 FLOPs per MAC
# (on the `meta` device: shapes only, nothing is computed). Then the same layer with stride 1 to 4.

# %%
def conv_macs(h_out, w_out, n_filters, channels, kernel_size):
    """Multiply-accumulates of one conv layer on one image: H_out·W_out·F·C·k·k."""
    return h_out * w_out * n_filters * channels * kernel_size * kernel_size


def counted_macs(layer, x):
    """MACs that PyTorch counts when `layer` runs on `x` (its FLOP counter counts 2 per MAC)."""
    with FlopCounterMode(display=False) as counter:
        layer(x)
    return counter.get_total_flops() // 2


print(f"{'stride':>6} {'output':>9} {'MACs, formula':>15} {'MACs, counted':>15} {'stride 1 / this':>16} {'s²':>4}")
macs_by_stride, counted_by_stride = {}, {}
with torch.device("meta"):
    x_example = torch.empty(1, 64, 224, 224)
    for stride in (1, 2, 3, 4):
        layer = nn.Conv2d(64, 64, 3, stride=stride, padding=1, bias=False)
        h_out, w_out = layer(x_example).shape[-2:]
        macs_by_stride[stride] = conv_macs(h_out, w_out, 64, 64, 3)
        counted_by_stride[stride] = counted_macs(layer, x_example)
        print(f"{stride:>6} {f'{h_out}×{w_out}':>9} {macs_by_stride[stride]:>15,} "
              f"{counted_by_stride[stride]:>15,} {macs_by_stride[1] / macs_by_stride[stride]:>16.2f} "
              f"{stride**2:>4}")
print(f"formula == count for every stride: {macs_by_stride == counted_by_stride}")

# %% [markdown]
# The *Convolutional Neural Networks* notes say that "stacking filters can incur
# high computational costs", and that striding mitigates it. The table agrees: stride $s$ keeps one
# output position in $s$ along each axis, so about $1/s^2$ of the outputs, and the MACs fall by
# $s^2$ (4× for stride 2; exactly $s^2$ when $s$ divides the output size of stride 1, slightly less
# otherwise, as for stride 3).
#
# The saving is real only if the skipped outputs are never computed. "Retaining every alternate
# output index", as *Lecture 4* puts it, describes the result, not the computation: computing all
# outputs and then dropping three quarters would save nothing. The course's `conv2d` builds only
# the windows it keeps: `im2col` has one column per output position.

# %%
small = np.zeros((1, 3, 32, 32))
for stride in (1, 2, 4):
    columns = ref.im2col(small, 3, stride=stride, padding=1).shape[1]
    print(f"stride {stride}: im2col builds {columns:>5} windows, one per output position "
          f"({ref.output_size(32, 3, 1, stride)}²)")

# %% [markdown]
# ### 1×1 convolutions
#
# A 1×1 filter sees one pixel, with all its $C$ channels. Output map $f$ at pixel $(i, j)$ is
# $\sum_c w[f, c]\, x[c, i, j]$: the same linear map from $C$ channels to $F$ channels, applied at
# every pixel separately. In matrix form: the $F \times C$ weight matrix times the $C \times HW$
# matrix whose columns are the pixels. Its cost is $H \cdot W \cdot F \cdot C$ MACs (the formula
# with $k = 1$).

# %%
one_by_one_rng = np.random.default_rng(3)
pixels = one_by_one_rng.normal(size=(1, 6, 5, 4))    # C = 6 channels, 5×4 pixels
weights = one_by_one_rng.normal(size=(3, 6, 1, 1))   # F = 3 filters of 1×1×6
as_matrix_product = (weights[:, :, 0, 0] @ pixels[0].reshape(6, -1)).reshape(3, 5, 4)
print(f"1×1 conv = (F×C matrix) @ (C × H·W pixels): {agree(ref.conv2d(pixels, weights)[0], as_matrix_product)}")
print(f"its MACs: formula {conv_macs(5, 4, 3, 6, 1)}, counted "
      f"{counted_macs(nn.Conv2d(6, 3, 1, bias=False), torch.zeros(1, 6, 5, 4))}")

# %% [markdown]
# Their use: reduce the number of channels before an expensive layer. The *Convolutional Neural
# Networks* notes say GoogLeNet's Inception modules use 1×1 convolutions for "dimensionality
# reduction", which "lowers the computational cost". One branch of its first Inception module
# applies 32 filters of 5×5 to a 28×28 map with 192 channels; GoogLeNet first reduces the 192
# channels to 16 with 1×1 filters. Both ways, counted:

# %%
with torch.device("meta"):
    x_inception = torch.empty(1, 192, 28, 28)
    direct = nn.Conv2d(192, 32, 5, padding=2)
    reduced = nn.Sequential(nn.Conv2d(192, 16, 1), nn.ReLU(), nn.Conv2d(16, 32, 5, padding=2))
    for name, block in [("5×5 directly", direct), ("1×1 to 16, then 5×5", reduced)]:
        n_params = sum(p.numel() for p in block.parameters())
        print(f"{name:>20}: {counted_macs(block, x_inception):>12,} MACs, {n_params:>7,} parameters, "
              f"output {tuple(block(x_inception).shape[1:])}")
    ratio = counted_macs(direct, x_inception) / counted_macs(reduced, x_inception)
print(f"the 1×1 reduction makes this branch {ratio:.1f}× cheaper")

# %% [markdown]
# ## 10. Weight sharing and sparsity: a conv layer is a matrix
#
# The notes' figure 4: a conv layer equals an FC layer whose weights are (1) zero outside each
# output's receptive field and (2) shared by every output. For a single-channel $H \times W$
# input and a $k_h \times k_w$ kernel (stride 1, no padding) that matrix $M$ has one row per output
# pixel and one column per input pixel, and `conv(image).ravel() == M @ image.ravel()`.
#
# ### Exercise 3 (3 points): `conv_as_matrix`
#
# Build $M$, shape `(H_out * W_out, H * W)`, for `kernel` of shape `(kh, kw)` and
# `input_shape = (H, W)`. Number pixels row by row, as `ravel()` does: input pixel `(r, c)` is
# column `r * W + c`, output pixel `(i, j)` is row `i * W_out + j`.

# %% nbgrader={"grade": false, "grade_id": "conv_as_matrix", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_as_matrix(kernel, input_shape):
    """kernel: (kh, kw); input_shape: (H, W) -> M: (H_out * W_out, H * W)."""
    ### BEGIN SOLUTION
    kh, kw = kernel.shape
    H, W = input_shape
    H_out, W_out = H - kh + 1, W - kw + 1
    M = np.zeros((H_out * W_out, H * W))
    for i in range(H_out):
        for j in range(W_out):
            for a in range(kh):
                for b in range(kw):
                    M[i * W_out + j, (i + a) * W + (j + b)] = kernel[a, b]
    return M
    ### END SOLUTION


# %% tags=["raises-exception"]
check_conv_matrix(conv_as_matrix)

# %% nbgrader={"grade": true, "grade_id": "conv_as_matrix_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_conv_matrix(conv_as_matrix)
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(11)
for _kshape, _ishape in [((1, 1), (3, 4)), ((4, 4), (4, 4)), ((2, 5), (7, 6))]:
    _kernel, _image = _rng.normal(size=_kshape), _rng.normal(size=_ishape)
    _expected = F.conv2d(torch.tensor(_image)[None, None], torch.tensor(_kernel)[None, None]).numpy().ravel()
    assert np.allclose(np.asarray(conv_as_matrix(_kernel, _ishape)) @ _image.ravel(), _expected)
### END HIDDEN TESTS

# %% [markdown]
# The matrix of the figure 2 layer (7×7 input, 3×3 kernel), from the course's reference:

# %%
kernel_3x3 = np.arange(1.0, 10.0).reshape(3, 3)
M = ref.conv_matrix(kernel_3x3, (7, 7))
image_7x7 = rng.normal(size=(7, 7))
print("M shape:", M.shape)
print(f"nonzero entries: {np.count_nonzero(M)} of {M.size} ({np.count_nonzero(M) / M.size:.0%}), "
      f"{np.count_nonzero(M, axis=1).max()} per row")
print("distinct nonzero values:", np.unique(M[M != 0]).size, "(the 9 shared weights)")
print("M @ x == conv(x):", np.allclose(M @ image_7x7.ravel(), filter_image(image_7x7, kernel_3x3).ravel()))
fig, ax = plt.subplots(figsize=(9, 4.2))
ax.imshow(np.where(M == 0, np.nan, M), cmap="viridis")
ax.set_xlabel("input pixel (r * 7 + c)")
ax.set_ylabel("output pixel (i * 5 + j)")
ax.set_title("a 3×3 conv on a 7×7 input as a 25×49 matrix (blank = 0)")
plt.show()

# %% [markdown]
# ### Shift equivariance, and where it breaks
#
# *Lecture 4*: convolution is equivariant to shifts; shift the input and the output shifts by
# the same amount. Section 2 measured it for an object far from the borders. Here we shift a
# Fashion-MNIST image by $(d_y, d_x)$ pixels (filling with zeros) and compare `conv(shift(x))`
# with `shift(conv(x))`, away from the borders and at the borders, and with a stride.

# %%
def shift(image, dy, dx):
    """Move the content of a 2-D image by (dy, dx) pixels, filling with zeros."""
    out = np.zeros_like(image)
    H, W = image.shape
    out[max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        image[max(-dy, 0):H - max(dy, 0), max(-dx, 0):W - max(dx, 0)]
    return out


sneaker = examples["Sneaker"]
sobel = KERNELS["sobel x"]
dy, dx = 2, 3
a = filter_image(shift(sneaker, dy, dx), sobel, padding=1)
b = shift(filter_image(sneaker, sobel, padding=1), dy, dx)
interior = (slice(dy + 1, -1), slice(dx + 1, -1))
print(f"interior: conv(shift x) equals shift(conv x) to within 1e-12: {np.abs(a - b)[interior].max() < 1e-12}")

# With a bright object touching the border, the padding zeros make a difference:
bright = np.ones((12, 12))
a, b = filter_image(shift(bright, 2, 0), sobel, padding=1), shift(filter_image(bright, sobel, padding=1), 2, 0)
print(f"at the border of a bright image,   max difference = {np.abs(a - b).max():.1f}")



def strided(img):
    return ref.conv2d(img[None, None], sobel[None, None], stride=2, padding=1)[0, 0]


for s_shift in (1, 2):  # stride 2: equivariant only to shifts by a multiple of the stride
    a, b = strided(shift(sneaker, 0, s_shift)), strided(sneaker)
    best = min(np.abs(a[:, k:] - b[:, :b.shape[1] - k])[:, 2:-2].max() for k in range(3))
    print(f"stride 2, input shifted by {s_shift}: best match of the output to a shifted copy "
          f"differs by {best:.2f}")

# %% [markdown]
# Away from the borders the two agree (to rounding: the same products, perhaps summed in another
# order). At the borders the zero padding breaks the rule
# (a bright image's edge becomes an "edge"). With stride 2 the output is equivariant to shifts by
# 2 only: a 1-pixel shift of the input gives an output that is no shift of the original.
#
# ## 11. Learning a filter from data
#
# The filters of a CNN are not designed, they are learned. Here is the smallest version: we
# hide a kernel (Sobel x), filter 64 Fashion-MNIST images with it, and recover it by gradient
# descent on the mean squared error, starting from zeros.
#
# The loss is a quadratic in the nine weights, but a badly conditioned one: neighbouring pixels
# of natural images are strongly correlated, so the 3×3 input patches vary much more in some
# directions (overall brightness) than in others (fine texture). Gradient descent crawls along
# the flat directions; momentum fixes that. We measure the conditioning, then train both ways.

# %%
train_images, _ = load_fashion_mnist("train")
inputs = train_images[:64].double()
true_kernel = torch.tensor(KERNELS["sobel x"])[None, None]
targets = F.conv2d(inputs, true_kernel)

patches = F.unfold(inputs, kernel_size=3).transpose(1, 2).reshape(-1, 9)  # every 3×3 patch
eigenvalues = torch.linalg.eigvalsh(patches.T @ patches / len(patches))
print(f"patch covariance eigenvalues from {eigenvalues[0]:.4f} to {eigenvalues[-1]:.3f}: "
      f"condition number {eigenvalues[-1] / eigenvalues[0]:.0f}")


def learn_kernel(momentum, steps=300, lr=0.5):
    learned = torch.zeros(1, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([learned], lr=lr, momentum=momentum)
    losses = []
    for _ in range(steps):
        loss = F.mse_loss(F.conv2d(inputs, learned), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return learned.detach()[0, 0], losses


def below(value, bound):
    """A value near rounding level is printed as a bound, not as digits."""
    return f"< {bound:.0e}" if value < bound else f"{value:.1e}"


runs = {momentum: learn_kernel(momentum) for momentum in (0.0, 0.9)}
for momentum, (learned, losses) in runs.items():
    error = (learned - true_kernel[0, 0]).abs().max().item()
    print(f"momentum {momentum}: loss after 100/200/300 steps "
          f"{below(losses[99], 1e-9)} / {below(losses[199], 1e-9)} / {below(losses[299], 1e-9)}; "
          f"max |learned - true| {below(error, 1e-6)}")
learned, losses = runs[0.9]
print("learned kernel (momentum 0.9):\n", learned.numpy().round(4) + 0.0)  # + 0.0 turns -0.0 into 0.0

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 3), gridspec_kw={"width_ratios": [2, 1, 1]})
for momentum, (_, run_losses) in runs.items():
    axes[0].semilogy(run_losses, label=f"momentum {momentum}")
axes[0].legend()
axes[0].set_xlabel("step")
axes[0].set_ylabel("mean squared error")
axes[0].set_title("learning a 3×3 filter")
show_kernel(learned.numpy(), ax=axes[1], title="learned (momentum 0.9)")
show_kernel(KERNELS["sobel x"], ax=axes[2], title="hidden (Sobel x)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 12. Explore
#
# Pick a kernel or type your own weights (one row per line), change stride and padding, and
# watch the feature map and its size. Try: the notes' diagonal filter and its zero-mean
# version; a kernel larger than the padded image (the explorer tells you why it cannot compute);
# stride 3 on the Sobel filter.

# %%
# NBVAL_IGNORE_OUTPUT
# The widget's text representation includes model ids that change with every run.
ConvExplorer(photo[::2, ::2], initial="sobel x")

# %% [markdown]
# ## Summary, and what the notes get loose
#
# * A conv layer computes **cross-correlation**; "convolution" in deep learning omits the flip.
# * Output size: $\lfloor (n + 2p - k)/s \rfloor + 1$; a layer with $F$ filters of $k \times k \times C$
#   has $k^2 C F$ weights, whatever the image size.
# * A conv layer is an FC layer with a sparse, weight-shared matrix; it is shift equivariant
#   except at the borders and for shifts that are not multiples of the stride. It is not shift
#   invariant: a global pool after it is.
# * Its cost is $H_{out} W_{out} F C k^2$ multiply-accumulates: stride $s$ divides it by about
#   $s^2$; a 1×1 convolution mixes channels pixel by pixel and can cut the channels, and the cost,
#   of the layer after it.
#
# Checked against the notes in this lesson (each verdict is printed in the section named):
# * "nearly 500 million" parameters for 400×400×3 → 1000 → 10: holds (section 1). ✔
# * Shift *invariance* as the reason for weight sharing: the layer is shift-*equivariant*, and
#   weight sharing is what makes it so; invariance needs pooling on top (section 2). ✘ (loose)
# * Convolution is linear, commutative and associative: true for the flipped convolution; the
#   cross-correlation that layers compute is linear but neither commutative nor associative
#   (section 3). ✔ for convolution, with a caveat for layers
# * "The support of $w$ ranges from $-\Delta$ to $-\Delta$": a typo for $-\Delta$ to $\Delta$
#   (section 3). ✘ (typo)
# * The $[1\ {-1}]$ filter: under the notes' own (unflipped) definition a bright-left/dark-right
#   edge gives a **positive** response, not a negative one; and it detects **vertical** edges, not
#   horizontal ones (section 6). ✘
# * The "45°" filter: a line detector, not an edge detector, for lines running ╲ on screen; its
#   weights sum to 2, so flat bright areas excite it more than the line (section 6). ✘ (loose)
# * The 2-D formula pairs the filter height's index with the image's width coordinate; fine for
#   square filters only (section 4). (loose)
# * Figure 2's counts of inputs, outputs, filter weights and FC weights, and the 5×5, 20 → 10
#   layer's weights (sections 4 and 8). ✔
# * Striding mitigates the cost: stride $s$ divides the multiply-accumulates by about $s^2$, if the
#   skipped outputs are not computed (section 9). ✔
