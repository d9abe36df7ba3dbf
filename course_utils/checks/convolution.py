"""Checks for lesson 01's exercises: conv2d_single, conv_output_size, conv_as_matrix."""

import numpy as np

from ..convolution import conv2d, conv_matrix, output_size
from .harness import Case, Number, run_cases

__all__ = ["check_conv2d_single", "check_output_size", "check_conv_matrix"]


def _reference_conv(image, kernel):
    """(C, H, W) x (C, kh, kw) -> (H - kh + 1, W - kw + 1), by the package's conv2d."""
    return conv2d(image[None], kernel[None])[0, 0]


# --- Exercise: conv2d_single -------------------------------------------------

def _conv_shape_hint(got, image, kernel):
    C, H, W = image.shape
    _, kh, kw = kernel.shape
    expected = (H - kh + 1, W - kw + 1)
    if got == (C,) + expected:
        return "you kept one map per channel; sum over the channels as well."
    if got in {(H - kh, W - kw), (H - kh, W - kw + 1), (H - kh + 1, W - kw)}:
        return "off by one; the last window starts at H - kh, so there are H - kh + 1 positions."
    if len(got) == 2 and got[0] >= H and got[1] >= W:
        return "no padding here; only positions where the whole kernel fits count."
    if got == (W - kw + 1, H - kh + 1):
        return "the height and width axes are swapped."
    return None


def _conv_suspects(image, kernel):
    return [
        ("you flipped the kernel: that is signal-processing convolution. A conv layer "
         "computes cross-correlation, I[x + a, y + b] * G[a, b], with no flip.",
         _reference_conv(image, kernel[:, ::-1, ::-1].copy())),
        ("you used only the first channel; the sum runs over every channel c.",
         _reference_conv(image[:1], kernel[:1])),
        ("you averaged over the channels instead of summing.",
         _reference_conv(image, kernel) / image.shape[0]),
        ("you swapped the kernel's rows and columns (G[b, a] instead of G[a, b]).",
         _reference_conv(image, kernel.transpose(0, 2, 1).copy())),
    ]


def _conv_cases():
    """Three random cases; like the graded test's, one kernel is as large as the image (a 1 x 1
    output) and one has a single row."""
    rng = np.random.default_rng(0)
    cases = []
    for image_shape, kernel_shape in [((3, 6, 7), (3, 3, 2)), ((1, 4, 4), (1, 4, 4)), ((2, 8, 6), (2, 1, 4))]:
        image, kernel = rng.normal(size=image_shape), rng.normal(size=kernel_shape)
        cases.append(Case((image, kernel), _reference_conv(image, kernel),
                          f"image of shape {image_shape}, kernel of shape {kernel_shape}"))
    return cases


def check_conv2d_single(fn):
    """Check ``fn(image (C, H, W), kernel (C, kh, kw)) -> (H - kh + 1, W - kw + 1)``."""
    cases = _conv_cases()
    run_cases(fn, "conv2d_single", cases, shape_rule="(H - kh + 1, W - kw + 1)",
              explain_shape=_conv_shape_hint, suspects=_conv_suspects)
    print(f"✓ conv2d_single agrees with the reference on {len(cases)} random cases")


# --- Exercise: conv_output_size ----------------------------------------------

_SIZE_MISTAKES = [
    ("off by one: you forgot the + 1 (a kernel that fits exactly still has one position).",
     lambda n, k, p, s: (n + 2 * p - k) // s),
    ("padding is added on both sides: use 2 * padding.",
     lambda n, k, p, s: (n + p - k) // s + 1),
    ("you ignored the padding.",
     lambda n, k, p, s: (n - k) // s + 1),
    ("the division must round down (floor): use // so a partial step does not count.",
     lambda n, k, p, s: (n + 2 * p - k) / s + 1),
    ("you rounded up; a window that would hang over the edge is not computed, so round down.",
     lambda n, k, p, s: -(-(n + 2 * p - k) // s) + 1),
    ("the + 1 goes after the division by the stride: floor((n + 2p - k) / s) + 1.",
     lambda n, k, p, s: (n + 2 * p - k + 1) // s),
    ("you ignored the stride.",
     lambda n, k, p, s: n + 2 * p - k + 1),
]


def _size_cases():
    """144 settings, reaching the graded test's: n up to 227, padding up to 3, stride up to 5,
    kernels as large as the input."""
    return [Case((n, k, p, s), output_size(n, k, p, s), f"n={n}, kernel_size={k}, padding={p}, stride={s}")
            for n in (5, 7, 28, 227) for k in (1, 2, 3, 5)
            for p in (0, 1, 3) for s in (1, 2, 5) if k <= n + 2 * p]


def check_output_size(fn):
    """Check ``fn(n, kernel_size, padding, stride) -> floor((n + 2p - k) / s) + 1``."""
    cases = _size_cases()
    run_cases(fn, "conv_output_size", cases, Number(whole=True), mistakes=_SIZE_MISTAKES)
    print(f"✓ conv_output_size is right on all {len(cases)} settings")


# --- Exercise: conv_as_matrix --------------------------------------------------

def _matrix_shape_hint(got, kernel, shape):
    H, W = shape
    kh, kw = kernel.shape
    n_out, n_in = conv_matrix(kernel, shape).shape
    hint = (f"one row per output pixel ({H - kh + 1} x {W - kw + 1} = {n_out}) "
            f"and one column per input pixel ({H} x {W} = {n_in})")
    if got == (n_in, n_out):
        hint += "; you built the transpose"
    return hint + "."


def _matrix_suspects(kernel, shape):
    yield ("you flipped the kernel; a conv layer applies it without the flip.",
           conv_matrix(kernel[::-1, ::-1].copy(), shape))
    if kernel.shape[0] == kernel.shape[1]:
        yield "you swapped the kernel's rows and columns.", conv_matrix(kernel.T.copy(), shape)


def _matrix_value_hint(got, kernel, shape):
    W = shape[1]
    kh, kw = kernel.shape
    nonzero = np.count_nonzero(got, axis=1)
    if np.any(nonzero > kh * kw):
        return (f"a row has {nonzero.max()} nonzero entries, but one output sees only "
                f"{kh} x {kw} = {kh * kw} input pixels: everything outside its receptive "
                "field must be 0.")
    r = int(np.flatnonzero(~np.all(np.isclose(got, conv_matrix(kernel, shape)), axis=1))[0])
    i, j = divmod(r, W - kw + 1)
    return (f"row {r} (output pixel ({i}, {j})) is wrong: it should hold the kernel at "
            f"input pixels ({i}..{i + kh - 1}, {j}..{j + kw - 1}), i.e. column index "
            "row * W + col for input pixel (row, col).")


def check_conv_matrix(fn):
    """Check ``fn(kernel (kh, kw), input_shape (H, W)) -> M (H_out*W_out, H*W)``."""
    rng = np.random.default_rng(1)
    cases = []
    for kernel_shape, input_shape in [((3, 3), (5, 5)), ((2, 3), (4, 6)), ((3, 2), (6, 4))]:
        kernel = rng.normal(size=kernel_shape)
        cases.append(Case((kernel, input_shape), conv_matrix(kernel, input_shape),
                          f"kernel of shape {kernel_shape}, input of shape {input_shape}"))
    run_cases(fn, "conv_as_matrix", cases, explain_shape=_matrix_shape_hint,
              suspects=_matrix_suspects, explain_values=_matrix_value_hint)
    print(f"✓ conv_as_matrix builds the right matrix for {len(cases)} kernel/input shapes")
