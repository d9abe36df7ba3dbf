"""A CNN in numpy, forward and backward, one function per operation (lesson 04).

Arrays use the NCHW layout of PyTorch. Every conv and pool function takes
``method="naive"`` (loops that mirror the lecture notes' derivation) or
``method="fast"`` (vectorized: im2col + one matrix product, strided slices);
the two agree with each other and with ``torch.nn.functional``.

* ``conv``: conv2d, conv2d_backward, im2col
* ``pool``: max_pool2d(_backward), avg_pool2d(_backward) (no padding)
* ``layers``: relu(_backward), flatten(_backward), linear(_backward) (w: (M, D) as in PyTorch)
* ``loss``: softmax_cross_entropy -> (loss, dlogits)
* ``gradcheck``: numerical_gradient, relative_error
* ``model``: a small conv -> ReLU -> max pool -> linear network and sgd_step
"""

from .conv import conv2d, conv2d_backward, im2col
from .gradcheck import numerical_gradient, relative_error
from .layers import flatten, flatten_backward, linear, linear_backward, relu, relu_backward
from .loss import softmax_cross_entropy
from .model import init_small_cnn, sgd_step, small_cnn_backward, small_cnn_forward, small_cnn_loss
from .pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward

__all__ = [
    "conv2d", "conv2d_backward", "im2col",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "relu", "relu_backward", "flatten", "flatten_backward", "linear", "linear_backward",
    "softmax_cross_entropy",
    "numerical_gradient", "relative_error",
    "init_small_cnn", "small_cnn_forward", "small_cnn_backward", "small_cnn_loss", "sgd_step",
]
