"""Looking inside a trained CNN (lesson 08): attribution maps, activations, neighbours.

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
=======================  =========================================  =================
"""

from .activations import activations
from .cam import cam
from .display import upsample
from .grad_cam import grad_cam
from .integrated_gradients import integrated_gradients
from .neighbours import nearest_neighbours
from .occlusion import occlusion
from .relu_rules import deconvnet, guided_backprop
from .saliency import saliency, saliency_map
from .smoothgrad import smoothgrad

__all__ = ["saliency", "saliency_map", "smoothgrad", "integrated_gradients", "guided_backprop",
           "deconvnet", "grad_cam", "cam", "upsample", "occlusion", "activations",
           "nearest_neighbours"]
