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
# # Lesson 05 — From an MLP to LeNet: training CNNs on Fashion-MNIST, on CPU and GPU
#
# **Lecture notes covered.** *Convolutional Neural Networks* §1 (MLPs on images: too many weights
# and "high variance due to the large number of weights"; conv layers reduce both), §2.1 LeNet and
# §2.2 (AlexNet "trained over two GPUs", data augmentation by translation); *Lecture 4*, "Beyond
# fully connected networks" (loss of context when a shifted image is flattened; shift
# invariance) and "Practical Deep Networks" (LeNet, 1998).
#
# **After this lesson you can**
# * count the parameters of an MLP and of a CNN, and say which layers grow with the image;
# * build LeNet layer by layer, write the training step, and train with
#   `course_utils.training.fit` on CPU or GPU;
# * keep training, validation and test data apart: choose on validation, measure the test set
#   once;
# * measure the claims of the notes with the spread over several seeds: the train–validation gap
#   and the disagreement between runs (variance), and robustness to shifted inputs, with and
#   without augmentation;
# * say what ReLU, max pooling (2012) and batch norm (2015) changed since LeNet (1998);
# * say how AlexNet's two-GPU training (model parallelism) differs from DDP (data parallelism).
#
# **Time.** About 134 minutes: 2,620 words to read (18 min at 150 words a minute), 372 lines of code to read and run (47 min at 8 a minute), 3 graded exercises (45 min), and 24 min of computing for the whole notebook on a 2-core CPU, measured when it was built (`course_tools.lesson_time`).
#
# Three graded exercises (⭐), each with an instant check. If you are stuck, run the rest of the
# notebook: later cells use `course_utils`.
#
# **Quick mode.** With `COURSE_QUICK=1` (as in CI) the training cells use a few thousand images
# and one or two epochs; the stored outputs are from the full run. Cells whose printed numbers
# depend on the mode are excluded from nbval's comparison, each saying so.

# %%
# %matplotlib inline
# course_utils.training first: it sets OMP_WAIT_POLICY=PASSIVE before torch starts its threads,
# so training does not slow down when other programs use the CPU too.
import course_utils.training  # noqa: F401

# isort: split
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import course_utils.evaluation as reference
from course_utils.checks import check_accuracy_under_shift, check_mlp_parameter_count, check_train_step
from course_utils.data import CLASS_NAMES, load_fashion_mnist, train_val_split
from course_utils.evaluation import confusion_matrix, predict, shift_directions, shift_robustness
from course_utils.models import MLP, LeNet5, LeNetVariant, count_parameters
from course_utils.plots import plot_histories, show_confusion, show_images
from course_utils.pretrained import load_pretrained, pretrained_info, pretrained_names
from course_utils.runtime import quick_mode, quick_or_full, seed_everything
from course_utils.training import (
    SettingsMismatchError,
    default_optimizer,
    describe_device,
    evaluate,
    fit,
    pick_device,
)
from course_utils.transforms import pad_to_canvas, shift_image

seed_everything(0)
DEVICE = pick_device()
plt.rcParams["figure.dpi"] = 100

# %%
# NBVAL_IGNORE_OUTPUT
# The device and thread count are those of the machine that runs the notebook.
print("training on:", describe_device(DEVICE), "| quick mode:", quick_mode())

# %% [markdown]
# ## 1. Parameters: an MLP against LeNet
#
# An MLP flattens the image and connects every pixel to every hidden unit; LeNet shares one
# small filter across all positions. Count both. A fully connected layer with $n_\text{in}$ inputs
# and $n_\text{out}$ outputs has $n_\text{in} n_\text{out}$ weights and $n_\text{out}$ biases.

# %% [markdown]
# ### Exercise 1 (2 points): `mlp_parameter_count`
#
# Return the number of parameters (weights and biases) of an MLP that flattens an input of shape
# `input_shape = (C, H, W)`, has hidden layers of the widths in the list `hidden`, and ends in
# `num_classes` outputs. For example `mlp_parameter_count((1, 28, 28), [256], 10)` is the
# course's `MLP()`.

# %% nbgrader={"grade": false, "grade_id": "mlp_parameter_count", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mlp_parameter_count(input_shape, hidden, num_classes):
    """input_shape: (C, H, W); hidden: list of widths; num_classes: int -> int."""
    ### BEGIN SOLUTION
    sizes = [int(np.prod(input_shape)), *hidden, num_classes]
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
    ### END SOLUTION


# %% tags=["raises-exception"]
check_mlp_parameter_count(mlp_parameter_count)

# %% nbgrader={"grade": true, "grade_id": "mlp_parameter_count_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_mlp_parameter_count(mlp_parameter_count)
### BEGIN HIDDEN TESTS
assert mlp_parameter_count((3, 224, 224), [4096, 4096], 1000) == 150528 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
assert mlp_parameter_count((1, 1, 1), [1], 1) == 4
### END HIDDEN TESTS

# %% [markdown]
# ### LeNet, layer by layer
#
# LeNet-5 (LeCun et al., 1998) in its usual form for 28×28 images: two convolutions with 5×5
# filters, each followed by tanh and a 2×2 average pool, then three fully connected layers. Build
# it as a list of layers and push one image through, printing what each layer makes of it. The
# course's `LeNet5` is the same network.

# %%
lenet_layers = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Tanh(), nn.AvgPool2d(2),   # 6 maps of 28×28 -> 14×14
    nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(), nn.AvgPool2d(2),             # 16 maps of 10×10 -> 5×5
    nn.Flatten(),                                                            # 16·5·5 = 400 numbers
    nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
)

x = torch.zeros(1, 1, 28, 28)
print(f"{'layer':42s} {'output shape':>16s} {'parameters':>10s}")
print(f"{'input':42s} {str(tuple(x.shape)):>16s}")
for layer in lenet_layers:
    x = layer(x)
    print(f"{str(layer):42.42s} {str(tuple(x.shape)):>16s} {count_parameters(layer):10,d}")
print(f"{'total':42s} {'':>16s} {count_parameters(lenet_layers):10,d}")
print("same count as course_utils.models.LeNet5:", count_parameters(lenet_layers) == count_parameters(LeNet5()))

# %% [markdown]
# Where do LeNet's parameters sit, and how do both models grow with the image? On the `meta`
# device a model has shapes but no memory, so even a 38-million-parameter MLP costs nothing to
# count. The third row is an MLP with one hidden layer of 77 units: about LeNet's parameter count,
# to separate *how many* weights from *how they are used* (section 5).

# %%
def parameter_split(model):
    """Parameters in conv layers and in linear layers."""
    conv = sum(p.numel() for m in model.modules() if isinstance(m, nn.Conv2d) for p in m.parameters())
    linear = sum(p.numel() for m in model.modules() if isinstance(m, nn.Linear) for p in m.parameters())
    return conv, linear


with torch.device("meta"):
    counted = {
        "MLP 784-256-10 (28x28x1)": MLP(),
        "LeNet-5 (28x28x1)": LeNet5(),
        "MLP 784-77-10 (28x28x1)": MLP(hidden=77),
        "MLP 150528-256-10 (224x224x3)": MLP(in_features=3 * 224 * 224),
        "LeNet-5 layout (224x224x3)": LeNetVariant(in_channels=3, input_size=224),
    }
print(f"{'model':31s} {'parameters':>12s} {'in conv layers':>15s} {'in linear layers':>17s}")
for name, model in counted.items():
    conv, linear = parameter_split(model)
    print(f"{name:31s} {count_parameters(model):12,d} {conv:15,d} {linear:17,d}")

mlp_28, lenet_28, mlp_224, lenet_224 = (counted[k] for k in ["MLP 784-256-10 (28x28x1)", "LeNet-5 (28x28x1)",
                                                             "MLP 150528-256-10 (224x224x3)",
                                                             "LeNet-5 layout (224x224x3)"])
first_layer = mlp_224.features[1]
print(f"\nat 28×28 the MLP has {count_parameters(mlp_28) / count_parameters(lenet_28):.1f}× LeNet's parameters, "
      f"{count_parameters(mlp_28.features[1]) / count_parameters(mlp_28):.0%} of them in its first layer")
print(f"at 224×224×3 the MLP's first layer alone has {first_layer.weight.numel() / 1e6:.1f} million weights")
print(f"LeNet's conv layers: {parameter_split(lenet_28)[0]:,d} parameters at 28×28×1, "
      f"{parameter_split(lenet_224)[0]:,d} at 224×224×3 (the difference is the extra input channels: "
      f"{parameter_split(lenet_224)[0] - parameter_split(lenet_28)[0]:,d} = 2 channels × 6 filters × 5 × 5)")
print(f"LeNet's first linear layer sees {lenet_224.classifier[1].in_features:,d} numbers at 224×224 "
      f"(16 maps of 54×54) instead of {lenet_28.classifier[1].in_features}")

# %% [markdown]
# A filter does not care how large the image is: LeNet's *convolutional* layers grow only with
# the number of input channels. What grows with the image is LeNet's first fully connected layer.
# That is the part later architectures removed (lesson 06: GoogLeNet and ResNet end in global
# average pooling, so their parameter count no longer depends on the input size).

# %% [markdown]
# ## 2. Training, validation and test data
#
# Fashion-MNIST has 60,000 training and 10,000 test images, 28×28, ten classes. Every choice
# this lesson makes (which epoch to keep, which model is better, whether a trick helps) is a
# choice made by *looking at accuracies*. Made on the test set, those choices fit the test set
# a little, and the test accuracy reported afterwards is optimistic. So the data come in three
# parts:
#
# * **training** images, on which the weights are fitted;
# * **validation** images, held out from the training set, on which we compare epochs, models
#   and settings, as often as we like;
# * **test** images, used **once**, at the end (section 8), to report how the chosen models do on
#   data nothing was chosen on.
#
# `train_val_split` draws the validation set at random (seeded: the same split on every machine).

# %%
train_x, train_y = load_fashion_mnist("train")
test_x, test_y = load_fashion_mnist("test")
(train_x, train_y), (val_x, val_y) = train_val_split(train_x, train_y, val_size=5_000, seed=0)
print(f"training {len(train_x):,}  validation {len(val_x):,}  test {len(test_x):,}  (images of {tuple(train_x.shape[1:])})")
print("validation images per class:", np.bincount(val_y.numpy(), minlength=10).tolist())
show_images([train_x[int((train_y == c).nonzero()[0])] for c in range(10)], titles=CLASS_NAMES, ncols=10, size=1.2)
plt.show()

# %% [markdown]
# ## 3. Training
#
# ### Exercise 2 (3 points): `train_step`
#
# One step of gradient descent on a batch: clear the old gradients, compute the mean
# cross-entropy of the model's logits, backpropagate, update the weights. Return the batch's loss
# as a Python float.

# %% nbgrader={"grade": false, "grade_id": "train_step", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_step(model, optimizer, images, labels):
    """images: (N, C, H, W) float, labels: (N,) int64 -> the loss before the update (float)."""
    ### BEGIN SOLUTION
    optimizer.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()
    ### END SOLUTION


# %% tags=["raises-exception"]
check_train_step(train_step)

# %% nbgrader={"grade": true, "grade_id": "train_step_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_train_step(train_step)
### BEGIN HIDDEN TESTS
torch.manual_seed(3)
_model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
_optimizer = torch.optim.SGD(_model.parameters(), lr=0.5)
_x, _y = torch.randn(8, 1, 2, 2), torch.randint(0, 3, (8,))
_losses = [train_step(_model, _optimizer, _x, _y) for _ in range(30)]
assert all(isinstance(v, float) for v in _losses) and _losses[-1] < _losses[0]
### END HIDDEN TESTS

# %% [markdown]
# Your `train_step` is all a training loop needs. Here it trains the LeNet you built above for
# one pass over 6,400 images (50 batches of 128), in a loop of five lines: shuffle, cut into
# batches, step. At the start the network guesses: with ten classes its loss should be near
# $\ln 10 \approx 2.30$.

# %%
torch.manual_seed(0)
hand_model = lenet_layers   # the network built above
hand_optimizer = torch.optim.SGD(hand_model.parameters(), lr=0.1, momentum=0.9)
order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(0))[:6_400]
losses = []
try:
    for batch in order.split(128):
        losses.append(train_step(hand_model, hand_optimizer, train_x[batch], train_y[batch]))
except NotImplementedError:
    print("train_step is not written yet (exercise 2): this loop needs it. The lesson goes on with fit.")
if losses:
    print(f"first batch's loss within 0.2 of ln 10: {abs(losses[0] - np.log(10)) < 0.2}")
    print(f"mean loss of the last 10 batches below 1.0: {np.mean(losses[-10:]) < 1.0}")
    fig, ax = plt.subplots(figsize=(5.5, 3))
    ax.plot(losses, marker=".")
    ax.axhline(np.log(10), color="grey", linestyle=":", label="ln 10: a uniform guess")
    ax.set_xlabel("batch")
    ax.set_ylabel("cross-entropy")
    ax.set_title("your train_step, 50 batches")
    ax.legend()
    fig.tight_layout()
    plt.show()

# %% [markdown]
# `course_utils.training.fit` repeats this step over shuffled batches, and adds what a real run
# needs: the data set kept as one tensor on the device (a batch is one indexing operation, no
# DataLoader), augmentation as tensor operations, the validation accuracy after each epoch (and,
# with `restore_best=True`, the weights of the best validation epoch at the end), a progress bar,
# checkpoints that survive an interrupted kernel, and on a GPU mixed precision and channels_last.
#
# Its default optimizer is the course's `default_optimizer`, also the command line's: AdamW with
# learning rate 10⁻³ and weight decay 0.05 on the *weights* only. Biases and batch-norm
# parameters get no decay: pulling a bias or a normalisation scale towards zero does not make a
# model simpler, only worse at placing its thresholds.

# %%
for group in default_optimizer(LeNet5()).param_groups:
    print(f"weight decay {group['weight_decay']:<4}  lr {group['lr']:g}  on {len(group['params'])} tensors: "
          f"shapes {[tuple(p.shape) for p in group['params']][:3]} ...")

# %% [markdown]
# **Resuming is never silent.** With `checkpoint_path=`, `fit` saves the run after every epoch and
# a later call resumes it, which survives a crashed kernel. A checkpoint also records *how* the
# run was made; resuming it with other settings would silently hand back the old run, so `fit`
# refuses and says what differs.

# %%
with tempfile.TemporaryDirectory() as folder:
    checkpoint = Path(folder) / "lenet.pt"
    small = (train_x[:512], train_y[:512])
    fit(LeNet5(), small, epochs=1, checkpoint_path=checkpoint, progress=False)
    model = LeNet5()
    try:
        fit(model, small, optimizer=default_optimizer(model, lr=3e-3), epochs=1, checkpoint_path=checkpoint,
            progress=False)
    except SettingsMismatchError as error:
        print(type(error).__name__ + ":\n" + str(error).replace(folder, "<folder>"))

# %% [markdown]
# ## 4. An MLP and LeNet, trained on Fashion-MNIST
#
# Both are trained with the same budget (ten epochs, the default optimizer); `restore_best=True`
# keeps each model's best epoch *on validation*.

# %%
TRAIN_SIZE = quick_or_full(5_000, len(train_x))
EPOCHS = quick_or_full(1, 10)
VAL_SIZE = quick_or_full(1_000, len(val_x))  # measured after every epoch
train_data, val_data = (train_x[:TRAIN_SIZE], train_y[:TRAIN_SIZE]), (val_x[:VAL_SIZE], val_y[:VAL_SIZE])

# %%
# NBVAL_IGNORE_OUTPUT
# The accuracies depend on COURSE_QUICK; the seconds on the machine.
models, histories = {}, {}
for name, build in [("MLP", MLP), ("LeNet-5", LeNet5)]:
    torch.manual_seed(0)
    models[name] = build()
    histories[name] = fit(models[name], train_data, val_data, epochs=EPOCHS, device=DEVICE,
                          restore_best=True, progress=False)

print(f"{'model':8s} {'parameters':>10s} {'train acc':>9s} {'val acc':>8s} {'gap':>6s} {'best epoch':>10s} {'s/epoch':>7s}")
for name, h in histories.items():
    best = h.best_epoch - 1
    print(f"{name:8s} {count_parameters(models[name]):10,d} {h.train_accuracy[best]:9.1%} "
          f"{h.val_accuracy[best]:8.1%} {h.train_accuracy[best] - h.val_accuracy[best]:6.1%} "
          f"{h.best_epoch:10d} {np.mean(h.seconds):7.1f}")
seconds_ratio = np.mean(histories["LeNet-5"].seconds) / np.mean(histories["MLP"].seconds)
print(f"\nan epoch of LeNet-5 costs {seconds_ratio:.1f}× an epoch of the MLP on this {describe_device(DEVICE)}")

# %%
plot_histories(histories, metrics=("train_loss", "train_accuracy", "val_accuracy"))
plt.show()

# %% [markdown]
# (The train accuracy is averaged over each epoch while the weights change, so early on it
# trails the validation accuracy measured at the end of the epoch.)
#
# One run of each says little on its own: how far apart would two runs of the *same* model
# land? Section 5 measures that spread; here is the comparison against it.

# %%
# NBVAL_IGNORE_OUTPUT
# The verdict depends on the trained models (COURSE_QUICK).
def best_val(history):
    return history.val_accuracy[history.best_epoch - 1]


lead = best_val(histories["LeNet-5"]) - best_val(histories["MLP"])
print(f"LeNet-5 minus MLP on validation: {lead:+.1%} points, with "
      f"{count_parameters(models['MLP']) / count_parameters(models['LeNet-5']):.1f}× fewer parameters")

# %% [markdown]
# On centred, uncluttered 28×28 images a wide MLP is a strong baseline, and the 1998 LeNet (tanh,
# average pooling) is a slow learner. The case for convolution rests on what the next sections
# measure: variance, shifts, and what a *modern* CNN reaches (section 6).
#
# Where do the mistakes go? The confusion matrix counts, for every true class (row), what LeNet
# predicted (column), on the validation images.

# %%
lenet_predictions = predict(models["LeNet-5"], val_x)
matrix = confusion_matrix(lenet_predictions.numpy(), val_y.numpy())
show_confusion(matrix, CLASS_NAMES, title="LeNet-5 on the validation set (% of each true class)")
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
# The counts depend on COURSE_QUICK (which trained model is analysed).
off_diagonal = matrix - np.diag(np.diag(matrix))
pairs = sorted(((off_diagonal[i, j] + off_diagonal[j, i], i, j) for i in range(10) for j in range(i + 1, 10)),
               reverse=True)
print("most confused pairs (both directions):")
for count, i, j in pairs[:4]:
    print(f"  {CLASS_NAMES[i]:12s} <-> {CLASS_NAMES[j]:12s} {count:4d} validation images")
upper_body = [CLASS_NAMES.index(c) for c in ("T-shirt/top", "Pullover", "Coat", "Shirt")]
within_upper = off_diagonal[np.ix_(upper_body, upper_body)].sum()
print(f"mistakes between the four upper-body garments: {within_upper / off_diagonal.sum():.0%} of all mistakes")
print("per-class accuracy:", ", ".join(f"{CLASS_NAMES[c]} {matrix[c, c] / matrix[c].sum():.0%}" for c in range(10)))

# %%
wrong = (lenet_predictions != val_y).nonzero().flatten()[:12]
show_images(val_x[wrong], titles=[f"{CLASS_NAMES[int(val_y[i])]}\n→ {CLASS_NAMES[int(lenet_predictions[i])]}" for i in wrong],
            ncols=6, size=1.6, suptitle="LeNet-5's first 12 validation mistakes: true → predicted")
plt.show()

# %% [markdown]
# The upper-body garments (shirt, T-shirt/top, pullover, coat) differ at 28×28 in grey by a collar
# or a sleeve length; some "mistakes" are labels a person would argue with.

# %% [markdown]
# ## 5. Variance: the notes' claim, measured
#
# The notes say MLPs "have high variance due to the large number of weights", and that CNNs reduce
# it. Variance in the bias–variance sense is how much the learned classifier changes when the
# training set changes. Measure it directly: train each model on several disjoint random subsets
# of the training images (each run with its own seed), then compare
# * the **train–validation gap** (a symptom of fitting the particular training set),
# * the **spread** (standard deviation) of the validation accuracy across runs, and
# * the **disagreement**: the fraction of validation images on which two runs predict different
#   classes, averaged over pairs of runs — the most direct measure of variance.
#
# Three models: the MLP (784-256-10), LeNet-5, and an MLP with one hidden layer of 77 units,
# which has about LeNet's parameter count. If fewer weights were all that mattered, the small MLP
# would behave like LeNet; if it does not, the difference is in *how* LeNet uses its weights
# (shared across positions, local).

# %%
RUNS = quick_or_full(3, 5)
SUBSET = quick_or_full(500, 6_000)
VARIANCE_EPOCHS = quick_or_full(1, 15)
subsets = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(1))[:RUNS * SUBSET].view(RUNS, SUBSET)
variance_models = {"MLP 784-256-10": MLP, "MLP 784-77-10": lambda: MLP(hidden=77), "LeNet-5": LeNet5}


def variance_study(build):
    """Train ``build()`` on each subset; returns train accuracies, validation accuracies, predictions."""
    train_acc, val_acc, predictions = [], [], []
    for run, indices in enumerate(subsets):
        torch.manual_seed(run)
        model = build()
        fit(model, (train_x[indices], train_y[indices]), epochs=VARIANCE_EPOCHS, seed=run,
            device=DEVICE, progress=False)
        train_acc.append(evaluate(model, train_x[indices], train_y[indices]).accuracy)
        val_acc.append(evaluate(model, val_x, val_y).accuracy)
        predictions.append(predict(model, val_x))
    return np.array(train_acc), np.array(val_acc), torch.stack(predictions)


def disagreements(predictions):
    """Fraction of images on which runs a and b differ, for every pair a < b."""
    runs = len(predictions)
    return np.array([(predictions[a] != predictions[b]).float().mean().item()
                     for a in range(runs) for b in range(a + 1, runs)])


variance = {name: variance_study(build) for name, build in variance_models.items()}

# %%
# NBVAL_IGNORE_OUTPUT
# The figures depend on COURSE_QUICK (subset size, epochs, number of runs).
print(f"{RUNS} runs each, {SUBSET:,} training images per run, {VARIANCE_EPOCHS} epochs; mean ± standard deviation over runs\n")
print(f"{'model':15s} {'parameters':>10s} {'train acc':>9s} {'val acc':>15s} {'gap':>15s} {'disagreement':>16s}")
for name, (train_acc, val_acc, predictions) in variance.items():
    gap, pairs_differ = train_acc - val_acc, disagreements(predictions)
    print(f"{name:15s} {count_parameters(variance_models[name]()):10,d} {train_acc.mean():9.1%} "
          f"{val_acc.mean():8.1%} ± {val_acc.std(ddof=1):4.1%} {gap.mean():8.1%} ± {gap.std(ddof=1):4.1%} "
          f"{pairs_differ.mean():9.1%} ± {pairs_differ.std(ddof=1):4.1%}")

# %% [markdown]
# The verdicts below compare two models on each measure: the difference of the means, and its
# standard error $\sqrt{s_a^2/n + s_b^2/n}$ from the run-to-run spreads. A difference of more than
# two standard errors is called real; a smaller one is within the noise of this many runs.
# (Disagreements of different pairs share runs, so their standard error is only a rough guide.)

# %%
# NBVAL_IGNORE_OUTPUT
# The verdicts depend on the runs (COURSE_QUICK).
def compare(a, b):
    """Difference of means a - b, its standard error, and a verdict: 'larger', 'smaller' or 'within noise'."""
    difference = a.mean() - b.mean()
    error = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    verdict = "within noise" if abs(difference) <= 2 * error else ("larger" if difference > 0 else "smaller")
    return difference, error, verdict


def measures(name):
    train_acc, val_acc, predictions = variance[name]
    return {"train–validation gap": train_acc - val_acc, "disagreement between runs": disagreements(predictions),
            "validation accuracy": val_acc}


for other in ("MLP 784-256-10", "MLP 784-77-10"):
    print(f"{other} against LeNet-5:")
    for measure, values in measures(other).items():
        difference, error, verdict = compare(values, measures("LeNet-5")[measure])
        print(f"  {measure:26s} {difference:+6.1%} ± {error:4.1%} points: {verdict}")
spreads = {name: variance[name][1].std(ddof=1) for name in variance}
print("\nstandard deviation of the validation accuracy: " + ", ".join(f"{n} {s:.2%}" for n, s in spreads.items()))
print(f"(a standard deviation from {RUNS} runs is itself uncertain by about {1 / np.sqrt(2 * (RUNS - 1)):.0%}, "
      f"so only a ratio well above {1 + 2 / np.sqrt(2 * (RUNS - 1)):.1f} between two of them means something)")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for row, (train_acc, val_acc, predictions) in enumerate(variance.values()):
    axes[0].scatter(100 * train_acc, [row + 0.1] * RUNS, marker="o", color="tab:blue", label="train" if row == 0 else None)
    axes[0].scatter(100 * val_acc, [row - 0.1] * RUNS, marker="s", color="tab:orange", label="validation" if row == 0 else None)
    differ = 100 * disagreements(predictions)
    axes[1].scatter(differ, [row] * len(differ), marker="d", color="tab:purple")
for ax in axes:
    ax.set_yticks(range(len(variance)), list(variance))
    ax.grid(alpha=0.3)
axes[0].set_xlabel("accuracy (%), one marker per run")
axes[0].set_title("train and validation accuracy across runs")
axes[0].legend()
axes[1].set_xlabel("validation images predicted differently (%), one marker per pair of runs")
axes[1].set_title("disagreement between runs")
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the verdicts rather than the headline: "high variance" is a claim about the gap and the
# disagreement, and the printed differences say how much of it these runs support. The spread of
# the validation accuracy alone can hide variance: a model can change *which* images it gets
# wrong without changing how many, which is why disagreement is the better measure. The row of
# the 77-unit MLP separates the two halves of the notes' argument: if it disagrees with itself as
# much as the wide MLP does, the number of weights is not what makes the difference; LeNet's
# weights are also *shared* across positions and *local*, a prior that fits images.

# %% [markdown]
# ## 6. Robustness to translation
#
# The notes (Lecture 4) point out that flattening loses context: shift the image by a pixel and
# the MLP sees a different input vector. Measure accuracy as every image is moved by 0–4 pixels
# (in the eight directions: along the axes and diagonally).
#
# A fair test needs room to move. Fashion-MNIST's garments often reach the frame, so moving a
# 28×28 image by 4 pixels cuts part of the garment off, and a model would be punished for
# information that is gone, not for the shift. So this section centres every image on a 36×36
# canvas (4 pixels of zeros on each side): now a move of up to 4 pixels keeps every pixel.

# %%
CANVAS = 36
canvas_train_x, canvas_val_x = pad_to_canvas(train_x, CANVAS), pad_to_canvas(val_x, CANVAS)


def cut_by_move(images, dy, dx, share=0.02):
    """Fraction of images that lose more than ``share`` of their ink when moved by (dy, dx)."""
    ink = images.sum((-1, -2, -3))
    return (shift_image(images, dy, dx).sum((-1, -2, -3)) < (1 - share) * ink).float().mean().item()


print(f"images losing more than 2% of their ink in a 4-pixel move down-right: 28×28 frame "
      f"{cut_by_move(val_x, 4, 4):.0%}, {CANVAS}×{CANVAS} canvas {cut_by_move(canvas_val_x, 4, 4):.0%}")
print("moves of 1 pixel:", shift_directions(1))
show_images([shift_image(canvas_val_x[0, 0], dy, dx) for dy, dx in [(0, 0), (4, 0), (0, -4), (4, 4)]]
            + [shift_image(val_x[0, 0], 4, 4)],
            titles=["canvas", "4 px down", "4 px left", "4 px down-right", "28×28: cut"], size=1.8)
plt.show()

# %% [markdown]
# ### Exercise 3 (3 points): `accuracy_under_shift`
#
# Return the mean accuracy (a fraction between 0 and 1) of `model` over the eight moves of
# `shift` pixels that `shift_directions(shift)` lists (just `[(0, 0)]` for shift 0). Move the
# images with `shift_image(images, dy, dx)` and measure with `evaluate(model, images, labels)`,
# which returns `(accuracy, loss)` and puts the model in evaluation mode.

# %% nbgrader={"grade": false, "grade_id": "accuracy_under_shift", "locked": false, "schema_version": 3, "solution": true, "task": false}
def accuracy_under_shift(model, images, labels, shift):
    """images: (N, C, H, W), labels: (N,), shift: int >= 0 -> mean accuracy over the moves."""
    ### BEGIN SOLUTION
    accuracies = [evaluate(model, shift_image(images, dy, dx), labels).accuracy
                  for dy, dx in shift_directions(shift)]
    return float(np.mean(accuracies))
    ### END SOLUTION


# %% tags=["raises-exception"]
check_accuracy_under_shift(accuracy_under_shift)

# %% nbgrader={"grade": true, "grade_id": "accuracy_under_shift_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_accuracy_under_shift(accuracy_under_shift)
### BEGIN HIDDEN TESTS
from course_utils.evaluation import accuracy_under_shift as _reference

_model = load_pretrained("lenet")
for _shift in (0, 2, 4):
    assert abs(accuracy_under_shift(_model, test_x[:300], test_y[:300], _shift)
               - _reference(_model, test_x[:300], test_y[:300], _shift)) < 1e-9
### END HIDDEN TESTS

# %% [markdown]
# Train the MLP and LeNet on the canvas images, each without and with shift augmentation
# (random moves of up to 2 pixels in every batch; same seeds, epochs and data), then measure all
# four with the reference `shift_robustness` (accuracy at shifts 0, 1, ..., 4) on the validation
# canvas. On 36×36 inputs the MLP has 1,296 inputs and LeNet's last maps are 7×7 instead of 5×5.

# %%
CANVAS_EPOCHS = quick_or_full(1, 8)
CANVAS_VAL = quick_or_full(1_000, len(val_x))  # quick mode: 33 evaluations per model below
canvas_train = (canvas_train_x[:TRAIN_SIZE], train_y[:TRAIN_SIZE])
canvas_val = (canvas_val_x[:CANVAS_VAL], val_y[:CANVAS_VAL])
canvas_builds = {"MLP": lambda: MLP(in_features=CANVAS * CANVAS), "LeNet-5": lambda: LeNetVariant(input_size=CANVAS)}

# %%
# NBVAL_IGNORE_OUTPUT
# The accuracies depend on COURSE_QUICK.
canvas_models, canvas_histories = {}, {}
for augment in (None, "shift"):
    for name, build in canvas_builds.items():
        label = name + (" + shifts" if augment else "")
        torch.manual_seed(0)
        canvas_models[label] = build()
        canvas_histories[label] = fit(canvas_models[label], canvas_train, canvas_val, epochs=CANVAS_EPOCHS,
                                      augment=augment, device=DEVICE, restore_best=True, progress=False)
robustness = {name: shift_robustness(model, *canvas_val, max_shift=4) for name, model in canvas_models.items()}
print(f"validation accuracy on the {CANVAS}×{CANVAS} canvas, images moved by")
print(f"{'':16s}" + "".join(f"{s} px".rjust(8) for s in range(5)))
for name, curve in robustness.items():
    print(f"{name:16s}" + "".join(f"{a:8.1%}" for a in curve))

# %%
fig, ax = plt.subplots(figsize=(6.4, 3.8))
for name, curve in robustness.items():
    ax.plot(range(5), 100 * curve, marker="o", linestyle="--" if "MLP" in name else "-", label=name)
ax.axvspan(0, 2, color="grey", alpha=0.1)
ax.text(1, ax.get_ylim()[0] + 2, "augmentation range", color="grey", fontsize=8, ha="center")
ax.set_xlabel("shift (pixels, mean over 8 directions)")
ax.set_ylabel("validation accuracy (%)")
ax.set_xticks(range(5))
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
# The verdicts depend on the trained models (COURSE_QUICK).
def loss_at(curve, shift):
    return curve[0] - curve[shift]


for shift in (1, 4):
    print(f"a {shift}-pixel move costs the MLP {loss_at(robustness['MLP'], shift):.1%} points and LeNet-5 "
          f"{loss_at(robustness['LeNet-5'], shift):.1%}")
print(f"trained with shifts, at 3–4 pixels (beyond the augmentation range) LeNet-5 keeps "
      f"{np.mean(robustness['LeNet-5 + shifts'][3:]):.1%} and the MLP {np.mean(robustness['MLP + shifts'][3:]):.1%}")
print(f"augmentation changes centred accuracy by MLP {robustness['MLP + shifts'][0] - robustness['MLP'][0]:+.1%}, "
      f"LeNet-5 {robustness['LeNet-5 + shifts'][0] - robustness['LeNet-5'][0]:+.1%} points")

# %% [markdown]
# Convolution is shift *equivariant* and LeNet's two pooling layers absorb small moves (lesson
# 03), but its fully connected head sees the final maps position by position, so LeNet is not
# shift *invariant* either. Augmentation teaches both models to cope within the range they saw;
# what the CNN keeps beyond that range comes from its shared filters, which carry what they
# learned at one position to the others, while the MLP must learn each shift from examples.
# (These are one run per model; section 5 gives the size of run-to-run differences.)

# %% [markdown]
# ## 7. LeNet in 1998 and today
#
# LeNet-5 used tanh, average pooling and no normalisation. Its modern form swaps in ReLU and max
# pooling (both in AlexNet, 2012; max pooling is older) and batch normalisation (Ioffe and
# Szegedy, 2015, three years after AlexNet), with the same widths. `LeNetVariant` has one switch
# per change; add them one at a time and train each for the same short budget on a subset of the
# training images, with several seeds each (the sizes are in the next cell).

# %%
ABLATION_EPOCHS = quick_or_full(1, 4)
ABLATION_SIZE = quick_or_full(2_000, 20_000)
ABLATION_SEEDS = quick_or_full(2, 3)
variants = {
    "1998: tanh, avg pool": dict(activation="tanh", pooling="avg", batch_norm=False),
    "+ ReLU": dict(activation="relu", pooling="avg", batch_norm=False),
    "+ max pool": dict(activation="relu", pooling="max", batch_norm=False),
    "+ batch norm (modern)": dict(activation="relu", pooling="max", batch_norm=True),
}

# %%
# NBVAL_IGNORE_OUTPUT
# Timings vary; the accuracies depend on COURSE_QUICK.
ablation = {name: [] for name in variants}
for name, switches in variants.items():
    for seed in range(ABLATION_SEEDS):
        torch.manual_seed(seed)
        ablation[name].append(fit(LeNetVariant(**switches), (train_x[:ABLATION_SIZE], train_y[:ABLATION_SIZE]),
                                  val_data, epochs=ABLATION_EPOCHS, seed=seed, device=DEVICE, progress=False))
first = {name: np.array([h.val_accuracy[0] for h in runs]) for name, runs in ablation.items()}
last = {name: np.array([h.val_accuracy[-1] for h in runs]) for name, runs in ablation.items()}
seconds = {name: np.mean([np.mean(h.seconds) for h in runs]) for name, runs in ablation.items()}
print(f"validation accuracy, mean ± sd over {ABLATION_SEEDS} seeds")
print(f"{'':24s} {'after epoch 1':>15s} {'after epoch ' + str(ABLATION_EPOCHS):>15s} {'s/epoch':>8s}")
for name in variants:
    print(f"{name:24s} {first[name].mean():8.1%} ± {first[name].std(ddof=1):4.1%} "
          f"{last[name].mean():8.1%} ± {last[name].std(ddof=1):4.1%} {seconds[name]:8.1f}")
print()
names = list(variants)
for before, after in zip(names, names[1:]):
    difference, error, verdict = compare(last[after], last[before])
    word = {"larger": "helps", "smaller": "hurts", "within noise": "makes no clear difference"}[verdict]
    print(f"{after:24s} {difference:+6.1%} ± {error:4.1%} points after {ABLATION_EPOCHS} epochs: {word}")
best_1998 = last[names[0]].mean()
print(f"\nthe modern form after ONE epoch {'beats' if first[names[-1]].mean() > best_1998 else 'does not beat'} "
      f"the 1998 form after {ABLATION_EPOCHS}; batch norm costs {seconds[names[-1]] / seconds[names[-2]]:.1f}× "
      f"the time per epoch on this {describe_device(DEVICE)}")

# %%
plot_histories({name: runs[0] for name, runs in ablation.items()}, metrics=("train_loss", "val_accuracy"))
plt.gcf().suptitle("first seed of each variant", y=1.02, fontsize=9)
plt.show()

# %% [markdown]
# Batch norm keeps every layer's inputs at a scale where one learning rate suits all layers.
# Tanh's saturation hurts deep stacks; in a five-layer net trained with Adam-style updates (which
# rescale small gradients) it may cost little, and the verdict above says whether ReLU alone helped
# here. Max pooling keeps the strongest response in each window instead of averaging it with the
# background.
#
# The shipped checkpoints were trained with the command line (section 8) on the full training
# split, with the epoch chosen on the same 5,000 validation images; their test accuracy was
# measured once, after that choice:

# %%
for name in pretrained_names():
    info = pretrained_info(name)
    print(f"{name:13s} {info['parameters']:9,d} parameters  validation {info['val_accuracy']:.1%}  "
          f"test {info['test_accuracy']:.1%}  (epoch {info['selected_epoch']} of {info['epochs']} kept, "
          f"{info['train_images']:,} training images)")

# %% [markdown]
# ## 8. Training on a GPU, and on several
#
# Nothing in the cells above is CPU-specific: `pick_device()` chooses CUDA, then Apple's MPS,
# then the CPU (set `COURSE_DEVICE=cpu` to override), and `fit` moves the model and the whole data
# set there once. On a GPU `fit` also
# * runs the forward pass in **mixed precision** (bfloat16 where the GPU supports it, float16
#   with loss scaling otherwise): half the memory traffic, and tensor cores;
# * stores conv nets' activations **channels_last**, the layout cuDNN's fastest kernels use;
# * accepts `compile=True` for `torch.compile`, which fuses the small operations of a layer.
#
# On a GPU, raise the batch size (512–1024 for these models: a 28×28 batch of 128 leaves most of
# the GPU idle) and scale the learning rate with it. `benchmarks/time_to_accuracy.py` measures
# the speed on yours.
#
# The command line trains any course model, holds out 5,000 validation images (`--val-size`),
# keeps the best validation epoch, measures the test set once and prints one JSON line at the
# end:
#
# ```
# python -m course_utils.training --model small_cnn --epochs 15 --batch-size 512 --lr 4e-3 \
#     --schedule onecycle --augment shift-flip
# ```
#
# **Two kinds of parallelism.** The notes say AlexNet was "trained over two GPUs". That was
# *model parallelism*: a 3 GB GPU could not hold the network, so each GPU held half of the
# filters of every layer, and the halves exchanged maps only at some layers (lesson 06 builds
# this split as grouped convolutions). PyTorch's DistributedDataParallel (DDP) does something
# else, *data parallelism*: every GPU holds the *whole* model, trains on its own shard of each
# batch, and the gradients are averaged after every step (NCCL on GPUs, gloo on CPUs), so all
# copies stay identical. `torchrun` starts one process per GPU; `--batch-size` stays the
# *global* batch, so the same hyper-parameters mean the same thing on any number of GPUs:
#
# ```
# torchrun --standalone --nproc_per_node=4 -m course_utils.training --model small_cnn --epochs 15 ...
# ```
#
# The same works on a CPU with two processes, which shows the machinery without a GPU:

# %%
# NBVAL_IGNORE_OUTPUT
# Timings vary from run to run.
command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "course_utils.training", "--model", "lenet_modern", "--epochs", "1",
           "--train-size", str(quick_or_full(2_048, 12_000)), "--batch-size", "128",
           "--device", "cpu", "--threads", "1", "--quiet"]
print("$", " ".join(["torchrun"] + command[3:]))
result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
if result.returncode != 0:
    raise RuntimeError(result.stderr[-2000:])
summary = json.loads(result.stdout.strip().splitlines()[-1])
print({key: summary[key] for key in ("world_size", "train_size", "val_size", "val_accuracy", "test_accuracy",
                                     "train_seconds")})

# %% [markdown]
# ## 9. The test set, once
#
# Everything above was chosen and compared on validation images. Now, and only now, measure the
# models this lesson trained on the 10,000 test images: the two of section 4, and the four of
# section 6 on the test canvas, centred and moved by 4 pixels. If validation did its job, the
# test accuracies are close to the validation ones.

# %%
# NBVAL_IGNORE_OUTPUT
# The accuracies depend on the trained models (COURSE_QUICK).
TEST = quick_or_full(2_000, len(test_x))  # quick mode measures a subset
final_x, final_y = test_x[:TEST], test_y[:TEST]
canvas_test_x = pad_to_canvas(final_x, CANVAS)
print(f"{'model':26s} {'validation':>10s} {'test':>7s} {'test, moved 4 px':>16s}")
rows = []
for name, model in models.items():
    rows.append((name + " (28×28)", best_val(histories[name]), evaluate(model, final_x, final_y).accuracy, None))
for name, model in canvas_models.items():
    rows.append((name + " (canvas)", best_val(canvas_histories[name]), evaluate(model, canvas_test_x, final_y).accuracy,
                 reference.accuracy_under_shift(model, canvas_test_x, final_y, 4)))
for name, val_acc, test_acc, moved in rows:
    print(f"{name:26s} {val_acc:10.1%} {test_acc:7.1%} " + (f"{moved:16.1%}" if moved is not None else f"{'':>16s}"))
largest = max(abs(v - t) for _, v, t, _ in rows)
print(f"\nlargest |validation − test| difference: {largest:.1%} points "
      f"({'within' if largest <= 0.01 else 'beyond'} 1 point: "
      f"{'validation predicted the test accuracy well' if largest <= 0.01 else 'check the split'})")

# %% [markdown]
# ## Summary
#
# * An MLP's first layer grows with the image; a CNN's filters do not. LeNet-5 has a fraction of
#   the wide MLP's parameters at 28×28, and its conv layers grow only with the input channels.
# * Training data fit the weights, validation data choose (epochs, models, tricks), the test set
#   is measured once. `fit(..., val_data, restore_best=True)` keeps the best validation epoch, and
#   a checkpoint never resumes a run with other settings.
# * The notes' variance claim was measured on several seeds with its uncertainty: the verdict
#   cells say which differences (gap, disagreement) are real and which are within noise, and the
#   77-unit MLP separates the number of weights from how they are used.
# * On a canvas where a shift cuts nothing, a one-pixel move already costs the MLP more than
#   LeNet; augmentation fixes both within its range, and beyond it the CNN keeps more.
# * ReLU and max pooling (2012) and batch norm (2015) turned LeNet into a modern net; the ablation
#   says which of them mattered here, with its seed-to-seed spread.
# * AlexNet split a model over two GPUs (model parallelism); DDP copies the model and splits the
#   data (data parallelism). `fit` and the command line run the same code on CPU, one GPU or
#   several with `torchrun`.
#
# Next, lesson 06 builds and measures the architectures that followed: AlexNet, VGG, GoogLeNet
# and ResNet.
