"""Checks for lesson 03's exercises: max_pool2d_single, avg_pool2d, cross_channel_max."""

import numpy as np

from ..pooling import avg_pool2d, cross_channel_max, max_pool2d
from .harness import Case, run_cases

__all__ = ["check_max_pool2d_single", "check_avg_pool2d", "check_cross_channel_max"]


def _random_cases(seed, settings, reference, words):
    """Cases of random inputs of the given shapes: ``words`` names the input, the second
    argument is ``k`` (or ``group_size``)."""
    rng = np.random.default_rng(seed)
    cases = []
    for shape, k in settings:
        x = rng.normal(size=shape)
        cases.append(Case((x, k), reference(x, k), words.format(shape=shape, k=k)))
    return cases


# --- Exercise: max_pool2d_single -----------------------------------------------

def _max_single(image, k, stride=None):
    return max_pool2d(image[None, None], k, stride)[0, 0]


def _max_single_shape_hint(got, image, k):
    H, W = image.shape
    if got == (H - k + 1, W - k + 1):
        return ("you moved the window by 1 pixel (stride 1). Pooling in the notes moves "
                "it by its own size, stride = k, so the windows do not overlap.")
    if got == (-(-H // k), -(-W // k)):
        return ("you kept the partial windows at the bottom or right edge. A window that "
                "does not fit inside the image is dropped (PyTorch's default, "
                "ceil_mode=False), so there are H // k rows of windows.")
    if got in {(H // k - 1, W // k - 1), (H // k - 1, W // k), (H // k, W // k - 1)}:
        return "off by one: you dropped the last window that fits; it starts at k * (H // k - 1)."
    if got in {(H // k, W), (H, W // k)}:
        return "you pooled along one axis only; a window covers k rows *and* k columns."
    if got in {(), (1,), (1, 1)}:
        return "you took the maximum of the whole image; pool each k x k window separately."
    if got == (W // k, H // k):
        return "the height and width axes are swapped."
    return None


def _max_single_suspects(image, k):
    return [
        ("you averaged each window; max pooling keeps the largest value of the window.",
         avg_pool2d(image[None, None], k)[0, 0]),
        ("you summed each window; max pooling keeps the largest value of the window.",
         avg_pool2d(image[None, None], k)[0, 0] * k * k),
        ("you took the minimum of each window; max pooling keeps the largest value.",
         -_max_single(-image, k)),
        ("you took the largest absolute value (np.abs); max pooling keeps the largest value, "
         "sign included.", _max_single(np.abs(image), k)),
        ("the height and width axes are swapped: transpose back.", _max_single(image, k).T),
    ]


def check_max_pool2d_single(fn):
    """Check ``fn(image (H, W), k) -> (H // k, W // k)``, max over k x k windows, stride k."""
    cases = _random_cases(3, [((6, 6), 2), ((7, 10), 3), ((9, 8), 2), ((4, 4), 4), ((5, 7), 1)],
                          _max_single, "image of shape {shape}, k = {k}")
    run_cases(fn, "max_pool2d_single", cases, shape_rule="(H // k, W // k)",
              explain_shape=_max_single_shape_hint, suspects=_max_single_suspects)
    print(f"✓ max_pool2d_single agrees with the reference on {len(cases)} random cases")


# --- Exercise: avg_pool2d ------------------------------------------------------

def _avg_shape_hint(got, x, k):
    N, C, H, W = x.shape
    Ho, Wo = H // k, W // k
    if got in {(N, H, W), (N, 1, H, W)}:
        return ("you averaged over the channels (axis 1). Spatial pooling averages over "
                "a k x k window of each channel separately; the channels stay.")
    if got in {(N, C), (N, C, 1, 1)}:
        return ("you averaged over the whole map (global average pooling); average each "
                "k x k window instead.")
    if got == (N, C, H - k + 1, W - k + 1):
        return "you moved the window by 1 pixel (stride 1); here the stride is k."
    if got == (N, C, -(-H // k), -(-W // k)):
        return ("you kept the partial windows at the bottom or right edge; a window that "
                "does not fit is dropped, so crop x to (H // k) * k rows and columns first.")
    if got in {(N, C, Ho - 1, Wo - 1), (N, C, Ho - 1, Wo), (N, C, Ho, Wo - 1)}:
        return "off by one: you dropped the last window that fits."
    if got in {(C, Ho, Wo), (Ho, Wo)}:
        return "you pooled only the first image (or channel); keep the N and C axes."
    if got == (N, C, Wo, Ho):
        return "the height and width axes are swapped."
    return None


def _strided_grouping(x, k):
    """The reshape mistake: (N, C, k, Ho, k, Wo) groups pixels Ho apart, not neighbours."""
    N, C, H, W = x.shape
    Ho, Wo = H // k, W // k
    return x[:, :, :Ho * k, :Wo * k].reshape(N, C, k, Ho, k, Wo).mean(axis=(2, 4))


def _avg_suspects(x, k):
    return [
        ("you took the maximum of each window; average pooling takes the mean.", max_pool2d(x, k)),
        ("you summed each window; average pooling divides the sum by k * k.", avg_pool2d(x, k) * k * k),
        ("your windows are not blocks of neighbouring pixels: reshaping to (N, C, k, H // k, k, W // k) "
         "puts pixels H // k apart in one window. Reshape to (N, C, H // k, k, W // k, k) and "
         "average over axes 3 and 5.", _strided_grouping(x, k)),
        ("you divided by k instead of k * k: a window holds k * k pixels.", avg_pool2d(x, k) * k),
    ]


def _avg_error_hint(message, x, k):
    """A failed reshape where H or W is not a multiple of k: the leftover pixels were not cropped."""
    if "reshape" in message and (x.shape[2] % k or x.shape[3] % k):
        return ("Here H or W is not a multiple of k: crop x to (H // k) * k rows and (W // k) * k "
                "columns before the reshape; the leftover pixels are in no window.")
    return None


def check_avg_pool2d(fn):
    """Check ``fn(x (N, C, H, W), k) -> (N, C, H // k, W // k)``, mean over k x k windows, stride k."""
    cases = _random_cases(4, [((2, 3, 6, 6), 2), ((1, 2, 7, 5), 3), ((3, 2, 8, 12), 4), ((2, 1, 9, 6), 1)],
                          avg_pool2d, "x of shape {shape}, k = {k}")
    run_cases(fn, "avg_pool2d", cases, shape_rule="(N, C, H // k, W // k)", explain_shape=_avg_shape_hint,
              suspects=_avg_suspects, explain_error=_avg_error_hint)
    print(f"✓ avg_pool2d agrees with the reference on {len(cases)} random cases")


# --- Exercise: cross_channel_max -------------------------------------------------

def _ccm(maps, group_size):
    return cross_channel_max(maps[None], group_size)[0]


def _ccm_shape_hint(got, maps, g):
    C, H, W = maps.shape
    hint = f"{C} channels in groups of {g} give {C // g} map" + ("s" if C // g > 1 else "")
    if g == C and got == (H, W):
        return hint + (", still of shape (1, H, W): keep the channel axis (np.squeeze, or a max "
                       "without keepdims, drops it when there is a single group).")
    if got == (g, H, W):
        return hint + (f"; you made {g} groups (of {C // g} channels each) instead of groups of "
                       f"{g} channels, or took the max across the groups instead of within each.")
    if got in {(H, W), (1, H, W)}:
        return hint + "; you took the maximum over all channels at once, not group by group."
    if got == (C, H // g, W // g) or got == (C // g, H // g, W // g):
        return hint + "; you pooled over space (H and W); cross-channel pooling keeps every position."
    if got == (C - g + 1, H, W):
        return hint + "; you slid a window over the channels with stride 1; the groups do not overlap."
    return hint + "."


def _ccm_suspects(maps, g):
    C, H, W = maps.shape
    return [
        ("you averaged each group of channels; cross-channel (maxout) pooling takes the maximum.",
         maps.reshape(C // g, g, H, W).mean(axis=1)),
        (f"wrong grouping: you grouped channels that are {C // g} apart (c, c + {C // g}, ...), "
         f"as reshape(group_size, C // group_size, ...) does. A group is {g} consecutive "
         "channels: reshape(C // group_size, group_size, H, W) and take the max over axis 1.",
         maps.reshape(g, C // g, H, W).max(axis=0)),
        ("you took the max across the groups (one output per position inside a group) instead of "
         "within each group: take the max over axis 1 of reshape(C // group_size, group_size, H, W).",
         maps.reshape(C // g, g, H, W).max(axis=0)),
        (f"you made {g} groups of {C // g} channels instead of groups of {g} channels.",
         maps.reshape(g, C // g, H, W).max(axis=1)),
        ("you took the largest absolute value; maxout keeps the largest value, sign included.",
         _ccm(np.abs(maps), g)),
    ]


def check_cross_channel_max(fn):
    """Check ``fn(maps (C, H, W), group_size) -> (C // group_size, H, W)``, max over consecutive groups."""
    # group_size = C (one group, one map) and group_size = 1, as in the graded test.
    cases = _random_cases(5, [((4, 3, 5), 2), ((6, 4, 4), 3), ((8, 2, 3), 4), ((5, 3, 2), 5), ((3, 4, 4), 1)],
                          _ccm, "maps of shape {shape}, group_size = {k}")
    run_cases(fn, "cross_channel_max", cases, explain_shape=_ccm_shape_hint, suspects=_ccm_suspects)
    print(f"✓ cross_channel_max agrees with the reference on {len(cases)} random cases")
