"""A CNN in numpy, forward and backward, one function per operation (lesson 04).

Arrays use the NCHW layout of PyTorch. Every conv and pool function takes
``method="naive"`` (loops that mirror the lecture notes' derivation) or
``method="fast"`` (vectorized: im2col + one matrix product, strided slices);
the two agree with each other and with ``torch.nn.functional``. The forward
passes are those of lessons 01 and 03 (``course_utils.convolution``,
``course_utils.pooling``); this package adds the backward passes.

* ``conv``: conv2d, conv2d_backward, im2col (lesson 01's)
* ``pool``: max_pool2d(_backward), avg_pool2d(_backward) (no padding)
* ``layers``: relu(_backward), flatten(_backward), linear(_backward) (w: (M, D) as in PyTorch)
* ``loss``: softmax_cross_entropy -> (loss, dlogits)
* ``batchnorm``: batchnorm(_backward) (per channel for (N, C, H, W), per feature for (N, D))
* ``dropout``: dropout_mask, dropout(_backward) (inverted dropout)
* ``gradcheck``: numerical_gradient, relative_error, elementwise_relative_error (CS231n's)

Lesson 04 chains these into a network itself: conv -> ReLU -> pool -> flatten -> linear.
"""

from .batchnorm import batchnorm, batchnorm_backward
from .conv import conv2d, conv2d_backward, im2col
from .dropout import dropout, dropout_backward, dropout_mask
from .gradcheck import elementwise_relative_error, numerical_gradient, relative_error
from .layers import flatten, flatten_backward, linear, linear_backward, relu, relu_backward
from .loss import softmax_cross_entropy
from .pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward

__all__ = [
    "conv2d", "conv2d_backward", "im2col",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "relu", "relu_backward", "flatten", "flatten_backward", "linear", "linear_backward",
    "softmax_cross_entropy",
    "batchnorm", "batchnorm_backward", "dropout_mask", "dropout", "dropout_backward",
    "numerical_gradient", "relative_error", "elementwise_relative_error",
]
