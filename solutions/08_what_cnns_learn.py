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
# # Lesson 08 — What a CNN learned: filters, activations, neighbours, and which pixels mattered
#
# **Lecture notes covered.** *Convolutional Neural Networks* §3, "Visualizing and Understanding
# CNNs": visualising filters ("only works in the first layer"), visualising activations ("sparsity
# in the responses as the depth increases"), nearest neighbours in feature space (the elephant on
# the left and on the right), reconstruction by deconvolution, saliency maps. Lesson 09 covers the
# rest of §3 (activation maximisation, code inversion, semantic interpretation).
#
# **After this lesson you can**
# * show what a trained network's filters and activations look like, and measure the notes' claims
#   about them on your own models;
# * compare images in pixel space and in a network's feature space, and say which is invariant to
#   what;
# * compute saliency, SmoothGrad, integrated gradients, guided backpropagation, deconvnet
#   reconstructions, occlusion maps, CAM and Grad-CAM, and check each against a reference;
# * test whether an attribution method explains the *model* at all (the randomisation sanity check).
#
# **Time.** About 99 minutes: 1,790 words to read (12 min at 150 words a minute), 317 lines of code to read and run (40 min at 8 a minute), 3 graded exercises (45 min), and 2 min of computing for the whole notebook on a 2-core CPU, measured when it was built (`course_tools.lesson_time`).
#
# Three graded exercises (⭐), each with an instant check. The methods are in
# `course_utils.interpret`; its tests hold every one of them against Captum, the reference
# library for attribution in PyTorch.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils.checks import check_grad_cam_map, check_occlusion_map, check_vanilla_saliency
from course_utils.data import CLASS_NAMES, load_fashion_mnist
from course_utils.interpret import (
    activations,
    cam,
    deconvnet,
    grad_cam,
    guided_backprop,
    integrated_gradients,
    nearest_neighbours,
    occlusion,
    saliency,
    saliency_map,
    smoothgrad,
    upsample,
)
from course_utils.pretrained import load_pretrained, pretrained_info
from course_utils.receptive_field import receptive_field
from course_utils.runtime import quick_mode, quick_or_full, seed_everything
from course_utils.transforms import pad_to_canvas, shift_image
from course_utils.widgets import AttributionExplorer

seed_everything(0)
plt.rcParams["figure.dpi"] = 100

# %%
# NBVAL_IGNORE_OUTPUT
# The mode is the machine's setting (COURSE_QUICK).
print("quick mode:", quick_mode())

# %% [markdown]
# ## 0. Three trained networks
#
# The course ships three networks trained on Fashion-MNIST (lessons 05 and 07), each chosen on a
# validation split and measured once on the test set:

# %%
models = {name: load_pretrained(name) for name in ("lenet_modern", "small_cnn", "resnet")}
for name, model in models.items():
    info = pretrained_info(name)
    print(f"{name:13s} {sum(p.numel() for p in model.parameters()):8,d} parameters   "
          f"test accuracy {info['test_accuracy']:.2%}")
test_images, test_labels = load_fashion_mnist("test")
TEST = quick_or_full(1_000, 10_000)
test_images, test_labels = test_images[:TEST], test_labels[:TEST]

# %% [markdown]
# ## 1. Filters
#
# ### 1.1 The first layer
#
# A first-layer filter is a small image: its response at a position is the dot product of the
# filter with the pixels under it, so the filter *is* a picture of the pattern that excites it most
# (among patches of the same brightness and contrast). The first layers of the three networks:

# %%
def first_conv(model):
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


fig, axes = plt.subplots(3, 1, figsize=(9, 4.6))
for ax, (name, model) in zip(axes, models.items()):
    weights = first_conv(model).weight.detach()[:, 0]                # F × k × k
    count, k = weights.shape[0], weights.shape[-1]
    grid = torch.full((k + 2, count * (k + 1) + 1), float("nan"))
    for index, kernel in enumerate(weights):
        kernel = kernel / kernel.abs().max()
        grid[1:k + 1, 1 + index * (k + 1):1 + index * (k + 1) + k] = kernel
    ax.imshow(grid, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_title(f"{name}: {count} first-layer filters, {k}×{k} (red +, blue −)", fontsize=9)
    ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# The claim "the filter is the picture of what it detects" can be checked: for each first-layer
# filter of the small CNN, take the 100 test-image patches that excite it most, and compare their
# average (after removing each patch's mean, as the filter's response to a constant is only its
# sum) with the filter itself.

# %%
def top_activations(maps, count):
    """(image index, row, col) of the ``count`` strongest values in one channel's maps (N × h × w)."""
    best = maps.flatten().topk(count).indices
    n, rest = best // maps[0].numel(), best % maps[0].numel()
    return n, rest // maps.shape[-1], rest % maps.shape[-1]


def top_patches(images, maps, rf, count=100):
    """The patches of ``images`` (count × size × size) under the ``count`` strongest values of
    one channel's maps (N × h × w); ``rf`` is the layer's ReceptiveField (size, stride, padding)."""
    size, jump, offset = rf.size[0], rf.stride[0], rf.padding[0]
    padded = F.pad(images[:, 0], (offset, size, offset, size))
    n, rows, cols = top_activations(maps, count)
    return torch.stack([padded[i, r * jump:r * jump + size, c * jump:c * jump + size]
                        for i, r, c in zip(n.tolist(), rows.tolist(), cols.tolist())])


small = models["small_cnn"]
first_rf = receptive_field(small.features[:1], (28, 28))
first_maps = activations(small, test_images, ["features.0"])["features.0"]  # N × 32 × 28 × 28
similarity = []
for channel, kernel in enumerate(first_conv(small).weight.detach()[:, 0]):
    patches = top_patches(test_images, first_maps[:, channel], first_rf)
    mean_patch = (patches - patches.mean(dim=(1, 2), keepdim=True)).mean(0)
    similarity.append(F.cosine_similarity(mean_patch.flatten(), (kernel - kernel.mean()).flatten(), dim=0).item())
similarity = np.array(similarity)
print(f"cosine similarity between each first-layer filter and the mean of its top 100 patches: "
      f"above 0.5 for {(similarity > 0.5).sum()} of {len(similarity)} filters")

# %% [markdown]
# ### 1.2 Deeper filters
#
# A second-layer filter of the small CNN is 32 × 3 × 3 numbers: one 3×3 slice for each first-layer
# channel. Drawn as images, the slices are weights on *feature maps*, not on pixels; they do not
# look like the patterns the unit responds to, and there are 32 of them per unit. That is what the
# notes mean by "only works in the first layer". What does work at any depth is to show the input
# patches a unit responds to most, cut out over its receptive field (lesson 02's function gives
# each layer's size and stride):

# %%
layers_to_show = {"features.2": "conv 1 (after ReLU)", "features.9": "conv 3",
                  "features.13": "conv 4"}
fig, axes = plt.subplots(len(layers_to_show), 1, figsize=(9, 5.4))
for ax, (layer_name, label) in zip(axes, layers_to_show.items()):
    depth = int(layer_name.split(".")[1]) + 1
    rf = receptive_field(small.features[:depth], (28, 28))
    maps = activations(small, test_images, [layer_name])[layer_name]
    strips = []
    for channel in range(6):
        patches = top_patches(test_images, maps[:, channel], rf, count=4)
        strips.append(torch.cat([F.pad(p, (1, 1, 1, 1), value=float("nan")) for p in patches], dim=1))
    ax.imshow(torch.cat(strips, dim=1), cmap="gray")
    ax.set_title(f"{label}: receptive field {rf.size[0]}×{rf.size[1]}; top 4 patches of channels 0–5",
                 fontsize=9)
    ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# Deeper units see more of the image. Do they also become more specific? One measure: for each
# channel of a layer, the share of its 20 strongest activations that come from images of one class
# (the most common one among them); 10% would be chance for ten balanced classes.

# %%
def class_purity(model, layer_name, images, labels, count=20):
    """Mean over channels of the largest class share among the images of the top activations."""
    shares = []
    maps = activations(model, images, [layer_name])[layer_name]  # N × K × h × w
    for channel in range(maps.shape[1]):
        n, _, _ = top_activations(maps[:, channel], count)
        shares.append(torch.bincount(labels[n], minlength=10).max().item() / count)
    return float(np.mean(shares))


purity = {label: class_purity(small, name, test_images, test_labels) for name, label in layers_to_show.items()}

# %%
# NBVAL_IGNORE_OUTPUT
# Shares over the test set (its size depends on COURSE_QUICK).
print("share of one class among each channel's 20 strongest activations (mean over channels):")
for label, share in purity.items():
    print(f"  {label:20s} {share:.0%}")
values = list(purity.values())
print("rises with depth:", all(b > a for a, b in zip(values, values[1:])))

# %% [markdown]
# ## 2. Activations
#
# ### 2.1 Feature maps of one image

# %%
image_index = int((test_labels == 9).nonzero()[0])          # an ankle boot
taps = {"features.2": "conv 1", "features.6": "conv 2", "features.9": "conv 3", "features.13": "conv 4"}
maps = activations(small, test_images[image_index:image_index + 1], list(taps))
fig, axes = plt.subplots(len(taps), 9, figsize=(9, 4.6))
for row, (layer_name, label) in zip(axes, taps.items()):
    row[0].imshow(test_images[image_index, 0], cmap="gray")
    row[0].set_title(label, fontsize=8)
    for ax, fmap in zip(row[1:], maps[layer_name][0, :8]):
        ax.imshow(fmap, cmap="magma")
    for ax in row:
        ax.axis("off")
fig.suptitle("the first 8 feature maps of each conv layer (after ReLU) for one test image", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ### 2.2 "Sparsity in the responses as the depth increases"
#
# Measured over the test set: the fraction of exact zeros after each ReLU of each network's
# convolutional part, layer by layer.

# %%
def relu_names(model):
    """Names of the ReLU modules of the convolutional part (before any Linear layer)."""
    names = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            break
        if isinstance(module, nn.ReLU):
            names.append(name)
    return names


def zero_fractions(model, images, batch=1_000):
    """Fraction of zeros at each ReLU of relu_names(model), over all images, channels, positions."""
    names = relu_names(model)
    zeros = torch.zeros(len(names))
    counts = torch.zeros(len(names))
    for start in range(0, len(images), batch):
        acts = activations(model, images[start:start + batch], names)
        zeros += torch.tensor([(acts[n] == 0).sum().item() for n in names], dtype=torch.float)
        counts += torch.tensor([acts[n].numel() for n in names], dtype=torch.float)
    return names, (zeros / counts).numpy()


sparsity = {name: zero_fractions(model, test_images) for name, model in models.items()}

# %%
# NBVAL_IGNORE_OUTPUT
# Fractions over the test set (its size depends on COURSE_QUICK).
for name, (_, fractions) in sparsity.items():
    print(f"{name}: " + ", ".join(f"{f:.0%}" for f in fractions))
for name, (_, fractions) in sparsity.items():
    rising = bool(np.all(np.diff(fractions) > 0))
    print(f"{name}: sparsest layer is the last: {np.argmax(fractions) == len(fractions) - 1}; "
          f"rises at every layer: {rising}; last minus first: {fractions[-1] - fractions[0]:+.0%}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.4))
for name, (_, fractions) in sparsity.items():
    ax.plot(np.linspace(0, 1, len(fractions)), fractions, marker="o", label=f"{name} ({len(fractions)} ReLUs)")
ax.set(xlabel="relative depth (first ReLU = 0, last = 1)", ylabel="fraction of zeros",
       title="sparsity of activations against depth, test set")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# The verdicts say, network by network, whether the notes' claim holds. Where it does not, look at
# the architecture: in the ResNet, the ReLU after each addition also sees the shortcut's input, so
# its zeros depend on more than the block's own convolutions; the notes' claim is about plain
# stacks like AlexNet's.

# %% [markdown]
# ## 3. Nearest neighbours: pixels against features
#
# The notes' example: an elephant on the left of a picture and one on the right are far apart in
# pixel space, but should be neighbours in a good feature space. Measured on Fashion-MNIST with the
# ResNet of lesson 07, whose global average pooling lets it read larger images: each image is put on
# a 36×36 canvas (lesson 05), a gallery of 2,000 centred test images is searched with *shifted*
# copies of 200 of them, and we record where the unshifted original ranks among the gallery in
# pixel space and in the 96 features before the ResNet's classifier.

# %%
GALLERY = quick_or_full(500, 2_000)
QUERIES = quick_or_full(50, 200)
resnet = models["resnet"]
gallery = pad_to_canvas(test_images[:GALLERY], 36)


def resnet_features(images):
    return activations(resnet, images, ["avgpool"])["avgpool"].flatten(1)


gallery_features = resnet_features(gallery)
neighbour_ranks = {}
for shift in (0, 1, 2, 3, 4):
    queries = shift_image(gallery[:QUERIES], shift, shift)
    for space, (g, q) in {"pixels": (gallery.flatten(1), queries.flatten(1)),
                          "features": (gallery_features, resnet_features(queries))}.items():
        _, order = nearest_neighbours(g, q, k=GALLERY)
        ranks = (order == torch.arange(QUERIES)[:, None]).float().argmax(dim=1) + 1
        neighbour_ranks[space, shift] = ranks.numpy()

# %%
# NBVAL_IGNORE_OUTPUT
# Ranks depend on the gallery's size (COURSE_QUICK).
print(f"rank of the original among {GALLERY:,} gallery images (1 = nearest), median over {QUERIES} queries:")
print(f"{'shift (px, diagonal)':>22s}" + "".join(f"{s:>8d}" for s in range(5)))
for space in ("pixels", "features"):
    print(f"{space:>22s}" + "".join(f"{np.median(neighbour_ranks[space, s]):8.0f}" for s in range(5)))
    print(f"{'found first':>22s}" + "".join(f"{(neighbour_ranks[space, s] == 1).mean():8.0%}" for s in range(5)))
print(f"at a 4-pixel shift the features find the original first more often than the pixels: "
      f"{(neighbour_ranks['features', 4] == 1).mean() > (neighbour_ranks['pixels', 4] == 1).mean()}")

# %% [markdown]
# Unshifted, both spaces find the original (distance zero). Shifted, the pixel distance to the
# original grows quickly (the garment no longer overlaps itself), while the features, pooled over
# positions, barely change: the notes' elephant, measured. (It is invariance to *translation*; the
# same features are far less invariant to rotation or scale, which no layer of this network was
# built for.)

# %% [markdown]
# ## 4. Which pixels mattered
#
# ### 4.1 Saliency (Simonyan et al., 2014)
#
# The simplest question: if a pixel changed a little, how much would the class score change? That
# is the gradient of the target class's **logit** (not of the probability, which also depends on
# the other classes, nor of the loss) with respect to the input; the map shows its absolute value,
# maximised over channels.

# %% [markdown]
# ### Exercise 1 (2 points) ⭐: `vanilla_saliency`
#
# `image` is one image (C, H, W). Put the model in evaluation mode, compute the target logit for the
# image (add a batch dimension), take its gradient with respect to the image, and return the
# maximum over channels of its absolute value, shape (H, W).

# %% nbgrader={"grade": false, "grade_id": "vanilla_saliency", "locked": false, "schema_version": 3, "solution": true, "task": false}
def vanilla_saliency(model, image, target):
    """|d logit_target / d image|, max over channels: (C, H, W) -> (H, W)."""
    ### BEGIN SOLUTION
    model.eval()
    image = image.clone().requires_grad_(True)
    logit = model(image[None])[0, target]
    (gradient,) = torch.autograd.grad(logit, image)
    return gradient.abs().amax(dim=0)
    ### END SOLUTION


# %% tags=["raises-exception"]
check_vanilla_saliency(vanilla_saliency)

# %% nbgrader={"grade": true, "grade_id": "vanilla_saliency_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_vanilla_saliency(vanilla_saliency)
### BEGIN HIDDEN TESTS
_image = test_images[3]
assert torch.allclose(vanilla_saliency(small, _image, 2),
                      saliency_map(saliency(small, _image[None], 2))[0], atol=1e-6)
### END HIDDEN TESTS

# %% [markdown]
# ### 4.2 Occlusion (Zeiler and Fergus, 2014)
#
# The opposite approach needs no gradient: cover a patch (set it to 0, the background of
# Fashion-MNIST) and measure how much the target logit drops. Large drops mark the regions the
# decision depends on.

# %% [markdown]
# ### Exercise 2 (2 points) ⭐: `occlusion_map`
#
# Cover each non-overlapping `window`×`window` patch in turn (all channels) with `baseline`, and
# return the drop `logit(original) − logit(covered)` of the target class for each patch: shape
# (H // window, W // window). Use evaluation mode.

# %% nbgrader={"grade": false, "grade_id": "occlusion_map", "locked": false, "schema_version": 3, "solution": true, "task": false}
def occlusion_map(model, image, target, window, baseline=0.0):
    """Logit drop when each window×window patch is covered: (C, H, W) -> (H // window, W // window)."""
    ### BEGIN SOLUTION
    model.eval()
    rows, cols = image.shape[1] // window, image.shape[2] // window
    covered = image.repeat(rows * cols, 1, 1, 1)
    for index in range(rows * cols):
        r, c = divmod(index, cols)
        covered[index, :, r * window:(r + 1) * window, c * window:(c + 1) * window] = baseline
    with torch.no_grad():
        original = model(image[None])[0, target]
        scores = model(covered)[:, target]
    return (original - scores).reshape(rows, cols)
    ### END SOLUTION


# %% tags=["raises-exception"]
check_occlusion_map(occlusion_map)

# %% nbgrader={"grade": true, "grade_id": "occlusion_map_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_occlusion_map(occlusion_map)
### BEGIN HIDDEN TESTS
_image = test_images[5]
_ours = occlusion_map(small, _image, 1, 4)
_library = occlusion(small, _image[None], 1, window=4, stride=4)[0, 0, ::4, ::4]
assert torch.allclose(_ours, _library, atol=1e-4)
### END HIDDEN TESTS

# %% [markdown]
# ### 4.3 Grad-CAM (Selvaraju et al., 2017) and CAM (Zhou et al., 2016)
#
# Grad-CAM works at a conv layer instead of the input: weight each of the layer's K feature maps by
# the spatial mean of the target logit's gradient with respect to it, sum, and keep the positive
# part. The map has the layer's resolution (7×7 at the small CNN's last conv). For a network that
# ends in global average pooling and one linear layer, like the ResNet, the weights are exactly the
# linear layer's row for the class, up to a constant: that special case is CAM.

# %% [markdown]
# ### Exercise 3 (2 points) ⭐: `grad_cam_map`
#
# `feature_maps` and `gradients` are tensors (K, h, w): one image's activations at a layer and the
# gradient of the target logit with respect to them. Return ReLU(Σ<sub>k</sub> α<sub>k</sub>
# A<sub>k</sub>) with α<sub>k</sub> the mean of `gradients[k]` over the h×w positions.

# %% nbgrader={"grade": false, "grade_id": "grad_cam_map", "locked": false, "schema_version": 3, "solution": true, "task": false}
def grad_cam_map(feature_maps, gradients):
    """Grad-CAM from a layer's maps and gradients: (K, h, w), (K, h, w) -> (h, w)."""
    ### BEGIN SOLUTION
    weights = gradients.mean(dim=(1, 2))
    return torch.relu((weights[:, None, None] * feature_maps).sum(dim=0))
    ### END SOLUTION


# %% tags=["raises-exception"]
check_grad_cam_map(grad_cam_map)

# %% nbgrader={"grade": true, "grade_id": "grad_cam_map_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_grad_cam_map(grad_cam_map)
### BEGIN HIDDEN TESTS
_maps, _grads = torch.randn(5, 4, 3), torch.randn(5, 4, 3)
assert torch.allclose(grad_cam_map(_maps, _grads), torch.relu((_grads.mean(dim=(1, 2))[:, None, None] * _maps).sum(0)))
### END HIDDEN TESTS

# %% [markdown]
# CAM and Grad-CAM agree where they should: for the ResNet, Grad-CAM at the last block equals
# ReLU(CAM) divided by the number of positions (the average pooling's 1/(h·w)):

# %%
sample = test_images[:8]
sample_labels = test_labels[:8]
cam_maps = cam(resnet, sample, sample_labels)
grad_cam_maps = grad_cam(resnet, sample, sample_labels, "stage3")
positions = cam_maps.shape[-1] * cam_maps.shape[-2]
gap = (grad_cam_maps * positions - torch.relu(cam_maps)).abs().max() / torch.relu(cam_maps).abs().max()
print(f"Grad-CAM × {positions} = ReLU(CAM) on 8 images, to a relative 1e-4: {gap.item() < 1e-4}")

# %% [markdown]
# ### 4.4 All the methods side by side
#
# * **SmoothGrad** (Smilkov et al., 2017) averages the saliency of noisy copies of the image (noise
#   of 15% of its range), which removes much of the gradient's pixel-to-pixel noise.
# * **Integrated gradients** (Sundararajan et al., 2017) integrates the gradient along the straight
#   path from a baseline (black) to the image; its attributions add up to the logit's change along
#   the path (completeness, checked below).
# * **Guided backpropagation** (Springenberg et al., 2015) and the **deconvnet** rule (Zeiler and
#   Fergus, 2014) change how the backward pass goes through each ReLU: guided backprop passes only
#   positive gradients where the forward activation was positive; the deconvnet passes positive
#   gradients regardless of the forward pass.

# %%
EXAMPLES = [int((test_labels == c).nonzero()[0]) for c in (0, 1, 5, 8)]  # T-shirt, trouser, sandal, bag
images, targets = test_images[EXAMPLES], test_labels[EXAMPLES]
method_maps = {
    "saliency": saliency_map(saliency(small, images, targets)),
    "SmoothGrad": saliency_map(smoothgrad(small, images, targets, samples=quick_or_full(8, 32))),
    "integrated gradients": integrated_gradients(small, images, targets, steps=64)[:, 0],
    "guided backprop": guided_backprop(small, images, targets)[:, 0],
    "deconvnet": deconvnet(small, images, targets)[:, 0],
    "occlusion (4×4)": occlusion(small, images, targets, window=4, stride=2)[:, 0],
    "Grad-CAM (conv 4)": upsample(grad_cam(small, images, targets, "features.13"), 28),
}
fig, axes = plt.subplots(len(EXAMPLES), len(method_maps) + 1, figsize=(10, 5.6))
for row, index in enumerate(range(len(EXAMPLES))):
    axes[row, 0].imshow(images[index, 0], cmap="gray")
    axes[row, 0].set_title(CLASS_NAMES[targets[index]], fontsize=8)
    for col, (label, maps_) in enumerate(method_maps.items(), start=1):
        shown = maps_[index]
        limit = shown.abs().max().item() or 1.0
        signed = shown.min() < 0
        axes[row, col].imshow(shown, cmap="RdBu_r" if signed else "magma",
                              vmin=-limit if signed else 0, vmax=limit)
        if row == 0:
            axes[row, col].set_title(label, fontsize=8)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("small CNN: attribution for the true class (signed maps: red +, blue −)", fontsize=10)
fig.tight_layout()
plt.show()

# %%
ig_steps = 200
attributions = integrated_gradients(small, images, targets, steps=ig_steps)
with torch.no_grad():
    change = small.eval()(images)[torch.arange(len(targets)), targets] - \
        small(torch.zeros_like(images))[torch.arange(len(targets)), targets]
relative_error = ((attributions.sum(dim=(1, 2, 3)) - change).abs() / change.abs()).max().item()
print(f"integrated gradients, completeness: sum of attributions = logit(image) − logit(black), "
      f"within 2% at {ig_steps} steps: {relative_error < 0.02}")

# %% [markdown]
# What each map shows, and where it misleads:
# * **Saliency** answers a local question (sensitivity to tiny changes) and is noisy; **SmoothGrad**
#   answers the same question on average over a neighbourhood, and looks cleaner.
# * **Integrated gradients** attributes the *difference from a baseline*: with a black baseline, black
#   pixels get exactly zero, whatever the network thinks of them (a sandal's gaps cannot be
#   "important" by construction).
# * **Guided backprop** and the **deconvnet** give the sharpest, most image-like pictures; the next
#   section shows why that sharpness is suspicious.
# * **Occlusion** measures the effect of a real (large) change, at the cost of one forward pass per
#   patch and a resolution limited by the window; covering with black tells little where the image is
#   already black.
# * **Grad-CAM** is coarse (the layer's 7×7 grid) but class-specific.

# %% [markdown]
# ### 4.5 Reconstruction by deconvolution
#
# The notes' "isolate an activation and reconstruct the original image based on that activation
# alone" (Zeiler and Fergus): take one unit in the last conv layer, the strongest in the image, zero
# every other activation of that layer, and run the deconvnet's backward pass from it to the pixels.
# `deconvnet` reconstructs from any scalar the model outputs, so a small wrapper makes the unit the
# output:

# %%
class OneUnit(nn.Module):
    """The activation of one unit (channel, row, col) of ``layers``' output: (N, 1, H, W) -> (N, 1)."""

    def __init__(self, layers, channel, row, col):
        super().__init__()
        self.layers, self.where = layers, (channel, row, col)

    def forward(self, x):
        channel, row, col = self.where
        return self.layers(x)[:, channel, row, col][:, None]


trunk = small.features[:14]                        # up to the ReLU after the fourth conv
fig, axes = plt.subplots(2, 4, figsize=(8, 4.2))
for col, index in enumerate(EXAMPLES):
    image = test_images[index:index + 1]
    with torch.no_grad():
        acts = trunk.eval()(image)[0]
    channel, row, column = np.unravel_index(int(acts.argmax()), acts.shape)
    unit = OneUnit(trunk, int(channel), int(row), int(column)).eval()
    reconstruction = deconvnet(unit, image, 0)[0, 0]
    axes[0, col].imshow(image[0, 0], cmap="gray")
    axes[0, col].set_title(f"{CLASS_NAMES[test_labels[index]]}", fontsize=8)
    axes[1, col].imshow(reconstruction, cmap="RdBu_r", vmin=-reconstruction.abs().max(), vmax=reconstruction.abs().max())
    axes[1, col].set_title(f"unit {channel} at ({row}, {column})", fontsize=8)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("deconvnet reconstruction from the strongest single unit of conv 4", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ### 4.6 Do the maps explain the model? The randomisation test (Adebayo et al., 2018)
#
# A method that explains the *model* must change when the model changes. The sanity check:
# randomise the weights layer by layer, from the classifier down to the first conv (cascading), and
# measure how similar each method's map stays to the map of the trained network (Spearman rank
# correlation of the absolute maps, averaged over images). A method whose maps survive
# randomisation of the whole network shows the *image* (edges), not what the network learned.

# %%
def spearman(a, b):
    """Spearman rank correlation of two flattened maps."""
    ranks_a, ranks_b = a.flatten().argsort().argsort().float(), b.flatten().argsort().argsort().float()
    return torch.corrcoef(torch.stack([ranks_a, ranks_b]))[0, 1].item()


def all_maps(model, images, targets):
    """|map| of each method, N×H×W each."""
    return {
        "saliency": saliency_map(saliency(model, images, targets)),
        "SmoothGrad": saliency_map(smoothgrad(model, images, targets, samples=quick_or_full(4, 16))),
        "integrated gradients": integrated_gradients(model, images, targets, steps=32).abs()[:, 0],
        "guided backprop": guided_backprop(model, images, targets).abs()[:, 0],
        "Grad-CAM": upsample(grad_cam(model, images, targets, "features.13"), 28),
        "occlusion": occlusion(model, images, targets, window=4, stride=2).abs()[:, 0],
    }


SANITY_IMAGES = quick_or_full(4, 16)
sanity_images, sanity_targets = test_images[:SANITY_IMAGES], test_labels[:SANITY_IMAGES]
reference = all_maps(small, sanity_images, sanity_targets)
randomised = load_pretrained("small_cnn")
torch.manual_seed(0)
cascade = ["classifier.2", "features.11", "features.7", "features.4", "features.0"]
similarity_after = {}
for layer_name in cascade:
    layer = randomised.get_submodule(layer_name)
    with torch.no_grad():
        layer.weight.normal_(0, layer.weight.std().item())
        if layer.bias is not None:
            layer.bias.zero_()
    maps_now = all_maps(randomised, sanity_images, sanity_targets)
    similarity_after[layer_name] = {
        method: np.mean([spearman(reference[method][i], maps_now[method][i]) for i in range(SANITY_IMAGES)])
        for method in reference}

# %%
# NBVAL_IGNORE_OUTPUT
# Correlations over a few images (their number depends on COURSE_QUICK).
print("Spearman correlation with the trained network's map, after randomising down to:")
print(f"{'method':22s}" + "".join(f"{name:>14s}" for name in cascade))
for method in reference:
    print(f"{method:22s}" + "".join(f"{similarity_after[name][method]:14.2f}" for name in cascade))
print()
for method in reference:
    final = similarity_after[cascade[-1]][method]
    print(f"{method:22s} passes (correlation below 0.5 once every layer is random): {final < 0.5}")

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.6))
for method in reference:
    ax.plot(range(1, len(cascade) + 1), [similarity_after[name][method] for name in cascade], marker="o", label=method)
ax.set_xticks(range(1, len(cascade) + 1), [f"…{name}" for name in cascade], rotation=20, fontsize=8)
ax.set(ylabel="Spearman correlation", title="cascading randomisation, top layer first", ylim=(-0.2, 1.05))
ax.axhline(0.5, color="grey", linestyle="--", linewidth=0.8)
ax.grid(alpha=0.3)
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the verdicts and the curves. Adebayo et al. found that guided backpropagation changes little
# as the network is randomised (it behaves much like an edge detector applied to the image); the
# guided-backprop row shows how much it changes here, step by step. Two methods here keep a high
# correlation for a reason that has nothing to do with the weights: integrated gradients multiplies
# each pixel's gradient by its difference from the black baseline, and occlusion covers pixels with
# black, so on Fashion-MNIST's black background both give exactly zero *whatever the network*, and
# the rank correlation of two such maps is dominated by where the garment is. A method can fail this
# test and still produce convincing pictures; that is why the test matters. (A fairer test for these
# two would compare the maps on the garment's pixels only: try it.)

# %% [markdown]
# ## 5. The explorer
#
# Pick an image, a model, a method (and, for Grad-CAM, a layer) and see the map over the image.

# %%
# NBVAL_IGNORE_OUTPUT
# The widget's text representation includes model ids that change with every run.
AttributionExplorer({name: models[name] for name in ("small_cnn", "lenet_modern", "resnet")},
                    test_images[:200], test_labels[:200], CLASS_NAMES)

# %% [markdown]
# ## Summary
#
# * First-layer filters are pictures of what they detect (their top patches match them); deeper
#   filters are not, and the top patches over each unit's receptive field are the better view.
# * Sparsity against depth, and pixel against feature neighbours under shifts, were measured: the
#   printed verdicts say where the notes' claims hold for these networks.
# * Seven attribution methods, three written by hand (saliency, occlusion, Grad-CAM), all checked
#   against references; completeness of integrated gradients and CAM = Grad-CAM verified.
# * The randomisation test separates methods that explain the model from those that mostly show
#   the image.
