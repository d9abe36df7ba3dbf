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
# # Lesson 10 — Training fast: time to accuracy
#
# **Lecture notes covered.** The notes train every network "until it converges" and never ask how
# long that takes. This lesson asks it: how long, in seconds of training, a network needs to reach
# a given accuracy on held-out data, and which choices of the recipe (learning rate and its
# schedule, optimiser, batch size, memory layout, number of epochs, numeric precision, flips and
# label smoothing) buy that time. It builds on
# lesson 05 (validation, the test set measured once, spreads over seeds) and lesson 07 (batch
# normalisation, which makes large learning rates usable).
#
# **After this lesson you can**
# * time a training recipe honestly: training seconds to the first epoch whose *validation*
#   accuracy reaches a target, the test set measured once at the end;
# * measure where an epoch's time goes on your machine (images per second against batch size and
#   memory layout) instead of guessing;
# * run an ablation: take one trick out of a recipe at a time and say, with the spread over seeds,
#   what each one buys;
# * speed a network up with bfloat16 where the processor supports it, and make up accuracy with
#   flips (in training and at test time) and label smoothing;
# * reproduce the course's records on this CPU and know what a GPU would add.
#
# **Time.** About 105 minutes: 2,110 words to read (15 min at 150 words a minute), 214 lines of code to read and run (27 min at 8 a minute), 3 graded exercises (45 min), and 18 min of computing for the whole notebook on a 2-core CPU, measured when it was built (`course_tools.lesson_time`).
#
# Three graded exercises (⭐), each with an instant check. If you are stuck, run the rest of the
# notebook: later cells use the references (`course_utils.training.time_to_accuracy`,
# `course_utils.spread`, PyTorch's `OneCycleLR`).
#
# **Quick mode.** With `COURSE_QUICK=1` (as in CI) the runs use 2,560 training images (the small
# CNN's 1,280), one epoch and two seeds, in float32, and fewer images are timed and evaluated;
# the stored outputs are from the full run (55,000 training images, the recipes' epochs, three
# seeds). Cells whose printed numbers
# depend on the mode or on the machine's speed are excluded from nbval's comparison, each saying
# so.

# %%
# %matplotlib inline
# First, before torch: course_utils.training makes torch's OpenMP threads wait passively, which
# on a busy CPU trains several times faster.
import course_utils.training  # noqa: F401

# isort: split
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from course_utils.checks import check_difference_error, check_one_cycle_lr, check_seconds_to_target
from course_utils.checks.time_to_accuracy import torch_one_cycle
from course_utils.data import load_fashion_mnist, train_val_split
from course_utils.models import build_model, count_parameters
from course_utils.runtime import quick_mode, quick_or_full, seed_everything
from course_utils.spread import compare_runs
from course_utils.training import describe_device, evaluate, fit, pick_device, steps_per_epoch
from course_utils.training import time_to_accuracy as reference  # the reference implementation
from course_utils.training.cli import make_optimizer, make_scheduler

seed_everything(0)
DEVICE = pick_device()
plt.rcParams["figure.dpi"] = 100

# %%
# NBVAL_IGNORE_OUTPUT
# The device and thread count are those of the machine that runs the notebook.
print("running on:", describe_device(DEVICE), "| quick mode:", quick_mode())
print("a CUDA GPU is available:", torch.cuda.is_available())

# %% [markdown]
# ## 1. The measure: seconds of training to a validation accuracy
#
# "LeNet trains in 20 seconds" means nothing until three things are fixed: **what** is reached
# (an accuracy, on which data), **what is timed** (training steps only, or evaluation too), and
# **how the run stops**. The course's measure, used by `benchmarks/time_to_accuracy.py` and by
# every number in this lesson:
#
# * after every epoch, measure the accuracy on the **validation** images (5,000 held out from the
#   training set, lesson 05);
# * add up the **training** time of the epochs (the evaluation is not counted: a recipe should not
#   look faster because it validates less often);
# * stop the clock at the **first** epoch whose validation accuracy is at or above the target;
#   that sum is the recipe's time to accuracy; a run that never gets there takes infinitely long.
#
# The test set plays no part: the run keeps the epoch with the best validation accuracy and
# measures the test set once, at the end. Choosing a recipe by its test accuracy would make the
# test accuracy an optimistic estimate (lesson 05, section 9).

# %% [markdown]
# ### Exercise 1 (2 points) ⭐: `seconds_to_target`
#
# Given one validation accuracy and one training time per epoch, return the training seconds of
# the epochs up to **and including** the first one whose accuracy is at least `target`, as a
# float; return `math.inf` if no epoch reaches it.
#
# ```
# seconds_to_target([0.85, 0.90, 0.92], [10.0, 11.0, 12.0], 0.90)  ->  21.0
# seconds_to_target([0.85, 0.89], [10.0, 10.0], 0.90)               ->  inf
# ```

# %% nbgrader={"grade": false, "grade_id": "seconds_to_target", "locked": false, "schema_version": 3, "solution": true, "task": false}
def seconds_to_target(val_accuracy, seconds, target):
    """Training seconds up to the first epoch with val_accuracy >= target; math.inf if none."""
    ### BEGIN SOLUTION
    total = 0.0
    for accuracy, spent in zip(val_accuracy, seconds):
        total += spent
        if accuracy >= target:
            return total
    return math.inf
    ### END SOLUTION


# %% tags=["raises-exception"]
check_seconds_to_target(seconds_to_target)

# %% nbgrader={"grade": true, "grade_id": "seconds_to_target_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_seconds_to_target(seconds_to_target)
assert seconds_to_target([0.5, 0.95, 0.97], [1.0, 2.0, 4.0], 0.95) == 3.0
assert seconds_to_target([0.5, 0.6], [1.0, 2.0], 0.95) == math.inf
### BEGIN HIDDEN TESTS
assert seconds_to_target([0.91, 0.5], [7.0, 1.0], 0.9) == 7.0
assert seconds_to_target([0.8, 0.9, 0.95, 0.93], [1.0, 2.0, 3.0, 4.0], 0.9) == 3.0
assert seconds_to_target([], [], 0.9) == math.inf
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Where an epoch's time goes
#
# An epoch's time is (images per epoch) ÷ (images per second), and images per second is a
# property of the model, the batch size and the memory layout on *this* machine. Measure it
# rather than guess: the cell below times training steps (forward, backward, AdamW update) of the
# course's two workhorses, LeNet-5 in its modern form (lesson 05) and the small CNN (a VGG-style
# network with batch norm), at several batch sizes and in both memory layouts of PyTorch:
# NCHW (channels outermost, the default) and channels_last (NHWC: the channels of one pixel next to
# each other, which many convolution kernels prefer).

# %%
train_x, train_y = load_fashion_mnist("train")
test_x, test_y = load_fashion_mnist("test")
(train_x, train_y), (val_x, val_y) = train_val_split(train_x, train_y, val_size=5_000, seed=0)
TRAIN = quick_or_full(2_560, len(train_x))   # quick: 5 steps of 512, one-cycle's least
VAL = quick_or_full(500, len(val_x))
train_data, val_data = (train_x[:TRAIN], train_y[:TRAIN]), (val_x[:VAL], val_y[:VAL])
print(f"training {len(train_x):,}  validation {len(val_x):,}  test {len(test_x):,}")
for name in ("lenet_modern", "small_cnn"):
    print(f"{name:13s} {count_parameters(build_model(name)):8,d} parameters")

# %%
def images_per_second(name, batch_size, channels_last, steps, bfloat16=False):
    """Training throughput of a fresh ``name`` model: images per second over ``steps`` steps
    (after one warm-up step), on the training images; ``bfloat16``: under autocast to bfloat16."""
    torch.manual_seed(0)
    model = build_model(name).to(DEVICE).train()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    optimizer = make_optimizer("adamw", model, 1e-3, None)
    x = train_x[:batch_size].to(DEVICE).contiguous(memory_format=layout)
    y = train_y[:batch_size].to(DEVICE)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=bfloat16):
            loss = F.cross_entropy(model(x).float(), y)
        loss.backward()
        optimizer.step()

    step()  # warm-up: the first step allocates
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - start)


BATCHES = quick_or_full((16, 32, 64), (32, 64, 128, 256, 512))
COMPARED = BATCHES[-2]   # the layouts compared at this batch size
IMAGES_TIMED = quick_or_full(64, 8_192)   # per measurement
throughput = {(name, batch, layout): images_per_second(name, batch, layout == "channels_last",
                                                       max(1, IMAGES_TIMED // batch))
              for name in ("lenet_modern", "small_cnn") for batch in BATCHES
              for layout in ("NCHW", "channels_last")}

# %%
# NBVAL_IGNORE_OUTPUT
# Timings vary from machine to machine and run to run.
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for ax, name in zip(axes, ("lenet_modern", "small_cnn")):
    for layout, marker in (("NCHW", "o"), ("channels_last", "s")):
        ax.plot(range(len(BATCHES)), [throughput[name, b, layout] for b in BATCHES], marker=marker,
                label=layout)
    ax.set(xticks=range(len(BATCHES)), xticklabels=BATCHES, xlabel="batch size (each twice the last)",
           ylabel="training images per second", ylim=(0, None), title=f"{name}, training on {DEVICE.type}")
    ax.grid(alpha=0.3)
    ax.legend()
fig.tight_layout()
plt.show()
for name in ("lenet_modern", "small_cnn"):
    ratio = throughput[name, COMPARED, "channels_last"] / throughput[name, COMPARED, "NCHW"]
    best = max(BATCHES, key=lambda b: max(throughput[name, b, layout] for layout in ("NCHW", "channels_last")))
    print(f"{name:13s} batch {COMPARED}: channels_last trains {ratio:.2f}× the images per second of NCHW "
          f"({'faster' if ratio > 1.1 else 'slower' if ratio < 0.9 else 'about the same'}); "
          f"most images per second at batch {best}")

# %% [markdown]
# Read the plot before choosing a recipe. What to look for: each step has a fixed cost (launching
# the operations, the optimiser's loop over the parameters), so small batches pay it more often
# per image, and past some batch size the gain flattens out; and the layout can matter in
# opposite directions for different networks (wide 3×3 convolutions like the small CNN's are
# where channels_last kernels shine; LeNet's first layers have 1 and 6 channels). The lines
# printed under the plot say what happened on the machine that ran the notebook, and may say
# otherwise on yours: that is the point of measuring.
#
# Images per second is not the whole story: a larger batch takes fewer steps per epoch, and
# whether it reaches the same accuracy in the same number of epochs is a question for the next
# section.

# %% [markdown]
# ## 3. An ablation: what each trick of a recipe buys
#
# The course's fast LeNet recipe (`benchmarks/time_to_accuracy.py`, recipe `lenet_modern_fast`):
# **3 epochs**, batch **128**, **AdamW** with a peak learning rate of **10⁻²** and weight decay
# 0.05, the **one-cycle** schedule (the learning rate rises for the first quarter of the steps,
# then anneals to almost zero), NCHW layout. An *ablation* changes one of these at a time, keeps
# everything else, and measures what the change costs or buys; each variant runs with several
# seeds, because a difference smaller than the run-to-run spread is no difference.
#
# The measures: validation accuracy after the last epoch, training seconds, and the time to 90%
# validation accuracy (with the number of seeds that got there).

# %% [markdown]
# ### Exercise 2 (3 points) ⭐: `one_cycle_lr`
#
# The one-cycle schedule, as PyTorch's `OneCycleLR` computes it with its defaults: the rate starts
# at `peak / 25`, rises to `peak` at step `r = pct_start · total_steps − 1`, then falls to
# `peak / 25 / 10⁴` at the last step, `total_steps − 1`. Both phases follow a half cosine from
# `start` to `end`:
#
# $$\text{rate} = \text{end} + \frac{\text{start} - \text{end}}{2}\,\big(\cos(\pi f) + 1\big),$$
#
# where `f` is the fraction of the phase done: `step / r` while rising (step ≤ r), and
# `(step − r) / (total_steps − 1 − r)` while falling. Return the rate at `step` (counted from 0).

# %% nbgrader={"grade": false, "grade_id": "one_cycle_lr", "locked": false, "schema_version": 3, "solution": true, "task": false}
def one_cycle_lr(step, total_steps, peak, pct_start=0.25):
    """The one-cycle learning rate at ``step`` (0 .. total_steps - 1), as a float."""
    ### BEGIN SOLUTION
    first, rise_end = peak / 25, pct_start * total_steps - 1
    if step <= rise_end:
        start, end, fraction = first, peak, step / rise_end
    else:
        start, end, fraction = peak, first / 1e4, (step - rise_end) / (total_steps - 1 - rise_end)
    return end + (start - end) / 2 * (math.cos(math.pi * fraction) + 1)
    ### END SOLUTION


# %% tags=["raises-exception"]
check_one_cycle_lr(one_cycle_lr)

# %% nbgrader={"grade": true, "grade_id": "one_cycle_lr_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_one_cycle_lr(one_cycle_lr)
assert abs(one_cycle_lr(0, 100, 0.01) - 0.01 / 25) < 1e-12
### BEGIN HIDDEN TESTS
assert np.allclose([one_cycle_lr(s, 57, 0.05, 0.2) for s in range(57)], torch_one_cycle(57, 0.05, 0.2),
                   rtol=1e-6, atol=0)
assert abs(one_cycle_lr(24, 100, 0.01) - 0.01) < 1e-12
### END HIDDEN TESTS

# %% [markdown]
# The recipe's schedule over its three epochs (PyTorch's, which the check compared yours with):
# a quarter of the steps warming up from a twenty-fifth of the peak, then a long cosine descent to
# almost nothing.

# %%
recipe_steps = 3 * steps_per_epoch(len(train_x), 128)
fig, ax = plt.subplots(figsize=(6, 2.6))
ax.plot(torch_one_cycle(recipe_steps, 1e-2, 0.25))
ax.set(xlabel="step", ylabel="learning rate", title=f"one-cycle, peak 10⁻², {recipe_steps:,} steps")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %%
RECIPE = {"epochs": 3, "batch_size": 128, "optimizer": "adamw", "lr": 1e-2, "schedule": "onecycle",
          "channels_last": False}
VARIANTS = {
    "the recipe": {},
    "constant learning rate": {"schedule": "none"},
    "learning rate 10⁻³": {"lr": 1e-3},
    "SGD (Nesterov), lr 0.05": {"optimizer": "sgd", "lr": 0.05},
    "batch 32": {"batch_size": 32},
    "batch 512": {"batch_size": 512},
    "channels_last": {"channels_last": True},
}
ABLATION_EPOCHS = quick_or_full(1, None)   # None: the recipe's own
SEEDS = quick_or_full(2, 3)
TARGET = 0.90


def run_recipe(name, recipe, seed, images=None):
    """Train a fresh ``name`` model with ``recipe`` (RECIPE's keys) on the first ``images`` of
    train_data (None: all); returns (model, History). The epoch with the best validation
    accuracy is kept."""
    train = train_data if images is None else (train_data[0][:images], train_data[1][:images])
    torch.manual_seed(seed)
    model = build_model(name)
    epochs = ABLATION_EPOCHS or recipe["epochs"]
    optimizer = make_optimizer(recipe["optimizer"], model, recipe["lr"], None)
    scheduler = make_scheduler(recipe["schedule"], optimizer,
                               epochs * steps_per_epoch(len(train[0]), recipe["batch_size"]))
    history = fit(model, train, val_data, optimizer=optimizer, scheduler=scheduler, epochs=epochs,
                  batch_size=recipe["batch_size"], channels_last=recipe["channels_last"], seed=seed,
                  amp=recipe.get("amp"), augment=recipe.get("augment"), tta=recipe.get("tta"),
                  label_smoothing=recipe.get("label_smoothing", 0.0),
                  device=DEVICE, restore_best=True, progress=False)
    return model, history


ablation = {label: [run_recipe("lenet_modern", RECIPE | change, seed)[1] for seed in range(SEEDS)]
            for label, change in VARIANTS.items()}

# %% [markdown]
# ### Exercise 3 (2 points) ⭐: `difference_error`
#
# Each verdict below compares a variant with the recipe as in lesson 05: the difference of the
# mean accuracies over seeds, against the *standard error* of that difference,
#
# $$\text{SE} = \sqrt{\frac{s_a^2}{n_a} + \frac{s_b^2}{n_b}},$$
#
# where $s^2$ is the sample variance of the runs (`ddof=1`) and $n$ their number. More than two
# standard errors is called a real difference; less is within the noise of this many seeds.
# Write `difference_error(a, b)` for two arrays of per-seed results; return a float.

# %% nbgrader={"grade": false, "grade_id": "difference_error", "locked": false, "schema_version": 3, "solution": true, "task": false}
def difference_error(a, b):
    """Standard error of mean(a) - mean(b), from the runs' sample variances."""
    ### BEGIN SOLUTION
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    ### END SOLUTION


# %% tags=["raises-exception"]
check_difference_error(difference_error)

# %% nbgrader={"grade": true, "grade_id": "difference_error_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false} tags=["raises-exception"]
check_difference_error(difference_error)
assert abs(difference_error(np.array([1.0, 3.0]), np.array([2.0, 2.0])) - 1.0) < 1e-12
### BEGIN HIDDEN TESTS
_a, _b = np.array([0.1, 0.2, 0.6]), np.array([0.5, 0.5, 0.5, 0.9])
assert abs(difference_error(_a, _b) - math.sqrt(np.var(_a, ddof=1) / 3 + np.var(_b, ddof=1) / 4)) < 1e-12
### END HIDDEN TESTS

# %%
# NBVAL_IGNORE_OUTPUT
# Accuracies and timings depend on COURSE_QUICK and on the machine.
VERDICT = {"larger": "better", "smaller": "worse", "within noise": "within noise"}
final = {label: np.array([h.val_accuracy[-1] for h in runs]) for label, runs in ablation.items()}
spent = {label: np.array([sum(h.seconds) for h in runs]) for label, runs in ablation.items()}
to_target = {label: np.array([reference.seconds_to_target(h.val_accuracy, h.seconds, TARGET)
                               for h in runs]) for label, runs in ablation.items()}
print(f"LeNet-5 (modern), {len(train_data[0]):,} training images, {SEEDS} seeds; mean ± sd")
print(f"{'':26s} {'validation':>15s} {'training s':>12s} {'s to ' + format(TARGET, '.0%'):>18s}")
for label in VARIANTS:
    reached = np.isfinite(to_target[label])
    timed = f"{to_target[label][reached].mean():7.1f} ({reached.sum()}/{SEEDS})" if reached.any() else \
        f"{'never':>7s} (0/{SEEDS})"
    print(f"{label:26s} {final[label].mean():8.2%} ± {final[label].std(ddof=1):4.2%} "
          f"{spent[label].mean():7.1f} ± {spent[label].std(ddof=1):3.1f} {timed:>18s}")
print()
for label in list(VARIANTS)[1:]:
    difference, error, verdict = compare_runs(final[label], final["the recipe"])   # the reference
    time_ratio = spent[label].mean() / spent["the recipe"].mean()
    print(f"{label:26s} accuracy {difference:+6.2%} ± {error:4.2%} points: {VERDICT[verdict]:12s} "
          f"time {time_ratio:4.2f}× the recipe's")

# %% [markdown]
# How to read the table (the verdict lines are computed from the runs above; the words here say
# what each change does, not what it measured):
#
# * **The schedule.** A constant learning rate of 10⁻² ends the run at the largest step size, so
#   the weights keep jumping around a minimum; one-cycle anneals the rate to almost nothing.
# * **The learning rate.** 10⁻³ is AdamW's textbook default; batch norm (lesson 07) is what makes a
#   ten times larger step usable at all.
# * **The optimiser.** SGD with Nesterov momentum needs its own learning rate; 0.05 is a reasonable
#   guess, not a tuned one: an ablation of one setting says nothing about the best setting of
#   another optimiser.
# * **Batch size.** Batch 32 takes four times as many steps per epoch, each dearer per image
#   (section 2); batch 512 takes a quarter of the steps, and three epochs of it are few steps.
# * **Layout.** channels_last changes the time and, beyond rounding, not the arithmetic: a verdict
#   other than "within noise" on its accuracy would be a surprise worth investigating.

# %% [markdown]
# ## 4. The small CNN: bfloat16, flips and label smoothing
#
# The small CNN (about 140,000 parameters) reaches 93% where LeNet stops near 91%, but each of its
# epochs costs several times more. Three more tricks of the fast GPU recipes help it on a CPU too:
#
# * **bfloat16 autocast** (`fit(..., amp=True)`, `--amp` on the command line): the convolutions
#   and matrix products read and write bfloat16 numbers (float32's 8-bit exponent with a 7-bit
#   mantissa) and accumulate in float32; the weights, the optimiser and the loss stay in float32.
#   Half the bytes move, and CPUs with AVX-512 BF16 instructions (and every recent GPU) multiply
#   them at twice the rate or more. On a CPU without those instructions it is *slower*: measure.
# * **Random flips, then flips at test time** (`augment="flip"`, `tta="flip"`): training sees
#   each garment or its mirror image at random, and the prediction averages the logits of an image
#   and of its mirror. Flipping a sandal changes which way it points, not what it is (it would
#   change a digit: no flips for MNIST).
# * **Label smoothing** (`label_smoothing=0.1`): the training target gives 0.1 of its weight to
#   all ten classes evenly, so the loss stops rewarding ever larger logits once an image is
#   classified right.
#
# First the speed of bfloat16 on this machine, for the small CNN at batch 256 in channels_last:

# %%
# NBVAL_IGNORE_OUTPUT
# Timings vary from machine to machine; without bfloat16 instructions the ratio is below 1.
BF16_BATCH = quick_or_full(64, 256)
fp32_rate, bf16_rate = (images_per_second("small_cnn", BF16_BATCH, True, max(1, IMAGES_TIMED // BF16_BATCH),
                                          bfloat16=bf16) for bf16 in (False, True))
speedup = bf16_rate / fp32_rate
print(f"small_cnn, batch {BF16_BATCH}, channels_last: {fp32_rate:,.0f} images/s in float32, "
      f"{bf16_rate:,.0f} in bfloat16: {speedup:.2f}× "
      f"({'faster' if speedup > 1.1 else 'slower' if speedup < 0.9 else 'about the same'})")

# %% [markdown]
# The small CNN's fast recipe (`small_cnn_fast` in `benchmarks/time_to_accuracy.py`): 5 epochs,
# batch 256, AdamW with a peak learning rate of 6·10⁻³, one-cycle, channels_last, bfloat16,
# random flips with test-time flips, label smoothing 0.1. The cell trains it and two variants,
# each without one of the accuracy tricks, with one seed each (a small CNN run costs a minute and
# more here: read the differences against the seed-to-seed spread of section 3). Quick mode trains
# in float32: bfloat16 is slow on the floating-point paths CI also checks.

# %%
SMALL_RECIPE = {"epochs": 5, "batch_size": 256, "optimizer": "adamw", "lr": 6e-3, "schedule": "onecycle",
                "channels_last": True, "amp": quick_or_full(False, True), "augment": "flip", "tta": "flip",
                "label_smoothing": 0.1}
SMALL_VARIANTS = {
    "the recipe": {},
    "no label smoothing": {"label_smoothing": 0.0},
    "no flips (training or test)": {"augment": None, "tta": None},
}
SMALL_IMAGES = quick_or_full(1_280, None)   # quick: 5 steps of 256, one-cycle's least
small_runs = {label: run_recipe("small_cnn", SMALL_RECIPE | change, seed=0, images=SMALL_IMAGES)
              for label, change in SMALL_VARIANTS.items()}
small_model, small_history = small_runs["the recipe"]

# %% [markdown]
# The test-time flips need no extra training run: the recipe's model is measured on the same
# validation images with and without them, and the difference is a *paired* one (each image counts
# once on each side), whose standard error comes from the per-image differences.

# %%
@torch.no_grad()
def correct_per_image(model, images, labels, tta):
    """1.0 where ``model`` (in eval mode) classifies an image right, else 0.0: a float tensor N."""
    model.eval()
    right = []
    for start in range(0, len(images), 1_000):
        x = images[start:start + 1_000].to(DEVICE)
        logits = model(x) + (model(x.flip(-1)) if tta == "flip" else 0)
        right.append((logits.argmax(1).cpu() == labels[start:start + 1_000]).float())
    return torch.cat(right)

# %%
# NBVAL_IGNORE_OUTPUT
# Accuracies and timings depend on COURSE_QUICK and on the machine.
lenet_spread = final["the recipe"].std(ddof=1)
print(f"small CNN, {SMALL_IMAGES or len(train_data[0]):,} training images, seed 0 "
      f"(section 3's LeNet recipe: sd {lenet_spread:.2%} over {SEEDS} seeds)")
for label, (_, history) in small_runs.items():
    change = history.val_accuracy[-1] - small_history.val_accuracy[-1]
    versus = "" if label == "the recipe" else f"   {change:+.2%} points against the recipe"
    print(f"{label:28s} validation {history.val_accuracy[-1]:.2%}  training {sum(history.seconds):6.1f} s{versus}")
paired = correct_per_image(small_model, *val_data, "flip") - correct_per_image(small_model, *val_data, None)
gain, error = paired.mean().item(), paired.std().item() / math.sqrt(len(paired))
verdict = "better" if gain > 2 * error else "worse" if gain < -2 * error else "within noise"
print(f"test-time flips on the recipe's model: {gain:+.2%} ± {error:.2%} points on the same "
      f"{len(paired):,} validation images: {verdict}")

# %% [markdown]
# What to read in these lines: bfloat16 changes the time, and the accuracy only by rounding; the
# flips and the label smoothing change what the network learns, and one seed each can only say
# whether a difference is large next to section 3's spread, not prove it. The test-time flips get
# a proper verdict for free, because both sides are measured on the same images.
#
# ## 5. The course's records on this CPU
#
# The same measure for both recipes of `benchmarks/time_to_accuracy.py` (run it to reproduce them
# on your machine: it prints the seconds to the target for each recipe, then the test accuracy of
# the epoch each run kept). The cell below measures the test set once, at the end, on the epoch
# kept by validation, with the test-time flips the small CNN was selected with.

# %%
lenet_model, lenet_history = run_recipe("lenet_modern", RECIPE, seed=0)

# %%
# NBVAL_IGNORE_OUTPUT
# Accuracies and timings depend on COURSE_QUICK and on the machine.
TEST = quick_or_full(1_000, len(test_x))   # quick mode measures a subset
for name, model, history, target, tta in (("lenet_modern", lenet_model, lenet_history, 0.90, None),
                                          ("small_cnn", small_model, small_history, 0.93, "flip")):
    seconds = reference.seconds_to_target(history.val_accuracy, history.seconds, target)
    curve = ", ".join(f"{a:.2%}" for a in history.val_accuracy)
    reached = f"after {seconds:.1f} s of training" if seconds < math.inf else "not reached"
    test = evaluate(model, test_x[:TEST], test_y[:TEST], device=DEVICE, tta=tta).accuracy   # once, at the end
    print(f"{name:13s} validation per epoch: {curve}")
    print(f"{'':13s} {target:.0%} validation accuracy {reached}; test accuracy {test:.2%} "
          f"(epoch {history.best_epoch} kept)")

# %% [markdown]
# **What a GPU changes.** On a GPU, `fit` keeps the whole data set on the device (a batch is one
# indexing operation, no DataLoader), turns on mixed precision (bfloat16) and channels_last, and
# `torch.compile` can fuse the small operations of these networks into few kernels; the time per
# epoch then drops from tens of seconds to well under one, and what limits a record becomes the
# number of epochs the recipe needs. Fast GPU recipes (airbench for CIFAR-10, for instance) spend
# their effort there: a first layer whitened from the data, label smoothing, test-time flipping
# (the last two are section 4's), and a tuned schedule, so that a few epochs reach the target. The
# first cell says which device this notebook ran on; a CPU build measured none of the GPU's side.
#
# ## Summary
#
# * **The measure**: training seconds to the first epoch whose *validation* accuracy reaches the
#   target; evaluation not timed; the test set measured once, on the epoch validation kept.
# * **Measure the machine first**: images per second against batch size and layout (section 2)
#   decide the batch and the layout; they differ from network to network.
# * **Ablate**: one change at a time, several seeds, a verdict only beyond the spread; the table of
#   section 3 says what the schedule, the learning rate, the optimiser, the batch size and the
#   layout buy in this recipe.
# * **Precision and symmetry**: bfloat16 autocast buys speed where the processor has it; flips in
#   training and at test time, and label smoothing, buy accuracy in the same number of epochs
#   (section 4; a paired comparison on the same images gives a verdict from a single run).
# * **Records**: the fast LeNet and small-CNN recipes of section 5, reproducible with
#   `python benchmarks/time_to_accuracy.py`.
