"""Concepts that can be computed on Fashion-MNIST, as pixel masks, for dissection-style scoring.

Network Dissection (Bau et al. 2017) scores units against concepts labelled by hand (Broden:
objects, parts, textures, colours). Fashion-MNIST has no such labels, but grey garments on a
black background let some be computed: the garment itself, its parts by region (upper and
lower half, the sleeve regions), bright areas, edges and textured (printed, knitted) areas.
"""

import torch
import torch.nn.functional as F

from .arguments import non_negative_number
from .inputs import check_images

__all__ = ["concept_masks", "CLASS_GROUPS"]

# Fashion-MNIST classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal,
# 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.
CLASS_GROUPS = {"footwear": (5, 7, 9), "upper body": (0, 2, 4, 6), "long sleeves": (2, 4, 6),
                "full length": (1, 3), "bag": (8,)}


def _local_std(intensity, radius=1):
    """Standard deviation of each pixel's (2r+1)² neighbourhood: N×H×W."""
    size = 2 * radius + 1
    x = intensity[:, None]
    mean = F.avg_pool2d(x, size, stride=1, padding=radius, count_include_pad=False)
    mean_square = F.avg_pool2d(x * x, size, stride=1, padding=radius, count_include_pad=False)
    return (mean_square - mean * mean).clamp(min=0).sqrt()[:, 0]


def _gradient_magnitude(intensity):
    """Sobel gradient magnitude of N×H×W intensities (borders replicated): N×H×W."""
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                         dtype=intensity.dtype, device=intensity.device) / 4
    padded = F.pad(intensity[:, None], (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(padded, sobel.view(1, 1, 3, 3))
    gy = F.conv2d(padded, sobel.t().reshape(1, 1, 3, 3))
    return (gx * gx + gy * gy).sqrt()[:, 0]


def _regions(foreground):
    """Masks of the garment's parts from its bounding box, each N×H×W bool (within the garment)."""
    count, height, width = foreground.shape
    rows = torch.arange(height, device=foreground.device).view(1, -1, 1).float()
    cols = torch.arange(width, device=foreground.device).view(1, 1, -1).float()
    any_row, any_col = foreground.any(dim=2).float(), foreground.any(dim=1).float()
    # First and last occupied row/column (an empty image gets the whole frame).
    top = torch.where(any_row.any(1), any_row.argmax(1), 0).float().view(-1, 1, 1)
    bottom = torch.where(any_row.any(1), height - 1 - any_row.flip(1).argmax(1), height - 1).float()
    left = torch.where(any_col.any(1), any_col.argmax(1), 0).float().view(-1, 1, 1)
    right = torch.where(any_col.any(1), width - 1 - any_col.flip(1).argmax(1), width - 1).float()
    bottom, right = bottom.view(-1, 1, 1), right.view(-1, 1, 1)
    middle_row = (top + bottom) / 2
    quarter = (right - left + 1) / 4
    upper, lower = rows <= middle_row, rows > middle_row
    return {
        "upper half": foreground & upper,
        "lower half": foreground & lower,
        "left sleeve region": foreground & upper & (cols < left + quarter),
        "right sleeve region": foreground & upper & (cols > right - quarter),
    }


def concept_masks(images, *, foreground=0.05, bright=0.7, edge=0.25, texture=0.1):
    """Concept masks of each image: a dict name -> N×H×W bool tensor (on the images' device).

    Computed on the intensity (mean over channels) of images N×C×H×W in [0, 1]:

    - "garment": intensity > ``foreground``; "background": the rest.
    - "upper half", "lower half": the garment above / below the middle row of its bounding box.
    - "left sleeve region", "right sleeve region": the garment in the upper half and the outer
      quarter of the bounding box's width (the image's left and right, not the wearer's).
    - "bright": intensity > ``bright``.
    - "edge": Sobel gradient magnitude (kernels divided by 4, so a 0→1 step gives 1) > ``edge``.
    - "texture": garment pixels whose 3×3 neighbourhood has a standard deviation > ``texture``
      and which are not near the garment's outline (prints, knits, folds).
    """
    check_images(images)
    foreground, bright = non_negative_number(foreground, "foreground"), non_negative_number(bright, "bright")
    edge, texture = non_negative_number(edge, "edge"), non_negative_number(texture, "texture")
    intensity = images.detach().float().mean(dim=1)
    garment = intensity > foreground
    inside = -F.max_pool2d(-garment[:, None].float(), 5, stride=1, padding=2)[:, 0] > 0  # eroded by 2
    return {
        "garment": garment,
        "background": ~garment,
        **_regions(garment),
        "bright": intensity > bright,
        "edge": _gradient_magnitude(intensity) > edge,
        "texture": inside & (_local_std(intensity) > texture),
    }
