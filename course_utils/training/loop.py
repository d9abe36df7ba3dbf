"""The training loop: ``fit()`` trains a classifier on in-memory tensors.

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
* Validation data, not the test set, is measured after every epoch (with
  :func:`course_utils.evaluation.evaluation_sums`, the batch loop of ``evaluate``): epochs
  and recipes are chosen on validation (``restore_best=True`` keeps the epoch with the best
  validation accuracy), and the test set is evaluated once, at the end, by the caller.
  ``course_utils.data.train_val_split`` carves the validation set off the training data.

How the pieces of one run are held: :class:`FitSettings` (what the caller chose), ``_Learner``
(model, optimizer, scheduler, loss scaler: one optimizer step), ``_TrainSet`` (the training
tensors and how they are cut into batches) and ``_Run`` (the position and the generators,
what a checkpoint keeps).
"""

import dataclasses
import difflib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..evaluation import Evaluation, Placement, check_data, check_tta, evaluation_sums
from . import distributed as dist_utils
from .augment import make_augment
from .checkpoint import read_checkpoint, restore_checkpoint, rng_states, save_checkpoint
from .config import check_resume, run_record
from .device import pick_device
from .history import History
from .interrupt import DeferredInterrupt
from .optimizers import default_optimizer

__all__ = ["FitSettings", "fit", "steps_per_epoch"]


def steps_per_epoch(train_size, batch_size, world_size=1):
    """Optimizer steps per epoch, e.g. for ``OneCycleLR(total_steps=epochs * this)``."""
    return math.ceil((train_size // world_size) / (batch_size // world_size))


@dataclass(frozen=True)
class FitSettings:
    """How :func:`fit` trains; every field is also a keyword argument of ``fit``.

    epochs: total number of epochs of the run (a resumed run continues up to it).
    batch_size: images per optimizer step (over all ranks under torchrun).
    augment: None, a name from ``augment.AUGMENTATIONS`` or ``f(images, generator)``.
    device: None (``pick_device()``), a name or a torch.device.
    checkpoint_path: if given, a checkpoint is written after every epoch and when the run is
        interrupted (Ctrl-C or a kernel interrupt: the current batch finishes, the
        checkpoint is written, KeyboardInterrupt is raised again).
    resume: continue from ``checkpoint_path`` if that file exists. The checkpoint records the
        settings of its run (model, optimizer and its hyper-parameters, scheduler,
        augmentation, data, epochs, batch_size, seed, amp, restore_best: see
        :mod:`course_utils.training.config`); if this call's differ, fit raises
        SettingsMismatchError listing them instead of continuing (or returning) the old run.
        ``epochs`` may be raised to train a run longer. (Under torchrun rank 0 writes the
        per-epoch checkpoints; an interrupt there writes none, as the ranks would stop at
        different batches.)
    amp: mixed precision (None: on CUDA only). channels_last: None = for conv nets on CUDA
        and CPU. compile: wrap the model in ``torch.compile``.
    progress: show a tqdm bar (notebook widget in Jupyter).
    seed: data order and augmentation (dropout uses torch's global generator: seed it yourself).
    eval_batch_size: images per forward pass when measuring the validation data.
    callback: called as ``callback(history)`` after every epoch (e.g. to print or plot).
    restore_best: at the end of the run, load the weights of the epoch with the best
        validation accuracy (the first of equals: ``History.best_epoch``) instead of keeping
        the last epoch's. Needs validation data. The copy of the best weights is kept in the
        checkpoint (whose model stays the last epoch's, so a longer run can continue it).
    label_smoothing: the training loss's targets give this share of their weight to all
        classes evenly (``F.cross_entropy(..., label_smoothing=...)``): the net stops pushing
        its logits apart once it is right, which often generalises a little better. The
        reported training loss includes it; the validation loss never does.
    tta: None, or "flip": validation is measured on the mean logits of each image and its
        mirror image (test-time augmentation, for a model trained with ``augment="flip"``);
        measure the test set the same way, ``evaluate(..., tta="flip")``.
    """

    epochs: int = 1
    batch_size: int = 128
    augment: Any = None
    device: Any = None
    checkpoint_path: Any = None
    resume: bool = True
    amp: bool | None = None
    channels_last: bool | None = None
    compile: bool = False
    progress: bool = True
    seed: int = 0
    eval_batch_size: int = 1024
    callback: Any = None
    restore_best: bool = False
    label_smoothing: float = 0.0
    tta: str | None = None

    def __post_init__(self):
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError(f"need epochs >= 0 and batch_size >= 1, got {self.epochs}, "
                             f"{self.batch_size}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing is the share of each target spread over all "
                             f"classes, in [0, 1) (0.1 is usual); got {self.label_smoothing}")
        check_tta(self.tta)

    @classmethod
    def with_options(cls, settings=None, **options):
        """``settings`` (default: the defaults) with the fields named in ``options`` replaced.

        Raises TypeError for a name that is not a field, suggesting the closest one.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        for name in options:
            if name not in names:
                raise TypeError(f"fit() got an unexpected keyword argument {name!r}"
                                f"{_hint(name, names)}; its settings are {', '.join(names)}")
        return dataclasses.replace(settings if settings is not None else cls(), **options)


def _hint(name, names):
    """What the caller of ``fit(..., name=...)`` probably meant, or ''."""
    if name in ("lr", "weight_decay"):
        return (f" (set it in the optimizer: optimizer=default_optimizer(model, {name}=...), from "
                "course_utils.training)")
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- the state of one run --------------------------------------------------------------------

class _Run:
    """The mutable state of one ``fit`` call: position, generators and partial sums.

    ``config`` is the run record (:func:`course_utils.training.config.run_record`): the
    settings a resumed run must share with the one it continues.
    """

    def __init__(self, seed, rank, config):
        self.config = config
        self.best = None  # {"epoch", "accuracy", "model": state_dict} with restore_best
        self.order = torch.Generator().manual_seed(seed)
        self.aug = torch.Generator().manual_seed(seed + 1 + 1_000_003 * rank)
        self.epoch, self.step = 0, 0
        self.order_at_epoch_start = self.order.get_state()
        self.aug_at_step, self.torch_at_step = self.aug.get_state(), torch.get_rng_state()
        self.loss_sum, self.correct, self.seen, self.seconds = 0.0, 0, 0, 0.0

    def extra(self, scaler):
        """What a checkpoint needs beyond model/optimizer/scheduler to continue exactly."""
        return {"config": self.config, "step": self.step,
                "order_at_epoch_start": self.order_at_epoch_start, "aug": self.aug_at_step,
                "partial": [self.loss_sum, self.correct, self.seen, self.seconds],
                "scaler": scaler.state_dict() if scaler is not None else None,
                "best": self.best}

    def restore(self, state, scaler):
        """Continue from the checkpoint dict ``state`` (checked by ``check_resume``)."""
        extra = state["extra"]
        self.epoch, self.step = state["epoch"], extra["step"]
        self.order_at_epoch_start = extra["order_at_epoch_start"]
        self.aug.set_state(extra["aug"])
        self.aug_at_step = extra["aug"]
        self.loss_sum, correct, seen, self.seconds = extra["partial"]
        self.correct, self.seen = int(correct), int(seen)
        if scaler is not None and extra.get("scaler"):
            scaler.load_state_dict(extra["scaler"])
        self.best = extra.get("best")

    def keep_if_best(self, epoch, accuracy, model):
        """Copy ``model``'s weights if ``accuracy`` beats every earlier epoch's."""
        if self.best is None or accuracy > self.best["accuracy"]:
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self.best = {"epoch": epoch, "accuracy": accuracy, "model": state}

    def epoch_order(self, n):
        """The permutation of this epoch (regenerated from the saved state on resume)."""
        self.order.set_state(self.order_at_epoch_start)
        return torch.randperm(n, generator=self.order)

    def step_done(self, step):
        """Record that ``step`` completed, with the generator states an interrupt keeps."""
        self.step = step + 1
        self.aug_at_step, self.torch_at_step = self.aug.get_state(), torch.get_rng_state()

    def next_epoch(self):
        """Start the next epoch: position 0, new order state, empty sums."""
        self.epoch, self.step = self.epoch + 1, 0
        self.order_at_epoch_start = self.order.get_state()
        self.loss_sum, self.correct, self.seen, self.seconds = 0.0, 0, 0, 0.0
        self.aug_at_step, self.torch_at_step = self.aug.get_state(), torch.get_rng_state()


@dataclass(eq=False)
class _Learner:
    """What an optimizer step uses: the model, its optimizer, scheduler and loss scaler.

    ``model`` is the bare module (checkpoints, evaluation); ``net`` is what the forward pass
    calls: the model, or its DistributedDataParallel / torch.compile wrapper.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any  # torch.amp.GradScaler for float16 on CUDA, else None
    placement: Placement
    net: nn.Module = None
    label_smoothing: float = 0.0

    def step(self, x, y):
        """One optimizer step on images x B×C×H×W, labels y B; returns detached (logits, loss)."""
        x = self.placement.inputs(x)
        with self.placement.autocast():
            logits = self.net(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=self.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return logits.detach(), loss.detach()


@dataclass(frozen=True, eq=False)
class _TrainSet:
    """The training tensors on the device and how this rank cuts them into batches.

    images N×C×H×W, labels N; ``local_batch`` images per step on this rank, ``steps`` steps
    per epoch; ``augment`` is applied to every batch (or None).
    """

    images: torch.Tensor
    labels: torch.Tensor
    augment: Any
    local_batch: int
    steps: int
    world: int

    def epoch_order(self, run):
        """This rank's indices for the current epoch of ``run``, on the device."""
        order = dist_utils.shard(run.epoch_order(len(self.images)), dist_utils.rank(), self.world)
        return order.to(self.images.device)

    def batch(self, order, step, generator):
        """(images B×C×H×W, labels B) of ``step``, augmented with ``generator``."""
        indices = order[step * self.local_batch:(step + 1) * self.local_batch]
        x, y = self.images[indices], self.labels[indices]
        if self.augment is not None:
            x = self.augment(x, generator)
        return x, y


class _EpochSums:
    """Loss and accuracy sums of the steps since the last fold, kept on the device."""

    def __init__(self, device):
        self.device = device
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.seen, self.start = 0, time.perf_counter()

    def add(self, logits, loss, y):
        """Count one step's (logits B×classes, mean loss, labels B)."""
        self.loss += loss.double() * len(y)
        self.correct += (logits.argmax(1) == y).sum()
        self.seen += len(y)

    def fold_into(self, run):
        """Move the sums and the time since the last fold into ``run`` (a device sync)."""
        run.loss_sum += self.loss.item()
        run.correct += int(self.correct.item())
        run.seen += self.seen
        self.loss.zero_(), self.correct.zero_()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        run.seconds += now - self.start
        self.seen, self.start = 0, now


# --- fit -------------------------------------------------------------------------------------

TEST_DATA_MOVED = (
    "fit() no longer takes test_data: it measures validation data after every epoch, and "
    "choosing epochs or settings by the test accuracy would make the test result optimistic. "
    "Split a validation set off the training data, pass it as val_data, choose on it, and "
    "evaluate the test set once at the end:\n"
    "    train, val = course_utils.data.train_val_split(train_x, train_y, val_size=5000)\n"
    "    history = fit(model, train, val, restore_best=True, ...)\n"
    "    accuracy, loss = course_utils.evaluation.evaluate(model, test_x, test_y)")


def fit(model, train_data, val_data=None, *, optimizer=None, scheduler=None, settings=None,
        **options):
    """Train ``model`` with cross-entropy on in-memory tensors and return its History.

    Args:
        model: nn.Module mapping images N×C×H×W to logits N×classes (modified in place).
        train_data, val_data: pairs (images N×C×H×W float, labels N int64). ``val_data`` is
            measured after every epoch (``History.val_loss``, ``val_accuracy``); it may be
            None (those fields are then NaN). Never pass the test set here: choose on
            validation, then evaluate the test set once with
            :func:`course_utils.evaluation.evaluate`.
        optimizer: default :func:`~course_utils.training.optimizers.default_optimizer`:
            AdamW, lr 1e-3, weight decay 0.05 on weights and none on biases and
            normalisation parameters (the command line's default too).
        scheduler: stepped after every batch.
        settings: a :class:`FitSettings`; default ``FitSettings()``.
        **options: fields of FitSettings, overriding ``settings``: epochs=1, batch_size=128,
            augment=None, device=None, checkpoint_path=None, resume=True, amp=None,
            channels_last=None, compile=False, progress=True, seed=0, eval_batch_size=1024,
            callback=None, restore_best=False, label_smoothing=0.0, tta=None (see FitSettings
            for what each does).

    Example::

        train, val = train_val_split(train_x, train_y, val_size=5000)   # course_utils.data
        history = fit(model, train, val, epochs=5, augment="shift", restore_best=True)
        print("epoch kept:", history.best_epoch)
        test_accuracy, test_loss = evaluate(model, test_x, test_y)       # once, at the end

    Returns:
        History with one entry per epoch (including those of a resumed run).

    Raises:
        TypeError: an unknown keyword argument, or ``test_data=`` (see above).
        ValueError: malformed data, or restore_best without validation data.
        SettingsMismatchError: the checkpoint to resume from holds a run with other
            settings (a CheckpointError; the message lists them, old → new, and says how to
            start over or continue).
        CheckpointError: the checkpoint to resume from is corrupt or incomplete.
    """
    if "test_data" in options:
        raise TypeError(TEST_DATA_MOVED)
    settings = FitSettings.with_options(settings, **options)
    train_data = check_data(train_data, "train_data")
    if val_data is not None:
        val_data = check_data(val_data, "val_data")
    elif settings.restore_best:
        raise ValueError("restore_best=True keeps the epoch with the best validation accuracy: "
                         "pass val_data (e.g. from course_utils.data.train_val_split)")
    world = dist_utils.world_size()
    if settings.batch_size % world:
        raise ValueError(f"batch_size {settings.batch_size} must be divisible by the {world} "
                         "processes")
    placement = Placement.choose(model, pick_device(settings.device), settings.amp,
                                 settings.channels_last)
    placement.prepare(model)
    if optimizer is None:
        optimizer = default_optimizer(model)
    learner = _Learner(model, optimizer, scheduler, _grad_scaler(placement), placement,
                       label_smoothing=settings.label_smoothing)
    data = _train_set(train_data, settings, world, placement.device)
    if val_data is not None:
        val_data = tuple(t.to(placement.device) for t in val_data)
    record = run_record(model, optimizer, scheduler, settings, train_data, val_data, world)
    run = _Run(settings.seed, dist_utils.rank(), record)
    history = History()
    path = settings.checkpoint_path
    if path is not None and settings.resume and Path(path).exists():
        history = _resume(path, learner, run)
    learner.net = _wrap(model, placement.device, settings.compile)
    _train(learner, data, val_data, run, history, settings)
    if settings.restore_best and run.best is not None:
        model.load_state_dict(run.best["model"])
    return history


def _grad_scaler(placement):
    """A GradScaler for float16 autocast on CUDA (bfloat16 and float32 need none), else None."""
    if placement.amp_dtype == torch.float16 and placement.device.type == "cuda":
        return torch.amp.GradScaler("cuda")
    return None


def _train_set(train_data, settings, world, device):
    """The training data on ``device`` with its batching for this rank."""
    images, labels = train_data
    augment = make_augment(settings.augment) if isinstance(settings.augment, str) else settings.augment
    return _TrainSet(images.to(device), labels.to(device), augment, settings.batch_size // world,
                     steps_per_epoch(len(images), settings.batch_size, world), world)


def _resume(path, learner, run):
    """Restore model, optimizer, scheduler and ``run`` from ``path``; returns its History.

    Raises SettingsMismatchError (before restoring anything) when the checkpoint's run
    record differs from this call's, CheckpointError when the file is unusable.
    """
    state = read_checkpoint(path)
    check_resume(path, state.get("extra") or {}, run.config)
    restore_checkpoint(path, state, learner.model, learner.optimizer, learner.scheduler)
    run.restore(state, learner.scaler)
    if dist_utils.is_distributed():
        dist_utils.broadcast_module(learner.model)
    return History.from_dict(state["history"])


def _wrap(model, device, compile):
    """What the forward pass calls: DDP under torchrun, compiled if asked."""
    net = model
    if dist_utils.is_distributed():
        ids = [device.index or 0] if device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    return torch.compile(net) if compile else net


def _train(learner, data, val_data, run, history, settings):
    """Run the epochs up to ``settings.epochs``: train, validate, record, checkpoint, call back."""
    bar = tqdm(total=max(settings.epochs, run.epoch) * data.steps,
               initial=run.epoch * data.steps + run.step,
               disable=not settings.progress or dist_utils.rank() != 0, unit="batch",
               dynamic_ncols=True)
    interrupt = DeferredInterrupt(enabled=not dist_utils.is_distributed())
    try:
        with interrupt:
            while run.epoch < settings.epochs:
                _train_epoch(learner, data, run, bar, interrupt)
                interrupt.check()
                _record_epoch(learner, val_data, run, history, settings, bar)
                run.next_epoch()
                _save(settings.checkpoint_path, learner, history, run)
                if settings.callback is not None:
                    settings.callback(history)
                interrupt.check()
    except KeyboardInterrupt:
        if not dist_utils.is_distributed():
            rng = rng_states()
            rng["torch"] = run.torch_at_step
            _save(settings.checkpoint_path, learner, history, run, rng=rng)
        raise
    finally:
        bar.close()


def _train_epoch(learner, data, run, bar, interrupt):
    """Run the remaining steps of the current epoch, updating ``run`` after each one."""
    order = data.epoch_order(run)
    learner.model.train()
    sums = _EpochSums(data.images.device)
    try:
        for step in range(run.step, data.steps):
            interrupt.check()
            x, y = data.batch(order, step, run.aug)
            logits, loss = learner.step(x, y)
            sums.add(logits, loss, y)
            run.step_done(step)
            if run.step % 50 == 0 or run.step == data.steps:
                sums.fold_into(run)
                bar.set_postfix(epoch=run.epoch + 1,
                                loss=f"{run.loss_sum / max(run.seen, 1):.3f}", refresh=False)
            bar.update(1)
    except KeyboardInterrupt:
        sums.fold_into(run)
        raise


def _record_epoch(learner, val_data, run, history, settings, bar):
    """Validate the model after an epoch and append the epoch's row to ``history``."""
    if dist_utils.is_distributed():
        dist_utils.broadcast_module(learner.model)  # BN statistics of the last batches
    loss_sum, correct, seen = dist_utils.all_reduce_sum([run.loss_sum, run.correct, run.seen])
    val = _measure(learner.model, val_data, settings.eval_batch_size, learner.placement, settings.tta)
    history.append(epoch=run.epoch + 1, train_loss=loss_sum / seen, train_accuracy=correct / seen,
                   val_loss=val.loss, val_accuracy=val.accuracy, seconds=run.seconds,
                   lr=learner.optimizer.param_groups[0]["lr"])
    if settings.restore_best:
        run.keep_if_best(run.epoch + 1, val.accuracy, learner.model)
    bar.set_postfix(epoch=run.epoch + 1, loss=f"{loss_sum / seen:.3f}",
                    val_acc=f"{val.accuracy:.4f}")


def _measure(model, data, batch_size, placement, tta=None):
    """Evaluation on ``data`` (sharded and summed over ranks under DDP); NaN without data."""
    if data is None:
        return Evaluation(float("nan"), float("nan"))
    images, labels = data
    if dist_utils.is_distributed():
        images = images[dist_utils.rank()::dist_utils.world_size()]
        labels = labels[dist_utils.rank()::dist_utils.world_size()]
    sums = evaluation_sums(model, images, labels, batch_size, placement, tta)
    loss_sum, correct, count = dist_utils.all_reduce_sum(list(sums))
    return Evaluation(correct / count, loss_sum / count)


def _save(path, learner, history, run, rng=None):
    """Write the checkpoint of ``run`` to ``path`` (rank 0 only; nothing when path is None)."""
    if path is not None and dist_utils.is_main_process():
        save_checkpoint(path, learner.model, learner.optimizer, learner.scheduler,
                        history.to_dict(), run.epoch, extra=run.extra(learner.scaler), rng=rng)
