"""Scoring units against concepts: Network Dissection's IoU (Bau et al. 2017) and label selectivity.

A unit k of a layer is "about" concept c when the region where it fires strongly overlaps
the concept's mask: its activation maps are upsampled to the image size, thresholded at T_k,
the unit's top quantile over the whole data set (its top 10 % by default; the paper's 0.5 %
is too little for Fashion-MNIST's large concepts), and

    IoU(k, c) = Σ_images |{a_k ≥ T_k} ∩ mask_c| / Σ_images |{a_k ≥ T_k} ∪ mask_c|.

For concepts that are labels rather than regions (a class group such as "footwear"),
:func:`label_selectivity` scores how well the unit's mean activation separates the group's
images from the others (the area under the ROC curve).
"""

import copy

import torch

from .activations import activations
from .arguments import positive_int
from .display import upsample
from .inputs import check_images, check_target

__all__ = ["unit_concept_iou", "concept_detectors", "label_selectivity", "shuffled_weights"]


def _feature_maps(model, layer, images, batch_size):
    """The layer's output for ``images`` in batches: N×K×h×w on the CPU."""
    outputs = [activations(model, images[start:start + batch_size], layer)
               for start in range(0, len(images), batch_size)]
    maps = torch.cat([next(iter(output.values())).cpu() for output in outputs])
    if maps.dim() != 4:
        raise ValueError(f"layer {layer!r} gives shape {tuple(maps.shape[1:])} per image, not feature maps "
                         "K×h×w: dissection needs a convolutional layer")
    return maps


def _check_masks(masks, shape):
    if not isinstance(masks, dict) or not masks:
        raise ValueError("masks must be a non-empty dict name -> N×H×W bool tensor (see concept_masks)")
    for name, mask in masks.items():
        if not torch.is_tensor(mask) or tuple(mask.shape) != tuple(shape):
            got = tuple(mask.shape) if torch.is_tensor(mask) else type(mask).__name__
            raise ValueError(f"mask {name!r} must be N×H×W = {tuple(shape)} like the images, got {got}")
    return torch.stack([mask.detach().cpu().bool() for mask in masks.values()], dim=1)  # N×M×H×W


def unit_concept_iou(model, layer, images, masks, quantile=0.9, batch_size=256, units_at_once=16):
    """IoU of every unit of ``layer`` with every concept: a tensor K units × M concepts (CPU).

    Args:
        model: a network taking ``images``; layer: a conv layer (module or name) giving N×K×h×w.
        images: N×C×H×W float; masks: dict name -> N×H×W bool (e.g. :func:`concept_masks`);
            the columns follow the dict's order.
        quantile: T_k is this quantile of unit k's upsampled activations over all images and
            pixels. A unit then fires on 1 − quantile of the pixels, so IoU <= (1 − quantile) /
            (the concept's share of pixels): Network Dissection's 0.995 suits Broden's small
            concepts, but Fashion-MNIST's are large (the garment covers about half of the
            pixels, a sleeve region 5 %), hence 0.9.
            Pixels at the unit's smallest value never count as firing, so a unit that is zero
            almost everywhere fires only where it is positive, and a dead unit nowhere.
        batch_size: images per forward pass; units_at_once: units upsampled together (memory:
            N·units_at_once·H·W floats).
    """
    check_images(images)
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be between 0 and 1 (0.9: each unit's top 10 %), got {quantile!r}")
    batch_size = positive_int(batch_size, "batch_size")
    units_at_once = positive_int(units_at_once, "units_at_once")
    height, width = images.shape[-2:]
    concepts = _check_masks(masks, (len(images), height, width)).flatten(2).float()  # N×M×P
    maps = _feature_maps(model, layer, images, batch_size)
    scores = []
    for first in range(0, maps.shape[1], units_at_once):
        chunk = maps[:, first:first + units_at_once]
        big = upsample(chunk.flatten(0, 1), (height, width)).view(len(images), chunk.shape[1], -1)  # N×k×P
        per_unit = big.transpose(0, 1).flatten(1)  # k×(N·P)
        # kthvalue, not torch.quantile: the latter refuses inputs of more than 16 million values.
        rank = max(1, min(per_unit.shape[1], round(quantile * per_unit.shape[1])))
        thresholds = per_unit.kthvalue(rank, dim=1).values.view(1, -1, 1)
        lowest = per_unit.min(dim=1).values.view(1, -1, 1)
        firing = ((big >= thresholds) & (big > lowest)).float()
        intersection = torch.einsum("nkp,nmp->km", firing, concepts)
        union = firing.sum(dim=(0, 2))[:, None] + concepts.sum(dim=(0, 2))[None, :] - intersection
        scores.append(intersection / union.clamp(min=1))
    return torch.cat(scores)


def concept_detectors(iou, concepts, threshold=0.1):
    """Units counted as Network Dissection counts them: each under its best concept, if IoU > threshold.

    Args:
        iou: K units × M concepts, from :func:`unit_concept_iou`; concepts: the M names, in
            the columns' order (``list(masks)``); threshold: the least IoU (the paper's 0.04
            was for Broden's small concepts; 0.1 suits Fashion-MNIST's at quantile 0.9).

    Returns:
        dict concept -> list of unit indices, for every concept (empty lists included).
    """
    concepts = list(concepts)
    if not torch.is_tensor(iou) or iou.dim() != 2 or iou.shape[1] != len(concepts):
        shape = tuple(iou.shape) if torch.is_tensor(iou) else type(iou).__name__
        raise ValueError(f"iou must be units × {len(concepts)} concepts (from unit_concept_iou), got {shape}")
    best, which = iou.max(dim=1)
    found = {name: [] for name in concepts}
    for unit, (score, column) in enumerate(zip(best.tolist(), which.tolist())):
        if score > threshold:
            found[concepts[column]].append(unit)
    return found


def _auroc(scores, positive):
    """Area under the ROC curve of each column of ``scores`` (N×K) for bool labels ``positive`` (N): K.

    The Mann–Whitney count: the share of (in, out) pairs whose in-score is larger, ties
    counting one half (so a constant unit scores exactly 0.5).
    """
    areas = []
    for column in scores.T:
        outside = column[~positive].sort().values
        inside = column[positive]
        below = torch.searchsorted(outside, inside, right=False)
        not_above = torch.searchsorted(outside, inside, right=True)
        areas.append((below + not_above).double().sum() / (2 * len(inside) * len(outside)))
    return torch.stack(areas).float()


def label_selectivity(model, layer, images, labels, groups, batch_size=256):
    """How well each unit's mean activation picks out each group of classes: K units × G groups.

    The score is the area under the ROC curve: the probability that an image of the group
    gives the unit a larger mean activation (over its map; or the value, for a layer giving
    N×K) than an image outside it. 0.5 is chance, 1 a unit that fires more for every image of
    the group, 0 one that fires less. Columns follow ``groups``' order.

    Args:
        model, layer, images: as in :func:`unit_concept_iou` (any layer giving N×K×h×w or N×K).
        labels: N class indices; groups: dict name -> classes, e.g. :data:`CLASS_GROUPS`.
    """
    check_images(images)
    labels = check_target(labels, len(images))
    if not isinstance(groups, dict) or not groups:
        raise ValueError("groups must be a non-empty dict name -> class indices, e.g. CLASS_GROUPS")
    outputs = [next(iter(activations(model, images[start:start + batch_size], layer).values())).cpu()
               for start in range(0, len(images), positive_int(batch_size, "batch_size"))]
    features = torch.cat(outputs)
    means = features.flatten(2).mean(dim=2) if features.dim() > 2 else features
    columns = []
    for name, classes in groups.items():
        positive = torch.isin(labels, torch.as_tensor(list(classes), dtype=torch.long))
        if positive.all() or not positive.any():
            raise ValueError(f"group {name!r} ({list(classes)}) must hold some but not all of the images' "
                             "labels: the selectivity compares the group with the rest")
        columns.append(_auroc(means.double(), positive))
    return torch.stack(columns, dim=1)


def shuffled_weights(model, seed=0):
    """A copy of ``model`` whose every parameter tensor has its entries randomly permuted.

    The baseline for dissection: the same layers and the same distribution of weights, but
    no learned structure. Buffers (batch norm's running statistics) are kept. The original
    model is not changed.
    """
    generator = torch.Generator().manual_seed(seed)
    shuffled = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in shuffled.parameters():
            order = torch.randperm(parameter.numel(), generator=generator).to(parameter.device)
            parameter.copy_(parameter.flatten()[order].view_as(parameter))
    return shuffled
