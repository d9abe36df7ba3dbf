"""The receptive-field explorer of lesson 02: build a small stack, pick an output unit,
see the input pixels it depends on drawn on an image."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch.nn as nn
from matplotlib.patches import Rectangle

from ..receptive_field import path_counts, receptive_field

__all__ = ["ReceptiveFieldExplorer"]


class ReceptiveFieldExplorer:
    """Three conv layers with sliders for kernel, stride and dilation, and an output unit.

    image: (H, W) array. After each change ``rf`` holds the analytic ReceptiveField,
    ``counts`` the (H, W) number of paths from each pixel to the chosen unit, and
    ``message`` the last error (or "").
    """

    def __init__(self, image, n_layers=3):
        self.image = np.asarray(image, dtype=float)
        self.rf, self.counts, self.message = None, None, ""
        self.layers = [self._layer_controls(index) for index in range(n_layers)]
        self.row = widgets.IntSlider(value=0, min=0, max=0, description="unit row")
        self.col = widgets.IntSlider(value=0, min=0, max=0, description="unit col")
        self.output = widgets.Output()
        for control in [c for layer in self.layers for c in layer.values()] + [self.row, self.col]:
            control.observe(lambda change: self.update(), names="value")
        boxes = [widgets.HBox(list(layer.values())) for layer in self.layers]
        self.widget = widgets.VBox(boxes + [widgets.HBox([self.row, self.col]), self.output])
        self.update()

    @staticmethod
    def _layer_controls(index):
        style = {"description_width": "initial"}
        layout = widgets.Layout(width="230px")
        return {
            "kernel": widgets.IntSlider(value=3, min=1, max=7, description=f"layer {index + 1} kernel",
                                        style=style, layout=layout),
            "stride": widgets.IntSlider(value=1, min=1, max=3, description="stride", layout=layout),
            "dilation": widgets.IntSlider(value=1, min=1, max=3, description="dilation", layout=layout),
        }

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
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
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
