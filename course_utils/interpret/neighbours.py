"""Nearest neighbours in feature space: which training images a network sees as alike."""

import torch

__all__ = ["nearest_neighbours"]


def _matrix(values, name):
    values = torch.as_tensor(values)
    if values.dim() != 2 or not values.is_floating_point():
        raise ValueError(f"{name} must be a float matrix (rows of features), got "
                         f"{values.dtype} of shape {tuple(values.shape)}; flatten feature maps "
                         "with .flatten(1)")
    return values


def nearest_neighbours(features, queries, k, chunk=256):
    """The ``k`` rows of ``features`` (M×D) nearest to each query (Q×D), by Euclidean distance.

    Returns:
        (distances, indices): Q×k float and int64 tensors on the features' device, nearest
        first; equal distances keep the lower index first. Queries are compared ``chunk`` at
        a time (memory: chunk×M distances).
    """
    features, queries = _matrix(features, "features"), _matrix(queries, "queries")
    if features.shape[1] != queries.shape[1]:
        raise ValueError(f"features have {features.shape[1]} dimensions but queries have "
                         f"{queries.shape[1]}: compute both with the same layer")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(features):
        raise ValueError(f"k must be an int from 1 to the number of features ({len(features)}), got {k!r}")
    queries = queries.to(device=features.device, dtype=features.dtype)
    distances, indices = [], []
    for first in range(0, len(queries), chunk):
        # Direct differences, not the |a|² + |b|² − 2ab shortcut, which loses small distances.
        block = torch.cdist(queries[first:first + chunk], features,
                            compute_mode="donot_use_mm_for_euclid_dist")
        order = torch.sort(block, dim=1, stable=True)
        distances.append(order.values[:, :k])
        indices.append(order.indices[:, :k])
    return torch.cat(distances), torch.cat(indices)
