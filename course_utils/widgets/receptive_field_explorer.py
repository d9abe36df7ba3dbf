"""The receptive-field explorer of lesson 02: build a small stack, pick an output unit,
see the input pixels it depends on drawn on an image."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch.nn as nn
from matplotlib.patches import Rectangle

from ..receptive_field import path_counts, receptive_field

__all__ = ["ReceptiveFieldExplorer"]

SLIDER_LAYOUT = dict(width="300px")          # long enough to drag one step at a time
LABEL_STYLE = dict(description_width="70px")  # the same for every slider, so the tracks line up
FIGURE_INCHES, FIGURE_DPI = 4.6, 100          # a 460 x 460 px picture beside the controls


class ReceptiveFieldExplorer:
    """Three conv layers with sliders for kernel, stride and dilation, and an output unit.

    image: (H, W) array. After each change ``rf`` holds the analytic ReceptiveField,
    ``counts`` the (H, W) number of paths from each pixel to the chosen unit, and
    ``message`` the last error (or ""), ``figure`` the last picture drawn.
    The controls sit left of the picture: together under 500 px high, so a 1000-px-high window
    shows both at once.
    """

    def __init__(self, image, n_layers=3):
        self.image = np.asarray(image, dtype=float)
        self.rf, self.counts, self.message, self.figure = None, None, "", None
        self.layers = [self._layer_controls() for _ in range(n_layers)]
        self.row = _slider(0, 0, 0, "row")
        self.col = _slider(0, 0, 0, "column")
        self.output = widgets.Output()
        for control in self.sliders():
            control.observe(lambda change: self.update(), names="value")
        rows = []
        for index, layer in enumerate(self.layers):
            rows += [_heading(f"layer {index + 1}"), *layer.values()]
        rows += [_heading("output unit"), self.row, self.col]
        self.controls = widgets.VBox(rows)
        self.widget = widgets.HBox([self.controls, self.output])
        self.update()

    @staticmethod
    def _layer_controls():
        return {"kernel": _slider(3, 1, 7, "kernel"), "stride": _slider(1, 1, 3, "stride"),
                "dilation": _slider(1, 1, 3, "dilation")}

    def sliders(self):
        """Every slider, layers first, then the unit's row and column."""
        return [c for layer in self.layers for c in layer.values()] + [self.row, self.col]

    def stack(self):
        """The nn.Sequential that the sliders describe."""
        return nn.Sequential(*[
            nn.Conv2d(1, 1, layer["kernel"].value, stride=layer["stride"].value,
                      dilation=layer["dilation"].value) for layer in self.layers])

    def compute(self):
        stack = self.stack()
        rf = receptive_field(stack, input_size=self.image.shape)
        out_h, out_w = rf.layers[-1].output
        self.row.max, self.col.max = out_h - 1, out_w - 1  # may clamp the value (and re-enter update)
        return rf, path_counts(stack, self.image.shape, (self.row.value, self.col.value))

    def update(self):
        try:
            self.rf, self.counts = self.compute()
            self.message = ""
        except ValueError as error:
            self.rf, self.counts, self.message = None, None, str(error)
        self.output.clear_output(wait=True)
        with self.output:
            self._draw()

    def _draw(self):
        if self.rf is None:
            height, width = self.image.shape[:2]
            print(f"This stack does not fit the {height}x{width} image: {self.message}")
            return
        fig, ax = plt.subplots(figsize=(FIGURE_INCHES, FIGURE_INCHES), dpi=FIGURE_DPI)
        self.figure = fig
        ax.imshow(self.image, cmap="gray")
        reached = np.ma.masked_where(self.counts == 0, self.counts)
        ax.imshow(reached, cmap="autumn", alpha=0.55)
        (top, bottom), (left, right) = self.rf.region(self.row.value, self.col.value, clip=False)
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1,
                               fill=False, edgecolor="cyan", linewidth=2))
        ax.set_xlim(-0.5, self.image.shape[1] - 0.5)
        ax.set_ylim(self.image.shape[0] - 0.5, -0.5)
        ax.set_title(f"RF {self.rf.size[0]}x{self.rf.size[1]}, jump {self.rf.stride[0]}, "
                     f"{int((self.counts > 0).sum())} pixels reached", fontsize=10)
        ax.axis("off")
        plt.show()

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


def _slider(value, low, high, label):
    return widgets.IntSlider(value=value, min=low, max=high, description=label,
                             style=LABEL_STYLE, layout=widgets.Layout(**SLIDER_LAYOUT))


def _heading(text):
    return widgets.HTML(f"<b>{text}</b>", layout=widgets.Layout(height="20px", margin="4px 0 0 0"))
