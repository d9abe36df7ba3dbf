"""Small plotting helpers so that notebooks show images and feature maps in one line."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

__all__ = ["show_images", "show_kernel", "signed_limit", "plot_histories", "show_confusion"]


def _to_2d(image):
    image = np.asarray(image, dtype=float)
    if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3):
        image = np.moveaxis(image, 0, -1)  # (C, H, W) -> (H, W, C) for imshow
    return image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image


def show_images(images, titles=None, ncols=None, signed=False, size=2.6, suptitle=None):
    """Show a row (or grid) of images; returns the figure.

    images: sequence of (H, W), (H, W, 3) or (C, H, W) arrays.
    signed: draw with a diverging colormap centred on 0 (for feature maps,
    whose negative and positive responses mean different things).
    """
    images = [_to_2d(image) for image in images]
    ncols = ncols or len(images)
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for index, (ax, image) in enumerate(zip(axes.flat, images)):
        if signed:
            limit = signed_limit(image)
            shown = ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        else:
            ax.imshow(image, cmap=None if image.ndim == 3 else "gray")
        if titles is not None:
            ax.set_title(titles[index], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def signed_limit(image, percentile=99.5):
    """A symmetric colour limit that a few extreme pixels cannot wash out."""
    return float(np.percentile(np.abs(image), percentile)) or float(np.abs(image).max()) or 1.0


def _weight_label(value):
    if value == 0:
        return "0"
    return "≈0" if abs(value) < 5e-4 else f"{value:.2g}"


def show_kernel(kernel, ax=None, title=None):
    """Draw a small 2-D kernel as a grid with its weights written in the cells."""
    kernel = np.asarray(kernel, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * kernel.shape[1] + 1, 0.6 * kernel.shape[0] + 0.6))
    limit = np.abs(kernel).max() or 1.0
    ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
    fontsize = 9 if max(kernel.shape) <= 5 else 6
    for (i, j), value in np.ndenumerate(kernel):
        colour = "white" if abs(value) > 0.6 * limit else "black"  # readable on dark cells
        ax.text(j, i, _weight_label(value), ha="center", va="center", fontsize=fontsize, color=colour)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_histories(histories, metrics=("train_loss", "val_accuracy"), axes=None):
    """Learning curves of several runs side by side, one panel per metric; returns the figure.

    histories: {label: History} (from ``training.fit``); metrics: History fields per epoch.
    """
    if axes is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.3))
    axes = np.atleast_1d(axes)
    for ax, metric in zip(axes, metrics):
        for label, history in histories.items():
            ax.plot(history.epoch, getattr(history, metric), marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(metric.replace("_", " "))
        ax.grid(alpha=0.3)
    axes[0].legend()
    axes[0].figure.tight_layout()
    return axes[0].figure


def show_confusion(matrix, class_names, ax=None, title=None):
    """Draw a confusion matrix (rows: true class, columns: predicted) with per-row percentages."""
    matrix = np.asarray(matrix, dtype=float)
    percent = 100 * matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 5.6))
    ax.imshow(percent, cmap="Blues", vmin=0, vmax=100)
    for (row, col), value in np.ndenumerate(percent):
        if value >= 0.5:
            ax.text(col, row, f"{value:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if value > 60 else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(class_names)), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true class")
    ax.set_title(title or "confusion matrix (% of each true class)")
    ax.figure.tight_layout()
    return ax.figure
