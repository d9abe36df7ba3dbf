"""The convolution explorer of lesson 01: kernel, stride and padding in, feature map out."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from ..convolution import conv2d
from ..kernels import KERNELS
from ..plots import show_kernel, signed_limit

__all__ = ["ConvExplorer", "parse_kernel"]

LABEL_WIDTH = "64px"     # the same for every control, so that the labels line up
CONTROL_WIDTH = "320px"  # long enough to drag a slider
FIGSIZE, DPI = (9.0, 3.0), 100


def parse_kernel(text):
    """Parse rows of numbers (one row per line, spaces or commas) into a 2-D array.

    Raises ValueError with a message a student can act on.
    """
    rows = [line.replace(",", " ").split() for line in text.strip().splitlines() if line.strip()]
    if not rows:
        raise ValueError("the kernel is empty: type one row of numbers per line")
    if len({len(row) for row in rows}) != 1:
        raise ValueError(f"every row needs the same number of values; rows have "
                         f"{[len(row) for row in rows]}")
    try:
        return np.array([[float(value) for value in row] for row in rows])
    except ValueError as error:
        raise ValueError(f"could not read a number: {error}") from None


def _look(label):
    """Keyword arguments shared by every control: its label, the label width, the control width."""
    return {"description": label, "style": {"description_width": LABEL_WIDTH},
            "layout": widgets.Layout(width=CONTROL_WIDTH)}


def _format_kernel(kernel):
    return "\n".join(" ".join(f"{value:.4g}" for value in row) for row in kernel)


class ConvExplorer:
    """Pick or edit a kernel, a stride and a padding; the feature map updates.

    image: (H, W) array. After each change ``feature_map`` holds the
    (H_out, W_out) result and ``message`` the last error (or "").
    Display it by leaving it as the last expression of a cell.
    """

    def __init__(self, image, kernels=KERNELS, initial="sobel x"):
        self.image = np.asarray(image, dtype=float)
        self.kernels = dict(kernels)
        self.feature_map, self.message = None, ""
        self.preset = widgets.Dropdown(options=list(self.kernels), value=initial, **_look("kernel"))
        self.text = widgets.Textarea(value=_format_kernel(self.kernels[initial]), rows=5, **_look("weights"))
        self.stride = widgets.IntSlider(value=1, min=1, max=4, **_look("stride"))
        self.padding = widgets.IntSlider(value=0, min=0, max=4, **_look("padding"))
        self.output = widgets.Output()
        self.preset.observe(self._on_preset, names="value")
        for control in (self.text, self.stride, self.padding):
            control.observe(lambda change: self.update(), names="value")
        # Controls in two columns above the figure: together about 160 px high, so controls and
        # feature map (FIGSIZE at DPI) fit a 1000-px-high window at once.
        controls = widgets.HBox([widgets.VBox([self.preset, self.text]),
                                 widgets.VBox([self.stride, self.padding],
                                              layout=widgets.Layout(margin="0 0 0 24px"))])
        self.widget = widgets.VBox([controls, self.output])
        self.update()

    def _on_preset(self, change):
        self.text.value = _format_kernel(self.kernels[change["new"]])  # triggers update()

    def compute(self):
        """The feature map for the current settings: (H_out, W_out)."""
        kernel = parse_kernel(self.text.value)
        return conv2d(self.image[None, None], kernel[None, None],
                      stride=self.stride.value, padding=self.padding.value)[0, 0]

    def update(self):
        try:
            self.feature_map, self.message = self.compute(), ""
        except ValueError as error:
            self.feature_map, self.message = None, str(error)
        self.output.clear_output(wait=True)
        with self.output:
            self._draw()

    def _draw(self):
        if self.feature_map is None:
            print(f"Cannot compute the feature map: {self.message}")
            return
        fig, axes = plt.subplots(1, 3, figsize=FIGSIZE, dpi=DPI,
                                 gridspec_kw={"width_ratios": [3, 1.2, 3]})
        axes[0].imshow(self.image, cmap="gray")
        axes[0].set_title(f"input {self.image.shape[0]}x{self.image.shape[1]}")
        show_kernel(parse_kernel(self.text.value), ax=axes[1], title="kernel")
        limit = signed_limit(self.feature_map)
        axes[2].imshow(self.feature_map, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[2].set_title(f"feature map {self.feature_map.shape[0]}x{self.feature_map.shape[1]} "
                          f"(stride {self.stride.value}, padding {self.padding.value})")
        for ax in (axes[0], axes[2]):
            ax.axis("off")
        plt.show()

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
