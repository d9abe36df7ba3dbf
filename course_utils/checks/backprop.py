"""Checks for lesson 04's exercises: conv backward (dw, dx, and the batched layer with stride
and padding), max-pool backward, softmax cross-entropy gradient. The reference is torch.autograd."""

import numpy as np
import torch
import torch.nn.functional as F

from .harness import ARRAY, Case, CheckFailed, Returns, run_cases, wrong_shape, wrong_type

__all__ = ["check_conv_backward_dw", "check_conv_backward_dx", "check_conv_backward",
           "check_max_pool_backward", "check_softmax_cross_entropy_grad"]


def _autograd(fn, *arrays):
    """Gradients of sum(fn(*tensors) * upstream) w.r.t. each array; upstream is the last one."""
    *inputs, upstream = [torch.tensor(a, dtype=torch.float64) for a in arrays]
    for tensor in inputs:
        tensor.requires_grad_(True)
    (fn(*inputs) * upstream).sum().backward()
    return [tensor.grad.numpy() for tensor in inputs]


def _single_conv(image, kernel):
    return F.conv2d(image[None], kernel[None])[0, 0]


def _conv_inputs(seed):
    """(image, kernel, dout) for three random single-filter convolutions; like the graded test's,
    one kernel is as large as the image (dout is 1 x 1) and one has a single row."""
    rng = np.random.default_rng(seed)
    for image_shape, kernel_shape in [((2, 6, 7), (2, 3, 2)), ((1, 4, 4), (1, 4, 4)), ((3, 7, 6), (3, 1, 4))]:
        image, kernel = rng.normal(size=image_shape), rng.normal(size=kernel_shape)
        out_shape = (image_shape[1] - kernel_shape[1] + 1, image_shape[2] - kernel_shape[2] + 1)
        yield image, kernel, rng.normal(size=out_shape)


def _about(**arrays):
    return ", ".join(f"{name} of shape {array.shape}" for name, array in arrays.items())


# --- Exercise: conv_backward_dw ----------------------------------------------------------------

def _dw(dout, image, kernel_size):
    """dL/dkernel; it does not depend on the kernel's values, so a zero kernel stands in."""
    return _autograd(_single_conv, image, np.zeros((image.shape[0], *kernel_size)), dout)[1]


def _dw_suspects(dout, image, kernel_size):
    expected = _dw(dout, image, kernel_size)
    return [
        ("you flipped: dw is the cross-correlation of the input with the upstream gradient, "
         "dw_c[a, b] = Σ_ij dout[i, j] · I_c[i + a, j + b], with no rotation.", expected[:, ::-1, ::-1]),
        ("you flipped the upstream gradient: slide dout over the input as it is.",
         _dw(dout[::-1, ::-1].copy(), image, kernel_size)),
        ("you used only the first channel: each channel c of the filter gets its own gradient "
         "from input channel c.", np.broadcast_to(expected[:1], expected.shape)),
        ("you averaged over the output positions; the weight is shared by all of them, so the "
         "gradients add up.", expected / dout.size),
    ]


def check_conv_backward_dw(fn):
    """Check ``fn(dout (Ho, Wo), image (C, H, W), kernel_size (kh, kw)) -> dw (C, kh, kw)``."""
    cases = [Case((dout, image, kernel.shape[1:]), _dw(dout, image, kernel.shape[1:]),
                  _about(dout=dout, image=image, kernel=kernel))
             for image, kernel, dout in _conv_inputs(0)]
    run_cases(fn, "conv_backward_dw", cases, suspects=_dw_suspects)
    print("✓ conv_backward_dw matches torch.autograd on 3 random cases")


# --- Exercise: conv_backward_dx ----------------------------------------------------------------

def _dx(dout, kernel):
    """dL/dimage; it does not depend on the image's values, so a zero image stands in."""
    (Ho, Wo), (C, kh, kw) = dout.shape, kernel.shape
    return _autograd(_single_conv, np.zeros((C, Ho + kh - 1, Wo + kw - 1)), kernel, dout)[0]


def _dx_shape_hint(got, dout, kernel):
    if np.prod(got) == _dx(dout, kernel).size:
        return None  # the right number of values in another shape: not a padding mistake
    return ("dx must have the input's shape: pad dout with kh - 1 rows and kw - 1 columns of zeros "
            "on each side (a *full* convolution), then slide the rotated kernel over it.")


def _dx_suspects(dout, kernel):
    kh, kw = kernel.shape[1:]
    unrotated = np.stack([F.conv2d(torch.tensor(dout)[None, None], torch.tensor(k)[None, None],
                                   padding=(kh - 1, kw - 1))[0, 0].numpy() for k in kernel])
    expected = _dx(dout, kernel)
    return [
        ("you forgot to rotate the kernel by 180°: dx is the full convolution of dout with the "
         "kernel, i.e. the full cross-correlation with the kernel rotated by 180°.", unrotated),
        ("you used only the first channel: every input channel c gets dout convolved with G_c.",
         np.broadcast_to(expected[:1], expected.shape)),
    ]


def check_conv_backward_dx(fn):
    """Check ``fn(dout (Ho, Wo), kernel (C, kh, kw)) -> dx (C, Ho + kh - 1, Wo + kw - 1)``."""
    cases = [Case((dout, kernel), _dx(dout, kernel), _about(dout=dout, kernel=kernel))
             for _, kernel, dout in _conv_inputs(1)]
    run_cases(fn, "conv_backward_dx", cases, explain_shape=_dx_shape_hint, suspects=_dx_suspects)
    print("✓ conv_backward_dx matches torch.autograd on 3 random cases")


# --- Exercise: conv_backward (batched, several filters, stride and padding) ---------------------

_PARTS = ("dx", "dw", "db")


class _Gradient(Returns):
    """The exercise returns the tuple (dx, dw, db); one check reads one of them."""

    def __init__(self, part):
        self.part = part

    def read(self, got, name):
        """Entry ``part`` of the student's tuple as a float array, or CheckFailed saying why not."""
        advice = "end with `return dx, dw, db`"
        if isinstance(got, (np.ndarray, torch.Tensor)):
            raise CheckFailed(wrong_shape(name, got.shape, "a tuple (dx, dw, db)", advice + "."))
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise wrong_type(name, got, "a tuple (dx, dw, db) of three arrays", advice)
        value = got[_PARTS.index(self.part)]
        if value is None:
            raise CheckFailed(f"{name} returned None as {self.part}: compute it and {advice}.")
        return ARRAY.read(value, f"{name}'s {self.part}")


def _conv_layer_gradients(dout, x, w, stride, padding):
    """(dx, dw, db) of F.conv2d(x, w, b, stride, padding) for the upstream gradient dout."""
    b = np.zeros(w.shape[0])
    return tuple(_autograd(lambda x_, w_, b_: F.conv2d(x_, w_, b_, stride=stride, padding=padding),
                           x, w, b, dout))


def _scatter(dout, x, w, stride, padding, *, step=None, assign=False, rotate=False):
    """(dx_padded, dw) by the scatter loops, with the knobs that make the typical wrong answers:
    windows ``step`` apart instead of ``stride``, ``=`` instead of ``+=`` into dx, w rotated."""
    step = stride if step is None else step
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    kernel = w[:, :, ::-1, ::-1] if rotate else w
    dxp, dw = np.zeros(xp.shape), np.zeros(w.shape)
    N, F_, Ho, Wo = dout.shape
    k = w.shape[2]
    for n in range(N):
        for f in range(F_):
            for i in range(Ho):
                for j in range(Wo):
                    window = (n, slice(None), slice(i * step, i * step + k), slice(j * step, j * step + k))
                    dw[f] += dout[n, f, i, j] * xp[window]
                    if assign:
                        dxp[window] = dout[n, f, i, j] * kernel[f]
                    else:
                        dxp[window] += dout[n, f, i, j] * kernel[f]
    return dxp, dw


def _crop(dxp, padding):
    return dxp[:, :, padding:dxp.shape[2] - padding, padding:dxp.shape[3] - padding]


def _layer_dx_shape_hint(got, dout, x, w, stride, padding):
    N, C, H, W = x.shape
    if tuple(got) == (N, C, H + 2 * padding, W + 2 * padding) and padding:
        return (f"that is the padded input's shape: you forgot to un-pad dx. Crop the padding "
                f"(p = {padding}) from every side: dx = dx_padded[:, :, p:p + H, p:p + W].")
    return "dx must have the input's shape (N, C, H, W)."


def _layer_dw_shape_hint(got, dout, x, w, stride, padding):
    return "dw has one entry per weight, the shape of w (F, C, k, k): add up over the batch, don't keep it."


def _layer_db_shape_hint(got, dout, x, w, stride, padding):
    return ("db has one entry per filter, shape (F,): every output of filter f used b[f], so sum dout "
            "over the batch and both spatial axes, dout.sum(axis=(0, 2, 3)).")


_STRIDE = ("you ignored the stride: output (i, j) read the window that starts at input (s·i, s·j), "
           "not (i, j)")


def _layer_dx_suspects(dout, x, w, stride, padding):
    return [
        ("the filter is rotated the wrong way: scattering, output (i, j) sends dout · w[f, c, a, b] "
         "to the padded input at (s·i + a, s·j + b), with w as it is; the 180° rotation belongs "
         "only to the gather (full convolution) form.", _crop(_scatter(dout, x, w, stride, padding,
                                                                       rotate=True)[0], padding)),
        (_STRIDE + ", so dx lands in the wrong place.",
         _crop(_scatter(dout, x, w, stride, padding, step=1)[0], padding)),
        ("you assigned (=) instead of adding (+=): an input pixel collects gradient from every "
         "filter and every window that covers it.",
         _crop(_scatter(dout, x, w, stride, padding, assign=True)[0], padding)),
        ("you cropped the padding from one side only: it is on both sides, dx = "
         "dx_padded[:, :, p:p + H, p:p + W].",
         _scatter(dout, x, w, stride, padding)[0][:, :, :x.shape[2], :x.shape[3]]),
    ]


def _layer_dw_suspects(dout, x, w, stride, padding):
    dw = _conv_layer_gradients(dout, x, w, stride, padding)[1]
    first = _conv_layer_gradients(dout[:1], x[:1], w, stride, padding)[1]
    return [
        ("rotated by 180°: dw[f, c, a, b] = Σ_n,i,j dout[n, f, i, j] · x_padded[n, c, s·i + a, "
         "s·j + b], with no rotation.", dw[:, :, ::-1, ::-1]),
        (_STRIDE + ".", _scatter(dout, x, w, stride, padding, step=1)[1]),
        ("you divided by the batch size N: the filters are shared by every image, so their gradients "
         "add up (dout already carries the 1/N of a mean loss).", dw / len(x)),
        ("you used only the first image: the filters are shared by the whole batch, so dw is the sum "
         "over all N images.", first),
    ]


def _layer_db_suspects(dout, x, w, stride, padding):
    db = dout.sum(axis=(0, 2, 3))
    return [
        ("not summed over the batch: you used only the first image's dout; sum over all "
         "N images and both spatial axes, dout.sum(axis=(0, 2, 3)).", dout[0].sum(axis=(1, 2))),
        ("you averaged instead of adding: every output of filter f used b[f] once, so db[f] is "
         "the sum of dout[:, f] over the batch and both spatial axes.", dout.mean(axis=(0, 2, 3))),
        ("you divided by the batch size N: db is the sum over the batch, not the mean.", db / len(x)),
    ]


def _layer_inputs():
    """(dout, x, w, stride, padding): overlapping windows with padding, stride 1 without, and a
    stride larger than the filter (rows of the padded input that no window reads)."""
    rng = np.random.default_rng(4)
    for (N, C, H, W), (F_, k), stride, padding in [((2, 3, 7, 7), (4, 3), 2, 1), ((3, 2, 6, 5), (2, 3), 1, 0),
                                                   ((1, 2, 8, 8), (3, 2), 3, 2)]:
        x, w = rng.normal(size=(N, C, H, W)), rng.normal(size=(F_, C, k, k))
        Ho, Wo = (H + 2 * padding - k) // stride + 1, (W + 2 * padding - k) // stride + 1
        yield rng.normal(size=(N, F_, Ho, Wo)), x, w, stride, padding


def _naming(part, suspects):
    """The suspects with each hint starting with the gradient it is about ("dx: ...")."""
    return lambda *args: [(f"{part}: {hint}", wrong) for hint, wrong in suspects(*args)]


def check_conv_backward(fn):
    """Check ``fn(dout (N, F, Ho, Wo), x (N, C, H, W), w (F, C, k, k), stride, padding)
    -> (dx (N, C, H, W), dw (F, C, k, k), db (F,))``, each part against torch.autograd."""
    inputs = list(_layer_inputs())
    expected = [_conv_layer_gradients(*args) for args in inputs]
    hints = {"dx": (_layer_dx_shape_hint, _layer_dx_suspects, "x's shape (N, C, H, W)"),
             "dw": (_layer_dw_shape_hint, _layer_dw_suspects, "w's shape (F, C, k, k)"),
             "db": (_layer_db_shape_hint, _layer_db_suspects, "(F,)")}
    for index, part in enumerate(_PARTS):
        explain_shape, suspects, rule = hints[part]
        cases = [Case(args, grads[index], f"checking {part}; " + _about(dout=args[0], x=args[1], w=args[2])
                      + f", stride {args[3]}, padding {args[4]}") for args, grads in zip(inputs, expected)]
        run_cases(fn, "conv_backward", cases, _Gradient(part), shape_rule=rule,
                  explain_shape=explain_shape, suspects=_naming(part, suspects))
    print("✓ conv_backward matches torch.autograd (dx, dw and db) on 3 random cases")


# --- Exercise: max_pool_backward ---------------------------------------------------------------

def _max_pool(x, k):
    return F.max_pool2d(x[None, None], k)[0, 0]


def _pool_dx(dout, x, k):
    return _autograd(lambda t: _max_pool(t, k), x, dout)[0]


def _pool_suspects(dout, x, k):
    spread = np.kron(dout, np.ones((k, k)))
    return [
        ("you sent the gradient to every element of the window; only the maximum affected the "
         "output, so only it gets dout (the others get 0).", spread),
        ("you spread dout / k² over the window: that is the gradient of *average* pooling.", spread / k ** 2),
        ("you sent the gradient to the minimum of each window.",
         _autograd(lambda t: -_max_pool(-t, k), x, dout)[0]),
    ]


def check_max_pool_backward(fn):
    """Check ``fn(dout (H // k, W // k), x (H, W), k) -> dx (H, W)`` for k x k max pooling, stride k."""
    rng = np.random.default_rng(2)
    cases = []
    for (H, W), k in [((4, 4), 2), ((6, 9), 3), ((5, 7), 1)]:  # k = 1 as in the graded test
        x, dout = rng.normal(size=(H, W)), rng.normal(size=(H // k, W // k))
        cases.append(Case((dout, x, k), _pool_dx(dout, x, k), _about(dout=dout, x=x) + f", k = {k}"))
    run_cases(fn, "max_pool_backward", cases, suspects=_pool_suspects)
    print("✓ max_pool_backward matches torch.autograd on 3 random cases")


# --- Exercise: softmax_cross_entropy_grad ------------------------------------------------------

def _softmax_grad(logits, labels):
    tensor = torch.tensor(logits, requires_grad=True)
    F.cross_entropy(tensor, torch.tensor(labels)).backward()
    return tensor.grad.numpy()


def _softmax_suspects(logits, labels):
    expected = _softmax_grad(logits, labels)
    return [
        ("the sign is flipped: the gradient is softmax(logits) − one_hot(labels).", -expected),
        ("you forgot to divide by the batch size N: the loss is the *mean* over the batch.",
         expected * len(labels)),
    ]


_SHIFT = ("Subtract each row's maximum before np.exp, logits - logits.max(axis=1, keepdims=True): "
          "softmax is unchanged by the shift (the factor exp(-max) cancels between numerator and "
          "denominator), and the largest exponent becomes 0.")

_OVERFLOW = ("it has nan or inf for large logits (around ±1000): np.exp overflows to inf above about "
             "709, and a row whose exponentials all underflow to 0 gives 0 / 0. " + _SHIFT)

_BATCH_MAXIMUM = ("it has nan in the rows whose logits are all far below the largest logit of the "
                  "batch: you subtracted one maximum for the whole batch, so every np.exp in those rows "
                  "underflows to 0 and their softmax is 0 / 0. Subtract each row's own maximum, "
                  "logits.max(axis=1, keepdims=True): softmax is unchanged by a shift of its row.")

_LARGE_WRONG = ("right on ordinary logits, wrong on large ones (around ±1000): compute the softmax "
                "exactly, without clipping the logits or replacing nan. " + _SHIFT)


def _softmax_value_hint(got, logits, labels):
    """Words for a wrong answer on large logits: nan or inf (an unstable softmax), or values that
    clipping or np.nan_to_num made finite but wrong. None on ordinary logits."""
    if np.abs(logits).max() < 500:
        return None
    bad_rows = ~np.isfinite(got).all(axis=1)
    if not bad_rows.any():
        return _LARGE_WRONG
    far_below = logits.max(axis=1) < logits.max() - 700
    rest_right = np.allclose(got[~bad_rows], _softmax_grad(logits, labels)[~bad_rows])
    if np.all(far_below[bad_rows]) and rest_right:
        return _BATCH_MAXIMUM
    return _OVERFLOW


def _large_logits(rng):
    """(7, 5) logits as large as the graded test's: rows near +1000 and -1000, rows spread over
    ±1000 (their largest logit not in the first column) and a row near 0. Every unstable softmax
    gives nan here: no shift, one shift for the whole batch, a shift by the row's minimum, mean
    or first entry. The noise comes in steps of 1/8, so that the logits are exact in float32 and
    a float32 softmax is not blamed for rounding."""
    rows = [[1000] * 5, [-1000] * 5, [0, 1000, -1000, 300, -300], [0] * 5,
            [-300, -1000, 300, 0, 1000], [1000] * 5, [-1000] * 5]
    return np.array(rows, dtype=float) + np.round(rng.normal(size=(7, 5)) * 24) / 8


def check_softmax_cross_entropy_grad(fn):
    """Check ``fn(logits (N, K), labels (N,)) -> dlogits (N, K)`` of the *mean* cross-entropy,
    on ordinary logits and on large ones (around ±1000), which need the max shift."""
    rng = np.random.default_rng(3)
    cases = []
    for N, K in [(4, 3), (1, 10)]:
        logits, labels = rng.normal(size=(N, K)) * 3, rng.integers(0, K, size=N)
        cases.append(Case((logits, labels), _softmax_grad(logits, labels),
                          _about(logits=logits, labels=labels)))
    logits = _large_logits(rng)
    labels = rng.integers(0, logits.shape[1], size=len(logits))
    cases.append(Case((logits, labels), _softmax_grad(logits, labels),
                      f"logits of shape {logits.shape}, large: around ±1000; labels of shape {labels.shape}"))
    # An unstable softmax overflows in the large case: the message says so, numpy need not warn.
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        run_cases(fn, "softmax_cross_entropy_grad", cases, suspects=_softmax_suspects,
                  explain_values=_softmax_value_hint)
    print("✓ softmax_cross_entropy_grad matches torch.autograd on 3 random cases")
