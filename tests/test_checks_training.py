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


def count_distinct_widths(input_shape, hidden, num_classes):
    return count_right(input_shape, list(dict.fromkeys(hidden)), num_classes)


def test_mlp_parameter_count_check(stub, expect_failure):
    checks.check_mlp_parameter_count(count_right)
    checks.check_mlp_parameter_count(lambda *a: torch.tensor(count_right(*a)))
    expect_failure(checks.check_mlp_parameter_count, stub, "not implemented yet")
    expect_failure(checks.check_mlp_parameter_count, count_no_bias, "not the biases")
    expect_failure(checks.check_mlp_parameter_count, count_no_channels, "C·H·W")
    expect_failure(checks.check_mlp_parameter_count, count_no_output, "output layer")
    expect_failure(checks.check_mlp_parameter_count, lambda *a: float(count_right(*a)), "Python int")
    # One layer per distinct width (a dict keyed by width) fails the graded test's [4096, 4096].
    expect_failure(checks.check_mlp_parameter_count, count_distinct_widths, "expected")


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


def step_returns_numpy(model, optimizer, images, labels):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.detach().numpy()


def test_train_step_check(stub, expect_failure):
    checks.check_train_step(step_right)
    expect_failure(checks.check_train_step, stub, "not implemented yet")
    expect_failure(checks.check_train_step, step_no_zero_grad, "zero_grad")
    expect_failure(checks.check_train_step, step_no_step, "optimizer.step()")
    expect_failure(checks.check_train_step, step_softmax_first, "raw logits")
    expect_failure(checks.check_train_step, step_returns_tensor, "loss.item()")
    # The graded test asserts isinstance(loss, float): numpy values fail it, and the check says so.
    expect_failure(checks.check_train_step, step_returns_numpy, "expected a Python float")
    expect_failure(checks.check_train_step, lambda *args: np.float32(step_right(*args)), "not a Python float")
    checks.check_train_step(lambda *args: np.float64(step_right(*args)))  # a float subclass


# --- accuracy_under_shift ---

def mean_over(model, images, labels, moves, scale=1.0, train=False, float32=False):
    accuracies = []
    for dy, dx in moves:
        model.train(train)
        with torch.no_grad():
            right = model(shift_image(images, dy, dx)).argmax(1) == labels
        accuracies.append(right.float().mean().item() if float32 else right.sum().item() / len(labels))
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


def shift_float32(model, images, labels, shift):
    return mean_over(model, images, labels, shift_directions(shift), float32=True)


def test_accuracy_under_shift_check(stub, expect_failure):
    checks.check_accuracy_under_shift(shift_right)
    checks.check_accuracy_under_shift(accuracy_under_shift)
    expect_failure(checks.check_accuracy_under_shift, stub, "not implemented yet")
    expect_failure(checks.check_accuracy_under_shift, shift_axes_only, "diagonal")
    expect_failure(checks.check_accuracy_under_shift, shift_percent, "percentage")
    expect_failure(checks.check_accuracy_under_shift, shift_train_mode, "model.eval()")
    expect_failure(checks.check_accuracy_under_shift, shift_one_move, "single move")
    # The graded test allows 1e-9: an accuracy rounded to float32 fails it, and the check says why.
    expect_failure(checks.check_accuracy_under_shift, shift_float32, "float32 rounding")
