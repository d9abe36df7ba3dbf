"""Checks for lesson 05's exercises: mlp_parameter_count, train_step, accuracy_under_shift."""

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import load_fashion_mnist
from ..evaluation import accuracy_under_shift, shift_directions
from ..models import MLP, count_parameters
from ..pretrained import load_pretrained
from ..transforms import shift_image
from .harness import Case, CheckFailed, Number, answer, run_cases

__all__ = ["check_mlp_parameter_count", "check_train_step", "check_accuracy_under_shift"]


# --- Exercise: mlp_parameter_count -------------------------------------------------------------

def _layer_sizes(input_shape, hidden, num_classes):
    return [int(np.prod(input_shape)), *hidden, num_classes]


def _weights_only(input_shape, hidden, num_classes):
    sizes = _layer_sizes(input_shape, hidden, num_classes)
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


def _parameter_suspects(input_shape, hidden, num_classes):
    sizes = _layer_sizes(input_shape, hidden, num_classes)
    yield ("you counted the weights but not the biases: every layer also has one bias per output unit.",
           _weights_only(input_shape, hidden, num_classes))
    yield ("you left out the channels: the flattened input has C·H·W numbers.",
           count_parameters(MLP(int(np.prod(input_shape[1:])), list(hidden), num_classes)))
    yield ("you left out the output layer (last hidden width -> num_classes).",
           sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:-1])))
    yield ("each layer's biases number its *outputs*, not its inputs.",
           sum(a * b + a for a, b in zip(sizes, sizes[1:])))


def _parameter_hint(got, input_shape, hidden, num_classes):
    return "count, for every layer, inputs × outputs weights plus outputs biases, and add them up."


def check_mlp_parameter_count(fn):
    """Compare ``fn(input_shape, hidden, num_classes)`` with torch's count of an actual MLP."""
    # The last network repeats a width (like the graded test's [4096, 4096]) and ends in 1 output.
    settings = [((1, 28, 28), [256], 10), ((1, 28, 28), [512, 256], 10), ((3, 32, 32), [100], 10),
                ((3, 4, 4), [6, 6, 2], 1)]
    cases = [Case((input_shape, list(hidden), num_classes),
                  count_parameters(MLP(int(np.prod(input_shape)), list(hidden), num_classes)),
                  f"input_shape={input_shape}, hidden={hidden}, num_classes={num_classes}")
             for input_shape, hidden, num_classes in settings]
    run_cases(fn, "mlp_parameter_count", cases, Number(whole=True), suspects=_parameter_suspects,
              explain_values=_parameter_hint)
    print(f"✓ mlp_parameter_count agrees with PyTorch's count on {len(cases)} networks.")


# --- Exercise: train_step ----------------------------------------------------------------------

def _problem(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))
    images, labels = torch.randn(16, 1, 3, 4), torch.randint(0, 3, (16,))
    return model, images, labels


def _reference_step(model, optimizer, images, labels):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def _same_weights(a, b):
    return all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a.parameters(), b.parameters()))


def _loss_hint(got, model_before, images, labels):
    with torch.no_grad():
        logits = model_before(images)
        if np.isclose(got, F.cross_entropy(logits.softmax(1), labels).item(), atol=1e-5):
            return ("it is the cross-entropy of the softmax probabilities: F.cross_entropy takes "
                    "the raw logits (it applies log-softmax itself).")
        if np.isclose(got, F.cross_entropy(logits, labels, reduction="sum").item(), atol=1e-4):
            return "it is the summed loss; use the mean over the batch (F.cross_entropy's default)."
    return "compute F.cross_entropy(model(images), labels) before the update and return it."


def _step_twice(fn, model, images, labels, lr=0.1):
    """The losses the student's train_step returns in two calls (CheckFailed if one is no number)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return [answer(fn, "train_step", (model, optimizer, images, labels), Number(python_float=True))
            for _ in range(2)]


def check_train_step(fn):
    """Run ``fn(model, optimizer, images, labels)`` twice and compare with the reference step."""
    model, images, labels = _problem()
    before, reference = copy.deepcopy(model), copy.deepcopy(model)
    ref_optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    expected = _reference_step(reference, ref_optimizer, images, labels)
    _reference_step(reference, ref_optimizer, images, labels)

    losses = _step_twice(fn, model, images, labels)
    if _same_weights(model, before):
        raise CheckFailed("the weights did not change: after loss.backward() call optimizer.step().")
    if not np.isclose(losses[0], expected, atol=1e-5):
        raise CheckFailed(f"train_step returned loss {losses[0]:.4f} at the first step, expected "
                          f"{expected:.4f}: " + _loss_hint(losses[0], before, images, labels))
    if not _same_weights(model, reference):
        if _accumulated(before, images, labels, model):
            raise CheckFailed("the second step used the first step's gradients as well: call "
                              "optimizer.zero_grad() before loss.backward(), or gradients add up.")
        raise CheckFailed("after two steps your weights differ from plain SGD on the cross-entropy "
                          "loss: one backward pass and one optimizer.step() per call.")
    print("✓ train_step: same loss and same weights as the reference after two SGD steps.")


def _accumulated(before, images, labels, student_model):
    """True when ``student_model`` equals two steps without zero_grad in between."""
    model = copy.deepcopy(before)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()
    return _same_weights(model, student_model)


# --- Exercise: accuracy_under_shift ------------------------------------------------------------

def _shift_problem():
    """The shipped modern LeNet (it has batch norm) on the first 200 test images."""
    model = load_pretrained("lenet_modern")
    images, labels = load_fashion_mnist("test")
    return model, images[:200], labels[:200]


def _mean_accuracy(model, images, labels, moves, train_mode=False):
    accuracies = []
    for dy, dx in moves:
        with torch.no_grad():
            logits = model.train(train_mode)(shift_image(images, dy, dx))
        accuracies.append((logits.argmax(1) == labels).sum().item() / len(labels))
    model.eval()
    return float(np.mean(accuracies))


def _shift_suspects(model, images, labels, shift):
    yield ("it looks like a percentage; return a fraction between 0 and 1.",
           100 * accuracy_under_shift(model, images, labels, shift))
    axes = [(dy, dx) for dy, dx in shift_directions(shift) if not (dy and dx)]
    yield ("you averaged the four moves along the axes only; include the four diagonal ones.",
           _mean_accuracy(model, images, labels, axes))
    yield ("the model ran in training mode, so batch norm used the batch's statistics: "
           "call model.eval() first (or use course_utils.training.evaluate).",
           _mean_accuracy(model, images, labels, shift_directions(shift), True))
    for move in [(shift, shift), (shift, 0), (0, shift)]:
        yield (f"that is the accuracy for the single move {move}; average over all eight.",
               _mean_accuracy(model, images, labels, [move]))


def _shift_hint(got, model, images, labels, shift):
    return "average the accuracy over the eight moves given by shift_directions(shift)."


def _close(got, expected):
    return bool(np.isclose(got, expected, atol=1e-6))


# The graded test compares with the reference to 1e-9. An accuracy rounded to float32 (by
# .float().mean(), about 1e-8 off) is close by _close, which lets the suspects be recognised
# whatever their rounding, but it fails the graded test: _Accuracies says so once every value
# is right.
GRADED_TOLERANCE = 1e-9


@dataclass(frozen=True)
class _Accuracies(Number):
    """Numbers that, once close to the reference, must equal ``expected`` (in case order) to
    GRADED_TOLERANCE."""

    expected: tuple = ()

    def check_all(self, answers, name):
        off = max(abs(got - want) for got, want in zip(answers, self.expected))
        if off > GRADED_TOLERANCE:
            raise CheckFailed(
                f"{name} is off by up to {off:.0e}: the values are right but rounded, and the graded "
                f"test allows {GRADED_TOLERANCE:.0e}. That is float32 rounding, as from "
                "(predictions == labels).float().mean(): measure each move with "
                "evaluate(model, images, labels).accuracy as the exercise says (or count the correct "
                "predictions with .sum().item() and divide by len(labels)), and average Python floats.")


def check_accuracy_under_shift(fn):
    """Compare ``fn(model, images, labels, shift)`` with the reference for shifts 0..3."""
    model, images, labels = _shift_problem()
    cases = [Case((model, images, labels, shift), accuracy_under_shift(model, images, labels, shift),
                  f"shift = {shift} pixels") for shift in range(4)]
    returns = _Accuracies(expected=tuple(case.expected for case in cases))
    run_cases(fn, "accuracy_under_shift", cases, returns, compare=_close, suspects=_shift_suspects,
              explain_values=_shift_hint)
    print("✓ accuracy_under_shift matches the reference for shifts of 0 to 3 pixels.")
