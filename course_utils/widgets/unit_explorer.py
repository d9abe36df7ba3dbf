"""The unit explorer of lesson 09: pick a layer and a unit; see the image that excites the unit
most (activation maximisation) beside the data set's images that excite it most.

The synthesised image comes from :func:`course_utils.interpret.maximize_activation`, with or
without its priors (L2, total variation and jitter); it takes seconds, so it runs when the
"Visualise" button is pressed, and each result is kept for its (layer, unit, priors, steps).
A unit's activation is its channel's mean over the feature map (or the value, for "logits"),
for the data set's images as for the synthesised one, so the two can be compared.
"""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn as nn

from ..interpret import activations, maximize_activation
from ..interpret.inputs import check_images, place_images
from ..interpret.layer_output import LOGITS, resolve_layer
from ..interpret.modes import evaluating

__all__ = ["UnitExplorer", "PRIORS", "relu_layers", "unit_means"]

PRIORS = {"L2 + TV + jitter": ("l2", "tv", "jitter"), "none": ()}  # maximize_activation's regularizers
STEPS_MIN, STEPS_MAX, STEPS_STEP, STEPS_DEFAULT = 32, 256, 32, 128
TOP = 6                   # data set images shown for a unit
BATCH_SIZE = 256          # images per forward pass when ranking them

LABEL_WIDTH = "60px"      # the same for every control, so that they line up
CONTROL_WIDTH = "300px"
FIGSIZE, FIGURE_DPI = (6.6, 3.0), 100  # 660 × 300 px beside the 300-px controls
CAPTION_HEIGHT = "48px"   # two lines of text


def relu_layers(model, image):
    """Names of ``model``'s ``nn.ReLU`` modules that give feature maps (1×K×h×w) for ``image`` (C×H×W).

    The ReLUs after convolutions, in definition order; those after linear layers (1×K) are
    left out, and so are ReLU modules the forward pass does not use.
    """
    found = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.ReLU):
            continue
        try:
            output = activations(model, image[None], name)[name]
        except ValueError:  # a ReLU module the forward pass does not use
            continue
        if output.dim() == 4:
            found.append(name)
    return found


def unit_means(model, layer, images, batch_size=BATCH_SIZE):
    """Every unit's activation for every image: N×K on the CPU.

    A unit of a layer giving N×K×h×w is a channel, its activation the channel's mean over h×w;
    for a layer giving N×K (or "logits", the model's output) it is the value. Runs in eval
    mode without gradients, in batches of ``batch_size``.
    """
    name, module = resolve_layer(model, layer)
    rows = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        if module is None:
            with torch.no_grad(), evaluating(model):
                output = model(place_images(model, batch))
        else:
            output = activations(model, batch, name)[name]
        rows.append(output.flatten(2).mean(dim=2) if output.dim() == 4 else output)
    means = torch.cat(rows).cpu()
    if means.dim() != 2:
        raise ValueError(f"layer {name!r} gives shape {tuple(means.shape[1:])} per image: the explorer "
                         "needs feature maps K×h×w or features K (a conv block's ReLU, a linear layer, "
                         "\"logits\")")
    return means


class UnitExplorer:
    """Choose a layer and a unit; press "Visualise" to see what excites the unit.

    model: a network taking ``images`` (in eval mode; each call restores every module's mode);
    images: float tensor N×C×H×W in [0, 1] (N×1×28×28 for Fashion-MNIST), the images ranked
    for each unit; layers: names of the layers offered (each giving N×K×h×w or N×K, e.g.
    "features.2" or "logits"), by default the ReLUs after the convolutions
    (:func:`relu_layers`) and "logits".

    Controls: layer, unit (a channel, or a class for "logits"), priors ("L2 + TV + jitter" or
    "none": plain gradient ascent), steps (32 to 256) and the "Visualise" button, which runs
    :func:`course_utils.interpret.maximize_activation` (seed 0, the images' size) and shows,
    left, the image it found and, right, the ``TOP`` images of ``images`` with the largest
    activation of the unit, each titled with its index and activation; the caption compares
    the activation reached with the best image's. Before "Visualise" the top images are shown
    at once, beside a panel that asks for the button. A result is kept for its (layer, unit,
    priors, steps): coming back to them shows it without computing again. ``visualise()``
    does what the button does; ``cache`` maps each setting (``key()``) to its result.

    After each "Visualise" these attributes hold what is shown: ``result`` (the
    :class:`~course_utils.interpret.maximize.Maximization`), ``top_indices`` and
    ``top_activations`` (lists, largest first), ``figure``, and ``message`` (what went wrong
    or a note, else ""). Changing a control to a setting not computed yet shows that unit's
    top images (``result`` is None) and asks for "Visualise".

    Layout: controls (5 rows, 300 px wide) left of a two-line caption and a figure of
    660 × 300 px. Display it by leaving it as the last expression of a cell.
    """

    def __init__(self, model, images, layers=None):
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch nn.Module, got {type(model).__name__}: give the "
                             "network itself, e.g. load_pretrained('small_cnn')")
        self.model, self.images = model, check_images(images).detach()
        self.units = self._probe(layers)
        self.cache, self.rankings = {}, {}
        self.result = self.top_indices = self.top_activations = self.figure = None
        self.message = ""
        self._refreshing = False
        look = {"style": {"description_width": LABEL_WIDTH}, "layout": widgets.Layout(width=CONTROL_WIDTH)}
        self.layer = widgets.Dropdown(options=list(self.units), description="layer", **look)
        self.unit = widgets.IntSlider(value=0, min=0, max=self.units[self.layer.value] - 1,
                                      description="unit", continuous_update=False, **look)
        self.priors = widgets.ToggleButtons(options=list(PRIORS), description="priors",
                                            layout=widgets.Layout(width=CONTROL_WIDTH),
                                            style={"description_width": LABEL_WIDTH, "button_width": "115px"})
        self.steps = widgets.IntSlider(value=STEPS_DEFAULT, min=STEPS_MIN, max=STEPS_MAX, step=STEPS_STEP,
                                       description="steps", continuous_update=False, **look)
        self.button = widgets.Button(description="Visualise", button_style="primary",
                                     layout=widgets.Layout(width=CONTROL_WIDTH))
        self.caption = widgets.HTML(layout=widgets.Layout(height=CAPTION_HEIGHT))
        self.output = widgets.Output()
        self.layer.observe(lambda change: self._layer_changed(), names="value")
        for control in (self.unit, self.priors, self.steps):
            control.observe(lambda change: self._refreshing or self._choice_changed(), names="value")
        self.button.on_click(lambda button: self.visualise())
        self.controls = widgets.VBox([self.layer, self.unit, self.priors, self.steps, self.button])
        self.widget = widgets.HBox([self.controls, widgets.VBox([self.caption, self.output])])
        self._layer_changed()

    def _probe(self, layers):
        """Layer name -> number of units, checked on the first image; a ValueError saying what is wrong."""
        first = self.images[:1]
        try:
            names = [*relu_layers(self.model, first[0]), LOGITS] if layers is None else list(layers)
            counts = {name: unit_means(self.model, name, first).shape[1] for name in names}
        except (RuntimeError, ValueError) as error:
            raise ValueError(f"the explorer cannot use this model with these images "
                             f"({tuple(self.images.shape[1:])} each): {error}") from error
        if not counts:
            raise ValueError("layers is empty: name at least one layer, e.g. ['features.2', 'logits']")
        return counts

    def key(self):
        """The controls' setting: (layer, unit, priors, steps), as results are cached."""
        return self.layer.value, self.unit.value, self.priors.value, self.steps.value

    def _layer_changed(self):
        self._refreshing = True  # the slider's new range may change its value
        try:
            self.unit.value = min(self.unit.value, self.units[self.layer.value] - 1)
            self.unit.max = self.units[self.layer.value] - 1
            self.unit.description = "class" if self.layer.value == LOGITS else "unit"
        finally:
            self._refreshing = False
        self._choice_changed()

    def _choice_changed(self):
        """Show the cached result for the new setting, or the unit's top images and ask for "Visualise"."""
        if self.key() in self.cache:
            self._show(self.key())
            return
        layer, unit, _, steps = self.key()
        self.result, self.message = None, ""
        self._rank(layer, unit)
        self.caption.value = (f"Press Visualise to optimise an image for unit {unit} of {layer} "
                              f"({steps} steps, a few seconds).")
        self._redraw(unit)

    def ranking(self, layer):
        """Every unit's activation for every image of ``images`` at ``layer``: N×K (cached)."""
        if layer not in self.rankings:
            self.rankings[layer] = unit_means(self.model, layer, self.images)
        return self.rankings[layer]

    def visualise(self):
        """Optimise (or take from the cache) the image for the controls' setting and show it."""
        key = self.key()
        if key not in self.cache:
            layer, unit, priors, steps = key
            self.caption.value = (f"running… {steps} steps of gradient ascent on unit {unit} of {layer}, "
                                  f"priors: {priors}")
            self.button.disabled = True
            try:
                self.cache[key] = maximize_activation(self.model, layer, unit, steps=steps,
                                                      size=tuple(self.images.shape[1:]),
                                                      regularizers=PRIORS[priors])
            except (RuntimeError, ValueError) as error:
                self.message = (f"Could not optimise an image for unit {unit} of {layer}: {error}. Pick "
                                "another layer or unit.")
                self.caption.value = f"<span style='color:#b00'>{self.message}</span>"
                return
            finally:
                self.button.disabled = False
        self._show(key)

    def _rank(self, layer, unit):
        column = self.ranking(layer)[:, unit]
        top = column.topk(min(TOP, len(column)))
        self.top_indices, self.top_activations = top.indices.tolist(), top.values.tolist()

    def _show(self, key):
        layer, unit, priors, steps = key
        self.result = self.cache[key]
        self._rank(layer, unit)
        best, reached = self.top_activations[0], self.result.activation
        self.message = self._note(layer, unit, best, reached)
        kind = "class" if layer == LOGITS else "unit"
        comparison = (f"{kind.capitalize()} {unit} of {layer}, priors {priors}, {steps} steps: the image "
                      f"reaches {reached:.3g}; the best of the {len(self.images)} images {best:.3g}")
        if best > 0:
            comparison += f" ({reached / best:.2g}×)"
        self.caption.value = comparison + "." + (f"<br><span style='color:#b00'>{self.message}</span>"
                                                 if self.message else "")
        self._redraw(unit)

    def _redraw(self, unit):
        kind = "class" if self.layer.value == LOGITS else "unit"
        self.output.clear_output(wait=True)
        with self.output:
            self._draw(f"{kind} {unit}")

    def _note(self, layer, unit, best, reached):
        """Words for a unit that tells little: dead on every image and not switched on."""
        if layer != LOGITS and best <= 0 and reached <= 0:
            return (f"Unit {unit} is 0 on all {len(self.images)} images and the optimisation could not "
                    "switch it on: a dead unit. Pick another unit.")
        return ""

    def _draw(self, unit_words):
        if self.figure is not None:
            plt.close(self.figure)
        fig = plt.figure(figsize=FIGSIZE, dpi=FIGURE_DPI)
        self.figure = fig
        grid = fig.add_gridspec(2, 5)
        shown = {"vmin": 0.0, "vmax": 1.0}
        synthetic = fig.add_subplot(grid[:, :2])
        if self.result is None:
            synthetic.text(0.5, 0.5, f"image for {unit_words}:\npress Visualise", ha="center", va="center",
                           fontsize=10, color="0.4", transform=synthetic.transAxes)
            synthetic.set_title(f"priors {self.priors.value}, {self.steps.value} steps", fontsize=9)
        else:
            synthetic.imshow(_picture(self.result.image), **shown, **_colours(self.result.image))
            synthetic.set_title(f"maximises {unit_words}: {self.result.activation:.3g}", fontsize=9)
        for place, (index, value) in enumerate(zip(self.top_indices, self.top_activations)):
            ax = fig.add_subplot(grid[place // 3, 2 + place % 3])
            ax.imshow(_picture(self.images[index]), **shown, **_colours(self.images[index]))
            ax.set_title(f"#{index}: {value:.3g}", fontsize=8)
        for ax in fig.axes:
            ax.axis("off")
        fig.tight_layout(pad=0.4)
        plt.show()

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


def _picture(image):
    """An image C×H×W as imshow takes it: H×W for one channel, H×W×3 for three (clipped to [0, 1])."""
    image = image.detach().cpu().float()
    if len(image) == 3:
        return image.permute(1, 2, 0).clamp(0, 1).numpy()
    return image.mean(dim=0).numpy()


def _colours(image):
    return {"cmap": "gray"} if len(image) != 3 else {}
