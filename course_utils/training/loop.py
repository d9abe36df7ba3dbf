"""The training loop: ``fit()`` trains a classifier, ``evaluate()`` measures it.

Design choices (see the docstrings for the details):

* The data sets are tensors kept on the device for the whole run; a batch is one indexing
  operation (``images[batch_indices]``), so there is no DataLoader, worker or collate cost.
* Augmentation is a function ``f(images, generator) -> images`` applied to the batch on the
  device (see :mod:`course_utils.training.augment`).
* The data order and the augmentation draw from their own generators seeded by ``seed``;
  their states are in every checkpoint, so a resumed run gives the same weights as an
  uninterrupted one (bit for bit on CPU).
* On a GPU: mixed precision (bfloat16 where supported, else float16 with loss scaling),
  channels_last memory format for conv nets, and optionally ``torch.compile``.
* The scheduler, when given, is stepped after every batch (build it for
  ``epochs * steps_per_epoch(...)`` steps).
* Under ``torchrun`` (see :mod:`course_utils.training.distributed`) the model is wrapped in
  DistributedDataParallel and each rank trains on its shard; ``batch_size`` is the global
  batch, split evenly over the ranks, so the hyper-parameters mean the same with any K.
"""

import contextlib
import math
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import distributed as dist_utils
from .augment import make_augment
from .checkpoint import CheckpointError, load_checkpoint, rng_states, save_checkpoint
from .device import pick_device

__all__ = ["History", "Evaluation", "fit", "evaluate", "steps_per_epoch"]


@dataclass
class History:
    """Per-epoch record of a run: one list entry per completed epoch.

    ``train_loss`` and ``train_accuracy`` are averaged over the epoch's (augmented) training
    batches while the weights changed; ``test_*`` are measured after the epoch; ``seconds``
    is the epoch's training time (evaluation excluded); ``lr`` the learning rate at its end.
    """

    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    test_accuracy: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    lr: list = field(default_factory=list)

    def __len__(self):
        return len(self.epoch)

    def append(self, **row):
        """Add one epoch; ``row`` has one value for every field."""
        if set(row) != set(self.to_dict()):
            raise ValueError(f"a history row needs exactly the fields {sorted(self.to_dict())}")
        for name, value in row.items():
            getattr(self, name).append(value)

    @property
    def total_seconds(self):
        """Training seconds summed over the epochs."""
        return float(sum(self.seconds))

    def to_dict(self):
        """Plain dict of lists (JSON-ready)."""
        return {name: list(values) for name, values in asdict(self).items()}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict` (missing fields start empty)."""
        names = set(cls().to_dict())
        return cls(**{name: list(values) for name, values in data.items() if name in names})


class Evaluation(NamedTuple):
    """Accuracy (fraction correct, 0..1) and mean cross-entropy loss on a data set."""

    accuracy: float
    loss: float


def steps_per_epoch(train_size, batch_size, world_size=1):
    """Optimizer steps per epoch, e.g. for ``OneCycleLR(total_steps=epochs * this)``."""
    return math.ceil((train_size // world_size) / (batch_size // world_size))


# --- settings --------------------------------------------------------------------------------

def _amp_dtype(amp, device):
    """Autocast dtype for ``amp`` (None = auto: on for CUDA only), or None for full precision."""
    if amp is None:
        amp = device.type == "cuda"
    if not amp:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float16 if device.type == "mps" else torch.bfloat16


def _use_channels_last(channels_last, model, device):
    """channels_last for conv nets on CUDA and CPU (measured faster there), unless told."""
    if channels_last is not None:
        return bool(channels_last)
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    return has_conv and device.type in ("cuda", "cpu")


def _autocast(device, dtype):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _check_data(data, name):
    """(images N×C×H×W, labels N) from a pair of tensors, or ValueError."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2
            and all(torch.is_tensor(t) for t in data)):
        raise ValueError(f"{name} must be a pair of tensors (images N×C×H×W, labels N)")
    images, labels = data
    if images.dim() != 4 or labels.dim() != 1 or len(images) != len(labels):
        raise ValueError(f"{name}: images must be N×C×H×W and labels N, got "
                         f"{tuple(images.shape)} and {tuple(labels.shape)}")
    if len(images) == 0:
        raise ValueError(f"{name} is empty")
    return images, labels


# --- evaluation ------------------------------------------------------------------------------

@torch.no_grad()
def _evaluate_sums(model, images, labels, batch_size, device, amp_dtype, channels_last):
    """(summed loss, number correct, count) of ``model`` on the data, in eval mode."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device, non_blocking=True)
        y = labels[start:start + batch_size].to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(device, amp_dtype):
            logits = model(x)
        loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").double()
        correct += (logits.argmax(1) == y).sum()
    model.train(was_training)
    return loss_sum.item(), correct.item(), len(images)


def evaluate(model, images, labels, batch_size=1024, device=None, amp=None, channels_last=None):
    """Accuracy and mean loss of ``model`` on ``images`` N×C×H×W with ``labels`` N.

    Args:
        device: where to run; None uses the device the model's parameters are on (the model
            is moved when a device is given).
        amp, channels_last: as in :func:`fit` (None: automatic).

    Returns:
        Evaluation(accuracy, loss), e.g. ``acc, loss = evaluate(...)``.
    """
    images, labels = _check_data((images, labels), "evaluate data")
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    else:
        device = pick_device(device)
        model.to(device)
    use_cl = _use_channels_last(channels_last, model, device)
    if use_cl:
        model.to(memory_format=torch.channels_last)
    loss_sum, correct, count = _evaluate_sums(model, images, labels, batch_size, device,
                                              _amp_dtype(amp, device), use_cl)
    return Evaluation(correct / count, loss_sum / count)


# --- interrupts ------------------------------------------------------------------------------

class _DeferredInterrupt:
    """Turn Ctrl-C / a kernel interrupt into a flag checked between batches.

    The first SIGINT lets the current batch finish, so the checkpoint holds a consistent
    state; a second one interrupts at once. Outside the main thread (where handlers cannot
    be installed) and under DDP, interrupts are left alone.
    """

    def __init__(self, enabled=True):
        self.enabled, self.requested, self.previous = enabled, False, None

    def __enter__(self):
        if self.enabled:
            try:
                self.previous = signal.signal(signal.SIGINT, self._handle)
            except ValueError:  # not the main thread
                self.enabled = False
        return self

    def _handle(self, signum, frame):
        if self.requested:  # second Ctrl-C: stop now
            self._restore()
            raise KeyboardInterrupt
        self.requested = True

    def check(self):
        """Raise KeyboardInterrupt if an interrupt arrived since the last check."""
        if self.requested:
            self.requested = False
            raise KeyboardInterrupt("training interrupted")

    def _restore(self):
        if self.enabled:
            signal.signal(signal.SIGINT, self.previous if self.previous is not None
                          else signal.default_int_handler)
            self.enabled = False

    def __exit__(self, *exc):
        self._restore()
        return False


# --- fit -------------------------------------------------------------------------------------

class _Run:
    """The mutable state of one ``fit`` call: position, generators and partial sums."""

    def __init__(self, seed, rank):
        self.order = torch.Generator().manual_seed(seed)
        self.aug = torch.Generator().manual_seed(seed + 1 + 1_000_003 * rank)
        self.epoch, self.step = 0, 0
        self.order_at_epoch_start = self.order.get_state()
        self.aug_at_step, self.torch_at_step = self.aug.get_state(), torch.get_rng_state()
        self.loss_sum, self.correct, self.seen, self.seconds = 0.0, 0, 0, 0.0

    def extra(self, fit_config, scaler):
        """What a checkpoint needs beyond model/optimizer/scheduler to continue exactly."""
        return {"fit": fit_config, "step": self.step,
                "order_at_epoch_start": self.order_at_epoch_start, "aug": self.aug_at_step,
                "partial": [self.loss_sum, self.correct, self.seen, self.seconds],
                "scaler": scaler.state_dict() if scaler is not None else None}

    def restore(self, state, fit_config, path, scaler):
        extra = state.get("extra") or {}
        if "fit" not in extra or "step" not in extra:
            raise CheckpointError(f"{path} has no training-loop position (was it written by "
                                  "save_checkpoint directly?); pass resume=False to start over.")
        for key in ("batch_size", "train_size", "seed", "world_size"):
            if extra["fit"].get(key) != fit_config[key]:
                raise CheckpointError(
                    f"{path} was written by a run with {key}={extra['fit'].get(key)}, this one "
                    f"has {key}={fit_config[key]}: resuming would not continue that run. Use "
                    "the same settings, another checkpoint path, or resume=False.")
        self.epoch, self.step = state["epoch"], extra["step"]
        self.order_at_epoch_start = extra["order_at_epoch_start"]
        self.aug.set_state(extra["aug"])
        self.aug_at_step = extra["aug"]
        self.loss_sum, correct, seen, self.seconds = extra["partial"]
        self.correct, self.seen = int(correct), int(seen)
        if scaler is not None and extra.get("scaler"):
            scaler.load_state_dict(extra["scaler"])

    def epoch_order(self, n):
        """The permutation of this epoch (regenerated from the saved state on resume)."""
        self.order.set_state(self.order_at_epoch_start)
        return torch.randperm(n, generator=self.order)

    def next_epoch(self):
        self.epoch, self.step = self.epoch + 1, 0
        self.order_at_epoch_start = self.order.get_state()
        self.loss_sum, self.correct, self.seen, self.seconds = 0.0, 0, 0, 0.0


def _save(path, model, optimizer, scheduler, history, run, fit_config, scaler, rng=None):
    if path is not None and dist_utils.is_main_process():
        save_checkpoint(path, model, optimizer, scheduler, history.to_dict(), run.epoch,
                        extra=run.extra(fit_config, scaler), rng=rng)


def fit(model, train_data, test_data=None, epochs=1, batch_size=128, optimizer=None,
        scheduler=None, augment=None, device=None, checkpoint_path=None, resume=True,
        amp=None, channels_last=None, compile=False, progress=True, seed=0,
        eval_batch_size=1024, callback=None):
    """Train ``model`` with cross-entropy on in-memory tensors and return its History.

    Args:
        model: nn.Module mapping images N×C×H×W to logits N×classes (modified in place).
        train_data, test_data: pairs (images N×C×H×W float, labels N int64); test_data may
            be None (test fields are then NaN).
        epochs: total number of epochs of the run (a resumed run continues up to it).
        batch_size: images per optimizer step (over all ranks under torchrun).
        optimizer: default ``Adam(lr=1e-3)``; scheduler: stepped after every batch.
        augment: None, a name from ``augment.AUGMENTATIONS`` or ``f(images, generator)``.
        device: None (``pick_device()``), a name or a torch.device.
        checkpoint_path: if given, a checkpoint is written after every epoch and when the
            run is interrupted (Ctrl-C or a kernel interrupt: the current batch finishes,
            the checkpoint is written, KeyboardInterrupt is raised again).
        resume: continue from ``checkpoint_path`` if that file exists. (Under torchrun rank 0
            writes the per-epoch checkpoints; an interrupt there writes none, as the ranks
            would stop at different batches.)
        amp: mixed precision (None: on CUDA only). channels_last: None = for conv nets on
            CUDA and CPU. compile: wrap the model in ``torch.compile``.
        progress: show a tqdm bar (notebook widget in Jupyter). seed: data order and
            augmentation (dropout uses torch's global generator: seed it yourself).
        eval_batch_size: images per forward pass when testing.
        callback: called as ``callback(history)`` after every epoch (e.g. to print or plot).

    Returns:
        History with one entry per epoch (including those of a resumed run).

    Raises:
        CheckpointError: the checkpoint to resume from is corrupt, from another model, or
            from a run with other settings.
    """
    train_x, train_y = _check_data(train_data, "train_data")
    if test_data is not None:
        test_x, test_y = _check_data(test_data, "test_data")
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    world, rank = dist_utils.world_size(), dist_utils.rank()
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} must be divisible by the {world} processes")
    local_batch = batch_size // world
    device = pick_device(device)
    amp_dtype = _amp_dtype(amp, device)
    use_cl = _use_channels_last(channels_last, model, device)
    model.to(device)
    if use_cl:
        model.to(memory_format=torch.channels_last)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    if isinstance(augment, str):
        augment = make_augment(augment)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 and \
        device.type == "cuda" else None

    train_x, train_y = train_x.to(device), train_y.to(device)
    if test_data is not None:
        test_x, test_y = test_x.to(device), test_y.to(device)
    n = len(train_x)
    steps = steps_per_epoch(n, batch_size, world)
    fit_config = {"batch_size": batch_size, "train_size": n, "seed": seed, "world_size": world,
                  "epochs": epochs}

    run, history = _Run(seed, rank), History()
    if checkpoint_path is not None and resume and Path(checkpoint_path).exists():
        state = load_checkpoint(checkpoint_path, model, optimizer, scheduler)
        run.restore(state, fit_config, checkpoint_path, scaler)
        history = History.from_dict(state["history"])
        if dist_utils.is_distributed():
            dist_utils.broadcast_module(model)

    net = model
    if dist_utils.is_distributed():
        ids = [device.index or 0] if device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    if compile:
        net = torch.compile(net)

    bar = tqdm(total=max(epochs, run.epoch) * steps, initial=run.epoch * steps + run.step,
               disable=not progress or rank != 0, unit="batch", dynamic_ncols=True)
    interrupt = _DeferredInterrupt(enabled=not dist_utils.is_distributed())
    try:
        with interrupt:
            while run.epoch < epochs:
                _train_epoch(net, model, optimizer, scheduler, augment, scaler, amp_dtype,
                             use_cl, device, train_x, train_y, local_batch, steps, world, run,
                             bar, interrupt)
                interrupt.check()
                if dist_utils.is_distributed():
                    dist_utils.broadcast_module(model)  # BN statistics of the last batches
                loss_sum, correct, seen = dist_utils.all_reduce_sum(
                    [run.loss_sum, run.correct, run.seen])
                test = _test(model, None if test_data is None else (test_x, test_y),
                             eval_batch_size, device, amp_dtype, use_cl)
                history.append(epoch=run.epoch + 1, train_loss=loss_sum / seen,
                               train_accuracy=correct / seen, test_loss=test.loss,
                               test_accuracy=test.accuracy, seconds=run.seconds,
                               lr=optimizer.param_groups[0]["lr"])
                bar.set_postfix(epoch=run.epoch + 1, loss=f"{loss_sum / seen:.3f}",
                                test_acc=f"{test.accuracy:.4f}")
                run.next_epoch()
                run.aug_at_step, run.torch_at_step = run.aug.get_state(), torch.get_rng_state()
                _save(checkpoint_path, model, optimizer, scheduler, history, run, fit_config,
                      scaler)
                if callback is not None:
                    callback(history)
                interrupt.check()
    except KeyboardInterrupt:
        if not dist_utils.is_distributed():
            rng = rng_states()
            rng["torch"] = run.torch_at_step
            _save(checkpoint_path, model, optimizer, scheduler, history, run, fit_config,
                  scaler, rng=rng)
        raise
    finally:
        bar.close()
    return history


def _test(model, data, batch_size, device, amp_dtype, use_cl):
    """Evaluation on ``data`` (sharded and summed over ranks under DDP); NaN without data."""
    if data is None:
        return Evaluation(float("nan"), float("nan"))
    images, labels = data
    if dist_utils.is_distributed():
        images, labels = images[dist_utils.rank()::dist_utils.world_size()], \
            labels[dist_utils.rank()::dist_utils.world_size()]
    sums = _evaluate_sums(model, images, labels, batch_size, device, amp_dtype, use_cl)
    loss_sum, correct, count = dist_utils.all_reduce_sum(list(sums))
    return Evaluation(correct / count, loss_sum / count)


def _train_epoch(net, model, optimizer, scheduler, augment, scaler, amp_dtype, use_cl, device,
                 train_x, train_y, local_batch, steps, world, run, bar, interrupt):
    """Run the remaining steps of the current epoch, updating ``run`` after each one."""
    order = dist_utils.shard(run.epoch_order(len(train_x)), dist_utils.rank(), world)
    order = order.to(device)
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen, start = 0, time.perf_counter()

    def fold():
        # Move the device sums into ``run`` (a sync); done now and then and on an interrupt.
        nonlocal seen, start
        run.loss_sum += loss_sum.item()
        run.correct += int(correct.item())
        run.seen += seen
        loss_sum.zero_(), correct.zero_()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        now = time.perf_counter()
        run.seconds += now - start
        seen, start = 0, now

    try:
        for step in range(run.step, steps):
            interrupt.check()
            batch = order[step * local_batch:(step + 1) * local_batch]
            x, y = train_x[batch], train_y[batch]
            if augment is not None:
                x = augment(x, run.aug)
            if use_cl:
                x = x.contiguous(memory_format=torch.channels_last)
            with _autocast(device, amp_dtype):
                logits = net(x)
                loss = F.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            if scheduler is not None:
                scheduler.step()
            loss_sum += loss.detach().double() * len(y)
            correct += (logits.detach().argmax(1) == y).sum()
            seen += len(y)
            run.step = step + 1
            # The generators' states after a completed step: what an interrupt checkpoint keeps.
            run.aug_at_step, run.torch_at_step = run.aug.get_state(), torch.get_rng_state()
            if run.step % 50 == 0 or run.step == steps:
                fold()
                bar.set_postfix(epoch=run.epoch + 1,
                                loss=f"{run.loss_sum / max(run.seen, 1):.3f}", refresh=False)
            bar.update(1)
    except KeyboardInterrupt:
        fold()
        raise
