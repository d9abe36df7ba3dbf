"""Looking inside a trained CNN: attribution maps, activations, neighbours (lesson 08); feature
visualisation, inversion, fooling images and dissection (lesson 09).

    from course_utils.interpret import saliency, saliency_map, grad_cam, upsample
    grads = saliency(model, images, labels)              # N×C×H×W, signed
    heat = saliency_map(grads)                           # N×H×W, max |grad| over channels
    maps = upsample(grad_cam(model, images, labels, "features.13"), 28)  # small_cnn: 7×7

Every attribution function takes a model returning logits N×classes, float images N×C×H×W
and one target class per image (an int for all, a list or an integer tensor). The model runs
in eval mode for the call and every module's mode is restored; the images are copied to the
model's device and the caller's tensor is left as it was; results come back on the images'
device; no hook, ``requires_grad`` or ``inplace`` change is left behind, also after an error.
Only PyTorch is used; the tests hold every method against Captum.

=======================  =========================================  =================
function                 what                                       shape
=======================  =========================================  =================
saliency                 d logit / d image (Simonyan et al. 2014)   N×C×H×W
saliency_map             max over channels of |gradient|            N×H×W
smoothgrad               saliency averaged over noisy copies        N×C×H×W
integrated_gradients     gradients along a path from a baseline     N×C×H×W
guided_backprop          gradient with ReLUs passing positive only  N×C×H×W
deconvnet                ReLU of the backward signal only           N×C×H×W
grad_cam                 feature maps weighted by mean gradients    N×h×w
cam                      class activation map (GAP + linear nets)   N×h×w
occlusion                logit drop when patches are covered        N×C×H×W
upsample                 maps to image size, bilinear               N×H×W
activations              layers' outputs, by name                   dict
nearest_neighbours       k nearest rows by Euclidean distance       Q×k, Q×k
maximize_activation      image exciting one unit most (regularised) C×H×W, history
invert                   image whose features match given ones      C×H×W, error
fooling_image            small change making the model say a class  C×H×W, norms
concept_masks            computable concepts of Fashion-MNIST       dict of N×H×W
unit_concept_iou         Network Dissection IoU, unit vs concept    K×M
concept_detectors        units under their best concept, IoU > t    dict of lists
label_selectivity        AUROC of a unit for a group of classes     K×G
shuffled_weights         copy with each parameter permuted          model
total_variation          TV^β prior (also l2_penalty, jitter, blur) N
=======================  =========================================  =================

The lesson 09 functions synthesise an image rather than explain one: they take no images
(maximize_activation, invert) or one (fooling_image), optimise only the image (parameters'
``requires_grad`` and ``.grad`` untouched) with seeded noise, and leave the model as above.
"""

from .activations import activations
from .cam import cam
from .concepts import CLASS_GROUPS, concept_masks
from .display import upsample
from .dissection import concept_detectors, label_selectivity, shuffled_weights, unit_concept_iou
from .fooling import fooling_image
from .grad_cam import grad_cam
from .integrated_gradients import integrated_gradients
from .invert import invert
from .maximize import maximize_activation
from .neighbours import nearest_neighbours
from .occlusion import occlusion
from .regularizers import gaussian_blur, jitter, l2_penalty, total_variation
from .relu_rules import deconvnet, guided_backprop
from .saliency import saliency, saliency_map
from .smoothgrad import smoothgrad

__all__ = ["saliency", "saliency_map", "smoothgrad", "integrated_gradients", "guided_backprop",
           "deconvnet", "grad_cam", "cam", "upsample", "occlusion", "activations",
           "nearest_neighbours", "maximize_activation", "invert", "fooling_image", "concept_masks",
           "CLASS_GROUPS", "unit_concept_iou", "concept_detectors", "label_selectivity",
           "shuffled_weights", "total_variation", "l2_penalty", "jitter", "gaussian_blur"]
