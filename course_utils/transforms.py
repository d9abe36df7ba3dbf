"""Image transforms for measuring invariance: shifts, rotations, and a synthetic glyph.

Every transform takes a numpy array or a torch tensor of shape ``(..., H, W)``
(one image, a batch, a batch of channels) and returns the same type, shape and
dtype. Content that leaves the frame is lost; pixels that enter it are zero.

Directions follow the way an image is displayed (row 0 at the top):
``shift_image(x, dy, dx)`` moves the content ``dy`` rows *down* and ``dx``
columns to the *right*; ``rotate_image(x, degrees)`` turns it
*counter-clockwise* on screen about the image centre, like ``np.rot90``.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["shift_image", "pad_to_canvas", "rotate_image", "glyph_image"]


def _check_image(images, name="images"):
    if not isinstance(images, (np.ndarray, torch.Tensor)):
        raise ValueError(f"{name} must be a numpy array or a torch tensor, got {type(images).__name__}")
    if images.ndim < 2:
        raise ValueError(f"{name} must have shape (..., H, W), got {tuple(images.shape)}")


def shift_image(images, dy, dx):
    """Move the content by (dy, dx) pixels, filling with zeros (no wrap-around).

    images: (..., H, W) numpy array or torch tensor -> same type and shape.
    out[..., r + dy, c + dx] = images[..., r, c] where both are inside the frame.
    """
    _check_image(images)
    dy, dx = int(dy), int(dx)
    H, W = images.shape[-2:]
    out = np.zeros_like(images) if isinstance(images, np.ndarray) else torch.zeros_like(images)
    if abs(dy) >= H or abs(dx) >= W:
        return out  # everything left the frame
    out[..., max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        images[..., max(-dy, 0):H - max(dy, 0), max(-dx, 0):W - max(dx, 0)]
    return out


def pad_to_canvas(images, size):
    """Centre each image on a larger zero canvas, so that a shift moves it without cutting it.

    images: (..., H, W) numpy array or torch tensor -> (..., size, size), same type and dtype.
    The image's top-left pixel lands at ((size - H) // 2, (size - W) // 2). A 28×28 image on a
    36×36 canvas can then move by up to 4 pixels in any direction and keep every pixel.
    """
    _check_image(images)
    H, W = images.shape[-2:]
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < max(H, W):
        raise ValueError(f"size must be an integer at least as large as the images ({H}×{W}), "
                         f"got {size!r}")
    top, left = (size - H) // 2, (size - W) // 2
    shape = (*images.shape[:-2], size, size)
    out = np.zeros(shape, images.dtype) if isinstance(images, np.ndarray) \
        else images.new_zeros(shape)
    out[..., top:top + H, left:left + W] = images
    return out


def rotate_image(images, degrees):
    """Rotate counter-clockwise (as displayed) about the image centre, bilinear, zero fill.

    images: (..., H, W) numpy array or torch tensor -> same type, shape and dtype.
    Uses ``F.affine_grid`` + ``F.grid_sample`` (align_corners=False): output
    pixel p takes the bilinear interpolation of the input at R(-degrees) p,
    measured in pixels from the centre, so non-square images are not skewed.
    Rotations by multiples of 90 degrees of a square image (and of 180 degrees of
    any image) are done exactly, by moving pixels.
    """
    _check_image(images)
    is_numpy = isinstance(images, np.ndarray)
    tensor = torch.from_numpy(np.ascontiguousarray(images)) if is_numpy else images
    dtype = tensor.dtype if tensor.dtype in (torch.float32, torch.float64) else torch.float64
    shape = tensor.shape
    H, W = shape[-2:]
    quarter_turns, rest = divmod(float(degrees), 90.0)
    if rest == 0 and (H == W or quarter_turns % 2 == 0):  # exact, no interpolation
        out = torch.rot90(tensor, int(quarter_turns) % 4, dims=(-2, -1)).clone()
        return out.numpy() if is_numpy else out
    flat = tensor.reshape(-1, 1, H, W).to(dtype)
    angle = math.radians(float(degrees))
    cos, sin = math.cos(angle), math.sin(angle)
    # Sampling map in pixels from the centre (u right, v down): input = [[cos, -sin], [sin, cos]] output;
    # affine_grid works in coordinates normalised by W/2 and H/2, hence the aspect factors.
    theta = torch.tensor([[cos, -sin * H / W, 0.0], [sin * W / H, cos, 0.0]], dtype=dtype)
    grid = F.affine_grid(theta.expand(flat.shape[0], 2, 3), list(flat.shape), align_corners=False)
    out = F.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out = out.reshape(shape).to(tensor.dtype if tensor.is_floating_point() else dtype)
    return out.numpy() if is_numpy else out


def glyph_image(char="5", size=15, supersample=4):
    """A character drawn in bold DejaVu Sans, centred, anti-aliased: (size, size) floats in [0, 1].

    A synthetic pattern for filters that detect a shape (the notes' "5" detector).
    It is pure geometry (the glyph's outline, tested at supersample x supersample
    points per pixel), so it is the same on every machine.
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.path import Path
    from matplotlib.textpath import TextPath

    path = TextPath((0, 0), char, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    box = path.get_extents()
    if box.width <= 0 or box.height <= 0:
        raise ValueError(f"{char!r} has no visible outline")
    scale = (size - 2) / max(box.width, box.height)  # one pixel of margin on each side
    steps = (np.arange(size * supersample) + 0.5) / supersample  # sample points, in pixels
    cols, rows = np.meshgrid(steps, steps)
    x = (cols - size / 2) / scale + (box.x0 + box.x1) / 2
    y = (size / 2 - rows) / scale + (box.y0 + box.y1) / 2  # rows grow downwards, y upwards
    points = np.column_stack([x.ravel(), y.ravel()])
    inside = np.zeros(len(points), dtype=bool)
    for polygon in path.to_polygons():  # even-odd rule: holes (as in "8") stay empty
        inside ^= Path(polygon).contains_points(points)
    inside = inside.reshape(size, supersample, size, supersample)
    return inside.mean(axis=(1, 3))
