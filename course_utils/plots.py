"""Small plotting helpers so that notebooks show images and feature maps in one line."""

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["show_images", "show_kernel", "signed_limit"]


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
