"""A small CNN built from the numpy layers: conv -> ReLU -> 2x2 max pool -> flatten -> linear.

The parameters are a dict of arrays, so a training step reads:

    params = init_small_cnn((1, 28, 28), n_filters=8, kernel_size=5, n_classes=10)
    loss, grads = small_cnn_loss(params, images, labels)
    sgd_step(params, grads, lr=0.05)

Shapes: images (N, C, H, W); conv_w (F, C, k, k), conv_b (F,); fc_w (K, D), fc_b (K,)
with D = F * ((H - k + 1) // 2) * ((W - k + 1) // 2); logits (N, K).
"""

import numpy as np

from .conv import conv2d, conv2d_backward
from .layers import flatten, flatten_backward, linear, linear_backward, relu, relu_backward
from .loss import softmax_cross_entropy
from .pool import max_pool2d, max_pool2d_backward

__all__ = ["init_small_cnn", "small_cnn_forward", "small_cnn_backward", "small_cnn_loss",
           "sgd_step"]

POOL = 2  # the max-pooling window and stride


def init_small_cnn(in_shape=(1, 28, 28), n_filters=8, kernel_size=5, n_classes=10, rng=None,
                   dtype=np.float32):
    """He-initialised weights, zero biases: a dict with conv_w, conv_b, fc_w, fc_b."""
    rng = np.random.default_rng(rng)
    C, H, W = in_shape
    k = kernel_size
    Hp, Wp = (H - k + 1) // POOL, (W - k + 1) // POOL
    if Hp < 1 or Wp < 1:
        raise ValueError(f"a {k}x{k} convolution and a {POOL}x{POOL} pool do not fit "
                         f"in {H}x{W} images")
    D = n_filters * Hp * Wp
    params = {
        "conv_w": rng.standard_normal((n_filters, C, k, k)) * np.sqrt(2 / (C * k * k)),
        "conv_b": np.zeros(n_filters),
        "fc_w": rng.standard_normal((n_classes, D)) * np.sqrt(2 / D),
        "fc_b": np.zeros(n_classes),
    }
    return {name: value.astype(dtype) for name, value in params.items()}


def small_cnn_forward(params, x, method="fast"):
    """Logits (N, K) for images x (N, C, H, W), and the cache the backward pass needs."""
    z = conv2d(x, params["conv_w"], params["conv_b"], method=method)
    a = relu(z)
    p = max_pool2d(a, POOL, method=method)
    logits = linear(flatten(p), params["fc_w"], params["fc_b"])
    return logits, {"x": x, "z": z, "a": a, "p": p}


def small_cnn_backward(dlogits, params, cache, method="fast"):
    """Gradients of every parameter, given dloss/dlogits (N, K): a dict with the keys of params."""
    grads = {}
    flat = flatten(cache["p"])
    dflat, grads["fc_w"], grads["fc_b"] = linear_backward(dlogits, flat, params["fc_w"])
    dp = flatten_backward(dflat, cache["p"].shape)
    da = max_pool2d_backward(dp, cache["a"], POOL, method=method)
    dz = relu_backward(da, cache["z"])
    _, grads["conv_w"], grads["conv_b"] = conv2d_backward(dz, cache["x"], params["conv_w"],
                                                          method=method)
    return grads


def small_cnn_loss(params, x, labels, method="fast"):
    """Mean softmax cross-entropy on (x, labels), and the gradients of every parameter."""
    logits, cache = small_cnn_forward(params, x, method)
    loss, dlogits = softmax_cross_entropy(logits, labels)
    return loss, small_cnn_backward(dlogits, params, cache, method)


def sgd_step(params, grads, lr):
    """One step of gradient descent, in place: params[name] -= lr * grads[name]."""
    if set(grads) != set(params):
        raise ValueError(f"grads must have the keys of params {sorted(params)}, "
                         f"got {sorted(grads)}")
    for name, grad in grads.items():
        params[name] -= np.asarray(lr * grad, dtype=params[name].dtype)
