"""Checks for lesson 05's exercises: mlp_parameter_count, train_step, accuracy_under_shift."""

import copy
import numbers

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..evaluation import accuracy_under_shift, shift_directions
from ..data import load_fashion_mnist
from ..models import MLP, count_parameters, load_pretrained
from ..transforms import shift_image
from ._common import CheckFailed, call_student

__all__ = ["check_mlp_parameter_count", "check_train_step", "check_accuracy_under_shift"]


# --- Exercise: mlp_parameter_count -------------------------------------------------------------

def _layer_sizes(input_shape, hidden, num_classes):
    return [int(np.prod(input_shape)), *hidden, num_classes]


def _weights_only(input_shape, hidden, num_classes):
    sizes = _layer_sizes(input_shape, hidden, num_classes)
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


def _parameter_hint(got, input_shape, hidden, num_classes):
    sizes = _layer_sizes(input_shape, hidden, num_classes)
    if got == _weights_only(input_shape, hidden, num_classes):
        return "you counted the weights but not the biases: every layer also has one bias per output unit."
    if got == count_parameters(MLP(int(np.prod(input_shape[1:])), list(hidden), num_classes)):
        return "you left out the channels: the flattened input has C·H·W numbers."
    no_output = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:-1]))
    if got == no_output:
        return "you left out the output layer (last hidden width -> num_classes)."
    if got == sum(a * b + a for a, b in zip(sizes, sizes[1:])):
        return "each layer's biases number its *outputs*, not its inputs."
    return "count, for every layer, inputs × outputs weights plus outputs biases, and add them up."


def check_mlp_parameter_count(fn):
    """Compare ``fn(input_shape, hidden, num_classes)`` with torch's count of an actual MLP."""
    cases = [((1, 28, 28), [256], 10), ((1, 28, 28), [512, 256], 10), ((3, 32, 32), [100], 10),
             ((3, 8, 8), [7, 5, 3], 4)]
    for input_shape, hidden, num_classes in cases:
        got = call_student(fn, input_shape, list(hidden), num_classes)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, numbers.Integral):
            raise CheckFailed(f"mlp_parameter_count{(input_shape, hidden, num_classes)} returned "
                              f"{got!r} ({type(got).__name__}); return a Python int.")
        expected = count_parameters(MLP(int(np.prod(input_shape)), list(hidden), num_classes))
        if got != expected:
            raise CheckFailed(f"mlp_parameter_count{(input_shape, hidden, num_classes)} = {got:,}, "
                              f"expected {expected:,}: "
                              + _parameter_hint(got, input_shape, hidden, num_classes))
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
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return [call_student(fn, model, optimizer, images, labels) for _ in range(2)]


def check_train_step(fn):
    """Run ``fn(model, optimizer, images, labels)`` twice and compare with the reference step."""
    model, images, labels = _problem()
    before = copy.deepcopy(model)
    reference = copy.deepcopy(model)
    ref_optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    expected = [_reference_step(reference, ref_optimizer, images, labels) for _ in range(2)]
    after_one = copy.deepcopy(before)
    _reference_step(after_one, torch.optim.SGD(after_one.parameters(), lr=0.1), images, labels)

    losses = _step_twice(fn, model, images, labels)
    for loss in losses:
        if isinstance(loss, torch.Tensor):
            raise CheckFailed("train_step returned a tensor; return loss.item(), a Python float "
                              "(a tensor keeps the whole graph of the step alive).")
        if not isinstance(loss, numbers.Real):
            raise CheckFailed(f"train_step returned {loss!r}; return the batch's loss as a float.")
    if _same_weights(model, before):
        raise CheckFailed("the weights did not change: after loss.backward() call optimizer.step().")
    if not np.isclose(losses[0], expected[0], atol=1e-5):
        raise CheckFailed(f"the first step returned loss {losses[0]:.4f}, expected {expected[0]:.4f}: "
                          + _loss_hint(losses[0], before, images, labels))
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
        accuracies.append((logits.argmax(1) == labels).float().mean().item())
    model.eval()
    return float(np.mean(accuracies))


def _shift_hint(got, model, images, labels, shift):
    if np.isclose(got / 100, accuracy_under_shift(model, images, labels, shift), atol=1e-6):
        return "it looks like a percentage; return a fraction between 0 and 1."
    axes = [(dy, dx) for dy, dx in shift_directions(shift) if not (dy and dx)]
    if np.isclose(got, _mean_accuracy(model, images, labels, axes), atol=1e-6):
        return "you averaged the four moves along the axes only; include the four diagonal ones."
    if np.isclose(got, _mean_accuracy(model, images, labels, shift_directions(shift), True), atol=1e-6):
        return ("the model ran in training mode, so batch norm used the batch's statistics: "
                "call model.eval() first (or use course_utils.training.evaluate).")
    for move in [(shift, shift), (shift, 0), (0, shift)]:
        if np.isclose(got, _mean_accuracy(model, images, labels, [move]), atol=1e-6):
            return f"that is the accuracy for the single move {move}; average over all eight."
    return "average the accuracy over the eight moves given by shift_directions(shift)."


def check_accuracy_under_shift(fn):
    """Compare ``fn(model, images, labels, shift)`` with the reference for shifts 0..3."""
    model, images, labels = _shift_problem()
    for shift in range(4):
        got = call_student(fn, model, images.clone(), labels, shift)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, numbers.Real):
            raise CheckFailed(f"accuracy_under_shift returned {got!r}; return a float in [0, 1].")
        model.eval()
        expected = accuracy_under_shift(model, images, labels, shift)
        if not np.isclose(got, expected, atol=1e-6):
            raise CheckFailed(f"for shift {shift} you have {got:.4f}, expected {expected:.4f}: "
                              + _shift_hint(got, model, images, labels, shift))
    print("✓ accuracy_under_shift matches the reference for shifts of 0 to 3 pixels.")
