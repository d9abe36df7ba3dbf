"""Throughput of ``fit()`` against a plain DataLoader training loop, side by side.

    python benchmarks/fit_vs_dataloader.py [--models lenet small_cnn] [--images 12800]
        [--batch-size 256] [--rounds 3]

For each model, the same data (the first ``--images`` Fashion-MNIST training images),
batch size, optimizer (Adam 1e-3) and initial weights are trained for one epoch by

* ``fit``: ``course_utils.training.fit`` with its defaults (tensors kept on the device,
  one indexing operation per batch, channels_last for conv nets on CPU/CUDA), no
  augmentation, no validation data, no progress bar;
* ``loader``: the textbook loop, ``DataLoader(TensorDataset(x, y), batch_size,
  shuffle=True)`` with ``model(x)``, ``cross_entropy``, ``backward``, ``step``;
* ``loader+cl``: the same loop with the model and batches in channels_last, to separate
  the data-path gain from the memory-format gain.

The three alternate (round 1: fit, loader, loader+cl; round 2: ...), so a slow moment of
the shared machine hits all of them; each figure is the median images/second over the
rounds. The last line per model is the ratio fit / loader.
"""

import argparse
import os
import statistics
import time

# As in the CLI: passive OpenMP waiting, so other processes on a shared machine do not
# turn the timings into a measure of thread contention (set before torch loads OpenMP).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from course_utils.data import load_fashion_mnist  # noqa: E402
from course_utils.models import build_model  # noqa: E402
from course_utils.training import describe_device, fit, pick_device  # noqa: E402


def loader_epoch(model, images, labels, batch_size, device, channels_last):
    """One epoch of the textbook DataLoader loop; returns seconds."""
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=True)
    model.train()
    start = time.perf_counter()
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def fit_epoch(model, images, labels, batch_size, device):
    """One epoch of ``fit`` with its defaults; returns its training seconds."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = fit(model, (images, labels), None, epochs=1, batch_size=batch_size,
                  optimizer=optimizer, device=device, progress=False, amp=False)
    return history.seconds[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lenet", "small_cnn"])
    parser.add_argument("--images", type=int, default=12800)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = pick_device(args.device)
    images, labels = load_fashion_mnist("train")
    images, labels = images[:args.images], labels[:args.images]
    print(f"{describe_device(device)}; {args.images} images, batch {args.batch_size}, "
          f"{args.rounds} alternating rounds (median images/s)")
    for name in args.models:
        torch.manual_seed(0)
        initial = build_model(name).state_dict()
        rates = {"fit": [], "loader": [], "loader+cl": []}
        for _ in range(args.rounds):
            for kind in rates:
                model = build_model(name)
                model.load_state_dict(initial)
                model.to(device)
                if kind == "fit":
                    seconds = fit_epoch(model, images, labels, args.batch_size, device)
                else:
                    seconds = loader_epoch(model, images, labels, args.batch_size, device,
                                           channels_last=kind == "loader+cl")
                rates[kind].append(args.images / seconds)
        median = {kind: statistics.median(values) for kind, values in rates.items()}
        print(f"{name:10s} fit {median['fit']:8.0f} img/s   DataLoader {median['loader']:8.0f} "
              f"img/s   DataLoader+channels_last {median['loader+cl']:8.0f} img/s")
        print(f"{name:10s} ratio fit / DataLoader = {median['fit'] / median['loader']:.2f}   "
              f"fit / DataLoader+channels_last = {median['fit'] / median['loader+cl']:.2f}")


if __name__ == "__main__":
    main()
