"""Diagrams of im2col (forward: patches become columns, one matrix product) and col2im (backward:
each column of gradients is added back onto its patch, so overlapping patches sum).

A single-channel H x H input with its pixels numbered 0 .. H*H - 1 row by row; every entry of
the drawn matrices shows the number of the pixel it copies (im2col) or is added to (col2im).
The numbers come from :func:`patch_columns` and :func:`overlap_counts`, which the tests hold
against ``course_utils.convolution.im2col`` and ``course_utils.numpy_cnn.conv2d_backward``.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, Rectangle

from ..geometry import output_size

__all__ = ["patch_columns", "overlap_counts", "draw_im2col", "draw_col2im"]

_MAX_PATCHES = 10  # one colour of matplotlib's tab10 per patch


def _check(input_size, kernel_size, stride):
    for name, value in [("input_size", input_size), ("kernel_size", kernel_size), ("stride", stride)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if kernel_size > input_size:
        raise ValueError(f"kernel_size {kernel_size} does not fit into the input "
                         f"({input_size} x {input_size})")
    side = output_size(input_size, kernel_size, 0, stride)
    if side * side > _MAX_PATCHES:
        raise ValueError(f"{side * side} patches is too many to draw (at most {_MAX_PATCHES}): "
                         "use a smaller input, a larger kernel or a larger stride")
    return side


def patch_columns(input_size=4, kernel_size=3, stride=1):
    """The im2col matrix of the pixel numbers: (k*k, n_patches) ints.

    Entry [a*k + b, i*side + j] is the number (row-major, 0 .. H*H - 1) of the input pixel
    (s*i + a, s*j + b) that patch (i, j) puts in that row; side = (H - k) // s + 1, no padding.
    """
    side = _check(input_size, kernel_size, stride)
    numbers = np.arange(input_size * input_size).reshape(input_size, input_size)
    columns = [numbers[i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size].ravel()
               for i in range(side) for j in range(side)]
    return np.stack(columns, axis=1)


def overlap_counts(input_size=4, kernel_size=3, stride=1):
    """(H, H) ints: how many patches contain each pixel, i.e. how many gradient terms col2im adds there."""
    columns = patch_columns(input_size, kernel_size, stride)
    return np.bincount(columns.ravel(), minlength=input_size * input_size).reshape(input_size, input_size)


# --- Drawing ----------------------------------------------------------------------------------------

def _colors(count):
    return [plt.get_cmap("tab10")(index) for index in range(count)]


def _cells(ax, x0, y0, labels, facecolors, fontsize=10):
    """A grid of labelled unit cells with its top-left corner at (x0, y0); y grows downwards."""
    rows, cols = len(labels), len(labels[0])
    for r in range(rows):
        for c in range(cols):
            ax.add_patch(Rectangle((x0 + c, y0 + r), 1, 1, facecolor=facecolors[r][c], edgecolor="0.3",
                                   lw=0.8))
            ax.text(x0 + c + 0.5, y0 + r + 0.5, labels[r][c], ha="center", va="center", fontsize=fontsize)


def _outline_patches(ax, x0, y0, input_size, kernel_size, stride, colors):
    """Each patch's outline on the input grid, slightly inset so that overlapping outlines show."""
    side = output_size(input_size, kernel_size, 0, stride)
    for index, color in enumerate(colors):
        i, j = divmod(index, side)
        inset = 0.06 + 0.07 * index
        ax.add_patch(Rectangle((x0 + j * stride + inset, y0 + i * stride + inset), kernel_size - 2 * inset,
                               kernel_size - 2 * inset, fill=False, edgecolor=color, lw=2.5))


def _arrow(ax, start, end, label):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=18, lw=1.5, color="0.2"))
    ax.text((start[0] + end[0]) / 2, start[1] - 0.35, label, ha="center", va="bottom", fontsize=10)


def _column_colors(columns, colors, light=False):
    alpha = 0.25 if light else 0.45
    return [[(*colors[c][:3], alpha) for c in range(columns.shape[1])] for _ in range(columns.shape[0])]


def _finish(ax, width, height, title):
    """Axis limits around the drawing, and a figure size that fits it (0.45 inch per cell)."""
    ax.set_xlim(-0.5, width + 0.5)
    ax.set_ylim(height + 0.5, -0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=12)
    ax.figure.set_size_inches(0.45 * (width + 1), 0.45 * (height + 1.3) + 0.4)
    ax.figure.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9)


def draw_im2col(input_size=4, kernel_size=3, stride=1):
    """im2col and the GEMM: the input with its patches outlined, the matrix whose columns are
    the patches, and w (F, k*k) @ cols (k*k, n) = out (F, n), reshaped to the output map.
    Returns the figure."""
    columns = patch_columns(input_size, kernel_size, stride)
    side = output_size(input_size, kernel_size, 0, stride)
    kk, n = columns.shape
    colors = _colors(n)
    fig, ax = plt.subplots()
    white = [["white"] * input_size for _ in range(input_size)]
    _cells(ax, 0, 0, np.arange(input_size ** 2).reshape(input_size, input_size).astype(str).tolist(), white)
    _outline_patches(ax, 0, 0, input_size, kernel_size, stride, colors)
    ax.text(input_size / 2, input_size + 0.7, f"input {input_size}×{input_size}\n(pixel numbers)",
            ha="center", va="top", fontsize=10)
    x = input_size + 0.6
    _arrow(ax, (x, input_size / 2), (x + 1.6, input_size / 2), "im2col")
    x += 2.2
    _cells(ax, x, kk / 2 - 0.5, [[f"w{r}" for r in range(kk)]], [["0.85"] * kk], fontsize=9)
    ax.text(x + kk / 2, kk / 2 + 0.9, f"one filter, flattened (1 × {kk})", ha="center", va="top", fontsize=10)
    x += kk + 0.2
    ax.text(x + 0.4, kk / 2, "@", ha="center", va="center", fontsize=16)
    x += 1.0
    _cells(ax, x, 0, columns.astype(str).tolist(), _column_colors(columns, colors))
    ax.text(x + n / 2, kk + 0.3, f"cols ({kk} × {n}):\ncolumn = one patch", ha="center", va="top",
            fontsize=10)
    x += n + 0.6
    ax.text(x + 0.3, kk / 2, "=", ha="center", va="center", fontsize=18)
    x += 1.0
    _cells(ax, x, kk / 2 - 0.5, [[f"o{c}" for c in range(n)]], [[(*color[:3], 0.45) for color in colors]])
    ax.text(x + n / 2, kk / 2 + 0.9, f"out (1 × {n}) per filter;\nall F filters: w (F × {kk}) @ cols",
            ha="center", va="top", fontsize=9)
    x += n + 0.4
    _arrow(ax, (x, kk / 2), (x + 1.6, kk / 2), "reshape")
    x += 2.2
    labels = [[f"o{i * side + j}" for j in range(side)] for i in range(side)]
    _cells(ax, x, kk / 2 - side / 2, labels, [[(*colors[i * side + j][:3], 0.45) for j in range(side)]
                                               for i in range(side)])
    ax.text(x + side / 2, kk / 2 + side / 2 + 0.3, f"output map\n{side}×{side}", ha="center", va="top",
            fontsize=10)
    _finish(ax, x + side, kk + 2.2, f"im2col: the convolution as one matrix product "
                                     f"(kernel {kernel_size}×{kernel_size}, stride {stride})")
    return fig


def draw_col2im(input_size=4, kernel_size=3, stride=1):
    """The backward pass: dcols = w.T @ dout has one column per patch (the gradient of every
    entry im2col copied); col2im adds each column back onto its patch, so a pixel receives one
    term per patch that contains it. Returns the figure."""
    columns = patch_columns(input_size, kernel_size, stride)
    counts = overlap_counts(input_size, kernel_size, stride)
    kk, n = columns.shape
    colors = _colors(n)
    fig, ax = plt.subplots()
    _cells(ax, 0, 0, columns.astype(str).tolist(), _column_colors(columns, colors))
    ax.text(n / 2, kk + 0.3, f"dcols = wᵀ @ dout ({kk} × {n}):\nentry labelled with its pixel",
            ha="center", va="top", fontsize=10)
    x = n + 0.6
    _arrow(ax, (x, kk / 2), (x + 2.2, kk / 2), "col2im")
    x += 2.8
    top = kk / 2 - input_size / 2
    shades = plt.get_cmap("Greys")
    fills = [[shades(0.05 + 0.4 * count / counts.max()) for count in row] for row in counts]
    labels = [[f"{r * input_size + c}: {count}" for c, count in enumerate(row)]
              for r, row in enumerate(counts)]
    _cells(ax, x, top, labels, fills, fontsize=9)
    _outline_patches(ax, x, top, input_size, kernel_size, stride, colors)
    pixel = int(np.argmax(counts))
    ax.text(x + input_size / 2, top + input_size + 0.3,
            "dx: a pixel gets one term\nper patch that contains it\n"
            f"({pixel}: {counts.flat[pixel]} = pixel {pixel}, {counts.flat[pixel]} terms)",
            ha="center", va="top", fontsize=10)
    _finish(ax, x + input_size, kk + 2.2, "col2im: overlapping patch gradients add up")
    return fig
