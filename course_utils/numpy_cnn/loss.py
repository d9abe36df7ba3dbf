"""Softmax cross-entropy loss with its gradient, in numpy."""

import numpy as np

from ..geometry import check_ndim

__all__ = ["softmax_cross_entropy"]


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    logits: (N, K) scores, labels: (N,) ints in [0, K)
    -> loss: float, mean over the batch of -log softmax(logits[n])[labels[n]]
    -> dlogits: (N, K) = (softmax(logits) - one_hot(labels)) / N
    Numerically stable: the row maximum is subtracted before exponentiating.
    """
    logits = check_ndim(logits, 2, "logits", "(N, K): one row of class scores per example")
    labels = np.asarray(labels)
    N, K = logits.shape
    if labels.shape != (N,):
        raise ValueError(f"labels must have shape ({N},), one class index per row of logits, "
                         f"got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers (class indices), got dtype {labels.dtype}")
    if N and (labels.min() < 0 or labels.max() >= K):
        raise ValueError(f"labels must lie in [0, {K}) for {K} classes, "
                         f"got values from {labels.min()} to {labels.max()}")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N)
    loss = -log_probs[rows, labels].mean()
    dlogits = np.exp(log_probs)
    dlogits[rows, labels] -= 1
    return float(loss), dlogits / N
