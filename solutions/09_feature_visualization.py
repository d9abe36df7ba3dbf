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
# # Lesson 09 — Making the network show us: activation maximisation, inversion, concepts, fooling images
#
# **Lecture notes covered.** *Convolutional Neural Networks* §3, the methods lesson 08 left:
# activation maximisation ("Hubel and Wiesel's experiment, but computationally"), code inversion
# ("given a feature representation, determine the original image") and semantic interpretation
# ("is the CNN determining whether or not an object is shiny?"); and the other side of the same
# gradients, images made to fool the network.
#
# **After this lesson you can**
# * synthesise the image a unit or a class responds to most, and say what each regulariser does;
# * reconstruct an image from a layer's features and measure how much each layer keeps;
# * score every unit of a layer against concepts, dissection-style, against a random baseline;
# * make a fooling image and measure how small a change flips a prediction.
#
# **Time.** About 83 minutes: 1,333 words to read (9 min at 150 words a minute), 214 lines of code to read and run (27 min at 8 a minute), 3 graded exercises (45 min), and 2 min of computing for the whole notebook on a 2-core CPU, measured when it was built (`course_tools.lesson_time`).
#
# Three graded exercises (⭐), each with an instant check. The methods are in
# `course_utils.interpret` (tested: each maximising image beats the best test image on its unit,
# inversion reaches a small feature error, fooling images flip the prediction).

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import torch

from course_utils.checks import check_fooling_step, check_total_variation, check_unit_iou
from course_utils.data import CLASS_NAMES, load_fashion_mnist, train_val_split
from course_utils.interpret import (
    CLASS_GROUPS,
    activations,
    concept_detectors,
    concept_masks,
    fooling_image,
    invert,
    label_selectivity,
    maximize_activation,
    shuffled_weights,
    unit_concept_iou,
)
from course_utils.interpret.invert import relative_error
from course_utils.models import build_model
from course_utils.pretrained import load_pretrained
from course_utils.runtime import quick_mode, quick_or_full, seed_everything
from course_utils.training import fit
from course_utils.widgets import UnitExplorer

seed_everything(0)
plt.rcParams["figure.dpi"] = 100

# %%
# NBVAL_IGNORE_OUTPUT
# The mode is the machine's setting (COURSE_QUICK).
print("quick mode:", quick_mode())

# %% [markdown]
# The network is the course's small CNN (lesson 05: four 3×3 convolutions with batch norm and
# ReLU, three 2×2 max pools, one linear layer; 93% test accuracy). Its layers, by name:

# %%
small = load_pretrained("small_cnn")
LAYERS = {"features.2": "conv 1", "features.6": "conv 2", "features.9": "conv 3", "features.13": "conv 4"}
test_images, test_labels = load_fashion_mnist("test")
PROBE = quick_or_full(500, 2_000)
probe_images, probe_labels = test_images[:PROBE], test_labels[:PROBE]
for name, label in LAYERS.items():
    shape = activations(small, probe_images[:1], [name])[name].shape[1:]
    print(f"{label} ({name}): {shape[0]} channels of {shape[1]}×{shape[2]}")

# %% [markdown]
# ## 1. Activation maximisation
#
# Hubel and Wiesel found what a cat's neuron responds to by showing it bars and edges. With a
# network we can do better: search for the input that makes a unit fire most, by gradient ascent
# *on the image*, with the weights fixed. `maximize_activation` maximises the mean of one channel's
# activation map (or one logit) over an image `sigmoid(θ)`, so pixels stay in (0, 1) like the data.
#
# ### 1.1 Without and with regularisation
#
# Plain gradient ascent finds an image, but one no garment looks like: high-frequency patterns the
# network never saw, which excite the unit anyway. Three regularisers steer it to natural-looking
# images: an **L2** penalty (no extreme pixels), **total variation** (neighbouring pixels alike: no
# high-frequency noise) and **jitter** (shift the image by a random pixel or two at each step, so
# the pattern must work at several positions).

# %%
STEPS = quick_or_full(64, 256)
units = [("features.6", 3), ("features.13", 20), ("logits", 7)]
plain_runs = {unit: maximize_activation(small, *unit, steps=STEPS, regularizers=()) for unit in units}
regular_runs = {unit: maximize_activation(small, *unit, steps=STEPS) for unit in units}


def best_test_activation(layer, channel, images):
    """The largest value of the unit (mean of its map, or the logit) over ``images``, and its index."""
    if layer == "logits":
        with torch.no_grad():
            values = small.eval()(images)[:, channel]
    else:
        values = activations(small, images, [layer])[layer][:, channel].mean(dim=(1, 2))
    return values.max().item(), int(values.argmax())


def total_variation_of(image):
    """Sum of absolute differences between neighbouring pixels of a C×H×W image."""
    return ((image[:, 1:] - image[:, :-1]).abs().sum() + (image[:, :, 1:] - image[:, :, :-1]).abs().sum()).item()


fig, axes = plt.subplots(len(units), 3, figsize=(6.6, 6.6))
for row, unit in zip(axes, units):
    best_value, best_index = best_test_activation(*unit, probe_images)
    shown = [(plain_runs[unit].image[0], f"no regulariser\n{plain_runs[unit].activation:.1f}"),
             (regular_runs[unit].image[0], f"L2 + TV + jitter\n{regular_runs[unit].activation:.1f}"),
             (probe_images[best_index, 0], f"best test image\n{best_value:.1f}")]
    for ax, (image, title) in zip(row, shown):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    row[0].text(-4, 14, f"{LAYERS.get(unit[0], 'logit')}\nunit {unit[1]}", ha="right", va="center", fontsize=8)
fig.suptitle("activation maximisation (titles: the unit's activation)", fontsize=10)
fig.tight_layout()
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
# Activations depend on COURSE_QUICK (steps, number of test images searched).
for unit in units:
    best_value, _ = best_test_activation(*unit, probe_images)
    plain, regular = plain_runs[unit], regular_runs[unit]
    print(f"{LAYERS.get(unit[0], 'logit')} unit {unit[1]}: best of {PROBE:,} test images {best_value:.2f}; "
          f"synthesised {plain.activation:.2f} (plain), {regular.activation:.2f} (regularised)")
beats = [regular_runs[u].activation > best_test_activation(*u, probe_images)[0] for u in units]
print(f"the regularised image excites its unit more than every test image: {sum(beats)} of {len(units)} units")
smoother = [total_variation_of(regular_runs[u].image) < total_variation_of(plain_runs[u].image) for u in units]
print(f"regularisation lowers the image's total variation: {sum(smoother)} of {len(units)} units")

# %% [markdown]
# ### Exercise 1 (2 points) ⭐: `total_variation`
#
# Write the total variation of an image (C, H, W) as used above: the sum, over channels and positions,
# of the absolute differences between each pixel and its neighbour below and its neighbour to the
# right (pixels on the last row or column have no such neighbour: no wrap-around). Return a tensor,
# so that gradients flow through it.

# %% nbgrader={"grade": false, "grade_id": "total_variation", "locked": false, "schema_version": 3, "solution": true, "task": false}
def total_variation(image):
    """Anisotropic total variation of (C, H, W): a scalar tensor."""
    ### BEGIN SOLUTION
    vertical = (image[:, 1:, :] - image[:, :-1, :]).abs().sum()
    horizontal = (image[:, :, 1:] - image[:, :, :-1]).abs().sum()
    return vertical + horizontal
    ### END SOLUTION


# %% tags=["raises-exception"]
check_total_variation(total_variation)

# %% nbgrader={"grade": true, "grade_id": "total_variation_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_total_variation(total_variation)
### BEGIN HIDDEN TESTS
_image = torch.rand(2, 5, 7)
assert abs(total_variation(_image).item() - total_variation_of(_image)) < 1e-4
### END HIDDEN TESTS

# %% [markdown]
# ### 1.2 Every class, and units of every layer
#
# The class logits' maximising images, regularised: what the network considers the most "trouser"
# image it can imagine.

# %%
class_runs = [maximize_activation(small, "logits", c, steps=STEPS, seed=c) for c in range(10)]
fig, axes = plt.subplots(1, 10, figsize=(10, 1.6))
for ax, run, name in zip(axes, class_runs, CLASS_NAMES):
    ax.imshow(run.image[0], cmap="gray", vmin=0, vmax=1)
    ax.set_title(name, fontsize=7)
    ax.axis("off")
fig.tight_layout()
plt.show()

# %%
with torch.no_grad():
    predicted = small.eval()(torch.stack([run.image for run in class_runs])).argmax(dim=1)
print("each class's synthesised image is classified as that class:",
      bool((predicted == torch.arange(10)).all()), f"({int((predicted == torch.arange(10)).sum())} of 10)")

# %% [markdown]
# Deeper layers' units respond to larger, more specific patterns; their maximising images show it
# (four units per layer):

# %%
fig, axes = plt.subplots(len(LAYERS), 4, figsize=(5, 5.2))
for row, (name, label) in zip(axes, LAYERS.items()):
    for ax, channel in zip(row, range(4)):
        run = maximize_activation(small, name, channel, steps=STEPS, seed=channel)
        ax.imshow(run.image[0], cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{label}, unit {channel}", fontsize=7)
        ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Inversion: what does a layer keep?
#
# Mahendran and Vedaldi asked the opposite question: given a layer's features φ(x) of an image,
# find an image x̂ whose features match, ‖φ(x̂) − φ(x)‖ small, with a total-variation prior. What the
# reconstruction keeps, the layer kept; what it loses, the layer discarded (or the optimiser could not
# find). Inversions of three test images from every layer:

# %%
INVERT_STEPS = quick_or_full(60, 200)
inversion_layers = [*LAYERS, "logits"]
examples = test_images[[0, 1, 2]]
inversions = {}
for name in inversion_layers:
    for index in range(len(examples)):
        image = examples[index:index + 1]
        if name == "logits":
            with torch.no_grad():
                target = small.eval()(image)
        else:
            target = activations(small, image, [name])[name]
        inversions[name, index] = invert(small, name, target, steps=INVERT_STEPS)

fig, axes = plt.subplots(len(examples), len(inversion_layers) + 1, figsize=(7.5, 4.2))
for index in range(len(examples)):
    axes[index, 0].imshow(examples[index, 0], cmap="gray", vmin=0, vmax=1)
    axes[index, 0].set_title("original" if index == 0 else "", fontsize=8)
    for col, name in enumerate(inversion_layers, start=1):
        axes[index, col].imshow(inversions[name, index].image[0], cmap="gray", vmin=0, vmax=1)
        if index == 0:
            axes[index, col].set_title(LAYERS.get(name, "logits"), fontsize=8)
for ax in axes.flat:
    ax.axis("off")
fig.tight_layout()
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
# Errors depend on the number of optimisation steps (COURSE_QUICK).
print(f"{'layer':10s} {'feature error':>14s} {'pixel error':>12s}   (relative, mean of 3 images)")
inversion_errors = {}
for name in inversion_layers:
    feature = np.mean([inversions[name, i].relative_error for i in range(len(examples))])
    pixel = np.mean([relative_error(inversions[name, i].image, examples[i]) for i in range(len(examples))])
    inversion_errors[name] = (feature, pixel)
    print(f"{LAYERS.get(name, 'logits'):10s} {feature:14.2f} {pixel:12.2f}")
pixel_errors = [inversion_errors[name][1] for name in inversion_layers]
print("the pixel error grows with depth (each layer keeps less of the image):",
      all(b >= a for a, b in zip(pixel_errors, pixel_errors[1:])))

# %% [markdown]
# The first layer keeps nearly everything (its features are a few filtered copies of the image).
# From the logits, the reconstruction matches ten numbers well (a small feature error) and the image
# badly: many images give the same ten scores, and the prior chooses a smooth one. In between, two
# effects mix, and the printed feature error separates them: where it stays large, the optimiser did
# not find a matching image (a ReLU that is off where the target's is on passes no gradient), so part
# of the pixel error is the method's, not the layer's.

# %% [markdown]
# ## 3. Semantic interpretation: units and concepts
#
# "Is the CNN determining whether or not an object is shiny?" Network Dissection (Bau et al., 2017)
# answers such questions at scale: for every unit and every concept with a pixel mask, threshold the
# unit's (upsampled) activation at its top quantile over a data set and compute the IoU of the
# firing region with the concept's mask. On Fashion-MNIST we can compute masks for simple concepts:
# the garment and the background, its upper and lower half, the sleeve regions, bright pixels, edges
# (large gradient) and texture (large local variance).

# %%
masks = concept_masks(probe_images)
fig, axes = plt.subplots(1, len(masks) + 1, figsize=(10, 1.6))
example = 1
axes[0].imshow(probe_images[example, 0], cmap="gray")
axes[0].set_title("image", fontsize=8)
for ax, (name, mask) in zip(axes[1:], masks.items()):
    ax.imshow(mask[example], cmap="gray")
    ax.set_title(name, fontsize=8)
for ax in axes:
    ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Exercise 2 (2 points) ⭐: `unit_iou`
#
# For one unit on one image: `activation` and `mask` are (H, W) tensors (the unit's activation map at
# the image's size, and a boolean concept mask). Return the IoU of the pixels where
# `activation > threshold` with the mask, as a float: |A ∩ M| / |A ∪ M|, and 0.0 if the union is empty.

# %% nbgrader={"grade": false, "grade_id": "unit_iou", "locked": false, "schema_version": 3, "solution": true, "task": false}
def unit_iou(activation, threshold, mask):
    """IoU of {activation > threshold} with a boolean mask, (H, W) each: a float."""
    ### BEGIN SOLUTION
    firing = activation > threshold
    union = (firing | mask).sum().item()
    return (firing & mask).sum().item() / union if union else 0.0
    ### END SOLUTION


# %% tags=["raises-exception"]
check_unit_iou(unit_iou)

# %% nbgrader={"grade": true, "grade_id": "unit_iou_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_unit_iou(unit_iou)
### BEGIN HIDDEN TESTS
_a = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
_m = torch.tensor([[False, True], [True, False]])
assert abs(unit_iou(_a, 1.5, _m) - 1 / 3) < 1e-9
assert unit_iou(_a, 5.0, torch.zeros(2, 2, dtype=torch.bool)) == 0.0
### END HIDDEN TESTS

# %% [markdown]
# Every unit of the last conv layer against every concept, for the trained network and for the same
# network with its weights shuffled (each parameter tensor's entries permuted: same statistics, no
# learned structure). A unit counts as a detector of the concept it matches best, if that IoU is
# above 0.1:

# %%
DISSECT_LAYER = "features.13"
concepts = list(masks)
shuffled = shuffled_weights(small, seed=0)
iou = {"trained": unit_concept_iou(small, DISSECT_LAYER, probe_images, masks),
       "shuffled": unit_concept_iou(shuffled, DISSECT_LAYER, probe_images, masks)}
detectors = {kind: concept_detectors(scores, concepts) for kind, scores in iou.items()}

# %%
# NBVAL_IGNORE_OUTPUT
# Counts over a sample of test images (its size depends on COURSE_QUICK).
units_total = iou["trained"].shape[0]
print(f"{DISSECT_LAYER} ({units_total} units): detectors per concept (IoU > 0.1, best concept only)")
print(f"{'concept':20s} {'trained':>8s} {'shuffled':>9s}")
for concept in concepts:
    print(f"{concept:20s} {len(detectors['trained'][concept]):8d} {len(detectors['shuffled'][concept]):9d}")
total = {kind: sum(len(units) for units in found.values()) for kind, found in detectors.items()}
print(f"{'all':20s} {total['trained']:8d} {total['shuffled']:9d}")
more = [c for c in concepts if len(detectors["trained"][c]) > 2 * max(1, len(detectors["shuffled"][c]))]
print("concepts with more than twice the shuffled network's detectors:", ", ".join(more) or "none")

# %% [markdown]
# Read the baseline before the trained column. A random network's units also follow the pixels
# (bright regions, the garment against the background), so concepts that are close to raw intensity
# get "detectors" without any learning; only the concepts where the trained network has many more
# detectors than the shuffled one say something about what training produced. Dissection's numbers
# without such a baseline overstate how "semantic" a network is.
#
# Concepts that are labels rather than regions ("footwear", "upper body") are scored by how well a
# unit's mean activation separates the group's images from the rest (area under the ROC curve; 0.5 is
# chance):

# %%
selectivity = {kind: label_selectivity(model, DISSECT_LAYER, probe_images, probe_labels, CLASS_GROUPS)
               for kind, model in [("trained", small), ("shuffled", shuffled)]}

# %%
# NBVAL_IGNORE_OUTPUT
# AUROC over a sample of test images (its size depends on COURSE_QUICK).
print(f"units with AUROC above 0.9 for the group (of {units_total}):")
print(f"{'group':14s} {'trained':>8s} {'shuffled':>9s}")
for column, group in enumerate(CLASS_GROUPS):
    counts = [int((selectivity[kind][:, column] > 0.9).sum()) for kind in ("trained", "shuffled")]
    print(f"{group:14s} {counts[0]:8d} {counts[1]:9d}")

# %% [markdown]
# ## 4. Fooling images
#
# The gradient that draws a unit's favourite image can also push a real image towards another class.
# A **fooling image** (CS231n; Szegedy et al., 2014) is the original plus a small change that makes
# the network predict a chosen class. `fooling_image` takes normalised gradient-ascent steps on the
# target logit until the prediction flips, then shrinks the change to the smallest that still fools.

# %% [markdown]
# ### Exercise 3 (2 points) ⭐: `fooling_step`
#
# One step: move `image` by `step` along `gradient` normalised to unit L2 norm (over the whole image),
# *up* the gradient (it is the gradient of the target logit), then clamp the pixels to [0, 1].

# %% nbgrader={"grade": false, "grade_id": "fooling_step", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fooling_step(image, gradient, step):
    """image + step · gradient / ||gradient||₂, clamped to [0, 1]: same shape as image."""
    ### BEGIN SOLUTION
    return (image + step * gradient / gradient.norm()).clamp(0, 1)
    ### END SOLUTION


# %% tags=["raises-exception"]
check_fooling_step(fooling_step)

# %% nbgrader={"grade": true, "grade_id": "fooling_step_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_fooling_step(fooling_step)
### BEGIN HIDDEN TESTS
_x, _g = torch.rand(1, 4, 4), torch.randn(1, 4, 4)
assert torch.allclose(fooling_step(_x, _g, 0.3), (_x + 0.3 * _g / _g.norm()).clamp(0, 1))
### END HIDDEN TESTS

# %% [markdown]
# How small a change is enough, for the CNN and for a multilayer perceptron (`build_model("mlp")`: one
# hidden layer of 256 units, trained here in seconds)? Each of the first test images is pushed towards one
# other class (the next class index: T-shirt → trouser, ..., ankle boot → T-shirt), and the smallest
# change that still fools the network is kept.

# %%
(train_x, train_y), (val_x, val_y) = train_val_split(*load_fashion_mnist("train"), 5_000, seed=0)
torch.manual_seed(0)
mlp = build_model("mlp")
MLP_TRAIN = quick_or_full(2_000, 20_000)
fit(mlp, (train_x[:MLP_TRAIN], train_y[:MLP_TRAIN]), (val_x, val_y), epochs=quick_or_full(1, 4), progress=False)
fool_models = {"MLP": mlp.eval(), "small CNN": small}
FOOL = quick_or_full(4, 20)
fooling = {name: [fooling_image(model, test_images[i], (int(test_labels[i]) + 1) % 10, shrink=True)
                  for i in range(FOOL)] for name, model in fool_models.items()}

# %%
# NBVAL_IGNORE_OUTPUT
# Norms depend on the models trained here (COURSE_QUICK).
for name, runs in fooling.items():
    l2 = np.array([r.norm["l2"] for r in runs if r.success])
    image_norms = np.array([test_images[i].norm().item() for i, r in enumerate(runs) if r.success])
    print(f"{name:10s} fooled {sum(r.success for r in runs)} of {len(runs)}; change L2 median {np.median(l2):.2f} "
          f"(the images' own norm: median {np.median(image_norms):.1f}), L∞ median "
          f"{np.median([r.norm['linf'] for r in runs if r.success]):.2f}")
cnn_l2 = np.median([r.norm["l2"] for r in fooling["small CNN"] if r.success])
mlp_l2 = np.median([r.norm["l2"] for r in fooling["MLP"] if r.success])
print(f"the CNN needs a larger change than the MLP (median L2): {cnn_l2 > mlp_l2}")

# %%
fig, axes = plt.subplots(2, 4, figsize=(7.5, 4.2))
for col, index in enumerate(range(4)):
    run = fooling["small CNN"][index]
    axes[0, col].imshow(run.image[0], cmap="gray", vmin=0, vmax=1)
    axes[0, col].set_title(f"{CLASS_NAMES[test_labels[index]]} → {CLASS_NAMES[run.predicted]}", fontsize=8)
    limit = run.perturbation.abs().max().item() or 1.0
    axes[1, col].imshow(run.perturbation[0], cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[1, col].set_title(f"change, L2 {run.norm['l2']:.2f}", fontsize=8)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("fooling the small CNN: the image (top) and the change (bottom)", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# Compare each change's norm with the image's own (the printed medians): the changes that flip the
# small CNN are a fraction of the image, spread over the garment, and look like noise, not like the
# target class: the network's decision can be moved by directions in pixel space that mean nothing
# to us. The verdict line says which of the two networks needed the larger change here. That is the same fact as section 1's unregularised images, seen from the other
# side; robustness to such changes is a field of its own (adversarial training).

# %% [markdown]
# ## 5. The explorer
#
# Pick a layer and a unit, choose the regularisation and the number of steps, press *Visualise*, and
# compare the synthesised image with the unit's top test images.

# %%
# NBVAL_IGNORE_OUTPUT
# The widget's text representation includes model ids that change with every run.
UnitExplorer(small, probe_images)

# %% [markdown]
# ## Summary
#
# * **Activation maximisation**: plain gradient ascent gives noise that excites a unit; L2, total
#   variation and jitter give images that look like the data and still beat the best test image
#   (verdict above).
# * **Inversion**: early layers keep the image; late layers keep what the class needs; the feature
#   error says where the optimiser, rather than the layer, lost the image.
# * **Concepts**: dissection-style IoU against masks, and label selectivity, always against a
#   shuffled-weight baseline.
# * **Fooling images**: a change that is small against the image, and meaningless to us, flips a
#   prediction; its size for the MLP and the CNN is printed above.
