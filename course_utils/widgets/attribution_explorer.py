"""The attribution explorer of lesson 08: pick an image, a trained model and an attribution
method; see which pixels the method says the class score depends on, beside the image and
over it.

The maps come from :mod:`course_utils.interpret`, at a cost small enough for a slider:
SmoothGrad with ``SMOOTHGRAD_SAMPLES`` noisy copies, integrated gradients with ``IG_STEPS``
gradients, occlusion with a ``OCCLUSION_WINDOW``-pixel window moved ``OCCLUSION_STRIDE``
pixels at a time. The pixel methods (gradients and their variants) are shown as Simonyan et
al.'s map, the largest |value| over the channels; Grad-CAM and CAM are enlarged bilinearly to
the image's size; occlusion and CAM keep their sign (red raises the class score, blue lowers it).
"""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn

from ..data import CLASS_NAMES
from ..interpret import (
    cam,
    deconvnet,
    grad_cam,
    guided_backprop,
    integrated_gradients,
    occlusion,
    saliency,
    saliency_map,
    smoothgrad,
    upsample,
)
from ..interpret.inputs import check_images, check_target
from ..interpret.modes import evaluating

__all__ = ["AttributionExplorer", "METHODS", "SIGNED_METHODS", "TARGETS", "attribution_map", "conv_layers"]

SMOOTHGRAD_SAMPLES = 10
IG_STEPS = 32
OCCLUSION_WINDOW, OCCLUSION_STRIDE = 4, 2

PIXEL_METHODS = {"saliency": saliency,
                 "SmoothGrad": lambda m, x, t: smoothgrad(m, x, t, samples=SMOOTHGRAD_SAMPLES),
                 "integrated gradients": lambda m, x, t: integrated_gradients(m, x, t, steps=IG_STEPS),
                 "guided backprop": guided_backprop, "deconvnet": deconvnet}
METHODS = (*PIXEL_METHODS, "Grad-CAM", "CAM", "occlusion")
SIGNED_METHODS = ("CAM", "occlusion")  # the others' maps are >= 0
TARGETS = ("true label", "predicted")   # whose class score the map explains

LABEL_WIDTH = "60px"      # the same for every control, so that they line up
CONTROL_WIDTH = "300px"   # long enough to drag the image slider one step at a time
FIGSIZE, FIGURE_DPI = (6.6, 2.7), 100  # 660 × 270 px beside the 300-px controls
CAPTION_HEIGHT = "48px"   # two lines of text


def conv_layers(model):
    """Names of ``model``'s ``nn.Conv2d`` modules (as in ``named_modules()``), in definition order."""
    return [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]


def attribution_map(model, image, target, method, layer=None):
    """The map the explorer shows for one image C×H×W and class ``target``: an H×W tensor.

    ``method`` is one of ``METHODS``. The pixel methods give ``saliency_map`` of their N×C×H×W
    result (max |value| over the channels, >= 0); "Grad-CAM" (at ``layer``, a conv layer's
    name) and "CAM" give their map enlarged with ``upsample``; "occlusion" gives the mean logit
    drop over the channels (signed). Raises ValueError when the method does not apply to the
    model (e.g. guided backprop without nn.ReLU modules, CAM without global average pooling).
    """
    images, size = image[None], tuple(image.shape[1:])
    if method in PIXEL_METHODS:
        return saliency_map(PIXEL_METHODS[method](model, images, target))[0]
    if method == "Grad-CAM":
        if layer is None:
            raise ValueError(f"Grad-CAM needs a conv layer and {type(model).__name__} has none; "
                             "pick a pixel method such as saliency")
        return upsample(grad_cam(model, images, target, layer), size)[0]
    if method == "CAM":
        return upsample(cam(model, images, target), size)[0]
    if method == "occlusion":
        drops = occlusion(model, images, target, window=OCCLUSION_WINDOW, stride=OCCLUSION_STRIDE)
        return drops[0].mean(dim=0)
    raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


def class_probabilities(model, image):
    """Softmax of ``model``'s logits for one image C×H×W: a tensor of classes, in eval mode."""
    with torch.no_grad(), evaluating(model):
        logits = model(image[None])
    if logits.dim() != 2 or len(logits) != 1:
        raise ValueError(f"the model must return logits N×classes, got shape {tuple(logits.shape)}")
    return logits[0].softmax(0)


class AttributionExplorer:
    """Choose an image, a model, an attribution method (and a layer for Grad-CAM); see the map.

    models: dict name -> classifier (in eval mode; each call restores every module's mode);
    images: float tensor N×C×H×W (N×1×28×28 for Fashion-MNIST); labels: N class indices;
    class_names: a name for every class the models output.

    Controls: image index, model, method (CAM only for models ending in global average
    pooling + one linear layer), layer (the model's conv layers, enabled for Grad-CAM only;
    the last one by default) and whether the map explains the true label's or the predicted
    class's score. After each change these attributes hold the current state:
    ``attribution`` (the H×W map shown, see :func:`attribution_map`), ``prediction`` (the
    predicted class), ``probability`` (its softmax probability), ``target`` (the class whose
    score the map explains), ``figure`` and ``message`` (what went wrong and what to do, or
    a note, or ""). A method that fails for the model sets ``message`` and leaves everything
    else, the picture included, as it was.

    Layout: controls (5 rows, 300 px wide) left of a two-line caption and a figure of
    660 × 270 px: the image, the map, and the map over the image, with the model's prediction
    and probability in the title. Display it by leaving it as the last expression of a cell.
    """

    def __init__(self, models, images, labels, class_names=CLASS_NAMES):
        self.models, self.class_names = _check_models(models), list(class_names)
        self.images = check_images(images).detach()
        self.labels = check_target(labels, len(self.images))
        self.cam_errors = {name: self._probe(name, model) for name, model in self.models.items()}
        self.attribution = self.prediction = self.probability = self.target = self.figure = None
        self.message = ""
        self._refreshing = False
        look = {"style": {"description_width": LABEL_WIDTH}, "layout": widgets.Layout(width=CONTROL_WIDTH)}
        self.index = widgets.IntSlider(value=0, min=0, max=len(self.images) - 1, description="image",
                                       continuous_update=False, **look)
        self.model = widgets.Dropdown(options=list(self.models), description="model", **look)
        self.method = widgets.Dropdown(options=METHODS, description="method", **look)
        self.layer = widgets.Dropdown(options=[], description="layer", **look)
        self.target_choice = widgets.ToggleButtons(
            options=TARGETS, description="explain", layout=widgets.Layout(width=CONTROL_WIDTH),
            style={"description_width": LABEL_WIDTH, "button_width": "110px"})
        self.caption = widgets.HTML(layout=widgets.Layout(height=CAPTION_HEIGHT))
        self.output = widgets.Output()
        self.model.observe(lambda change: self.update(note=self._refresh_choices()), names="value")
        for control in (self.index, self.method, self.layer, self.target_choice):
            control.observe(lambda change: self._refreshing or self.update(), names="value")
        self.controls = widgets.VBox([self.index, self.model, self.method, self.layer, self.target_choice])
        self.widget = widgets.HBox([self.controls, widgets.VBox([self.caption, self.output])])
        self._refresh_choices()
        self.update()

    def _probe(self, name, model):
        """Run ``model`` on the first image; the reason CAM does not apply to it, or None."""
        try:
            classes = len(class_probabilities(model, self.images[0]))
        except (RuntimeError, ValueError) as error:
            raise ValueError(f"model {name!r} cannot classify these images "
                             f"({tuple(self.images.shape[1:])} each): {error}") from error
        if classes > len(self.class_names):
            raise ValueError(f"model {name!r} has {classes} outputs but class_names names only "
                             f"{len(self.class_names)} classes: give a name for every class")
        try:
            cam(model, self.images[:1], 0)
        except ValueError as error:
            return str(error)
        return None

    def methods_for(self, name):
        """The methods offered for model ``name``: ``METHODS``, without CAM where it does not apply."""
        return [m for m in METHODS if m != "CAM" or self.cam_errors[name] is None]

    def _refresh_choices(self):
        """Method and layer options for the chosen model; a note when the method had to change."""
        name, method, layer = self.model.value, self.method.value, self.layer.value
        methods, layers = self.methods_for(name), conv_layers(self.models[name])
        self._refreshing = True   # the option changes below would each trigger an update
        try:
            self.method.options = methods
            self.method.value = method if method in methods else "Grad-CAM"
            self.layer.options = layers
            self.layer.value = layer if layer in layers else (layers[-1] if layers else None)
        finally:
            self._refreshing = False
        if method in methods:
            return ""
        return (f"CAM does not apply to {name}: {self.cam_errors[name]}. Showing Grad-CAM at its "
                "last conv layer instead.")

    def update(self, note=""):
        name, method = self.model.value, self.method.value
        model, index = self.models[name], self.index.value
        self.layer.disabled = method != "Grad-CAM"
        image, label = self.images[index], int(self.labels[index])
        probabilities = class_probabilities(model, image)
        prediction = int(probabilities.argmax())
        target = label if self.target_choice.value == "true label" else prediction
        try:
            attribution = attribution_map(model, image, target, method, self.layer.value)
        except ValueError as error:
            self.message = (f"{method} does not work for {name}: {error}. Pick another method; the "
                            "picture still shows the last map.")
            self.caption.value = f"<span style='color:#b00'>{self.message}</span>"
            return
        self.attribution, self.prediction, self.target = attribution, prediction, target
        self.probability = float(probabilities[prediction])
        self.message = note
        self.caption.value = (f"<span style='color:#b00'>{note}</span>" if note
                              else self.describe(method, name, label))
        self.output.clear_output(wait=True)
        with self.output:
            self._draw(image, method, name, label)

    def describe(self, method, name, label):
        """One line saying what the map shows."""
        scale = ("signed: red where the pixels raise the class score, blue where they lower it"
                 if method in SIGNED_METHODS else "bright where the class score depends most on the pixels")
        layer = f" at layer {self.layer.value}" if method == "Grad-CAM" else ""
        return (f"{method}{layer} of {name}'s score for '{self.class_names[self.target]}' on image "
                f"{self.index.value} (true label '{self.class_names[label]}'): {scale}.")

    def _draw(self, image, method, name, label):
        if self.figure is not None:
            plt.close(self.figure)
        fig, (left, middle, right) = plt.subplots(1, 3, figsize=FIGSIZE, dpi=FIGURE_DPI)
        self.figure = fig
        picture = _picture(image)
        heat = self.attribution.detach().cpu().numpy()
        if method in SIGNED_METHODS:
            top = max(float(np.abs(heat).max()), 1e-12)
            colours = {"cmap": "RdBu_r", "vmin": -top, "vmax": top}
        else:
            colours = {"cmap": "magma", "vmin": 0.0, "vmax": max(float(heat.max()), 1e-12)}
        grey = {"cmap": "gray"} if picture.ndim == 2 else {}
        left.imshow(picture, **grey)
        left.set_title(f"true: {self.class_names[label]}", fontsize=9)
        middle.imshow(heat, **colours)
        whose = "true label" if self.target_choice.value == "true label" else "prediction"
        middle.set_title(f"{method} for the {whose} '{self.class_names[self.target]}'", fontsize=9)
        right.imshow(picture, **grey)
        right.imshow(heat, alpha=0.55, **colours)
        right.set_title("over the image", fontsize=9)
        for ax in (left, middle, right):
            ax.axis("off")
        fig.suptitle(f"{name} predicts {self.class_names[self.prediction]} ({self.probability:.0%})",
                     fontsize=10)
        fig.tight_layout(pad=0.4)
        plt.show()

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


def _check_models(models):
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict name -> model, e.g. "
                         "{'lenet_modern': load_pretrained('lenet_modern')}")
    wrong = [name for name, model in models.items() if not isinstance(model, nn.Module)]
    if wrong:
        raise ValueError(f"models[{wrong[0]!r}] is a {type(models[wrong[0]]).__name__}, not a torch "
                         "nn.Module: give the model itself")
    return dict(models)


def _picture(image):
    """An image C×H×W as imshow takes it: H×W for one channel, H×W×3 for three (clipped to [0, 1])."""
    image = image.detach().cpu()
    if len(image) == 3:
        return image.permute(1, 2, 0).clamp(0, 1).numpy()
    return image.mean(dim=0).numpy()
