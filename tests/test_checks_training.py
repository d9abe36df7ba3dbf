"""Lesson 05's checks accept the reference and explain each typical wrong answer."""

import numpy as np
import torch
import torch.nn.functional as F

from course_utils import checks
from course_utils.evaluation import accuracy_under_shift, shift_directions
from course_utils.transforms import shift_image

# --- mlp_parameter_count ---

def sizes(input_shape, hidden, num_classes):
    return [int(np.prod(input_shape)), *hidden, num_classes]


def count_right(input_shape, hidden, num_classes):
    s = sizes(input_shape, hidden, num_classes)
    return sum(a * b + b for a, b in zip(s, s[1:]))


def count_no_bias(input_shape, hidden, num_classes):
    s = sizes(input_shape, hidden, num_classes)
    return sum(a * b for a, b in zip(s, s[1:]))


def count_no_channels(input_shape, hidden, num_classes):
    return count_right(input_shape[1:], hidden, num_classes)


def count_no_output(input_shape, hidden, num_classes):
    s = sizes(input_shape, hidden, num_classes)[:-1]
    return sum(a * b + b for a, b in zip(s, s[1:]))


def test_mlp_parameter_count_check(stub, expect_failure):
    checks.check_mlp_parameter_count(count_right)
    checks.check_mlp_parameter_count(lambda *a: torch.tensor(count_right(*a)))
    expect_failure(checks.check_mlp_parameter_count, stub, "not implemented yet")
    expect_failure(checks.check_mlp_parameter_count, count_no_bias, "not the biases")
    expect_failure(checks.check_mlp_parameter_count, count_no_channels, "C·H·W")
    expect_failure(checks.check_mlp_parameter_count, count_no_output, "output layer")
    expect_failure(checks.check_mlp_parameter_count, lambda *a: float(count_right(*a)), "Python int")


# --- train_step ---

def step_right(model, optimizer, images, labels):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_no_zero_grad(model, optimizer, images, labels):
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_no_step(model, optimizer, images, labels):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    return loss.item()


def step_softmax_first(model, optimizer, images, labels):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(images).softmax(1), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_returns_tensor(model, optimizer, images, labels):
    step_right(model, optimizer, images, labels)
    return F.cross_entropy(model(images), labels)


def test_train_step_check(stub, expect_failure):
    checks.check_train_step(step_right)
    expect_failure(checks.check_train_step, stub, "not implemented yet")
    expect_failure(checks.check_train_step, step_no_zero_grad, "zero_grad")
    expect_failure(checks.check_train_step, step_no_step, "optimizer.step()")
    expect_failure(checks.check_train_step, step_softmax_first, "raw logits")
    expect_failure(checks.check_train_step, step_returns_tensor, "loss.item()")


# --- accuracy_under_shift ---

def mean_over(model, images, labels, moves, scale=1.0, train=False):
    accuracies = []
    for dy, dx in moves:
        model.train(train)
        with torch.no_grad():
            accuracies.append((model(shift_image(images, dy, dx)).argmax(1) == labels).float().mean().item())
    model.eval()
    return scale * float(np.mean(accuracies))


def shift_right(model, images, labels, shift):
    return mean_over(model, images, labels, shift_directions(shift))


def shift_axes_only(model, images, labels, shift):
    return mean_over(model, images, labels, [m for m in shift_directions(shift) if not (m[0] and m[1])])


def shift_percent(model, images, labels, shift):
    return mean_over(model, images, labels, shift_directions(shift), scale=100)


def shift_train_mode(model, images, labels, shift):
    return mean_over(model, images, labels, shift_directions(shift), train=True)


def shift_one_move(model, images, labels, shift):
    return mean_over(model, images, labels, [(shift, shift)])


def test_accuracy_under_shift_check(stub, expect_failure):
    checks.check_accuracy_under_shift(shift_right)
    checks.check_accuracy_under_shift(accuracy_under_shift)
    expect_failure(checks.check_accuracy_under_shift, stub, "not implemented yet")
    expect_failure(checks.check_accuracy_under_shift, shift_axes_only, "diagonal")
    expect_failure(checks.check_accuracy_under_shift, shift_percent, "percentage")
    expect_failure(checks.check_accuracy_under_shift, shift_train_mode, "model.eval()")
    expect_failure(checks.check_accuracy_under_shift, shift_one_move, "single move")
