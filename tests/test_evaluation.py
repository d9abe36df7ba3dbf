"""course_utils.evaluation and the plots of lesson 05, against direct computations."""

import matplotlib
import numpy as np
import pytest
import torch

from course_utils.evaluation import (
    accuracy_under_shift,
    confusion_matrix,
    predict,
    shift_directions,
    shift_robustness,
)
from course_utils.models import LeNetVariant
from course_utils.plots import plot_histories, show_confusion
from course_utils.training import History
from course_utils.transforms import shift_image

matplotlib.use("Agg")


def test_confusion_matrix_counts_pairs():
    labels = np.array([0, 0, 1, 2, 2, 2])
    predictions = np.array([0, 1, 1, 2, 0, 2])
    matrix = confusion_matrix(predictions, labels, num_classes=3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert matrix.sum() == 6 and np.trace(matrix) == 4
    with pytest.raises(ValueError, match="differ in shape"):
        confusion_matrix(predictions[:-1], labels)


def test_predict_matches_argmax_and_keeps_training_mode():
    torch.manual_seed(0)
    model = LeNetVariant("relu", "max", batch_norm=True)
    images = torch.rand(50, 1, 28, 28)
    model.train()
    got = predict(model, images, batch_size=16)
    assert model.training
    with torch.no_grad():
        assert torch.equal(got, model.eval()(images).argmax(1))


def test_shift_directions():
    assert shift_directions(0) == [(0, 0)]
    moves = shift_directions(2)
    assert len(moves) == 8 and len(set(moves)) == 8
    assert all(max(abs(dy), abs(dx)) == 2 for dy, dx in moves)
    with pytest.raises(ValueError, match=">= 0"):
        shift_directions(-1)


def test_accuracy_under_shift_by_hand():
    torch.manual_seed(1)
    model = LeNetVariant().eval()
    images = torch.rand(40, 1, 28, 28)
    labels = predict(model, images)
    assert accuracy_under_shift(model, images, labels, 0) == 1.0
    with torch.no_grad():
        by_hand = np.mean([(model(shift_image(images, dy, dx)).argmax(1) == labels).float().mean().item()
                           for dy, dx in shift_directions(3)])
    assert accuracy_under_shift(model, images, labels, 3) == pytest.approx(by_hand)
    curve = shift_robustness(model, images, labels, max_shift=2)
    assert curve.shape == (3,) and curve[0] == 1.0


def test_plots_draw_what_they_are_given():
    history = History()
    for epoch in (1, 2):
        history.append(epoch=epoch, train_loss=1.0 / epoch, train_accuracy=0.5, val_loss=1.0,
                       val_accuracy=0.6 + 0.1 * epoch, seconds=1.0, lr=0.1)
    fig = plot_histories({"a": history, "b": history}, metrics=("train_loss", "val_accuracy"))
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) == 2
    assert list(fig.axes[1].lines[0].get_ydata()) == pytest.approx([0.7, 0.8])
    fig = show_confusion(np.array([[3, 1], [0, 4]]), ["x", "y"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["100", "25", "75"]
