"""Static diagrams of lesson 01: a window sliding with padding and stride; a bank of filters.

* ``sliding_window_figure``: a k x k window at a few positions of a zero-padded n x n input,
  each panel beside the output grid with the value that window computes;
* ``filter_bank_figure``: a C-deep filter spanning a C x H x W volume, and F such filters
  giving F feature maps (an F x H_out x W_out output).

Every drawn element carries a ``gid`` ("pixel", "padding", "window", "output", "filter-f",
"map-f", ...) so that tests can count what a figure shows.
"""

import matplotlib.pyplot as plt
from matplotlib.colors import to_rgb
from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle

from ..geometry import output_size

__all__ = ["sliding_window_figure", "filter_bank_figure"]

PIXEL_COLOUR = "#cfe2f3"
PADDING_COLOUR = "#d9d9d9"
WINDOW_COLOUR = "#d62728"
DONE_COLOUR = "#f4cccc"
FILTER_COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


# --- a window sliding over a padded input -------------------------------------------------

def _cell(ax, x, y, colour, gid, text=None, hatch=None):
    """One unit square with its lower-left corner at (x, y)."""
    ax.add_patch(Rectangle((x, y), 1, 1, facecolor=colour, edgecolor="#555555", linewidth=0.8,
                           hatch=hatch, gid=gid))
    if text is not None:
        ax.text(x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=8, color="#555555")


def _draw_padded_input(ax, size, padding):
    """The padded input as a grid, row 0 at the top; padding cells grey, hatched and labelled 0."""
    padded = size + 2 * padding
    for r in range(padded):
        for c in range(padded):
            is_pad = not (padding <= r < padding + size and padding <= c < padding + size)
            _cell(ax, c, padded - 1 - r, PADDING_COLOUR if is_pad else PIXEL_COLOUR,
                  "padding" if is_pad else "pixel", text="0" if is_pad else None,
                  hatch="//" if is_pad else None)


def _draw_output(ax, n_out, left, bottom, current):
    """The output grid; cells computed before ``current`` (row-major) shaded, ``current`` red."""
    done = current[0] * n_out + current[1]
    for i in range(n_out):
        for j in range(n_out):
            index = i * n_out + j
            colour = WINDOW_COLOUR if index == done else DONE_COLOUR if index < done else "white"
            _cell(ax, left + j, bottom + n_out - 1 - i, colour, "output")


def _sliding_panel(ax, size, kernel_size, padding, stride, position):
    padded, n_out = size + 2 * padding, output_size(size, kernel_size, padding, stride)
    i, j = position
    _draw_padded_input(ax, size, padding)
    top = padded - i * stride  # the window's top edge, in drawing coordinates
    ax.add_patch(Rectangle((j * stride, top - kernel_size), kernel_size, kernel_size,
                           facecolor=WINDOW_COLOUR, alpha=0.25, edgecolor=WINDOW_COLOUR,
                           linewidth=2.5, gid="window"))
    left, bottom = padded + 1.5, (padded - n_out) / 2
    _draw_output(ax, n_out, left, bottom, position)
    ax.add_patch(FancyArrowPatch((j * stride + kernel_size, top - kernel_size / 2),
                                 (left + j + 0.5, bottom + n_out - i - 0.5), arrowstyle="->",
                                 mutation_scale=12, color=WINDOW_COLOUR, linewidth=1.2,
                                 connectionstyle="arc3,rad=-0.2"))
    ax.set_title(f"output ({i}, {j}): window at rows {i * stride}..{i * stride + kernel_size - 1}, "
                 f"columns {j * stride}..{j * stride + kernel_size - 1} of the padded input", fontsize=9)
    ax.text(padded / 2, -0.6, f"padded input {padded}×{padded}", ha="center", va="top", fontsize=9)
    ax.text(left + n_out / 2, bottom - 0.6, f"output {n_out}×{n_out}", ha="center", va="top", fontsize=9)
    ax.set_xlim(-0.3, left + n_out + 0.3)
    ax.set_ylim(-1.6, padded + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")


def sliding_window_figure(size=5, kernel_size=3, padding=1, stride=2, positions=None, ncols=2):
    """A kernel_size² window at a few positions on a size×size input padded by ``padding``.

    positions: output indices (i, j) to draw, one panel each; by default the first two of the
    top row, the first of the next row and the last one. Returns the figure.
    """
    n_out = output_size(size, kernel_size, padding, stride)  # a clear ValueError if it cannot fit
    if positions is None:
        positions = list(dict.fromkeys([(0, 0), (0, min(1, n_out - 1)), (min(1, n_out - 1), 0),
                                        (n_out - 1, n_out - 1)]))
    for i, j in positions:
        if not (0 <= i < n_out and 0 <= j < n_out):
            raise ValueError(f"position ({i}, {j}) is outside the {n_out}×{n_out} output: "
                             f"use indices from 0 to {n_out - 1}")
    ncols = min(ncols, len(positions))
    nrows = -(-len(positions) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.6 * ncols, 3.9 * nrows), squeeze=False)
    for ax, position in zip(axes.flat, positions):
        _sliding_panel(ax, size, kernel_size, padding, stride, position)
    for ax in axes.flat[len(positions):]:
        ax.remove()
    fig.suptitle(f"a {kernel_size}×{kernel_size} window, stride {stride}, on a {size}×{size} input "
                 f"with padding {padding} (grey, hatched: the zeros of the padding)", fontsize=11)
    fig.tight_layout()
    return fig


# --- filters over a volume ----------------------------------------------------------------

DEPTH_DX, DEPTH_DY = 0.45, 0.35  # how far one unit of depth moves a point on the page


def _box(ax, x, y, z, width, height, depth, colour, gid, alpha=1.0, grid=None, zorder=1):
    """A box drawn in oblique projection: the front face at depth z, the depth going up-right.

    (x, y) is the lower-left corner of the front face; grid=(rows, cols) draws cell lines on it.
    """
    def at(px, py, pz):
        return px + pz * DEPTH_DX, py + pz * DEPTH_DY

    x0, y0 = at(x, y, z)
    x1, y1 = at(x, y, z + depth)
    faces = [
        [(x0, y0), (x0 + width, y0), (x0 + width, y0 + height), (x0, y0 + height)],  # front
        [(x0, y0 + height), (x0 + width, y0 + height), (x1 + width, y1 + height), (x1, y1 + height)],  # top
        [(x0 + width, y0), (x1 + width, y1), (x1 + width, y1 + height), (x0 + width, y0 + height)],  # side
    ]
    shades = [1.0, 0.85, 0.7]
    for face, shade in zip(faces, shades):
        ax.add_patch(Polygon(face, closed=True, facecolor=colour, alpha=alpha * shade,
                             edgecolor="#333333", linewidth=0.8, gid=gid, zorder=zorder))
    if grid is not None:
        rows, cols = grid
        for r in range(1, rows):
            ax.plot([x0, x0 + width], [y0 + r * height / rows] * 2, color="#333333", linewidth=0.4,
                    zorder=zorder + 0.1)
        for c in range(1, cols):
            ax.plot([x0 + c * width / cols] * 2, [y0, y0 + height], color="#333333", linewidth=0.4,
                    zorder=zorder + 0.1)


def _pale(colour, amount=0.4):
    """``colour`` mixed with white: ``amount`` of the colour, the rest white (opaque)."""
    return tuple(amount * c + (1 - amount) for c in to_rgb(colour))


def filter_bank_figure(channels=3, size=7, kernel_size=3, n_filters=4, position=(1, 2)):
    """A channels×size×size input, n_filters filters of channels×k×k, and the n_filters maps.

    The first filter is drawn inside the input at output ``position`` (i, j), spanning all the
    channels; the cell it computes is marked in the first map. Returns the figure.
    """
    if not 1 <= n_filters <= len(FILTER_COLOURS):
        raise ValueError(f"n_filters must be between 1 and {len(FILTER_COLOURS)}, got {n_filters}")
    if channels < 1:
        raise ValueError(f"channels must be at least 1, got {channels}")
    n_out = output_size(size, kernel_size)  # a clear ValueError if the filter does not fit
    i, j = position
    if not (0 <= i < n_out and 0 <= j < n_out):
        raise ValueError(f"position ({i}, {j}) is outside the {n_out}×{n_out} output: "
                         f"use indices from 0 to {n_out - 1}")
    filters_x = size + channels * DEPTH_DX + 3.0
    spacing = kernel_size + 1.2
    top = size + channels * DEPTH_DY
    maps_x = filters_x + kernel_size + channels * DEPTH_DX + 3.0
    bottom = min(-2.2, top - n_filters * spacing - 0.6)
    right = maps_x + n_out + n_filters * 1.2 * DEPTH_DX + 0.5
    fig, ax = plt.subplots(figsize=(10, 10 * (top + 0.8 - bottom) / (right + 0.5) + 0.6))

    # the input volume, channel 0 in front, and the first filter inside it at (i, j)
    _box(ax, 0, 0, 0, size, size, channels, PIXEL_COLOUR, "input", grid=(size, size))
    _box(ax, j, size - i - kernel_size, 0, kernel_size, kernel_size, channels,
         FILTER_COLOURS[0], "window", alpha=0.45, zorder=5)
    ax.text(size / 2, -0.8, f"input  C×H×W = {channels}×{size}×{size}", ha="center", va="top", fontsize=10)

    # the filters, one above the other; filter f produces map f
    filter_y = [top - (f + 1) * spacing + 1.2 for f in range(n_filters)]
    for f, y in enumerate(filter_y):
        _box(ax, filters_x, y, 0, kernel_size, kernel_size, channels,
             FILTER_COLOURS[f], f"filter-{f}", alpha=0.8, grid=(kernel_size, kernel_size))
        ax.text(filters_x - 0.3, y + kernel_size / 2, f"filter {f + 1}", ha="right", va="center", fontsize=9)
    ax.text(filters_x + kernel_size / 2, filter_y[-1] - 0.5,
            f"F = {n_filters} filters,\neach C×k×k = {channels}×{kernel_size}×{kernel_size}",
            ha="center", va="top", fontsize=10)

    # the output: one map per filter, stacked in depth like the input's channels
    for f in reversed(range(n_filters)):  # back to front, so the front map is drawn last
        _box(ax, maps_x, 0, f * 1.2, n_out, n_out, 0.25, _pale(FILTER_COLOURS[f]), f"map-{f}",
             grid=(n_out, n_out), zorder=10 + n_filters - f)
    ax.add_patch(Rectangle((maps_x + j, n_out - i - 1), 1, 1, facecolor=FILTER_COLOURS[0],
                           edgecolor="black", linewidth=1.5, gid="output", zorder=30))
    ax.text(maps_x + n_out / 2 + n_filters * 0.6 * DEPTH_DX, -0.8,
            f"output  F×H_out×W_out = {n_filters}×{n_out}×{n_out}\n(map f comes from filter f)",
            ha="center", va="top", fontsize=10)

    # window -> filter 1 (the dot product of the two) -> one output value
    arrow = {"arrowstyle": "->", "mutation_scale": 14, "color": FILTER_COLOURS[0], "linewidth": 1.5,
             "zorder": 40}
    ax.add_patch(FancyArrowPatch((j + kernel_size + channels * DEPTH_DX, size - i - kernel_size / 2),
                                 (filters_x - 1.6, filter_y[0] + kernel_size / 2), **arrow))
    filter_right = (filters_x + kernel_size + channels * DEPTH_DX, filter_y[0] + kernel_size / 2)
    ax.add_patch(FancyArrowPatch(filter_right, (maps_x + j + 0.5, n_out - i - 0.5),
                                 connectionstyle="arc3,rad=-0.15", **arrow))
    ax.set_title(f"each filter spans all {channels} input channels and slides over height and width only:\n"
                 f"window · filter 1 = one value of map 1; F filters give F maps", fontsize=11)
    ax.set_xlim(-0.5, right)
    ax.set_ylim(bottom, top + 0.8)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return fig
