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
# # Lesson 07 — Batch normalisation and residual networks
#
# **Lecture notes covered.** *Convolutional Neural Networks* §2.5 (ResNet: "very deep (152
# layers)", residual blocks of 3×3 convolutions, no fully connected layers until the last,
# ∂Y/∂x = ∂F/∂x + 1 against the vanishing gradient, and the closing claim that deep networks can
# need fewer parameters than shallow ones); Lecture 4's *Practical deep networks* and *Residual
# networks* (h<sub>l+1</sub> = h<sub>l</sub> + σ(W<sub>l</sub> h<sub>l</sub>), "the optimization
# landscape of residual networks is considerably easier"). Batch normalisation, which every
# network after 2015 uses and the notes only name, comes first.
#
# **After this lesson you can**
# * say what batch normalisation computes in training and in evaluation, and measure what it does
#   to training speed and to the range of usable learning rates;
# * write a residual block with an identity or a projection shortcut, and compute the gradient
#   through a stack of them;
# * reproduce the degradation problem (a deeper plain network trains *worse*) and show that
#   shortcuts remove it;
# * count the layers, parameters and MACs of any ResNet, basic or bottleneck, and compare deep-narrow
#   and shallow-wide networks at equal parameters.
#
# **Time.** About 144 minutes: 2,518 words to read (17 min at 150 words a minute), 352 lines of code to read and run (44 min at 8 a minute), 3 graded exercises (45 min), and 38 min of computing for the whole notebook on a 2-core CPU, measured when it was built (`course_tools.lesson_time`).
#
# Three graded exercises (⭐), each with an instant check. If you are stuck, run the rest of the
# notebook: later cells use `course_utils`.
#
# **Quick mode.** With `COURSE_QUICK=1` (as in CI) the training cells use a few hundred images and
# one epoch; the stored outputs are from the full run, sized for a laptop CPU (a few thousand
# images, a few epochs: enough to see how each network *starts* to train, which is where the
# degradation problem shows first). Cells whose printed numbers depend on the mode are excluded
# from nbval's comparison, each saying so.

# %%
# %matplotlib inline
import copy

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils.architectures import build, count_macs, count_parameters
from course_utils.architectures.resnet_small import SmallBlock, plain_small, resnet_small
from course_utils.checks import check_basic_block_forward, check_batchnorm_eval, check_residual_gradient
from course_utils.checks.resnet import reference_residual_gradient
from course_utils.data import load_fashion_mnist, train_val_split
from course_utils.runtime import quick_mode, quick_or_full, seed_everything
from course_utils.training import describe_device, evaluate, fit, pick_device
from course_utils.widgets import ArchitectureExplorer

seed_everything(0)
DEVICE = pick_device()
plt.rcParams["figure.dpi"] = 100

# %%
# NBVAL_IGNORE_OUTPUT
# The device and thread count are those of the machine that runs the notebook.
print("running on:", describe_device(DEVICE), "| quick mode:", quick_mode())
print("a CUDA GPU is available:", torch.cuda.is_available())

# %% [markdown]
# Every training cell runs unchanged on a GPU (`fit` moves the model and data there). The data:
# a validation split held out of the 60,000 training images chooses between settings; the test
# set is used once, at the very end, for the shipped network.

# %%
train_x, train_y = load_fashion_mnist("train")
(train_images, train_labels), (val_images, val_labels) = train_val_split(train_x, train_y, 5_000, seed=0)
print(f"training images {len(train_labels):,}, validation images {len(val_labels):,}")

# %% [markdown]
# ## 1. Batch normalisation (Ioffe and Szegedy, 2015)
#
# ### 1.1 What it computes, in training and in evaluation
#
# A batch-norm layer after a convolution normalises each channel *c* with a mean and a variance,
# then scales and shifts it with two learned numbers:
#
# $$y_{n,c,i,j} = \gamma_c \, \frac{x_{n,c,i,j} - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c .$$
#
# * **In training**, μ<sub>c</sub> and σ²<sub>c</sub> are the mean and the (biased) variance of
#   channel *c* over the batch *and* all positions: N·H·W numbers. Each channel of the output then
#   has mean β<sub>c</sub> and standard deviation γ<sub>c</sub> (almost: ε), whatever the
#   layer before did. The layer also keeps running averages of the statistics:
#   `running = (1 − momentum)·running + momentum·batch`, with PyTorch's momentum 0.1 and the
#   *unbiased* variance (divided by N·H·W − 1).
# * **In evaluation** (`model.eval()`), the running averages replace the batch statistics, so the
#   layer is a fixed per-channel affine map: an image's output no longer depends on the other
#   images of its batch.
#
# Both facts, measured on a layer with 8 channels:

# %%
torch.manual_seed(0)
bn = nn.BatchNorm2d(8)
with torch.no_grad():
    bn.weight.uniform_(0.5, 2.0)
    bn.bias.uniform_(-1.0, 1.0)
x = 3.0 + 2.0 * torch.randn(16, 8, 5, 5)          # a batch whose channels have mean 3, std 2
y = bn(x)                                          # training mode: batch statistics
channel_mean, channel_std = y.mean(dim=(0, 2, 3)), y.std(dim=(0, 2, 3), unbiased=False)
print("training mode: each channel's mean is its beta (to 1e-5):",
      torch.allclose(channel_mean, bn.bias, atol=1e-5))
print("               each channel's std is its gamma (to 1e-3):",
      torch.allclose(channel_std, bn.weight, atol=1e-3))
batch_var = x.var(dim=(0, 2, 3), unbiased=True)
expected_running_var = 0.9 * 1.0 + 0.1 * batch_var
print("running variance after one batch = 0.9·1 + 0.1·(unbiased batch variance):",
      torch.allclose(bn.running_var, expected_running_var, atol=1e-5))

# %% [markdown]
# Now the difference that matters in practice. In training mode, an image's output depends on the
# batch it is in; in evaluation mode it does not:

# %%
image = x[:1]
other_batch = torch.cat([image, 10 + torch.randn(15, 8, 5, 5)])   # the same image among others
bn.train()
in_batch_a, in_batch_b = bn(x)[:1], bn(other_batch)[:1]
bn.eval()
alone, among_others = bn(image), bn(other_batch)[:1]
print("training mode: same image, different batch-mates -> same output:",
      torch.allclose(in_batch_a, in_batch_b, atol=1e-4))
print("evaluation mode: same output alone and in a batch:", torch.allclose(alone, among_others, atol=1e-6))
_ = bn.train()

# %% [markdown]
# This is why forgetting `model.eval()` before measuring a network with batch norm gives different
# (usually worse) accuracies depending on the batch size and the order of the test images, and why
# a batch of one image cannot be normalised in training mode (its variance over one image's
# positions is all the layer sees). `course_utils.evaluation.evaluate` switches to evaluation mode
# for you and back afterwards.

# %% [markdown]
# ### Exercise 1 (2 points) ⭐: `batchnorm_eval`
#
# Write batch normalisation in evaluation mode: `x` is a tensor N×C×H×W, `running_mean`,
# `running_var`, `gamma` and `beta` are tensors of C numbers. Use the running statistics, not the
# batch's; ε goes *inside* the square root. Broadcast the C numbers along the channel axis
# (`t[None, :, None, None]` or `t.view(1, -1, 1, 1)`).

# %% nbgrader={"grade": false, "grade_id": "batchnorm_eval", "locked": false, "schema_version": 3, "solution": true, "task": false}
def batchnorm_eval(x, running_mean, running_var, gamma, beta, eps=1e-5):
    """Batch norm in evaluation mode: (N, C, H, W) -> (N, C, H, W)."""
    ### BEGIN SOLUTION
    def per_channel(t):
        return t.view(1, -1, 1, 1)
    normalised = (x - per_channel(running_mean)) / torch.sqrt(per_channel(running_var) + eps)
    return per_channel(gamma) * normalised + per_channel(beta)
    ### END SOLUTION


# %% tags=["raises-exception"]
check_batchnorm_eval(batchnorm_eval)

# %% nbgrader={"grade": true, "grade_id": "batchnorm_eval_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_batchnorm_eval(batchnorm_eval)
### BEGIN HIDDEN TESTS
_layer = nn.BatchNorm2d(3).eval()
with torch.no_grad():
    _layer.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
    _layer.running_var.copy_(torch.tensor([0.01, 4.0, 0.5]))
    _layer.weight.copy_(torch.tensor([1.5, 0.3, -2.0]))
    _layer.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
_x = torch.randn(2, 3, 4, 5)
assert torch.allclose(batchnorm_eval(_x, _layer.running_mean, _layer.running_var, _layer.weight, _layer.bias),
                      _layer(_x), atol=1e-5)
### END HIDDEN TESTS

# %% [markdown]
# ### 1.2 What it does to training
#
# The batch-norm paper's claims: networks train in fewer steps, and tolerate much larger learning
# rates. Both can be measured on a small conv net, trained with and without a batch-norm layer
# after each of its five convolutions, with plain SGD (momentum 0.9) at learning rates from 0.003
# to 1, on the same images, in the same order, from the same initial weights (the conv layers'
# bias is dropped where batch norm follows, as its β does the same job).

# %%
def conv_stack(batch_norm):
    """Five 3×3 convs (16, 16, 32, 32, 64 filters) with ReLU, two 2×2 max pools, global average
    pooling and a linear layer: (N, 1, 28, 28) -> (N, 10). With ``batch_norm``, a BatchNorm2d
    after each conv."""
    layers, channels = [], 1
    for width, pool in [(16, False), (16, True), (32, False), (32, True), (64, False)]:
        layers.append(nn.Conv2d(channels, width, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.ReLU())
        if pool:
            layers.append(nn.MaxPool2d(2))
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 10))


BN_TRAIN = quick_or_full(128, 4_000)
BN_VAL = quick_or_full(128, 2_000)
BN_EPOCHS = quick_or_full(1, 4)
BN_LRS = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
bn_train = (train_images[:BN_TRAIN], train_labels[:BN_TRAIN])
bn_val = (val_images[:BN_VAL], val_labels[:BN_VAL])
bn_runs = {}
for batch_norm in (False, True):
    for lr in BN_LRS:
        torch.manual_seed(0)
        model = conv_stack(batch_norm)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        bn_runs[batch_norm, lr] = fit(model, bn_train, bn_val, epochs=BN_EPOCHS, batch_size=64,
                                      optimizer=optimizer, device=DEVICE, progress=False)

# %%
# NBVAL_IGNORE_OUTPUT
# The accuracies depend on COURSE_QUICK.
def final_val_accuracy(history):
    """The last epoch's validation accuracy; a run whose loss became NaN counts as chance (10%)."""
    last = history.val_accuracy[-1]
    return last if np.isfinite(history.train_loss[-1]) else 0.10


print(f"{len(bn_runs)} runs: {BN_TRAIN:,} training images, {BN_EPOCHS} epoch(s), batch 64")
print(f"validation accuracy after {BN_EPOCHS} epoch(s):")
print(f"{'learning rate':>14s}" + "".join(f"{lr:>8g}" for lr in BN_LRS))
for batch_norm in (False, True):
    row = [final_val_accuracy(bn_runs[batch_norm, lr]) for lr in BN_LRS]
    print(f"{'with BN' if batch_norm else 'without BN':>14s}" + "".join(f"{a:8.1%}" for a in row))
best = {bn: max(BN_LRS, key=lambda lr: final_val_accuracy(bn_runs[bn, lr])) for bn in (False, True)}
for batch_norm in (False, True):
    usable = [lr for lr in BN_LRS
              if final_val_accuracy(bn_runs[batch_norm, lr]) >= final_val_accuracy(bn_runs[batch_norm, best[batch_norm]]) - 0.05]
    print(f"{'with' if batch_norm else 'without'} BN: best learning rate {best[batch_norm]:g}; within 5 points of "
          f"the best: {len(usable)} of {len(BN_LRS)} learning rates ({', '.join(f'{lr:g}' for lr in usable)})")
best_without, best_with = (final_val_accuracy(bn_runs[bn, best[bn]]) for bn in (False, True))
print(f"best with BN minus best without: {best_with - best_without:+.1%}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
for batch_norm, style in [(False, "--"), (True, "-")]:
    accuracies = [final_val_accuracy(bn_runs[batch_norm, lr]) for lr in BN_LRS]
    axes[0].plot(BN_LRS, accuracies, style, marker="o", label="with BN" if batch_norm else "without BN")
    history = bn_runs[batch_norm, best[batch_norm]]
    axes[1].plot(history.epoch, history.val_accuracy, style, marker="o",
                 label=f"{'with' if batch_norm else 'without'} BN, lr {best[batch_norm]:g}")
axes[0].set(xscale="log", xlabel="learning rate", ylabel="validation accuracy",
            title=f"after {BN_EPOCHS} epoch(s), SGD with momentum")
axes[1].set(xlabel="epoch", ylabel="validation accuracy", title="each at its best learning rate")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the printed verdicts, not this paragraph, for the numbers: the table shows how wide the
# range of usable learning rates is with and without batch norm, and the right panel how fast
# each variant learns at its own best rate. Why it helps is still argued about. The paper's
# explanation ("internal covariate shift": each layer's input distribution keeps changing) was
# later questioned (Santurkar et al., 2018, found batch norm makes the loss surface smoother,
# which allows the larger steps). Batch norm also adds noise (each image is normalised with its
# batch-mates' statistics), which regularises a little. Residual networks, next, put a batch norm
# after every convolution.

# %% [markdown]
# ## 2. Residual blocks
#
# ### 2.1 The notes' formula and the paper's block
#
# Lecture 4 writes a residual block as h<sub>l+1</sub> = h<sub>l</sub> + σ(W<sub>l</sub>
# h<sub>l</sub>) and adds that in practice the skip connection jumps over two layers. The ResNet
# paper's basic block (the notes' figure 12) is exactly that two-layer version, with batch norm and
# with the last nonlinearity *after* the addition:
#
# $$\text{out} = \mathrm{ReLU}\big(\,\underbrace{\mathrm{BN}(W_2 * \mathrm{ReLU}(\mathrm{BN}(W_1 * x)))}_{F(x)} \; + \; x \,\big).$$
#
# Where a block halves the image and doubles the channels, `x` no longer has F(x)'s shape. The
# paper's two answers: **option A** subsamples x and appends zero channels (no parameters; the
# CIFAR networks), **option B** projects it with a 1×1 convolution of stride 2 followed by batch
# norm (the ImageNet networks). `course_utils.architectures.resnet_small.SmallBlock` implements
# all three cases (identity, A, B); here is what each costs:

# %%
for label, block in [("identity (16 -> 16)", SmallBlock(16, 16)),
                     ("option A (16 -> 32, stride 2)", SmallBlock(16, 32, 2, shortcut="A")),
                     ("option B (16 -> 32, stride 2)", SmallBlock(16, 32, 2, shortcut="B")),
                     ("plain (16 -> 32, stride 2)", SmallBlock(16, 32, 2, shortcut="none"))]:
    shortcut_parameters = count_parameters(block.downsample) if block.downsample is not None else 0
    print(f"{label:30s} {count_parameters(block):6,d} parameters, of which shortcut {shortcut_parameters:4,d}")

# %% [markdown]
# ### Exercise 2 (3 points) ⭐: `basic_block_forward`
#
# Write the forward pass of a basic block from its layers: `conv1` (3×3, possibly stride 2),
# `bn1`, `conv2` (3×3), `bn2`, and `shortcut`, which is `None` for the identity or a module (1×1
# conv and batch norm, option B) to apply to `x`. Use `torch.relu`. Mind where the last ReLU goes.

# %% nbgrader={"grade": false, "grade_id": "basic_block_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def basic_block_forward(x, conv1, bn1, conv2, bn2, shortcut):
    """A ResNet basic block: (N, C_in, H, W) -> (N, C_out, H / stride, W / stride)."""
    ### BEGIN SOLUTION
    residual = bn2(conv2(torch.relu(bn1(conv1(x)))))
    identity = x if shortcut is None else shortcut(x)
    return torch.relu(residual + identity)
    ### END SOLUTION


# %% tags=["raises-exception"]
check_basic_block_forward(basic_block_forward)

# %% nbgrader={"grade": true, "grade_id": "basic_block_forward_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_basic_block_forward(basic_block_forward)
### BEGIN HIDDEN TESTS
torch.manual_seed(3)
_block = SmallBlock(4, 8, 2, shortcut="B").eval()
_x = torch.randn(2, 4, 6, 6)
with torch.no_grad():
    assert torch.allclose(basic_block_forward(_x, _block.conv1, _block.bn1, _block.conv2, _block.bn2, _block.downsample),
                          _block(_x), atol=1e-5)
### END HIDDEN TESTS

# %% [markdown]
# ### 2.2 ∂Y/∂x = ∂F/∂x + 1, numerically
#
# The notes' argument: for Y = F(x) + x the Jacobian is ∂F/∂x plus the identity, so even when
# ∂F/∂x is small the gradient reaching x is not. Computed with autograd for a block of the
# course's ResNet (evaluation mode, so that batch norm is a fixed function of one image), on the
# sum before the final ReLU:

# %%
torch.manual_seed(0)
block = SmallBlock(4, 4).eval()
point = torch.randn(1, 4, 5, 5)
jacobian_F = torch.autograd.functional.jacobian(lambda t: block.residual(t), point).reshape(100, 100)
jacobian_Y = torch.autograd.functional.jacobian(lambda t: block.residual(t) + block.shortcut(t), point).reshape(100, 100)
gap = (jacobian_Y - jacobian_F - torch.eye(100)).abs().max().item()
print(f"J_Y - J_F = identity, largest deviation below 1e-6: {gap < 1e-6}")
print(f"smallest singular value of J_F {torch.linalg.svdvals(jacobian_F).min():.2f}, "
      f"of J_Y {torch.linalg.svdvals(jacobian_Y).min():.2f}")

# %% [markdown]
# The last line is the more telling one: F's Jacobian can shrink some directions almost to zero,
# so a gradient along them dies in a plain block; with the shortcut, every direction keeps at
# least what the identity adds, unless ∂F/∂x happens to cancel it. (It is not a guarantee: a
# singular value of J<sub>F</sub> near −1 along some direction would cancel; training does not
# tend to produce those.)
#
# Through a *stack* of blocks the gradients multiply. For the notes' scalar form
# h<sub>l+1</sub> = h<sub>l</sub> + tanh(w<sub>l</sub> h<sub>l</sub>), the chain rule gives
#
# $$\frac{\partial h_L}{\partial h_0} = \prod_{l=0}^{L-1} \big(1 + w_l \, \tanh'(w_l h_l)\big),
# \qquad \tanh'(u) = 1 - \tanh^2(u),$$
#
# while the plain stack h<sub>l+1</sub> = tanh(w<sub>l</sub> h<sub>l</sub>) has the product of
# w<sub>l</sub> tanh'(w<sub>l</sub> h<sub>l</sub>) alone.

# %% [markdown]
# ### Exercise 3 (2 points) ⭐: `residual_gradient`
#
# `h0` is a 1-D numpy array of starting values (each element goes through its own scalar stack) and
# `weights` the L weights w<sub>0</sub>…w<sub>L−1</sub>. Return ∂h<sub>L</sub>/∂h<sub>0</sub> for
# each element, by running the stack forward and multiplying the factors (each factor needs
# h<sub>l</sub> *at its own layer*).

# %% nbgrader={"grade": false, "grade_id": "residual_gradient", "locked": false, "schema_version": 3, "solution": true, "task": false}
def residual_gradient(h0, weights):
    """d h_L / d h_0 of h_{l+1} = h_l + tanh(w_l h_l), elementwise: (M,) -> (M,)."""
    ### BEGIN SOLUTION
    h = np.asarray(h0, dtype=float)
    gradient = np.ones_like(h)
    for w in weights:
        gradient = gradient * (1 + w * (1 - np.tanh(w * h) ** 2))
        h = h + np.tanh(w * h)
    return gradient
    ### END SOLUTION


# %% tags=["raises-exception"]
check_residual_gradient(residual_gradient)

# %% nbgrader={"grade": true, "grade_id": "residual_gradient_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_residual_gradient(residual_gradient)
### BEGIN HIDDEN TESTS
_h0 = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64, requires_grad=True)
_w = [0.5, -0.8, 1.5, 0.2]
_h = _h0
for _wl in _w:
    _h = _h + torch.tanh(_wl * _h)
_h.sum().backward()
assert np.allclose(residual_gradient(_h0.detach().numpy(), _w), _h0.grad.numpy(), atol=1e-10)
### END HIDDEN TESTS

# %% [markdown]
# With random weights, how does the size of ∂h<sub>L</sub>/∂h<sub>0</sub> change with depth, with
# and without the shortcut (computed with the course's `reference_residual_gradient`, the same
# formula)? 2,000 random stacks per depth (weights normal with standard deviation
# 0.5, starting values standard normal):

# %%
def plain_gradient(h0, weights):
    """d h_L / d h_0 of the plain stack h_{l+1} = tanh(w_l h_l), elementwise."""
    h, gradient = np.asarray(h0, dtype=float), np.ones(len(h0))
    for w in weights:
        gradient = gradient * w * (1 - np.tanh(w * h) ** 2)
        h = np.tanh(w * h)
    return gradient


rng = np.random.default_rng(0)
depths = [1, 2, 5, 10, 20, 50]
median_size = {"plain": [], "residual": []}
for depth in depths:
    plain, residual = [], []
    for _ in range(2_000):
        weights, start = rng.normal(0, 0.5, depth), rng.normal(0, 1, 1)
        plain.append(abs(plain_gradient(start, weights)[0]))
        residual.append(abs(reference_residual_gradient(start, weights)[0]))
    median_size["plain"].append(np.median(plain))
    median_size["residual"].append(np.median(residual))
for depth, p, r in zip(depths, median_size["plain"], median_size["residual"]):
    print(f"depth {depth:2d}: median |dh_L/dh_0| plain {p:9.1e}   residual {r:9.1e}")
print("plain gradient below 1e-6 at depth 20:", median_size["plain"][depths.index(20)] < 1e-6)
print("residual gradient above 1e-6 at every depth:", all(r > 1e-6 for r in median_size["residual"]))
print("residual more than 10^20 times the plain gradient at depth 50:",
      median_size["residual"][-1] > 1e20 * median_size["plain"][-1])

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.3))
for kind, marker in [("plain", "o"), ("residual", "s")]:
    ax.plot(depths, median_size[kind], marker=marker, label=kind)
ax.set(xscale="log", yscale="log", xlabel="depth L", ylabel="median |∂h_L/∂h_0|",
       title="gradient through a scalar stack, random weights")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# This is the notes' argument in its purest form, and the verdicts say it holds: the plain product
# of factors smaller than one vanishes geometrically; the residual factors 1 + w tanh'(·) lie on
# both sides of one, so their product drifts far more slowly (it shrinks too, with these weights,
# but by orders of magnitude less).
# Real networks are not scalar stacks, though, and the ResNet paper itself says the trouble it
# solved is *not* vanishing gradients: its plain networks had batch norm, which keeps the
# forward signals and backward gradients at healthy sizes. The next two sections measure what
# happens in real convolutional networks.

# %% [markdown]
# ## 3. The degradation problem
#
# The ResNet paper's starting observation (its figure 1): on CIFAR-10, a plain 56-layer network has
# a *higher training error* than a plain 20-layer one. That is not overfitting (the training
# error itself is worse) and, with batch norm, not a vanishing gradient; the deeper network is
# simply harder to optimise, although it could represent the shallower one (extra layers set to
# the identity). With shortcuts, the identity is the default, and depth helps again.
#
# The same experiment on Fashion-MNIST, with the paper's CIFAR networks (`resnet_small(depth)`,
# option A shortcuts, and `plain_small(depth)`: exactly the same layers and parameters, no
# shortcuts), at depths 20 and 56, trained the same way (SGD with momentum 0.9, learning rate
# 0.05, weight decay 10⁻⁴, batch 128) from the same start for each seed. While they train, a
# callback records each conv layer's gradient norm on a fixed batch after every epoch.

# %%
DEG_TRAIN = quick_or_full(128, 3_000)
DEG_EPOCHS = quick_or_full(1, 4)
DEG_SEEDS = quick_or_full(1, 2)
DEG_DEPTHS = (20, 56)
deg_train = (train_images[:DEG_TRAIN], train_labels[:DEG_TRAIN])
DEG_VAL = quick_or_full(128, 1_000)
deg_val = (val_images[:DEG_VAL], val_labels[:DEG_VAL])
PROBE = quick_or_full(64, 256)
probe_images, probe_labels = train_images[-PROBE:], train_labels[-PROBE:]   # not in deg_train


def conv_gradient_norms(model):
    """Each conv weight's gradient norm on the probe batch, main path in order (a copy of the model
    in training mode, so the run's batch-norm statistics are not touched)."""
    probe = copy.deepcopy(model).cpu().train()
    probe.zero_grad()
    F.cross_entropy(probe(probe_images), probe_labels).backward()
    return [m.weight.grad.norm().item() for m in probe.modules() if isinstance(m, nn.Conv2d)]


def train_depth_run(kind, depth, seed):
    """Train plain or residual of ``depth`` on deg_train; returns (model, history, gradient norms per epoch)."""
    torch.manual_seed(seed)
    model = (resnet_small if kind == "residual" else plain_small)(depth)
    norms = [conv_gradient_norms(model)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    history = fit(model, deg_train, deg_val, epochs=DEG_EPOCHS, batch_size=128, optimizer=optimizer,
                  device=DEVICE, seed=seed, progress=False,
                  callback=lambda history: norms.append(conv_gradient_norms(model)))
    return model, history, norms


deg_runs = {(kind, depth, seed): train_depth_run(kind, depth, seed)
            for seed in range(DEG_SEEDS) for depth in DEG_DEPTHS for kind in ("plain", "residual")}
for depth in DEG_DEPTHS:
    p = count_parameters(plain_small(depth))
    print(f"depth {depth}: {p:,} parameters, plain and residual alike: {p == count_parameters(resnet_small(depth))}")

# %%
# NBVAL_IGNORE_OUTPUT
# The errors depend on COURSE_QUICK.
def training_error(model):
    """Error on the training subset, measured in evaluation mode after training."""
    return 1 - evaluate(model, *deg_train, device=DEVICE).accuracy


final_error = {key: training_error(model) for key, (model, _, _) in deg_runs.items()}
print(f"{DEG_TRAIN:,} training images, {DEG_EPOCHS} epoch(s), {DEG_SEEDS} seed(s); final training error:")
summary = {}
for kind in ("plain", "residual"):
    for depth in DEG_DEPTHS:
        errors = np.array([final_error[kind, depth, seed] for seed in range(DEG_SEEDS)])
        summary[kind, depth] = errors
        print(f"  {kind:8s} {depth:2d} layers: {errors.mean():6.1%}   (seeds: {', '.join(f'{e:.1%}' for e in errors)})")
plain_worse = all(final_error["plain", 56, s] > final_error["plain", 20, s] for s in range(DEG_SEEDS))
residual_not_worse = all(final_error["residual", 56, s] <= final_error["residual", 20, s] for s in range(DEG_SEEDS))
print(f"plain 56 trains worse than plain 20 in every seed (degradation): {plain_worse}")
print(f"residual 56 trains at least as well as residual 20 in every seed: {residual_not_worse}")
print(f"residual 56 better than plain 56 in every seed: "
      f"{all(final_error['residual', 56, s] < final_error['plain', 56, s] for s in range(DEG_SEEDS))}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.4), sharey=True)
for ax, kind in zip(axes, ("plain", "residual")):
    for depth, color in zip(DEG_DEPTHS, ("tab:blue", "tab:red")):
        for seed in range(DEG_SEEDS):
            history = deg_runs[kind, depth, seed][1]
            ax.plot(history.epoch, 1 - np.array(history.train_accuracy), color=color, marker="o",
                    alpha=0.8, label=f"{depth} layers" if seed == 0 else None)
    ax.set(title=f"{kind} networks", xlabel="epoch")
    ax.grid(alpha=0.3)
    ax.legend()
axes[0].set_ylabel("training error (during the epoch)")
fig.suptitle("the degradation problem on Fashion-MNIST (one line per seed)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Compare with the paper's figure 1 (plain nets) and figure 6 (the same with shortcuts): the verdict
# lines above say whether this short run reproduces it. The paper trained for 64,000 steps; this
# run is a few hundred, so it shows the start of the curves, where the plain nets already separate.
#
# Were the gradients vanishing in the plain 56-layer net? The callback recorded each conv
# layer's gradient norm, first layer to last, at initialisation and after each epoch:

# %%
fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.4), sharey=True)
for ax, moment, label in [(axes[0], 0, "at initialisation"), (axes[1], -1, "after the last epoch")]:
    for kind, style in [("plain", "--"), ("residual", "-")]:
        for depth, color in zip(DEG_DEPTHS, ("tab:blue", "tab:red")):
            norms = deg_runs[kind, depth, 0][2][moment]
            ax.plot(np.arange(1, len(norms) + 1), norms, style, color=color, label=f"{kind} {depth}")
    ax.set(yscale="log", xlabel="conv layer (input side first)", title=f"gradient norm per layer, {label}")
    ax.grid(alpha=0.3)
axes[0].set_ylabel("‖∂loss/∂W‖")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
def gradient_spread(norms):
    """The first conv's gradient norm divided by the last conv's."""
    return norms[0] / norms[-1]


def spread_verdict(ratio):
    if ratio < 0.01:
        return "vanishing towards the input (first layer's gradient < 1/100 of the last's)"
    if ratio > 100:
        return "exploding towards the input (first layer's gradient > 100× the last's)"
    return "within a factor 100 of each other"


at_init = {kind: gradient_spread(deg_runs[kind, 56, 0][2][0]) for kind in ("plain", "residual")}
for kind, ratio in at_init.items():
    print(f"{kind:8s} 56 at initialisation: {spread_verdict(ratio)}")

# %%
# NBVAL_IGNORE_OUTPUT
# Ratios after a short training run (they depend on COURSE_QUICK).
for kind in ("plain", "residual"):
    norms = deg_runs[kind, 56, 0][2]
    print(f"{kind:8s} 56: first conv's gradient norm / last conv's: at initialisation "
          f"{gradient_spread(norms[0]):.2g}, after training {gradient_spread(norms[-1]):.2g}")

# %% [markdown]
# Read the verdicts: the plain 56-layer network's gradients do not *vanish* towards the input. With
# batch norm after every convolution they are, if anything, larger in the first layers than in the
# last at initialisation: Yang et al. (2019, "A mean field theory of batch normalization") proved
# that batch norm makes gradients *explode* with depth in plain networks at initialisation. The
# shortcuts keep the layers' gradients on a common scale. So the notes' "residual blocks solve the
# vanishing gradient problem" is the story for deep networks *without* normalisation (section 2.2);
# for the networks of the paper, which all have batch norm, the paper's own summary fits the
# measurements better: the plain deep network is harder to *optimise*, and with shortcuts every
# block starts near the identity and learns a correction to it.

# %% [markdown]
# ## 4. "Very deep (152 layers)"
#
# ### 4.1 Counting the layers
#
# The paper counts the layers with weights on the longest path: the first convolution, every
# convolution in the residual branches, and the final fully connected layer; the 1×1 projection
# shortcuts are not counted (they are on a parallel, shorter path). ResNet-152 (`build`: the
# paper's table 1, built on the meta device, so it costs nothing):

# %%
def count_layers(model):
    """(weighted layers on the longest path, projection convs, 1×1 convs, 3×3 convs, 7×7 convs,
    linear layers) of a torchvision-style ResNet."""
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    projections = [name for name, _ in convs if "downsample" in name]
    main = [m for name, m in convs if "downsample" not in name]
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    kernel = {k: sum(m.kernel_size == (k, k) for m in main) for k in (1, 3, 7)}
    return len(main) + len(linear), len(projections), kernel, len(linear)


with torch.device("meta"):
    resnets = {depth: build(f"resnet{depth}") for depth in (18, 34, 50, 101, 152)}
for depth, model in resnets.items():
    layers, projections, kernel, linear = count_layers(model)
    print(f"resnet{depth:<4d} {layers:4d} weighted layers ({kernel[7]} 7×7 + {kernel[3]:2d} 3×3 + {kernel[1]:3d} 1×1 convs "
          f"+ {linear} linear), {projections} projection shortcuts, "
          f"{count_parameters(model) / 1e6:5.1f} M parameters, {count_macs(model, (3, 224, 224)) / 1e9:5.2f} G MACs")
layers152, _, kernel152, linear152 = count_layers(resnets[152])
print(f"\n'very deep (152 layers)': {layers152 == 152}")
print(f"'each weight layer in the residual block is a 3×3 convolution': {kernel152[1] == 0} "
      f"(ResNet-152 has {kernel152[1]} 1×1 and {kernel152[3]} 3×3 convs in its blocks)")
print(f"'no FC layers until the final layer': {linear152 == 1}")

# %% [markdown]
# ### 4.2 Basic and bottleneck blocks
#
# The notes' "each weight layer is a 3×3 convolution" holds for ResNet-18 and 34 (basic blocks);
# from ResNet-50 on, the paper uses **bottleneck** blocks: a 1×1 convolution reduces the channels
# 4×, a 3×3 convolution works on the reduced channels, a 1×1 convolution expands again, the idea of
# GoogLeNet's reductions (lesson 06). The paper's figure 5 compares a basic block on 64 channels
# with a bottleneck block on 256 channels, "similar time complexity"; at a 56×56 feature map:

# %%
def basic_block(channels):
    return nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                         nn.Conv2d(channels, channels, 3, padding=1, bias=False))


def bottleneck_block(channels, reduction=4):
    inner = channels // reduction
    return nn.Sequential(nn.Conv2d(channels, inner, 1, bias=False),
                         nn.Conv2d(inner, inner, 3, padding=1, bias=False),
                         nn.Conv2d(inner, channels, 1, bias=False))


block_costs = {}
for label, block, channels in [("basic, 64 channels", basic_block(64), 64),
                               ("bottleneck, 256 channels", bottleneck_block(256), 256),
                               ("basic, 256 channels", basic_block(256), 256)]:
    block_costs[label] = (count_parameters(block), count_macs(block, (channels, 56, 56)))
    print(f"{label:26s} {block_costs[label][0]:8,d} weights   {block_costs[label][1] / 1e6:6.1f} M MACs")
ratio = block_costs["bottleneck, 256 channels"][1] / block_costs["basic, 64 channels"][1]
print(f"bottleneck on 256 channels / basic on 64: {ratio:.2f}× the MACs "
      f"(the paper's 'similar time complexity': within 10%: {abs(ratio - 1) < 0.1})")
saving = block_costs["basic, 256 channels"][1] / block_costs["bottleneck, 256 channels"][1]
print(f"a basic block on 256 channels would cost {saving:.1f}× the bottleneck")

# %% [markdown]
# ### 4.3 The explorer
#
# Pick a family, a depth and a width, and see where a network keeps its parameters and spends its
# MACs, layer by layer, with the receptive field of its main path. Try: the plain and residual
# nets of the same depth (identical bars: the shortcuts are free); depth 56 against depth 8 at
# width 32 (where do the parameters go?); `googlenet_small` against `vgg_small`.

# %%
# NBVAL_IGNORE_OUTPUT
# The widget's text representation includes model ids that change with every run.
ArchitectureExplorer()

# %% [markdown]
# ## 5. Deep and narrow, or shallow and wide?
#
# The notes close with the claim that deep networks can need fewer (even exponentially fewer)
# parameters than shallow ones for the same accuracy. The theory behind it (e.g. Telgarsky 2016,
# Eldan and Shamir 2016) constructs functions that a deep network represents compactly and a
# shallow one cannot; whether it shows on a real task is an experiment. The parameters of
# `resnet_small(depth, width=w)` grow linearly with the depth and with the square of the width, so
# the two can be traded. Residual nets of depths 8, 20 and 44 at several widths, trained the same
# way on the same subset, each measured by its best validation accuracy:

# %%
SHAPE_TRAIN = quick_or_full(128, 2_000)
SHAPE_EPOCHS = quick_or_full(1, 3)
SHAPES = {8: (8, 16, 32), 20: (8, 12, 16), 44: (6, 8, 12)}
shape_train = (train_images[:SHAPE_TRAIN], train_labels[:SHAPE_TRAIN])
SHAPE_VAL = quick_or_full(200, 2_000)
shape_val = (val_images[:SHAPE_VAL], val_labels[:SHAPE_VAL])
shape_results = {}
for depth, widths in SHAPES.items():
    for width in widths:
        torch.manual_seed(0)
        model = resnet_small(depth, width=width)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
        history = fit(model, shape_train, shape_val, epochs=SHAPE_EPOCHS, optimizer=optimizer,
                      device=DEVICE, progress=False)
        shape_results[depth, width] = (count_parameters(model), count_macs(model, (1, 28, 28)),
                                       max(history.val_accuracy))
for (depth, width), (parameters, macs, _) in shape_results.items():
    print(f"depth {depth:2d} width {width:2d}: {parameters:8,d} parameters {macs / 1e6:6.1f} M MACs")

# %%
# NBVAL_IGNORE_OUTPUT
# The accuracies depend on COURSE_QUICK.
print(f"{SHAPE_TRAIN:,} training images, {SHAPE_EPOCHS} epoch(s); best validation accuracy:")
for (depth, width), (parameters, _, accuracy) in shape_results.items():
    print(f"  depth {depth:2d} width {width:2d}: {parameters:8,d} parameters  {accuracy:.1%}")
deepest, shallowest = max(SHAPES), min(SHAPES)
fewest_deep = min(shape_results[deepest, w][0] for w in SHAPES[deepest])
best_deep = max(shape_results[deepest, w][2] for w in SHAPES[deepest])
shallow_matching = [shape_results[shallowest, w][0] for w in SHAPES[shallowest]
                    if shape_results[shallowest, w][2] >= best_deep]
print(f"best depth-{deepest} accuracy {best_deep:.1%}, with at most "
      f"{max(shape_results[deepest, w][0] for w in SHAPES[deepest]):,} parameters")
if shallow_matching:
    print(f"depth {shallowest} matches it with {min(shallow_matching):,} parameters")
else:
    print(f"no depth-{shallowest} width tried matches it (up to "
          f"{max(shape_results[shallowest, w][0] for w in SHAPES[shallowest]):,} parameters)")

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
for depth, widths in SHAPES.items():
    points = [shape_results[depth, w] for w in widths]
    ax.plot([p for p, _, _ in points], [a for _, _, a in points], marker="o", label=f"depth {depth}")
    for width, (p, _, a) in zip(widths, points):
        ax.annotate(f"w{width}", (p, a), textcoords="offset points", xytext=(4, -10), fontsize=8)
ax.set(xscale="log", xlabel="parameters", ylabel="best validation accuracy",
       title="accuracy against parameters, deep-narrow vs shallow-wide")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the curves at equal parameters (a vertical line through the plot): the printed lines say
# whether, in this short run, the deeper family reaches a given accuracy with fewer parameters.
# Two cautions: a short training run favours networks that learn fast, and the deeper networks
# here cost more MACs per parameter (their early layers work on 28×28 maps), so "fewer
# parameters" is not "cheaper". Parameters, MACs and accuracy are three different budgets.

# %% [markdown]
# ## 6. The course's ResNet
#
# The experiments above are short on purpose. The course's best residual network for
# Fashion-MNIST under a million parameters ships with the package as `load_pretrained("resnet")`: a
# `resnet_small` of depth 14 and width 24 (three stages of 24, 48 and 96 filters, 386,194
# parameters), trained by the course's command line on the 55,000 training images, keeping the
# epoch with the best accuracy on the 5,000 validation images, and measured once on the test set
# after that choice. The command that made it (rerun it to reproduce the file; `--checkpoint` lets
# you stop with Ctrl-C and continue later with the same command):
#
# ```
# python -m course_utils.training --model resnet_small --arg depth=14 --arg width=24 --epochs 30 \
#     --batch-size 128 --optimizer sgd --lr 0.1 --weight-decay 5e-4 --schedule onecycle \
#     --augment shift-flip --channels-last --checkpoint resnet.ckpt --save resnet.pt
# ```
#
# `course_utils/pretrained/MANIFEST.json` records its validation and test accuracy, the epoch kept,
# the training time and the machine; lesson 08 loads the network and prints them, and the test
# suite checks that the shipped file reproduces its recorded test accuracy.
#
# ## Summary
#
# * **Batch norm** normalises each channel with the batch's statistics in training and with running
#   averages in evaluation; an image's output depends on its batch-mates only in training. It
#   widened the range of usable learning rates in our measurement (see the table).
# * **Residual blocks**: out = ReLU(F(x) + x), with option A (zeros) or B (1×1 projection) where the
#   shape changes; the Jacobian is ∂F/∂x + I, exactly; through a stack the factors stay near 1.
# * **Degradation**: the verdict lines of section 3 say whether the plain 56-layer net trained worse
#   than the 20-layer one and whether shortcuts removed the gap; batch norm kept the plain net's
#   gradients from vanishing, so the paper's "easier optimisation" is the better explanation.
# * **152 layers** counted the paper's way; from ResNet-50 on, blocks are bottlenecks with 1×1
#   convolutions, not only 3×3; one fully connected layer at the end.
# * **Deep-narrow vs shallow-wide**: measured, with the caveats of a short run.
