"""The pooling explorer of lesson 03: shift or rotate an input, watch what pooling keeps.

The pipeline is a fixed conv layer + ReLU, then
* spatial pooling (max or average, window k, stride k) of every feature map, and
* cross-channel pooling (the max over groups of ``group_size`` consecutive maps),
and the explorer reports how much each stage changed relative to the untransformed input.
"""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from ..convolution import conv2d
from ..pooling import avg_pool2d, cross_channel_max, global_max_pool, max_pool2d
from ..transforms import rotate_image, shift_image

__all__ = ["PoolingExplorer", "relative_change"]

LABEL_WIDTH = "80px"  # the description width of every control
SLIDER_WIDTH = "420px"  # label + a track long enough to drag one step at a time
FIGURE_DPI = 100
PANEL_INCHES = 1.15  # width of one map in the figure; the figure is 3 panels high

STAGES = ("input", "feature maps", "spatially pooled", "global max per map",
          "cross-channel pooled", "cross-channel + spatially pooled", "cross-channel + global max")


def relative_change(new, old):
    """||new - old|| / ||old|| over the whole array (0 when both are 0)."""
    new, old = np.asarray(new, dtype=float), np.asarray(old, dtype=float)
    if new.shape != old.shape:
        raise ValueError(f"shapes differ: {new.shape} and {old.shape}")
    norm = np.linalg.norm(old)
    return float(np.linalg.norm(new - old) / norm) if norm else float(np.linalg.norm(new) > 0)


class PoolingExplorer:
    """Shift (dy, dx) and rotate an image; see feature maps before and after pooling.

    image: (H, W); filters: (K, kh, kw) with odd kh, kw (applied with "same" zero
    padding, then ReLU); group_size: channels per cross-channel group (default K,
    i.e. one max over all the maps); windows: the spatial window sizes offered.

    After each change these attributes hold the current state:
    ``transformed`` (H, W), ``feature_maps`` (K, H, W), ``spatially_pooled``
    (K, H // k, W // k), ``cross_pooled`` (K // group_size, H, W), ``both_pooled``
    (K // group_size, H // k, W // k), and ``changes``: a dict from each stage name
    in ``STAGES`` to ||stage(transformed) - stage(image)|| / ||stage(image)||.

    Rotating the input rotates every map as well (convolution is equivariant), so a
    cross-channel pooled *map* changes under rotation; what is nearly invariant is a
    value that no longer depends on position: the cross-channel max followed by a
    global max (or the cross-channel map at the centre of rotation).
    Display it by leaving it as the last expression of a cell. Layout: the controls in two
    columns, three rows high, with one label width; below them the relative changes and a
    figure of 3 rows of maps (``figure``, at most about 400 pixels high), so that controls and
    output are visible together in a window 1000 pixels high.
    """

    def __init__(self, image, filters, group_size=None, windows=(1, 2, 3, 4, 7), max_shift=6,
                 angle_step=5):
        self.image = np.asarray(image, dtype=float)
        self.filters = np.asarray(filters, dtype=float)
        if self.image.ndim != 2:
            raise ValueError(f"image must have shape (H, W), got {self.image.shape}")
        if self.filters.ndim != 3 or self.filters.shape[1] % 2 == 0 or self.filters.shape[2] % 2 == 0:
            raise ValueError(f"filters must have shape (K, kh, kw) with odd kh and kw, "
                             f"got {self.filters.shape}")
        self.group_size = len(self.filters) if group_size is None else group_size
        windows = [k for k in windows if k <= min(self.image.shape)]
        style = {"description_width": LABEL_WIDTH}  # one label width: the controls line up
        slider = dict(style=style, layout=widgets.Layout(width=SLIDER_WIDTH), continuous_update=False)
        shift = dict(value=0, min=-max_shift, max=max_shift, **slider)
        self.dy = widgets.IntSlider(description="shift down", **shift)
        self.dx = widgets.IntSlider(description="shift right", **shift)
        self.angle = widgets.IntSlider(value=0, min=0, max=360 - angle_step, step=angle_step,
                                       description="rotate (°)", **slider)
        self.window = widgets.Dropdown(options=windows, value=2 if 2 in windows else windows[0],
                                       description="window k", style=style,
                                       layout=widgets.Layout(width="200px"))
        self.mode = widgets.ToggleButtons(options=["max", "avg"], value="max", description="pooling",
                                          style={**style, "button_width": "60px"})
        self.output = widgets.Output()
        for control in (self.dy, self.dx, self.angle, self.window, self.mode):
            control.observe(lambda change: self.update(), names="value")
        # Two columns of controls (3 rows high) above the output, so that controls, numbers and
        # figure fit together in a window 1000 pixels high.
        controls = widgets.HBox([widgets.VBox([self.dy, self.dx, self.angle]),
                                 widgets.VBox([self.window, self.mode])])
        self.widget = widgets.VBox([controls, self.output])
        self.update()

    def transform(self, image):
        """Rotate by the angle slider, then shift by (dy, dx): (H, W) -> (H, W)."""
        return shift_image(rotate_image(image, self.angle.value), self.dy.value, self.dx.value)

    def stages(self, image):
        """Every stage of the pipeline for one (H, W) image, keyed by the names in ``STAGES``."""
        kh, kw = self.filters.shape[1:]
        maps = conv2d(image[None, None], self.filters[:, None], padding=(kh // 2, kw // 2))
        maps = np.maximum(maps, 0.0)  # (1, K, H, W)
        pool = max_pool2d if self.mode.value == "max" else avg_pool2d
        cross = cross_channel_max(maps, self.group_size)
        return {"input": image, "feature maps": maps[0],
                "spatially pooled": pool(maps, self.window.value)[0],
                "global max per map": global_max_pool(maps)[0],
                "cross-channel pooled": cross[0],
                "cross-channel + spatially pooled": pool(cross, self.window.value)[0],
                "cross-channel + global max": global_max_pool(cross)[0]}

    def update(self):
        self.reference = self.stages(self.image)
        current = self.stages(self.transform(self.image))
        self.transformed = current["input"]
        self.feature_maps = current["feature maps"]
        self.spatially_pooled = current["spatially pooled"]
        self.cross_pooled = current["cross-channel pooled"]
        self.both_pooled = current["cross-channel + spatially pooled"]
        self.changes = {name: relative_change(current[name], self.reference[name]) for name in STAGES}
        self.output.clear_output(wait=True)
        with self.output:
            self._draw()

    def summary(self):
        """The relative changes as text, one stage per line."""
        return "\n".join(f"{name:>32}: {value:6.3f}" for name, value in self.changes.items())

    def _draw(self):
        print(f"relative change vs the untransformed input "
              f"(shift {self.dy.value}, {self.dx.value}; rotation {self.angle.value}°; "
              f"{self.mode.value} pooling, window {self.window.value}):")
        print(self.summary())
        K = len(self.filters)
        columns = max(K, 3)
        fig, axes = plt.subplots(3, columns, figsize=(PANEL_INCHES * columns, 3.4 * PANEL_INCHES),
                                 dpi=FIGURE_DPI, squeeze=False)
        self.figure = fig
        for ax in axes.flat:
            ax.axis("off")
        top = max(self.reference["feature maps"].max(), 1e-12)  # fixed scale: changes stay visible
        panels = [(self.transformed, "input", None),
                  (self.cross_pooled.max(axis=0), "cross-channel max", top),
                  (self.both_pooled.max(axis=0), f"cross + {self.mode.value} pool", top)]
        for ax, (image, title, vmax) in zip(axes[0], panels):
            ax.imshow(image, cmap="gray" if vmax is None else "magma", vmin=0, vmax=vmax)
            ax.set_title(title, fontsize=8)
        for c in range(K):
            axes[1, c].imshow(self.feature_maps[c], cmap="magma", vmin=0, vmax=top)
            axes[1, c].set_title(f"map {c}", fontsize=8)
            axes[2, c].imshow(self.spatially_pooled[c], cmap="magma", vmin=0, vmax=top)
            axes[2, c].set_title(f"map {c}, pooled", fontsize=8)
        fig.tight_layout(pad=0.5, h_pad=0.6)
        plt.show()

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
