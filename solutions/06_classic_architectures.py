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
# # Lesson 06 — Classic architectures, measured: AlexNet, VGG, GoogLeNet
#
# **Lecture notes covered.** *Convolutional Neural Networks* §2.1–2.4: LeNet (lesson 05 trained
# it), AlexNet (11×11 filters, ReLU, about 60 million weights mostly in the first fully connected
# layer, two GPUs, dropout, heavy data augmentation), VGG (only 3×3 filters in blocks; three 3×3
# layers against one 7×7), GoogLeNet (22 layers, "5 million parameters", no fully connected
# layers, the Inception module with 1×1 reductions).
#
# **After this lesson you can**
# * count the parameters and multiply-accumulates (MACs) of any conv net, layer by layer, and say
#   where a network keeps its weights and where it spends its compute;
# * explain with numbers why ReLU, dropout, augmentation, 3×3 stacks, 1×1 reductions and global
#   average pooling were adopted, and check each of the notes' claims yourself;
# * write a VGG block and an Inception module's forward pass;
# * tell model parallelism (AlexNet's two GPUs, a grouped convolution) from data parallelism (DDP).
#
# **Time.** About 137 minutes: 2,748 words to read (19 min at 150 words a minute), 450 lines of code to read and run (57 min at 8 a minute), 3 graded exercises (45 min), and 16 min of computing for the whole notebook on a 2-core CPU, measured when it was built (`course_tools.lesson_time`).
#
# Three graded exercises (⭐), each with an instant check. If you are stuck, run the rest of the
# notebook: later cells use `course_utils`.
#
# **Quick mode.** With `COURSE_QUICK=1` (as in CI) the training cells use a few hundred images and
# one or two epochs; the stored outputs are from the full run, which is itself sized for a laptop
# CPU (a few thousand images, a few epochs: the numbers say what the designs do early in training,
# not what they reach after days on ImageNet). Cells whose printed numbers depend on the mode are
# excluded from nbval's comparison, each saying so.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils.architectures import build, count_macs, count_parameters, format_table, layer_table
from course_utils.architectures.googlenet import INCEPTION_MODULES, Inception
from course_utils.checks import check_conv_macs, check_inception_forward, check_vgg_block
from course_utils.checks.architectures import reference_inception_forward, reference_vgg_block
from course_utils.data import load_fashion_mnist, train_val_split
from course_utils.receptive_field import receptive_field
from course_utils.runtime import quick_mode, quick_or_full, seed_everything
from course_utils.training import describe_device, evaluate, fit, make_augment, pick_device

seed_everything(0)
DEVICE = pick_device()
plt.rcParams["figure.dpi"] = 100

# %%
# NBVAL_IGNORE_OUTPUT
# The device and thread count are those of the machine that runs the notebook.
print("running on:", describe_device(DEVICE), "| quick mode:", quick_mode())
print("a CUDA GPU is available:", torch.cuda.is_available())

# %% [markdown]
# The stored outputs were made on the device printed above. Every training cell runs unchanged
# on a GPU (`fit` moves the model and data there); the parameter and MAC counts do not depend on
# the device at all.

# %% [markdown]
# ## 1. AlexNet (2012)
#
# ### 1.1 Where the 60 million weights are
#
# `build("alexnet_2gpu")` is the network of the 2012 paper (its two GPU "towers" are grouped
# convolutions, section 1.6); `build("alexnet")` is the single-tower version of PyTorch's model
# zoo. `layer_table` runs one image through a model and lists each layer's output shape,
# parameters and MACs; on the `meta` device the model has shapes but no memory, so this costs
# nothing.

# %%
with torch.device("meta"):
    paper_alexnet = build("alexnet_2gpu")
    zoo_alexnet = build("alexnet")
paper_rows = layer_table(paper_alexnet, (3, 227, 227))
zoo_rows = layer_table(zoo_alexnet, (3, 224, 224))
print(format_table([row for row in paper_rows if row.parameters or row.type == "MaxPool2d"]))

# %%
def weight_shares(rows):
    """Parameters and MACs in total, in the fully connected layers, and in the first of them."""
    linear = [row for row in rows if row.type == "Linear"]
    return {"parameters": sum(r.parameters for r in rows), "macs": sum(r.macs for r in rows),
            "fc_parameters": sum(r.parameters for r in linear), "fc_macs": sum(r.macs for r in linear),
            "fc6": linear[0].parameters, "fc6_name": linear[0].name}


for name, rows in [("alexnet_2gpu (2012 paper)", paper_rows), ("alexnet (model zoo)", zoo_rows)]:
    s = weight_shares(rows)
    print(f"{name}: {s['parameters']:,} parameters ({s['parameters'] / 1e6:.1f} M)")
    print(f"  three fully connected layers: {s['fc_parameters'] / s['parameters']:.1%} of the parameters, "
          f"{s['fc_macs'] / s['macs']:.1%} of the {s['macs'] / 1e9:.2f} G MACs")
    print(f"  first fully connected layer ({s['fc6_name']}): {s['fc6']:,} = "
          f"{s['fc6'] / s['parameters']:.1%} of the parameters")
    print(f"  'around 60 million': {55e6 <= s['parameters'] <= 65e6}; "
          f"'over half in the first FC layer': {s['fc6'] > s['parameters'] / 2}")

# %% [markdown]
# Both of the notes' claims hold for both versions (the verdicts above). The table shows the other
# side too: the fully connected layers hold most of the *weights* but cost a small share of the
# *computation*; the five convolutions, applied at every position, do almost all the
# multiply-accumulates. That asymmetry drives everything later in this lesson: VGG kept the big
# classifier, GoogLeNet removed it.
#
# ### 1.2 Large first filters
#
# AlexNet's first layer has 96 filters of 11×11×3 with stride 4. Count what such a layer costs.

# %% [markdown]
# ### Exercise 1 (2 points) ⭐: `conv_macs`
#
# Return the multiply-accumulates of one convolution layer for one image: `in_channels` input
# maps, `out_channels` kernels of `kernel_size`×`kernel_size`, an output of `output_size =
# (H', W')`, and `groups` (default 1: each kernel sees all input channels; with `groups = g` each
# kernel sees only `in_channels / g` of them). Every output value is one dot product with one
# kernel. Do not count biases.

# %% nbgrader={"grade": false, "grade_id": "conv_macs", "locked": false, "schema_version": 3, "solution": true, "task": false}
def conv_macs(in_channels, out_channels, kernel_size, output_size, groups=1):
    """ints, output_size = (H', W') -> int: MACs of the layer for one image."""
    ### BEGIN SOLUTION
    height, width = output_size
    return out_channels * height * width * (in_channels // groups) * kernel_size * kernel_size
    ### END SOLUTION


# %% tags=["raises-exception"]
check_conv_macs(conv_macs)

# %% nbgrader={"grade": true, "grade_id": "conv_macs_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_conv_macs(conv_macs)
### BEGIN HIDDEN TESTS
_conv = nn.Conv2d(48, 64, 3, padding=1, groups=4)
assert conv_macs(48, 64, 3, (9, 7), 4) == count_macs(nn.Sequential(_conv), (48, 9, 7))
assert conv_macs(1, 1, 1, (1, 1)) == 1
assert isinstance(conv_macs(3, 96, 11, (55, 55)), int)
### END HIDDEN TESTS

# %% [markdown]
# The reference is `count_macs` (and the MACs column of `layer_table`), which finds the same
# numbers by running the model. AlexNet's first layer, by hand and from the table:

# %%
conv1 = next(row for row in paper_rows if row.name.endswith("conv1"))
by_hand = 96 * 55 * 55 * 3 * 11 * 11
first_layer = paper_alexnet.features.conv1
print(f"conv1: {first_layer.out_channels} kernels of {first_layer.kernel_size[0]}×{first_layer.kernel_size[1]}"
      f"×{first_layer.in_channels}, stride {first_layer.stride[0]}, output {'×'.join(map(str, conv1.output_shape))}")
print(f"MACs by the formula {by_hand:,}; in the table {conv1.macs:,}; equal: {by_hand == conv1.macs}")
print(f"conv1 is {conv1.macs / sum(r.macs for r in paper_rows):.1%} of the network's MACs with "
      f"{conv1.parameters / sum(r.parameters for r in paper_rows):.2%} of its parameters")
field = receptive_field(nn.Sequential(first_layer), (227, 227))
print(f"one conv1 unit sees {field.size[0]}×{field.size[1]} pixels ({field.size[0] / 227:.1%} of the image "
      f"width); neighbouring units are {field.stride[0]} pixels apart")

# %% [markdown]
# The stride of 4 is what makes an 11×11 first layer affordable: it shrinks 227×227 to 55×55 at
# once, so the layer is evaluated at one position in every 4×4 block of pixels. VGG (section 2)
# replaced such large filters by stacks of 3×3 ones.
#
# ### 1.3 ReLU against saturating activations
#
# The notes: ReLU "fixed the problem of saturating gradients" of tanh (and of the sigmoid before
# it). tanh′(x) and σ′(x) go to 0 for large |x| and are at most 1 and 1/4; ReLU′ is 1 for every
# positive input. Two measurements.
#
# **Gradients through a deep stack at initialisation.** Twelve 3×3 conv layers with the same
# activation, each initialised with the gain PyTorch recommends for that activation
# (`nn.init.calculate_gain`: 1 for the sigmoid, 5/3 for tanh, √2 for ReLU, with variance
# gain²/fan-in), then a global average pool and a linear classifier. Backpropagate the loss of
# one batch of Fashion-MNIST images and measure the mean absolute gradient of each layer's
# weights.

# %%
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
train_x, train_y = load_fashion_mnist("train")
test_x, test_y = load_fashion_mnist("test")


def init_for(model, activation):
    """Conv and linear weights ~ N(0, gain²/fan_in) with the activation's gain; zero biases."""
    gain = nn.init.calculate_gain(activation)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(module.weight, 0.0, gain / module.weight[0].numel() ** 0.5)
            nn.init.zeros_(module.bias)
    return model


def deep_stack(activation, depth=12, width=16):
    """depth × (3×3 conv, activation), global average pool, linear: (N, 1, H, W) -> (N, 10)."""
    layers, channels = [], 1
    for _ in range(depth):
        layers += [nn.Conv2d(channels, width, 3, padding=1), ACTIVATIONS[activation]()]
        channels = width
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))
    return init_for(model, activation)


gradients = {}
for activation in ACTIVATIONS:
    torch.manual_seed(0)
    model = deep_stack(activation)
    F.cross_entropy(model(train_x[:64]), train_y[:64]).backward()
    gradients[activation] = np.array([m.weight.grad.abs().mean().item() for m in model if isinstance(m, nn.Conv2d)])

print("mean |gradient| of the conv weights, layer 1 (next to the input) and layer 12 (next to the output)")
for activation, g in gradients.items():
    print(f"  {activation:8s} layer 1 {g[0]:.1e}   layer 12 {g[-1]:.1e}   ratio layer 1 / layer 12 {g[0] / g[-1]:.0e}"
          f"   first layer within 10x of the last: {g[0] / g[-1] > 0.1}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.4))
for activation, g in gradients.items():
    ax.semilogy(range(1, len(g) + 1), g, marker="o", label=activation)
ax.set_xlabel("conv layer (1 = next to the input)")
ax.set_ylabel("mean |dL/dW| (log scale)")
ax.set_title("gradients at initialisation through 12 conv layers")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# With the sigmoid the gradient shrinks by a large factor at every layer (its derivative is at
# most 1/4), so the first layers of a deep sigmoid network barely learn. Read the tanh and ReLU
# rows against each other: how much of the gap is left once each activation gets its own
# initialisation scale is what the ratio column says.
#
# **Speed of training, as in the AlexNet paper's figure 1.** The paper trained a four-layer CNN on
# CIFAR-10 with tanh and with ReLU and counted the epochs to reach 25% training error: ReLU got
# there six times faster. The same experiment, small: a CNN with two 5×5 conv layers and two
# pools, plain SGD with momentum (the paper's optimiser, no Adam to rescale small gradients),
# each activation with its initialisation as above, three seeds; the training error is the mean
# over the last 20 batches, and we count the steps until it falls to 20%.

# %%
def small_cnn(activation):
    """conv 5×5 (16), act, pool, conv 5×5 (32), act, pool, linear: (N, 1, 28, 28) -> (N, 10)."""
    act = ACTIVATIONS[activation]
    model = nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), act(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 5, padding=2), act(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    return init_for(model, activation)


def steps_to_error(activation, seed, target=0.20, max_steps=300, batch=64, window=20):
    """SGD steps until the mean training error of the last ``window`` batches is <= target."""
    torch.manual_seed(seed)
    model = small_cnn(activation)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))
    errors = []
    for step in range(max_steps):
        index = order[step * batch:(step + 1) * batch]
        logits = model(train_x[index])
        loss = F.cross_entropy(logits, train_y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        errors.append((logits.argmax(1) != train_y[index]).float().mean().item())
        if step + 1 >= window and np.mean(errors[-window:]) <= target:
            return step + 1, errors
    return None, errors


SPEED_SEEDS = quick_or_full(2, 3)
SPEED_MAX_STEPS = quick_or_full(40, 300)
speed = {activation: [steps_to_error(activation, seed, max_steps=SPEED_MAX_STEPS) for seed in range(SPEED_SEEDS)]
         for activation in ("tanh", "relu")}

# %%
# NBVAL_IGNORE_OUTPUT
# The step counts depend on COURSE_QUICK (quick mode stops after a few dozen steps).
reached = {}
for activation, runs in speed.items():
    steps = [s for s, _ in runs]
    reached[activation] = np.array([s if s is not None else np.nan for s in steps], dtype=float)
    shown = ", ".join(str(s) if s is not None else f">{SPEED_MAX_STEPS}" for s in steps)
    print(f"{activation:5s} steps to 20% training error, seeds 0-{SPEED_SEEDS - 1}: {shown}"
          + (f"   mean {np.mean(reached[activation]):.0f} ± {np.std(reached[activation], ddof=1):.0f}"
             if not np.isnan(reached[activation]).any() else ""))
if not any(np.isnan(r).any() for r in reached.values()):
    ratio = np.mean(reached["tanh"]) / np.mean(reached["relu"])
    print(f"tanh needs {ratio:.1f}× the steps of ReLU (the paper: about 6× on CIFAR-10)")
    print("ReLU faster in every seed:", bool((reached["relu"] < reached["tanh"]).all()))
else:
    print("not every run reached 20% training error within the step budget")

# %%
fig, ax = plt.subplots(figsize=(6, 3.4))
for activation, runs in speed.items():
    for seed, (_, errors) in enumerate(runs):
        smooth = np.convolve(errors, np.ones(20) / 20, mode="valid")
        ax.plot(np.arange(20, len(errors) + 1), smooth, color="tab:red" if activation == "relu" else "tab:blue",
                alpha=0.8, label=activation if seed == 0 else None)
ax.axhline(0.20, color="grey", linestyle="--", linewidth=0.8)
ax.set_xlabel("SGD step (batches of 64)")
ax.set_ylabel("training error (mean of last 20 batches)")
ax.set_title("time to 20% training error, tanh vs ReLU (one line per seed)")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# Compare the printed ratio with the paper's "six times", and check the verdict line: the
# experiment is small (Fashion-MNIST, two conv layers, each activation with a well-scaled
# initialisation), so whatever it shows is evidence about *this* setting only. The saturation
# argument is about *depth* and *scale*: in a shallow network whose units start in tanh's
# near-linear range, tanh's gradient is about as large as ReLU's; it is in deep stacks, and with
# units pushed into tanh's flat tails, that saturation costs most (the sigmoid row of the
# gradient table shows the extreme).

# %% [markdown]
# ### 1.4 Dropout and data augmentation
#
# AlexNet drops half the units of its first two fully connected layers during training (dropout,
# p = 0.5), and augments its training images heavily: random crops and horizontal reflections,
# and random changes of the intensity of the RGB channels. Fashion-MNIST is grey, so the analogue
# of the colour change is a random brightness and contrast change per image. All three are
# measured here on `alexnet_small` (the same design at 28×28: `build("alexnet_small")`), trained
# on a small subset so that it overfits within a few epochs:
#
# * `dropout=0.0` against the default `dropout=0.5`;
# * with dropout, augmentation by random shifts of up to 2 pixels and reflections
#   (`"shift-flip"`), and the same plus brightness and contrast.
#
# A validation split (`train_val_split`) measures each run; the test set is not used here.

# %%
def intensity_jitter(images, generator=None, contrast=0.3, brightness=0.15):
    """Per image: x -> clamp(c·x + b, 0, 1), c ~ U(1 - contrast, 1 + contrast), b ~ U(-brightness, brightness)."""
    n = len(images)
    c = 1 + contrast * (2 * torch.rand(n, 1, 1, 1, generator=generator) - 1)
    b = brightness * (2 * torch.rand(n, 1, 1, 1, generator=generator) - 1)
    return (images * c.to(images.device) + b.to(images.device)).clamp(0, 1)


shift_flip = make_augment("shift-flip")


def shift_flip_intensity(images, generator=None):
    return intensity_jitter(shift_flip(images, generator), generator)


shift_flip_intensity.name = "shift-flip-intensity"

(train_images, train_labels), (val_images, val_labels) = train_val_split(train_x, train_y, val_size=10_000)
REG_TRAIN = quick_or_full(300, 1_000)
REG_VAL = quick_or_full(500, 1_000)
REG_EPOCHS = quick_or_full(2, 8)
reg_train = (train_images[:REG_TRAIN], train_labels[:REG_TRAIN])
reg_val = (val_images[:REG_VAL], val_labels[:REG_VAL])
regimes = {
    "no dropout": dict(dropout=0.0, augment=None),
    "dropout 0.5": dict(dropout=0.5, augment=None),
    "dropout + shift-flip": dict(dropout=0.5, augment="shift-flip"),
    "dropout + shift-flip + intensity": dict(dropout=0.5, augment=shift_flip_intensity),
}
regularisation = {}
for name, setting in regimes.items():
    torch.manual_seed(0)
    model = build("alexnet_small", dropout=setting["dropout"])
    regularisation[name] = fit(model, reg_train, reg_val, epochs=REG_EPOCHS, augment=setting["augment"],
                               device=DEVICE, progress=False)
    regularisation[name].final_train_accuracy = evaluate(model, *reg_train).accuracy

# %%
# NBVAL_IGNORE_OUTPUT
# The accuracies depend on COURSE_QUICK.
print(f"alexnet_small, {REG_TRAIN:,} training images, {REG_EPOCHS} epochs, one seed each; "
      f"validation on {REG_VAL:,} images")
print(f"{'':34s} {'train acc':>9s} {'val acc':>8s} {'gap':>6s} {'best val':>9s}")
for name, h in regularisation.items():
    train_acc, val_acc = h.final_train_accuracy, h.val_accuracy[-1]
    print(f"{name:34s} {train_acc:9.1%} {val_acc:8.1%} {train_acc - val_acc:6.1%} {max(h.val_accuracy):9.1%}")
gap = {name: h.final_train_accuracy - h.val_accuracy[-1] for name, h in regularisation.items()}
print("dropout narrows the train-validation gap:", gap["dropout 0.5"] < gap["no dropout"])
print("shift-flip augmentation narrows it further:", gap["dropout + shift-flip"] < gap["dropout 0.5"])
print("augmentation raises validation accuracy:",
      regularisation["dropout + shift-flip"].val_accuracy[-1] > regularisation["dropout 0.5"].val_accuracy[-1])
print("intensity changes add to that:",
      regularisation["dropout + shift-flip + intensity"].val_accuracy[-1]
      > regularisation["dropout + shift-flip"].val_accuracy[-1])

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
for name, h in regularisation.items():
    axes[0].plot(h.epoch, 100 * np.array(h.train_accuracy), marker="o", label=name)
    axes[1].plot(h.epoch, 100 * np.array(h.val_accuracy), marker="o", label=name)
axes[0].set_title("training batches (averaged over the epoch)")
axes[1].set_title("validation")
for ax in axes:
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
axes[0].set_ylabel("accuracy (%)")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# The train accuracy in the table is measured after training, in evaluation mode (dropout off, no
# augmentation), so the gap is a like-for-like comparison. These are single runs on a small
# subset: a difference of a point or so between two of them is within what another seed would
# change, so trust the verdict lines only where the differences are large. Random intensity
# changes can only help when test images vary in brightness more than the training images do;
# Fashion-MNIST's are uniformly exposed, so this measures the mechanism rather than the gain
# AlexNet reported on photographs.

# %%
examples = train_x[:6]
jittered = shift_flip_intensity(examples, torch.Generator().manual_seed(1))
fig, axes = plt.subplots(2, 6, figsize=(7, 2.6))
for i in range(6):
    axes[0, i].imshow(examples[i, 0], cmap="gray", vmin=0, vmax=1)
    axes[1, i].imshow(jittered[i, 0], cmap="gray", vmin=0, vmax=1)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("original")
axes[1, 0].set_ylabel("augmented")
fig.suptitle("shift, reflection, brightness and contrast (the grey analogue of AlexNet's RGB jitter)", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# ### 1.5 Two GPUs: a grouped convolution
#
# AlexNet did not fit in the memory of one GPU of 2012, so each layer's kernels were split between two
# GPUs, and in conv2, conv4 and conv5 each GPU's kernels see only the maps on its own GPU. That is
# exactly a **grouped convolution** with `groups=2`: split the input channels in two, convolve each
# half with its own half of the kernels, concatenate the outputs. Check it numerically on the
# paper's conv2 (96 → 256 channels, 5×5, pad 2) at 27×27:

# %%
torch.manual_seed(0)
grouped = nn.Conv2d(96, 256, 5, padding=2, groups=2)
x = torch.randn(2, 96, 27, 27)
top = nn.Conv2d(48, 128, 5, padding=2)
bottom = nn.Conv2d(48, 128, 5, padding=2)
with torch.no_grad():
    for half, tower in enumerate((top, bottom)):
        tower.weight.copy_(grouped.weight[128 * half:128 * (half + 1)])
        tower.bias.copy_(grouped.bias[128 * half:128 * (half + 1)])
    towers = torch.cat([top(x[:, :48]), bottom(x[:, 48:])], dim=1)
    same = torch.allclose(grouped(x), towers, atol=1e-5)
print(f"grouped conv weight shape {tuple(grouped.weight.shape)}: each kernel sees {grouped.weight.shape[1]} "
      "of the 96 input channels")
print("groups=2 equals two half convolutions, concatenated (to within 1e-5):", same)

ungrouped = nn.Conv2d(96, 256, 5, padding=2)
for label, conv in [("groups=1 (one GPU)", ungrouped), ("groups=2 (two towers)", grouped)]:
    print(f"  {label:22s} parameters {count_parameters(conv):9,d}   "
          f"MACs per image {count_macs(nn.Sequential(conv), (96, 27, 27)):13,d}")

# %%
with torch.device("meta"):
    one_tower = build("alexnet_2gpu")
    for name in ("conv2", "conv4", "conv5"):
        old = getattr(one_tower.features, name)
        setattr(one_tower.features, name, nn.Conv2d(old.in_channels, old.out_channels, old.kernel_size,
                                                    padding=old.padding))
for label, model in [("paper (groups=2 in conv2, 4, 5)", paper_alexnet), ("same layers, groups=1", one_tower)]:
    convs = sum(count_parameters(m) for m in model.features if isinstance(m, nn.Conv2d))
    print(f"{label:32s} conv parameters {convs:10,d}   total {count_parameters(model):11,d}   "
          f"MACs {count_macs(model, (3, 227, 227)) / 1e9:.2f} G")

# %% [markdown]
# Grouping halves the weights and the MACs of those three layers: each kernel is half as deep.
# The price is that the two halves exchange no information in those layers; conv3 and the fully
# connected layers, which see both GPUs' maps, are where the towers talk (the arrows between
# the halves of the notes' figure 10).
#
# **Model parallelism is not data parallelism.** AlexNet's split is *model* parallel: each GPU
# holds part of the model, every image passes through both GPUs, and the GPUs exchange
# *activations* where a layer connects across. `torchrun` with DistributedDataParallel (lesson
# 05) is *data* parallel: each GPU holds the whole model, trains on its own share of each batch,
# and the GPUs average their *gradients* after every step. What each GPU holds and sends, for the
# paper's network (each GPU held half of every layer's kernels, fully connected ones included):

# %%
total = count_parameters(paper_alexnet)
cross = {"conv3 input (13×13 maps of the other GPU)": 128 * 13 * 13,
         "fc6 input (half of 256·6·6)": 256 * 6 * 6 // 2, "fc7 input": 4096 // 2, "fc8 input": 4096 // 2}
per_image = sum(cross.values())
BATCH = 128
print(f"model parallel (AlexNet): each GPU holds about {total / 2 / 1e6:.1f} M parameters and sends the other "
      f"{per_image:,} activations per image:")
for where, values in cross.items():
    print(f"    {where:44s} {values:7,d}")
print(f"  per batch of {BATCH}: {per_image * BATCH / 1e6:.1f} M values each way")
print(f"data parallel (DDP): each GPU holds all {total / 1e6:.1f} M parameters and the GPUs average "
      f"{total / 1e6:.1f} M gradients per step, whatever the batch size")

# %% [markdown]
# Data parallelism is simpler (the model is unchanged) and is what everyone uses when the model
# fits on one GPU; model parallelism is for models that do not fit, which is why AlexNet needed it
# in 2012 and why very large models need it again today.

# %% [markdown]
# ## 2. VGG (2014)
#
# ### 2.1 Blocks of 3×3 convolutions
#
# VGG uses only 3×3 convolutions (stride 1, pad 1, so they keep the size), in blocks that end in a
# 2×2 max pool halving the height and width; the number of filters doubles from block to block
# (64 → 512). VGG-16 (configuration D), block by block:

# %%
with torch.device("meta"):
    vgg16 = build("vgg16")
vgg_rows = layer_table(vgg16, (3, 224, 224))


def block_of(name):
    layer = name.split(".")[-1]
    if name.startswith("features."):
        return f"block {layer.removeprefix('conv').removeprefix('relu').removeprefix('pool').split('_')[0]}"
    return "classifier" if name.startswith("classifier") else "other"


summary = {}
for row in vgg_rows:
    entry = summary.setdefault(block_of(row.name), {"convs": 0, "parameters": 0, "macs": 0, "output": None})
    entry["convs"] += row.type == "Conv2d"
    entry["parameters"] += row.parameters
    entry["macs"] += row.macs
    entry["output"] = row.output_shape
vgg_total_p, vgg_total_m = sum(r.parameters for r in vgg_rows), sum(r.macs for r in vgg_rows)
print(f"{'':11s} {'3×3 convs':>9s} {'output':>12s} {'parameters':>12s} {'share':>6s} {'G MACs':>7s} {'share':>6s}")
for block, e in summary.items():
    if e["parameters"]:
        print(f"{block:11s} {e['convs']:9d} {'×'.join(map(str, e['output'])):>12s} {e['parameters']:12,d} "
              f"{e['parameters'] / vgg_total_p:6.1%} {e['macs'] / 1e9:7.2f} {e['macs'] / vgg_total_m:6.1%}")
print(f"{'total':11s} {sum(e['convs'] for e in summary.values()):9d} {'':>12s} {vgg_total_p:12,d} {'':6s} "
      f"{vgg_total_m / 1e9:7.2f}")

# %% [markdown]
# Compare the totals with AlexNet's (section 1.1): most of VGG-16's parameters are again in the
# classifier, while its compute is spread over the blocks, blocks 3 and 4 doing the same work
# (half the size, twice the channels: a quarter of the positions, four times the weights per
# position).
#
# ### 2.2 Three 3×3 layers against one 7×7
#
# The notes: a stack of three 3×3 conv layers sees the same 7×7 region as one 7×7 layer, with
# 3·(3²C) = 27C weights per output channel instead of 7²C = 49C (27C² against 49C² for C channels
# in and out), and with three nonlinearities instead of one. All four claims, computed for
# C = 64 at 56×56:

# %%
C = 64
stack3 = nn.Sequential(*[layer for _ in range(3) for layer in (nn.Conv2d(C, C, 3, padding=1, bias=False), nn.ReLU())])
single7 = nn.Sequential(nn.Conv2d(C, C, 7, padding=3, bias=False), nn.ReLU())
for label, model in [("three 3×3", stack3), ("one 7×7", single7)]:
    rf = receptive_field(model)
    print(f"{label:10s} receptive field {rf.size[0]}×{rf.size[1]}   weights {count_parameters(model):7,d} "
          f"= {count_parameters(model) // C**2}·C²   MACs at {C}×56×56 {count_macs(model, (C, 56, 56)):12,d}   "
          f"nonlinearities {sum(isinstance(m, nn.ReLU) for m in model)}")
print(f"weights and MACs of the 3×3 stack as a fraction of the 7×7 layer: "
      f"{count_parameters(stack3) / count_parameters(single7):.2f} (27/49 = {27 / 49:.2f})")

# %% [markdown]
# ### Exercise 2 (2 points) ⭐: `vgg_block`
#
# Return a VGG block as an `nn.Sequential`: `num_convs` convolutions of 3×3 with padding 1 (the
# first from `in_channels` to `out_channels` channels, the others from `out_channels` to
# `out_channels`), each followed by a ReLU, then a 2×2 max pool with stride 2.

# %% nbgrader={"grade": false, "grade_id": "vgg_block", "locked": false, "schema_version": 3, "solution": true, "task": false}
def vgg_block(in_channels, out_channels, num_convs):
    """-> nn.Module mapping (N, in_channels, H, W) to (N, out_channels, H // 2, W // 2)."""
    ### BEGIN SOLUTION
    layers, channels = [], in_channels
    for _ in range(num_convs):
        layers += [nn.Conv2d(channels, out_channels, 3, padding=1), nn.ReLU()]
        channels = out_channels
    return nn.Sequential(*layers, nn.MaxPool2d(2, stride=2))
    ### END SOLUTION


# %% tags=["raises-exception"]
check_vgg_block(vgg_block)

# %% nbgrader={"grade": true, "grade_id": "vgg_block_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_vgg_block(vgg_block)
### BEGIN HIDDEN TESTS
_block = vgg_block(64, 128, 2)
assert _block(torch.zeros(1, 64, 56, 56)).shape == (1, 128, 28, 28)
assert count_parameters(_block) == 9 * 64 * 128 + 128 + 9 * 128 * 128 + 128
assert receptive_field(nn.Sequential(*[m for m in _block if not isinstance(m, nn.MaxPool2d)])).size == (5, 5)
### END HIDDEN TESTS

# %% [markdown]
# **Both designs trained side by side.** Two small networks that differ only in the unit under
# test: a 3×3 stem (16 channels) and a 2×2 pool to 14×14, then either three 3×3 conv layers or
# one 7×7 layer (16 channels, same receptive field), a 2×2 pool, global average pooling and a
# linear classifier. The 3×3 version uses the reference block (`reference_vgg_block`, the same
# layers as your `vgg_block`). Three seeds each, a few thousand training images, validation on a
# held-out split.

# %%
def compare_net(unit):
    """stem, pool to 14×14, the unit (three 3×3 or one 7×7, 16 channels), GAP, linear."""
    if unit == "three 3×3":
        middle = reference_vgg_block(16, 16, 3)
    else:
        middle = nn.Sequential(nn.Conv2d(16, 16, 7, padding=3), nn.ReLU(), nn.MaxPool2d(2, stride=2))
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), middle,
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


VGG_TRAIN = quick_or_full(500, 3_000)
VGG_EPOCHS = quick_or_full(1, 3)
VGG_SEEDS = quick_or_full(2, 3)
vgg_train = (train_images[:VGG_TRAIN], train_labels[:VGG_TRAIN])
vgg_val = (val_images[:REG_VAL], val_labels[:REG_VAL])
unit_results = {}
for unit in ("three 3×3", "one 7×7"):
    accuracies = []
    for seed in range(VGG_SEEDS):
        torch.manual_seed(seed)
        model = compare_net(unit)
        history = fit(model, vgg_train, vgg_val, epochs=VGG_EPOCHS, seed=seed, device=DEVICE, progress=False)
        accuracies.append(history.val_accuracy[-1])
    unit_results[unit] = (model, np.array(accuracies))
for unit, (model, _) in unit_results.items():
    print(f"{unit:10s} parameters {count_parameters(model):6,d}   MACs {count_macs(model, (1, 28, 28)):10,d}")

# %%
# NBVAL_IGNORE_OUTPUT
# The accuracies depend on COURSE_QUICK.
print(f"{VGG_TRAIN:,} training images, {VGG_EPOCHS} epochs, {VGG_SEEDS} seeds; validation accuracy:")
for unit, (_, acc) in unit_results.items():
    print(f"  {unit:10s} {acc.mean():.1%} ± {acc.std(ddof=1):.1%}   (runs: {', '.join(f'{a:.1%}' for a in acc)})")
difference = unit_results["three 3×3"][1].mean() - unit_results["one 7×7"][1].mean()
noise = np.hypot(*(acc.std(ddof=1) / len(acc) ** 0.5 for _, acc in unit_results.values()))
print(f"3×3 stack minus 7×7: {difference:+.1%} (standard error of the difference {noise:.1%}); "
      f"the 3×3 stack is better by more than two standard errors: {difference > 2 * noise}")

# %% [markdown]
# The 3×3 stack gets the same receptive field for 27/49 of the weights and MACs. Whether it is also
# *more accurate* in such a short run is what the last line says; the paper's evidence (deeper
# stacks of 3×3 beat shallower ones with larger filters, section 4 of Simonyan & Zisserman) is
# for networks trained to convergence on ImageNet.

# %% [markdown]
# ## 3. GoogLeNet (2014)
#
# ### 3.1 The Inception module, naive and with 1×1 reductions
#
# An Inception module runs 1×1, 3×3 and 5×5 convolutions and a 3×3 max pool side by side on the
# same input and concatenates their outputs along the channels. In the naive form (the notes'
# figure 11a) the 3×3 and 5×5 convolutions see all input channels and the pooled input is passed
# through whole; the form GoogLeNet uses (figure 11b) first reduces the channels with 1×1
# convolutions, and projects the pooled maps with a 1×1 convolution. The paper's module 3a
# (input 192×28×28; 64 1×1, 96 → 128 3×3, 16 → 32 5×5, 32 pool projection), both ways:

# %%
class NaiveInception(nn.Module):
    """1×1, 3×3 and 5×5 convs (with ReLU) and a 3×3 max pool on the same input, concatenated.

    (N, C, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + C, H, W): the pooled input keeps its C channels.
    """

    def __init__(self, in_channels, ch1x1, ch3x3, ch5x5):
        super().__init__()
        self.branches = nn.ModuleList([
            nn.Sequential(nn.Conv2d(in_channels, ch1x1, 1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(in_channels, ch3x3, 3, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(in_channels, ch5x5, 5, padding=2), nn.ReLU()),
            nn.MaxPool2d(3, stride=1, padding=1),
        ])

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj = INCEPTION_MODULES["3a"]
naive = NaiveInception(192, ch1x1, ch3x3, ch5x5)
reduced = Inception(192, *INCEPTION_MODULES["3a"])
costs = {}
for label, module in [("naive (figure 11a)", naive), ("with 1×1 reductions (11b)", reduced)]:
    out_channels = module(torch.zeros(1, 192, 28, 28)).shape[1]
    costs[label] = (count_parameters(module), count_macs(module, (192, 28, 28)))
    print(f"{label:26s} output {out_channels:3d}×28×28   parameters {costs[label][0]:9,d}   "
          f"MACs {costs[label][1]:13,d}")
(naive_p, naive_m), (reduced_p, reduced_m) = costs.values()
print(f"the reductions cut parameters {naive_p / reduced_p:.1f}× and MACs {naive_m / reduced_m:.1f}×")

# %% [markdown]
# Two things make the naive module expensive. Its 5×5 and 3×3 convolutions act on all 192
# channels, and its output is *wider than its input* (the pool branch passes all 192 channels
# through), so the next module would be more expensive still; stacking nine of them would be
# unaffordable. The 1×1 reductions fix both: the costly convolutions see 96 or 16 channels, and
# the pool projection keeps the output at 256 channels.

# %% [markdown]
# ### Exercise 3 (3 points) ⭐: `inception_forward`
#
# Write the forward pass of the course's `Inception` module: given `module` (with attributes
# `branch1`, `branch2`, `branch3` and `branch4`, each an `nn.Module`) and an input `x` of shape
# (N, C, H, W), run every branch on `x` and return their outputs concatenated along the channel
# axis, in the order branch1, branch2, branch3, branch4.

# %% nbgrader={"grade": false, "grade_id": "inception_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def inception_forward(module, x):
    """module: Inception, x: (N, C, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)."""
    ### BEGIN SOLUTION
    branches = (module.branch1, module.branch2, module.branch3, module.branch4)
    return torch.cat([branch(x) for branch in branches], dim=1)
    ### END SOLUTION


# %% tags=["raises-exception"]
check_inception_forward(inception_forward)

# %% nbgrader={"grade": true, "grade_id": "inception_forward_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_inception_forward(inception_forward)
### BEGIN HIDDEN TESTS
_module = Inception(192, *INCEPTION_MODULES["3a"]).eval()
_x = torch.randn(1, 192, 28, 28)
with torch.no_grad():
    assert torch.allclose(inception_forward(_module, _x), _module(_x))
    assert inception_forward(_module, _x).shape == (1, 256, 28, 28)
### END HIDDEN TESTS

# %% [markdown]
# The reference, `reference_inception_forward`, on module 3a of the full GoogLeNet:

# %%
with torch.no_grad():
    module_3a = build("googlenet").inception3a.eval()
    x = torch.randn(1, 192, 28, 28)
    out = reference_inception_forward(module_3a, x)
    print(f"module 3a: input {tuple(x.shape)} -> output {tuple(out.shape)}; "
          f"equals the module's own forward (to within 1e-6): {torch.allclose(out, module_3a(x), atol=1e-6)}")

# %% [markdown]
# ### 3.2 "22 layers"
#
# The paper counts the layers *with parameters* along the longest path from input to output
# (27 if the pooling layers are counted too). Inside an Inception module the longest path has two
# layers (a 1×1 reduction then a 3×3 or 5×5 convolution; or a pool then a 1×1 projection). Count
# them on `build("googlenet")`:

# %%
def depth(module, count_pools=False):
    """Layers with parameters (and pools, if asked) on the longest path through ``module``."""
    if isinstance(module, Inception):
        return max(depth(branch, count_pools) for branch in (module.branch1, module.branch2, module.branch3,
                                                                module.branch4))
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        return 1
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
        return int(count_pools)
    return sum(depth(child, count_pools) for child in module.children())


googlenet = build("googlenet")
stem_depth = depth(googlenet.stem)
inception_depth = sum(depth(m) for m in googlenet.modules() if isinstance(m, Inception))
print(f"stem {stem_depth} (conv1, conv2_reduce, conv2) + 9 Inception modules × 2 = {inception_depth} "
      f"+ the final linear layer 1 = {depth(googlenet)} layers with parameters")
print(f"counting the pooling layers as well: {depth(googlenet, count_pools=True)}")

# %% [markdown]
# ### 3.3 "5 million parameters – no fully connected layers"

# %%
with torch.device("meta"):
    variants = {
        "paper (5×5 branch, LRN, no BN)": build("googlenet"),
        "model zoo (3×3 '5×5' branch, BN)": build("googlenet", branch5x5=3, batch_norm=True),
        "model zoo + auxiliary classifiers": build("googlenet", branch5x5=3, batch_norm=True, aux_logits=True),
    }
for label, model in variants.items():
    print(f"{label:36s} {count_parameters(model):11,d} parameters ({count_parameters(model) / 1e6:.2f} M)   "
          f"MACs {count_macs(model, (3, 224, 224)) / 1e9:.2f} G")
paper_googlenet = variants["paper (5×5 branch, LRN, no BN)"]
fc = paper_googlenet.fc
print(f"\nfully connected layers in the paper's network: "
      f"{[name for name, m in paper_googlenet.named_modules() if isinstance(m, nn.Linear)]}")
print(f"the classifier fc: {fc.in_features} -> {fc.out_features}, {count_parameters(fc):,} parameters = "
      f"{count_parameters(fc) / count_parameters(paper_googlenet):.1%} of the network")
print(f"'5 million parameters': {count_parameters(paper_googlenet) < 5.5e6}; "
      f"'no fully connected layers': {not any(isinstance(m, nn.Linear) for m in paper_googlenet.modules())}")

# %% [markdown]
# Neither half of the claim survives a count (the verdicts above): GoogLeNet has more parameters
# than "5 million" (the docstring of `course_utils.architectures.googlenet` explains how the
# paper's own Table 1 arrives at a smaller sum), and it ends in one fully connected layer that maps
# the 1024 pooled features to the 1000 classes. What is true is the spirit: it has no *hidden*
# fully connected layers like AlexNet's and VGG's 4096-wide ones, which is why it is far smaller
# than both. The auxiliary classifiers (used in training only, each with two fully connected
# layers) add the difference between the second and third lines.
#
# ### 3.4 Global average pooling against a flattened fully connected head
#
# The last Inception module outputs 1024×7×7. GoogLeNet averages each map to one number (global
# average pooling) and classifies the 1024 averages; AlexNet and VGG flatten the maps into one
# long vector for their fully connected layers. The heads, on the same 1024×7×7 features:

# %%
with torch.device("meta"):  # shapes only: the VGG-style head would otherwise allocate 0.9 GB
    heads = {
        "GAP + linear (GoogLeNet)": nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, 1000)),
        "flatten + linear": nn.Sequential(nn.Flatten(), nn.Linear(1024 * 7 * 7, 1000)),
        "flatten + 4096 + 4096 + linear (VGG-style)": nn.Sequential(
            nn.Flatten(), nn.Linear(1024 * 7 * 7, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
            nn.Linear(4096, 1000)),
    }
for label, head in heads.items():
    print(f"{label:44s} {count_parameters(head):12,d} parameters "
          f"({count_parameters(head) / count_parameters(paper_googlenet):5.1f}× the whole GoogLeNet)")

# %% [markdown]
# A flattened head would have multiplied GoogLeNet's size several times over; global average
# pooling also makes the network accept other input sizes (the head does not depend on the 7×7).
#
# ### 3.5 Where the model zoo differs from the paper
#
# PyTorch's torchvision `googlenet` (ported from TensorFlow) puts batch normalisation after every
# convolution (batch norm appeared after GoogLeNet) and, by a long-standing bug kept for its
# pretrained weights, uses a 3×3 convolution in the "5×5" branch. What each change does to the
# counts, one at a time:

# %%
with torch.device("meta"):
    zoo_steps = {
        "paper": build("googlenet"),
        "3×3 instead of 5×5 branch": build("googlenet", branch5x5=3),
        "batch norm (conv biases dropped)": build("googlenet", batch_norm=True),
        "both (torchvision)": build("googlenet", branch5x5=3, batch_norm=True),
    }
base_p, base_m = count_parameters(zoo_steps["paper"]), count_macs(zoo_steps["paper"], (3, 224, 224))
for label, model in zoo_steps.items():
    p, m = count_parameters(model), count_macs(model, (3, 224, 224))
    print(f"{label:34s} {p:10,d} parameters ({p - base_p:+9,d})   {m / 1e9:.3f} G MACs ({(m - base_m) / 1e6:+7.1f} M)")

# %% [markdown]
# The 3×3 branch accounts for nearly all of the difference (a 5×5 kernel has 25 weights per
# channel pair, a 3×3 one 9); batch normalisation changes the count by little (two parameters per
# channel in, one conv bias per channel out). Published parameter counts for "GoogLeNet" differ
# for these reasons, and none of them is the notes' 5 million.

# %% [markdown]
# ## 4. The small versions, trained
#
# `course_utils.architectures` has a Fashion-MNIST-size version of each design
# (`names("small")`): `alexnet_small` (a strided 5×5 first layer, five convs, three fully
# connected layers with dropout), `vgg_small` (three blocks of two 3×3 convs, three fully
# connected layers) and `googlenet_small` (a stem, four Inception modules with 1×1 reductions,
# global average pooling, one linear layer). Each is trained by the course's engine on the same
# training subset with the same settings (`fit`'s defaults: AdamW, learning rate 10⁻³, batch
# 128), chosen on the validation split; the test set is measured once, at the end.

# %%
SMALL_TRAIN = quick_or_full(500, 4_000)
SMALL_EPOCHS = quick_or_full(1, 2)
SMALL_VAL = quick_or_full(500, 1_000)
small_train = (train_images[:SMALL_TRAIN], train_labels[:SMALL_TRAIN])
small_val = (val_images[:SMALL_VAL], val_labels[:SMALL_VAL])
small_models, small_histories = {}, {}
for name in ("alexnet_small", "vgg_small", "googlenet_small"):
    torch.manual_seed(0)
    small_models[name] = build(name)
    small_histories[name] = fit(small_models[name], small_train, small_val, epochs=SMALL_EPOCHS,
                                device=DEVICE, progress=False)
for name, model in small_models.items():
    print(f"{name:16s} {count_parameters(model):9,d} parameters   {count_macs(model, (1, 28, 28)) / 1e6:6.1f} M MACs")

# %%
# NBVAL_IGNORE_OUTPUT
# Accuracies depend on COURSE_QUICK; seconds on the machine.
SMALL_TEST = quick_or_full(1_000, len(test_y))
test_accuracy = {name: evaluate(model, test_x[:SMALL_TEST], test_y[:SMALL_TEST]).accuracy
                 for name, model in small_models.items()}
print(f"{SMALL_TRAIN:,} training images, {SMALL_EPOCHS} epochs, on {describe_device(DEVICE)}\n")
print(f"{'model':16s} {'parameters':>10s} {'M MACs':>7s} {'s/epoch':>8s} {'val acc':>8s} {'test acc':>9s}")
for name, model in small_models.items():
    h = small_histories[name]
    print(f"{name:16s} {count_parameters(model):10,d} {count_macs(model, (1, 28, 28)) / 1e6:7.1f} "
          f"{np.mean(h.seconds):8.1f} {h.val_accuracy[-1]:8.1%} {test_accuracy[name]:9.1%}")
ranking = sorted(test_accuracy, key=test_accuracy.get, reverse=True)
print("\nordered by test accuracy:", " > ".join(ranking))
print("the same order on validation:", ranking == sorted(small_histories, key=lambda n: small_histories[n].val_accuracy[-1],
                                                          reverse=True))

# %% [markdown]
# Compare the seconds per epoch with the MACs: on a CPU they follow each other only roughly, since
# many small convolutions and concatenations (GoogLeNet) use the processor less efficiently than
# a few large ones. With so short a
# training run the ranking says more about how fast each design learns than about where it ends;
# lesson 07 adds batch normalisation and residual connections, which make such networks train
# faster and deeper.

# %% [markdown]
# ## Summary
#
# * **AlexNet**: about 60 million parameters, most in the first fully connected layer, but the
#   convolutions do nearly all the computation; 11×11/4 first filters; ReLU against saturating
#   activations measured at initialisation and in training speed; dropout and augmentation
#   measured as train–validation gaps; the two-GPU split is a grouped convolution (model
#   parallelism), which halves those layers' weights and MACs, unlike DDP (data parallelism).
# * **VGG**: blocks of 3×3 convolutions; three 3×3 layers see 7×7 with 27/49 of the weights and
#   MACs and three nonlinearities instead of one.
# * **GoogLeNet**: 22 layers with parameters on the longest path; more than the notes' 5 million
#   parameters, and one fully connected classifier; the 1×1 reductions make the Inception module several
#   times cheaper; global average pooling replaces a head that would be many times the network.
# * The verdict lines printed above say, claim by claim, where the notes hold and where they do not.
