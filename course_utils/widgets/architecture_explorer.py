"""The architecture explorer of lesson 07: pick a Fashion-MNIST-size network, a depth and a width;
see where its parameters and multiply-accumulates sit, layer by layer, and how far it sees.

Receptive field of a ResNet: along the main path (the stem conv, then conv1 and conv2 of every
block) each 3×3 conv adds 2·jump pixels and a stride-2 conv doubles the jump, so depth 6n + 2
reaches 28n - 3 pixels (25 for depth 8, 81 for depth 20). Shortcuts do not enlarge the maximum
receptive field: a path through a shortcut skips convs, so it sees fewer pixels; shortcuts only
add shorter paths, and a ResNet and its plain twin have the same maximum receptive field.
"""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
from matplotlib.ticker import MaxNLocator

from ..architectures import build, count_parameters, format_table, layer_table
from ..architectures.resnet_small import ResNetSmall
from ..architectures.validation import one_of
from ..receptive_field import receptive_field

__all__ = ["ArchitectureExplorer", "FAMILIES", "DEPTHS", "build_small",
           "main_path_receptive_fields"]

RESIDUAL_FAMILIES = {"ResNet": "A", "plain": "none"}  # family -> shortcut of ResNetSmall
FIXED_MODELS = ("alexnet_small", "vgg_small", "googlenet_small")
FAMILIES = (*RESIDUAL_FAMILIES, *FIXED_MODELS)
DEPTHS = (8, 14, 20, 26, 32, 44, 56, 110)  # 6n + 2; 20..56 and 110 are the paper's CIFAR depths
PAPER_WIDTH = 16  # first-stage filters of the paper's CIFAR ResNets
INPUT_SHAPE = (1, 28, 28)
WEIGHTED = (nn.Conv2d, nn.Linear)

LABEL_WIDTH = "60px"      # the same for every control, so that the tracks line up
CONTROL_WIDTH = "300px"   # long enough to drag a slider one step at a time
FIGSIZE, FIGURE_DPI = (6.6, 4.4), 100  # 660 × 440 px beside the 300-px controls
SUMMARY_HEIGHT = "48px"   # two lines of text
TABLE_HEIGHT = "260px"    # about 15 lines of the table visible, the rest scrolls
TABLE_ROWS = 40           # rows of the table printed; the totals are in the summary


def build_small(family, depth=20, width=PAPER_WIDTH):
    """A Fashion-MNIST-size model of one of ``FAMILIES``, built on the meta device (no weights).

    "ResNet" and "plain" take ``depth`` (6n + 2) and ``width`` (first-stage filters); the fixed
    models (alexnet_small, vgg_small, googlenet_small) ignore both. Raises ValueError for an
    unknown family, a depth that is not 6n + 2 or a width that is not a positive integer.
    """
    one_of("family", family, FAMILIES)
    with torch.device("meta"):
        if family in RESIDUAL_FAMILIES:
            return ResNetSmall(depth, shortcut=RESIDUAL_FAMILIES[family], width=width)
        return build(family)


def main_path(model):
    """The chain of layers that the largest receptive field runs through, as an nn.Sequential,
    or None when the model branches (GoogLeNet's Inception modules)."""
    if isinstance(model, ResNetSmall):
        blocks = [block for stage in (model.stage1, model.stage2, model.stage3) for block in stage]
        return nn.Sequential(model.conv1, *[conv for block in blocks for conv in (block.conv1, block.conv2)])
    features = getattr(model, "features", None)
    return features if isinstance(features, nn.Sequential) else None


def main_path_receptive_fields(model, input_size=INPUT_SHAPE[1:]):
    """Receptive field size (pixels, square kernels) after each conv of the main path: {layer name: size}.

    Layer names are those of ``model.named_modules()`` (and of :func:`layer_table` rows), in
    the order the convs run. Empty when the model has no single chain of layers (GoogLeNet).
    For a ResNet the main path skips the shortcuts: they do not enlarge the maximum receptive
    field, they add shorter paths to the same pixels.
    """
    path = main_path(model)
    if path is None:
        return {}
    try:
        geometry = receptive_field(path, input_size)
    except ValueError:  # a layer receptive_field cannot follow: a branching module
        return {}
    spatial = [m for m in path.modules() if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
    names = {id(module): name for name, module in model.named_modules()}
    return {names[id(layer)]: row.size[0] for layer, row in zip(spatial, geometry.layers)
            if isinstance(layer, nn.Conv2d)}


class ArchitectureExplorer:
    """Choose a family, a depth and a width; see parameters, MACs and receptive field per layer.

    The family dropdown offers ``FAMILIES``: "ResNet" (``resnet_small``, option A shortcuts),
    "plain" (``plain_small``, the same layers without shortcuts) and three fixed models, for
    which the depth and width sliders are disabled. ``depths``: the depths offered (6n + 2);
    ``widths``: (min, max, step) of the first-stage filters. Models are built on the meta
    device, so even depth 110 at width 64 (27 M parameters) costs no memory.

    After each change these attributes hold the current state:
    ``model_name`` ("resnet20", "plain56-w32" for width 32, "vgg_small"), ``rows`` (the
    :class:`LayerRow` list of :func:`layer_table`, every layer), ``receptive_fields`` ({conv
    name: receptive field in pixels} along the main path), ``summary`` (dict: parameters, macs
    per 28×28 image, weighted_layers (conv + linear, as the ResNet paper counts depth:
    resnet20 has 20; for GoogLeNet the parallel branches count too), receptive_field (of the
    last conv, pixels; None for GoogLeNet, whose branches receptive_field cannot follow)),
    ``figure`` and ``message`` (what went wrong and what to do, or ""). A choice that cannot be
    built sets ``message`` and leaves everything else, the picture included, as it was.

    Layout: controls (3 rows) left of a summary line, a figure (660 × 440 px) and the top of
    the per-layer table in a scrollable box 260 px high: under 800 px high in all.
    Display it by leaving it as the last expression of a cell.
    """

    def __init__(self, family="ResNet", depth=20, width=PAPER_WIDTH, depths=DEPTHS, widths=(8, 64, 8)):
        self.model_name, self.rows, self.receptive_fields = None, [], {}
        self.summary, self.figure, self.message = {}, None, ""
        look = {"style": {"description_width": LABEL_WIDTH}, "layout": widgets.Layout(width=CONTROL_WIDTH)}
        self.family = widgets.Dropdown(options=FAMILIES, value=family, description="network", **look)
        self.depth = widgets.SelectionSlider(options=list(depths), value=depth, description="depth",
                                             continuous_update=False, **look)
        low, high, step = widths
        self.width = widgets.IntSlider(value=width, min=low, max=high, step=step, description="width",
                                       continuous_update=False, **look)
        self.caption = widgets.HTML(layout=widgets.Layout(height=SUMMARY_HEIGHT))
        self.output = widgets.Output()
        self.table = widgets.Output(layout=widgets.Layout(height=TABLE_HEIGHT, overflow="auto"))
        for control in (self.family, self.depth, self.width):
            control.observe(lambda change: self.update(), names="value")
        self.controls = widgets.VBox([self.family, self.depth, self.width])
        self.widget = widgets.HBox([self.controls, widgets.VBox([self.caption, self.output, self.table])])
        self.update()

    def update(self):
        family, depth, width = self.family.value, self.depth.value, self.width.value
        fixed = family not in RESIDUAL_FAMILIES
        self.depth.disabled = self.width.disabled = fixed
        try:
            model = build_small(family, depth, width)
        except ValueError as error:
            self.message = (f"Cannot build {family} with depth {depth} and width {width}: {error}. "
                            "Pick another depth or width; the picture still shows the last valid choice.")
            self.caption.value = f"<span style='color:#b00'>{self.message}</span>"
            return
        self.message = ""
        self.model_name = family if fixed else _residual_name(family, depth, width)
        self.rows = layer_table(model, INPUT_SHAPE)
        self.receptive_fields = main_path_receptive_fields(model)
        self.summary = {"parameters": count_parameters(model), "macs": sum(row.macs for row in self.rows),
                        "weighted_layers": sum(isinstance(m, WEIGHTED) for m in model.modules()),
                        "receptive_field": (list(self.receptive_fields.values()) or [None])[-1]}
        self.caption.value = self.summary_text()
        self.output.clear_output(wait=True)
        with self.output:
            self._draw(model)
        self.table.clear_output(wait=True)
        with self.table:
            print(self.table_text())

    def summary_text(self):
        """The summary as one line of text."""
        s = self.summary
        field = ("receptive field not computed (parallel branches)" if s["receptive_field"] is None
                 else f"receptive field of the last conv {s['receptive_field']} px (the image: 28 px)")
        return (f"{self.model_name}: {s['parameters']:,} parameters · {s['macs'] / 1e6:,.1f} M MACs per "
                f"28×28 image · {s['weighted_layers']} weighted layers · {field}")

    def table_text(self):
        """The first ``TABLE_ROWS`` rows with parameters of the per-layer table, as text."""
        rows = [row for row in self.rows if row.parameters]
        if len(rows) <= TABLE_ROWS:
            return format_table(rows)
        return (format_table(rows[:TABLE_ROWS], total=False)
                + f"\n… {len(rows) - TABLE_ROWS} more layers with parameters; the totals are above")

    def _draw(self, model):
        modules = dict(model.named_modules())
        weighted = [row for row in self.rows if isinstance(modules[row.name], WEIGHTED)]
        position = np.arange(1, len(weighted) + 1)
        colours = ["tab:blue" if row.type == "Conv2d" else "tab:orange" for row in weighted]
        if self.figure is not None:
            plt.close(self.figure)
        fig, (top, bottom) = plt.subplots(2, 1, figsize=FIGSIZE, dpi=FIGURE_DPI, sharex=True)
        self.figure = fig
        for ax, values, label in ((top, "parameters", "parameters"), (bottom, "macs", "MACs")):
            ax.bar(position, [getattr(row, values) for row in weighted], color=colours, width=0.8, alpha=0.6)
            ax.set_yscale("log")
            ax.set_ylabel(label)
        top.set_title(f"{self.model_name}: conv (blue) and linear (orange) layers", fontsize=10)
        bottom.set_xlabel("weighted layer, in the order they run")
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        fields = [(index, self.receptive_fields[row.name]) for index, row in zip(position, weighted)
                  if row.name in self.receptive_fields]
        if fields:
            self._draw_receptive_field(bottom.twinx(), fields)
        fig.tight_layout(pad=0.5)
        plt.show()

    @staticmethod
    def _draw_receptive_field(ax, fields):
        """The main path's receptive field after each conv: ``fields`` is [(layer position, pixels)]."""
        ax.plot(*zip(*fields), color="darkred", marker=".", markersize=3, linewidth=1.5)
        ax.axhline(INPUT_SHAPE[1], color="darkred", linestyle=":", linewidth=1)
        ax.text(0.01, INPUT_SHAPE[1], "image size", color="darkred", fontsize=8, va="bottom",
                transform=ax.get_yaxis_transform())
        ax.set_ylabel("receptive field (px)", color="darkred")
        ax.set_ylim(0, 1.12 * max(INPUT_SHAPE[1], *(size for _, size in fields)))  # room for the labels
        ax.annotate(f"{fields[-1][1]} px", fields[-1], textcoords="offset points", xytext=(-6, 0),
                    ha="right", va="center", color="darkred", fontsize=8,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


def _residual_name(family, depth, width):
    name = f"{family.lower()}{depth}"
    return name if width == PAPER_WIDTH else f"{name}-w{width}"
