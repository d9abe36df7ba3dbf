"""Time the fast numpy convolution (forward + backward) against PyTorch's CPU convolution.

    python benchmarks/conv_numpy_vs_torch.py [--threads 1] [--rounds 11] [--reps 5]

For each layer shape typical of the course, numpy and torch run alternately
(round 1: numpy, torch; round 2: numpy, torch; ...), so that a slow moment of
the machine hits both sides. A round times ``reps`` consecutive calls and keeps
the mean; each side's time is the median over the rounds. The table shows both
times and the ratio numpy / torch; the last lines the median ratio over the
shapes (issue 14's target: at most 1.0).

The last two columns time the three matrix products alone that the im2col method
cannot avoid (forward W·cols, dW = dout·colsᵀ, dcols = Wᵀ·dout, on arrays of the
layer's sizes), in the same alternating rounds, as a ratio to torch's whole step:
a floor under the numpy ratio whatever the copies around the products cost.

Both sides use float32 and the same number of threads: numpy's BLAS gets
``--threads`` (OPENBLAS_NUM_THREADS, set before numpy is imported), torch is set
to the number of threads the BLAS then reports, and both are printed. The default
is one thread: numpy's copies (im2col, transposes) run on one core whatever the
BLAS does, and on a small shared machine threaded timings are erratic.

One call is a forward and a backward pass: for numpy ``conv2d`` then
``conv2d_backward`` (dx, dw, db); for torch ``F.conv2d`` with ``requires_grad``
on x, w and b, then ``out.backward(dout)``.
"""

import argparse
import ctypes
import os
import time

PARSER = argparse.ArgumentParser(description=__doc__.splitlines()[0])
PARSER.add_argument("--threads", type=int, default=1, help="threads for numpy's BLAS and torch")
PARSER.add_argument("--rounds", type=int, default=11, help="alternating rounds per shape")
PARSER.add_argument("--reps", type=int, default=5, help="calls timed together in a round")
ARGS = PARSER.parse_args()
for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ[variable] = str(ARGS.threads)  # read when numpy's BLAS loads
# PyTorch's OpenMP threads busy-wait after each call by default and then steal the
# cores from numpy's BLAS threads when the two alternate; let them sleep instead.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from course_utils.numpy_cnn import conv2d, conv2d_backward  # noqa: E402

# (N, C, H, W, F, k, stride, padding)
SHAPES = [
    (64, 1, 28, 28, 8, 5, 1, 0),
    (64, 8, 12, 12, 16, 5, 1, 0),
    (64, 16, 14, 14, 32, 3, 1, 1),
    (32, 32, 14, 14, 64, 3, 2, 1),
    (32, 3, 32, 32, 16, 3, 1, 1),
    (16, 64, 8, 8, 64, 3, 1, 1),
]


def numpy_blas_threads():
    """Threads of the OpenBLAS that numpy loaded (asked through ctypes), or None if unknown."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps
                     if "openblas" in line.lower() and "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        for symbol in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                       "openblas_get_num_threads"):
            if hasattr(lib, symbol):
                return int(getattr(lib, symbol)())
    return None


def time_calls(fn, reps):
    """Mean seconds per call over ``reps`` consecutive calls."""
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps


def bench_shape(shape, rounds, reps, rng):
    N, C, H, W, Fo, k, stride, padding = shape
    x = rng.standard_normal((N, C, H, W), dtype=np.float32)
    w = rng.standard_normal((Fo, C, k, k), dtype=np.float32)
    b = rng.standard_normal(Fo, dtype=np.float32)
    out = conv2d(x, w, b, stride, padding)
    dout = rng.standard_normal(out.shape, dtype=np.float32)
    xt, wt, bt = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    dout_t = torch.from_numpy(dout)

    def numpy_step():
        conv2d(x, w, b, stride, padding)
        conv2d_backward(dout, x, w, stride, padding)

    def torch_step():
        xt.grad = wt.grad = bt.grad = None
        F.conv2d(xt, wt, bt, stride=stride, padding=padding).backward(dout_t)

    torch_step()  # warm up both, and check that they compute the same thing
    dx, dw, db = conv2d_backward(dout, x, w, stride, padding)
    for mine, theirs in ((out, F.conv2d(xt, wt, bt, stride=stride, padding=padding)),
                         (dx, xt.grad), (dw, wt.grad), (db, bt.grad)):
        theirs = theirs.detach().numpy()
        assert mine.dtype == np.float32, mine.dtype
        assert np.allclose(mine, theirs, rtol=1e-3, atol=1e-3 * np.abs(theirs).max()), shape
    gemms = gemms_of(shape, out.shape, rng)
    numpy_times, torch_times, gemm_times = [], [], []
    for _ in range(rounds):
        numpy_times.append(time_calls(numpy_step, reps))
        torch_times.append(time_calls(torch_step, reps))
        gemm_times.append(time_calls(gemms, reps))
    return np.median(numpy_times), np.median(torch_times), np.median(gemm_times)


def gemms_of(shape, out_shape, rng):
    """The three products of an im2col convolution's forward and backward, on float32 arrays of
    the layer's sizes: W (F, C·k·k) · cols (C·k·k, N·Ho·Wo), dout (F, N·Ho·Wo) · colsᵀ, Wᵀ · dout."""
    N, C, H, W, Fo, k, stride, padding = shape
    rows, columns = C * k * k, N * out_shape[2] * out_shape[3]
    w2 = rng.standard_normal((Fo, rows), dtype=np.float32)
    cols = rng.standard_normal((rows, columns), dtype=np.float32)
    dout2 = rng.standard_normal((Fo, columns), dtype=np.float32)

    def products():
        w2 @ cols
        dout2 @ cols.T
        w2.T @ dout2

    return products


def main(args):
    blas_threads = numpy_blas_threads()
    torch.set_num_threads(blas_threads or args.threads)
    print(f"numpy {np.__version__} BLAS threads: {blas_threads or 'unknown'}; "
          f"torch {torch.__version__} threads: {torch.get_num_threads()}; "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; float32; "
          f"{args.rounds} rounds x {args.reps} calls, forward + backward")
    print(f"{'N, C, H, W, F, k, s, p':<30}{'numpy ms':>10}{'torch ms':>10}{'ratio':>8}"
          f"{'GEMMs ms':>10}{'GEMMs/torch':>13}")
    rng = np.random.default_rng(0)
    ratios, floors = [], []
    for shape in SHAPES:
        t_numpy, t_torch, t_gemms = bench_shape(shape, args.rounds, args.reps, rng)
        ratios.append(t_numpy / t_torch)
        floors.append(t_gemms / t_torch)
        print(f"{str(shape):<30}{t_numpy * 1e3:>10.2f}{t_torch * 1e3:>10.2f}{ratios[-1]:>8.2f}"
              f"{t_gemms * 1e3:>10.2f}{floors[-1]:>13.2f}")
    print(f"median ratio numpy / torch: {np.median(ratios):.2f} (issue 14's target: at most 1.0)")
    print(f"median ratio of the three GEMMs alone / torch's whole step: {np.median(floors):.2f} "
          "(the floor of the im2col method with this BLAS)")


if __name__ == "__main__":
    main(ARGS)
