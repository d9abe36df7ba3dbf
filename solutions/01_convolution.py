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
# * compute a convolution by hand, in loops and vectorized, and tell convolution from the
#   cross-correlation that deep learning calls convolution;
# * predict the output size of a conv layer for any kernel, padding and stride;
# * count the parameters of conv and FC layers, and write a conv layer as a sparse matrix with
#   shared weights;
# * say where shift equivariance holds and where it breaks;
# * learn a filter from data by gradient descent.
#
# **Time.** About 90 minutes. Three graded exercises (⭐), each with an instant check.
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

from course_utils import convolution as ref  # the reference implementations
from course_utils.checks import check_conv2d_single, check_conv_matrix, check_output_size
from course_utils.data import CLASS_NAMES, load_fashion_mnist, load_sample_photo
from course_utils.kernels import KERNELS
from course_utils.plots import show_images, show_kernel, signed_limit
from course_utils.runtime import seed_everything
from course_utils.widgets import ConvExplorer

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

# %% [markdown]
# So "nearly 500 million" holds: 480 million, and 99.998% of them sit in the first layer.
# At float32 that is almost 2 GB of weights, before any gradients or optimizer state.
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
# break the dependence on the input size altogether (section 7).

# %% [markdown]
# ## 2. Convolution in one dimension
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
# PyTorch's `conv1d` is exactly that. With a filter that is not symmetric the difference shows:

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
# cosmetic when you apply a *given* filter, as section 5 shows.

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
# ## 3. Two-dimensional convolution with depth
#
# The notes define the convolution of a $W \times H \times D$ input $I$ with a
# $w \times h \times D$ filter $G$ as
#
# $$(I * G)[x, y] = \sum_{a=0}^{h-1} \sum_{b=0}^{w-1} \sum_{c=1}^{D} I_c[x+a,\, y+b]\; G_c[a, b].$$
#
# (No flip: it is the cross-correlation of section 2. The notes let $a$ run over the filter's
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
# ## 4. Implementing it ⭐
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
# ## 5. Filters as feature detectors
#
# A filter responds strongly where the image looks like it. We use a real photograph that ships
# with matplotlib (Grace Hopper, in grey levels) and Fashion-MNIST images.

# %%
photo = load_sample_photo(gray=True)
test_images, test_labels = load_fashion_mnist("test")
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
for name, probe in probes().items():
    print(f"{name:>18} {filter_image(probe, notes_diagonal).max():>13.2f} "
          f"{filter_image(probe, zero_mean_diagonal).max():>18.2f}")

# %% [markdown]
# What the measurements say:
# * the filter prefers the line ╲ (top-left to bottom-right, as an image is displayed with row 0
#   at the top) over ╱: the "positive 45°" of the notes is the ╲ direction on screen, i.e. the
#   axes point right and *down*;
# * it is a **line** detector, not an edge detector: it has no negative weights, so an edge
#   gives no stronger response than a flat area;
# * its weights sum to 2, so a flat bright patch (2.0) excites it *more* than the line it is
#   meant to detect (1.2). Subtracting the mean makes it blind to flat areas, and then the ╲ line
#   wins clearly. A good detector has weights that sum to zero.

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
show_kernel(notes_diagonal, ax=axes[0], title="notes' filter")
show_kernel(zero_mean_diagonal, ax=axes[1], title="zero-mean version")
diagonal_response = filter_image(photo, zero_mean_diagonal)
limit = signed_limit(diagonal_response)
axes[2].imshow(diagonal_response, cmap="RdBu_r", vmin=-limit, vmax=limit)
axes[2].set_title("zero-mean version on the photo")
axes[2].axis("off")
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
crop = (slice(150, 330), slice(170, 350))  # the face, to see the detail
show_images([photo[crop]] + [result[crop] for result in filtered.values()],
            titles=["original", *filtered], size=3)
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
# ## 6. Many filters, padding and stride
#
# A layer applies $k$ filters and stacks the $k$ maps. The notes' figure 5: six 5×5×3 filters on a
# 32×32×3 input give a 28×28×6 output. (PyTorch and the course put channels first: 6×28×28.)

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
# ## 7. Counting parameters
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
# ## 8. Weight sharing and sparsity: a conv layer is a matrix
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
# the same amount. We shift a Fashion-MNIST image by $(d_y, d_x)$ pixels (filling with zeros) and
# compare `conv(shift(x))` with `shift(conv(x))`, away from the borders and at the borders.

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
# ## 9. Learning a filter from data
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
# ## 10. Explore
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
#   except at the borders and for shifts that are not multiples of the stride.
#
# Checked against the notes in this lesson:
# * "nearly 500 million" parameters for 400×400×3 → 1000 → 10: exact count 480,011,010. ✔
# * The $[1\ {-1}]$ filter: under the notes' own (unflipped) definition a bright-left/dark-right
#   edge gives a **positive** response, not a negative one; and it detects **vertical** edges, not
#   horizontal ones. ✘
# * The "45°" filter: a line detector, not an edge detector, for lines running ╲ on screen; its
#   weights sum to 2, so flat bright areas excite it more than the line. ✘ (loose)
# * The 2-D formula pairs the filter height's index with the image's width coordinate; fine for
#   square filters only. (loose)
# * 49 inputs, 25 outputs, 9 weights, 1225 FC weights; 5000 weights for 5×5, 20 → 10. ✔
