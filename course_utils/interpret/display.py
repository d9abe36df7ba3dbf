"""Showing attribution maps over the image: bilinear upsampling to the image's size."""

import torch
import torch.nn.functional as F

__all__ = ["upsample"]


def upsample(maps, size):
    """Maps N×h×w (or one h×w) enlarged bilinearly to ``size`` (an int or (H, W)): N×H×W (or H×W).

    For laying a Grad-CAM or CAM map over its image; ``align_corners=False``, as
    ``F.interpolate``'s default, so a constant map stays constant.
    """
    if not torch.is_tensor(maps) or maps.dim() not in (2, 3):
        shape = tuple(maps.shape) if torch.is_tensor(maps) else type(maps).__name__
        raise ValueError(f"upsample takes maps N×h×w or one map h×w (a tensor), got {shape}")
    size = (size, size) if isinstance(size, int) else tuple(size)
    batch = maps if maps.dim() == 3 else maps[None]
    out = F.interpolate(batch[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0]
    return out if maps.dim() == 3 else out[0]
