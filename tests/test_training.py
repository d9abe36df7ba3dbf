"""Tests of course_utils.training: device, augmentation, fit/evaluate, checkpoints, resume.

``TEST`` below is the held-out data these tests pass to ``fit`` as its validation data
(``val_data``): the tests measure the engine, they choose nothing on it.
"""

import os
import re
import signal
import warnings

import pytest
import torch
import torch.nn as nn

from course_utils.training import (
    CheckpointError,
    Evaluation,
    FitSettings,
    History,
    SettingsMismatchError,
    default_optimizer,
    describe_device,
    evaluate,
    fit,
    load_checkpoint,
    make_augment,
    pick_device,
    random_flip,
    random_shift,
    save_checkpoint,
    steps_per_epoch,
)

# --- a tiny synthetic task: is the bright bar on the left or on the right? ------------------

def bars(n, seed):
    """Images n×1×8×8 with a noisy bright column at x=1 (class 0) or x=6 (class 1)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = 0.3 * torch.rand(n, 1, 8, 8, generator=g)
    images[labels == 0, 0, :, 1] += 0.7
    images[labels == 1, 0, :, 6] += 0.7
    return images, labels


class Tiny(nn.Module):
    """Conv + batch norm + dropout + linear: enough to exercise every state fit keeps."""

    def __init__(self, width=4):
        super().__init__()
        self.config = {"width": width}
        self.net = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width),
                                 nn.ReLU(), nn.Dropout(0.2), nn.Flatten(),
                                 nn.Linear(width * 64, 2))

    def forward(self, x):
        return self.net(x)


class Other(Tiny):
    """Another class with the same weights' shapes: still the wrong model for a checkpoint."""


TRAIN, TEST = bars(512, 0), bars(256, 1)


def make_run(seed=0, epochs=3, batch_size=64):
    """A fresh model, optimizer and one-cycle scheduler (same every call for a seed)."""
    torch.manual_seed(seed)
    model = Tiny()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    total = epochs * steps_per_epoch(len(TRAIN[1]), batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.01, total_steps=total)
    return model, optimizer, scheduler


def test_fit_learns_and_records_history():
    model, optimizer, _ = make_run()
    history = fit(model, TRAIN, TEST, epochs=3, batch_size=64, optimizer=optimizer,
                  device="cpu", progress=False)
    assert isinstance(history, History) and len(history) == 3
    assert history.epoch == [1, 2, 3]
    assert history.val_accuracy[-1] > 0.95
    assert history.train_loss[-1] < history.train_loss[0]
    assert all(s > 0 for s in history.seconds)
    assert history.total_seconds == pytest.approx(sum(history.seconds))
    data = history.to_dict()
    assert set(data) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                         "seconds", "lr"}
    assert History.from_dict(data) == history


def test_label_smoothing_is_in_the_training_loss_only():
    """With a learning rate of 0 the weights stay put: one batch's training loss is then the
    smoothed cross-entropy of the model's logits, and the validation loss the plain one."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))  # no dropout or batch norm
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    history = fit(model, TRAIN, TEST, epochs=1, batch_size=len(TRAIN[1]), optimizer=optimizer,
                  device="cpu", progress=False, label_smoothing=0.2)
    with torch.no_grad():
        smoothed = nn.functional.cross_entropy(model(TRAIN[0]), TRAIN[1], label_smoothing=0.2)
        plain = nn.functional.cross_entropy(model(TEST[0]), TEST[1])
    assert history.train_loss[0] == pytest.approx(smoothed.item(), rel=1e-5)
    assert history.val_loss[0] == pytest.approx(plain.item(), rel=1e-5)
    unsmoothed = nn.functional.cross_entropy(model(TRAIN[0]), TRAIN[1]).item()
    assert abs(history.train_loss[0] - unsmoothed) > 1e-3  # the smoothing did change the loss
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"label_smoothing .* in \[0, 1\) \(0.1 is usual\); got"):
            fit(model, TRAIN, epochs=1, device="cpu", progress=False, label_smoothing=bad)


def test_evaluate_matches_a_manual_count():
    model, optimizer, _ = make_run()
    fit(model, TRAIN, None, epochs=1, batch_size=64, optimizer=optimizer, device="cpu",
        progress=False)
    model.train()
    result = evaluate(model, *TEST, batch_size=100, device="cpu")
    assert isinstance(result, Evaluation)
    assert model.training  # evaluate restores the mode it found
    model.eval()
    with torch.no_grad():
        logits = model(TEST[0])
    assert result.accuracy == pytest.approx((logits.argmax(1) == TEST[1]).float().mean().item())
    assert result.loss == pytest.approx(nn.functional.cross_entropy(logits, TEST[1]).item(),
                                        rel=1e-5)


def test_fit_without_val_data_gives_nan_and_rejects_bad_input():
    model, optimizer, _ = make_run()
    history = fit(model, TRAIN, None, epochs=1, batch_size=64, optimizer=optimizer,
                  device="cpu", progress=False)
    assert history.val_accuracy[0] != history.val_accuracy[0]  # NaN
    assert history.best_epoch is None
    with pytest.raises(ValueError, match="pair of tensors"):
        fit(model, TRAIN[0], None, epochs=1, progress=False)
    with pytest.raises(ValueError, match="N×C×H×W"):
        fit(model, (TRAIN[0][:, 0], TRAIN[1]), None, epochs=1, progress=False)


def test_fit_is_reproducible_for_a_seed():
    weights = []
    for _ in range(2):
        model, optimizer, scheduler = make_run()
        fit(model, TRAIN, TEST, epochs=2, batch_size=64, optimizer=optimizer,
            scheduler=scheduler, augment="shift-flip", device="cpu", progress=False, seed=3)
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_fit_takes_a_settings_object_and_rejects_misspelt_keywords():
    weights = []
    for use_settings in (True, False):
        model, optimizer, _ = make_run()
        if use_settings:
            settings = FitSettings(epochs=1, batch_size=64, device="cpu", progress=False)
            fit(model, TRAIN, TEST, optimizer=optimizer, settings=settings, seed=2)
        else:
            fit(model, TRAIN, TEST, optimizer=optimizer, epochs=1, batch_size=64, device="cpu",
                progress=False, seed=2)
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    with pytest.raises(TypeError, match="'epoch'.*did you mean 'epochs'"):
        fit(model, TRAIN, TEST, epoch=1)
    with pytest.raises(TypeError, match="'lr'.*optimizer"):
        fit(model, TRAIN, TEST, lr=0.1)
    with pytest.raises(ValueError, match="epochs >= 0"):
        FitSettings(epochs=-1)


# --- validation data, not the test set --------------------------------------------------------

def test_test_data_keyword_is_refused_with_the_way_to_do_it():
    model, optimizer, _ = make_run()
    with pytest.raises(TypeError, match="(?s)no longer takes test_data.*val_data.*evaluate the "
                                        "test set once.*train_val_split.*evaluate\\(model"):
        fit(model, TRAIN, test_data=TEST, epochs=1, optimizer=optimizer, progress=False)
    with pytest.raises(TypeError, match="val_data"):  # also next to val_data
        fit(model, TRAIN, TEST, test_data=TEST, epochs=1, optimizer=optimizer, progress=False)


def test_val_data_is_measured_every_epoch_like_evaluate():
    model, optimizer, _ = make_run()
    val = bars(200, 7)
    history = fit(model, TRAIN, val, epochs=2, batch_size=64, optimizer=optimizer,
                  device="cpu", progress=False)
    accuracy, loss = evaluate(model, *val, device="cpu")
    assert history.val_accuracy[-1] == accuracy
    assert history.val_loss[-1] == pytest.approx(loss, rel=1e-12)
    with pytest.raises(ValueError, match="val_data: images must be"):
        fit(model, TRAIN, (val[0][:, 0], val[1]), epochs=1, progress=False)


def test_flip_tta_averages_the_logits_of_each_image_and_its_mirror():
    model, optimizer, _ = make_run()
    fit(model, TRAIN, None, epochs=1, batch_size=64, optimizer=optimizer, device="cpu",
        progress=False)
    images, labels = TEST
    model.eval()
    with torch.no_grad():
        logits = (model(images) + model(images.flip(-1))) / 2
    accuracy, loss = evaluate(model, images, labels, batch_size=100, device="cpu", tta="flip")
    assert accuracy == pytest.approx((logits.argmax(1) == labels).float().mean().item())
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, labels).item(), rel=1e-5)
    plain, _ = evaluate(model, images, labels, device="cpu")
    assert plain != accuracy  # the bars task is not mirror-symmetric: the flips change the answer
    with pytest.raises(ValueError, match="tta must be None .* or 'flip' .*, got 'mirror'"):
        evaluate(model, images, labels, tta="mirror")
    with pytest.raises(ValueError, match="tta must be"):
        fit(model, TRAIN, TEST, epochs=1, progress=False, tta=True)


def test_fit_measures_validation_with_the_tta_it_is_given():
    model, optimizer, _ = make_run()
    history = fit(model, TRAIN, TEST, epochs=2, batch_size=64, optimizer=optimizer,
                  device="cpu", progress=False, augment="flip", tta="flip")
    accuracy, loss = evaluate(model, *TEST, device="cpu", tta="flip")
    assert history.val_accuracy[-1] == accuracy
    assert history.val_loss[-1] == pytest.approx(loss, rel=1e-12)


def test_old_histories_with_test_columns_are_read_as_validation():
    old = {"epoch": [1, 2], "train_loss": [0.5, 0.4], "train_accuracy": [0.8, 0.85],
           "test_loss": [0.45, 0.41], "test_accuracy": [0.83, 0.86], "seconds": [1.0, 1.0],
           "lr": [1e-3, 1e-3]}
    history = History.from_dict(old)
    assert history.val_accuracy == [0.83, 0.86] and history.val_loss == [0.45, 0.41]
    assert history.best_epoch == 2
    with pytest.raises(AttributeError, match="(?s)test_accuracy no longer exists.*val_accuracy"
                                             ".*evaluate"):
        history.test_accuracy  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        history.nonsense  # noqa: B018


def test_best_epoch_is_the_first_of_the_highest_validation_accuracies():
    history = History()
    for epoch, accuracy in enumerate([0.5, 0.7, 0.6, 0.7], start=1):
        history.append(epoch=epoch, train_loss=1.0, train_accuracy=0.5, val_loss=1.0,
                       val_accuracy=accuracy, seconds=1.0, lr=0.1)
    assert history.best_epoch == 2
    assert History().best_epoch is None


def ambiguous(n, seed):
    """Images with both bars; the brighter one gives the class: hard for a model fit on bars()."""
    g = torch.Generator().manual_seed(seed)
    images = 0.3 * torch.rand(n, 1, 8, 8, generator=g)
    left, right = 0.4 + 0.3 * torch.rand(n, generator=g), 0.4 + 0.3 * torch.rand(n, generator=g)
    images[:, 0, :, 1] += left[:, None]
    images[:, 0, :, 6] += right[:, None]
    return images, (right > left).long()


def test_restore_best_keeps_the_epoch_with_the_best_validation_accuracy(tmp_path):
    # A learning rate so high that the validation accuracy goes up and down.
    kwargs = dict(epochs=4, batch_size=64, device="cpu", progress=False)
    val = ambiguous(300, 7)
    torch.manual_seed(0)
    model = Tiny()
    snapshots = []
    history = fit(model, TRAIN, val, optimizer=torch.optim.Adam(model.parameters(), lr=0.5),
                  callback=lambda h: snapshots.append(
                      {k: v.clone() for k, v in model.state_dict().items()}), **kwargs)
    best = history.best_epoch
    assert best == 1 + max(range(4), key=lambda i: (history.val_accuracy[i], -i))
    assert best < 4 and len(set(history.val_accuracy)) > 1
    torch.manual_seed(0)
    kept = Tiny()
    path = tmp_path / "run.pt"
    again = fit(kept, TRAIN, val, optimizer=torch.optim.Adam(kept.parameters(), lr=0.5),
                restore_best=True, checkpoint_path=path, **kwargs)
    assert again.val_accuracy == history.val_accuracy and again.best_epoch == best
    for key, value in snapshots[best - 1].items():
        assert torch.equal(kept.state_dict()[key], value), key
    assert evaluate(kept, *val, device="cpu").accuracy == history.val_accuracy[best - 1]
    saved = load_checkpoint(path, restore_rng=False)  # the checkpoint keeps the last weights
    assert all(torch.equal(saved["model"][k], v) for k, v in snapshots[-1].items())
    assert saved["extra"]["best"]["epoch"] == best

    torch.manual_seed(5)  # resuming the finished run restores the best weights again
    resumed = Tiny()
    assert fit(resumed, TRAIN, val, optimizer=torch.optim.Adam(resumed.parameters(), lr=0.5),
               restore_best=True, checkpoint_path=path, **kwargs) == again
    assert all(torch.equal(resumed.state_dict()[k], v) for k, v in snapshots[best - 1].items())
    with pytest.raises(ValueError, match="restore_best=True.*val_data"):
        fit(Tiny(), TRAIN, None, restore_best=True, progress=False)


def test_train_val_split_is_reproducible_and_disjoint():
    from course_utils.data import train_val_split

    images = torch.arange(100.0).view(100, 1, 1, 1)
    labels = torch.arange(100) % 10
    (train_x, train_y), (val_x, val_y) = train_val_split(images, labels, val_size=30, seed=4)
    assert len(train_x) == len(train_y) == 70 and len(val_x) == len(val_y) == 30
    train_ids, val_ids = train_x.flatten().long(), val_x.flatten().long()
    assert sorted(train_ids.tolist() + val_ids.tolist()) == list(range(100))
    assert torch.equal(train_y, labels[train_ids]) and torch.equal(val_y, labels[val_ids])
    assert torch.equal(train_ids, train_ids.sort().values)  # original order kept
    same = train_val_split(images, labels, val_size=30, seed=4)
    assert torch.equal(same[1][0], val_x)
    other = train_val_split(images, labels, val_size=30, seed=5)
    assert not torch.equal(other[1][0], val_x)
    arrays = train_val_split(images.numpy(), labels.numpy(), val_size=30, seed=4)
    assert (arrays[1][0] == val_x.numpy()).all()
    for bad in (0, 100, -1, 2.5):
        with pytest.raises(ValueError, match="0 < val_size < 100"):
            train_val_split(images, labels, val_size=bad)
    with pytest.raises(ValueError, match="differ in length"):
        train_val_split(images, labels[:50])


# --- the default optimizer -------------------------------------------------------------------

def test_default_optimizer_decays_weights_only():
    model = Tiny()
    optimizer = default_optimizer(model)
    assert type(optimizer) is torch.optim.AdamW
    names = {id(p): name for name, p in model.named_parameters()}
    groups = {g["weight_decay"]: sorted(names[id(p)] for p in g["params"])
              for g in optimizer.param_groups}
    assert groups == {0.05: ["net.0.weight", "net.5.weight"],
                      0.0: ["net.0.bias", "net.1.bias", "net.1.weight", "net.5.bias"]}
    assert all(g["lr"] == 1e-3 for g in optimizer.param_groups)
    custom = default_optimizer(model, lr=0.01, weight_decay=0.1)
    assert [g["weight_decay"] for g in custom.param_groups] == [0.1, 0.0]
    assert all(g["lr"] == 0.01 for g in custom.param_groups)
    with pytest.raises(ValueError, match="no parameters"):
        default_optimizer(nn.ReLU())


def test_fit_and_the_command_line_share_the_default_optimizer():
    from course_utils.training.cli import make_optimizer

    weights = []
    for explicit in (False, True):
        torch.manual_seed(0)
        model = Tiny()
        optimizer = default_optimizer(model) if explicit else None
        fit(model, TRAIN, None, epochs=1, batch_size=64, optimizer=optimizer, device="cpu",
            progress=False)
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])

    model = Tiny()
    cli, default = make_optimizer("adamw", model, None, None), default_optimizer(model)
    assert type(cli) is type(default)
    strip = [{k: v for k, v in g.items() if k != "params"} for g in default.param_groups]
    assert [{k: v for k, v in g.items() if k != "params"} for g in cli.param_groups] == strip
    for name in ("sgd", "adam"):  # no decay on biases and batch norm with any optimizer
        groups = make_optimizer(name, model, None, 0.01).param_groups
        assert [g["weight_decay"] for g in groups] == [0.01, 0.0]
        assert [len(g["params"]) for g in groups] == [2, 4]


# --- augmentation ----------------------------------------------------------------------------

def naive_shift(image, dy, dx):
    """Reference: out[y, x] = image[y - dy, x - dx], zero outside (one C×H×W image)."""
    out = torch.zeros_like(image)
    h, w = image.shape[-2:]
    for y in range(h):
        for x in range(w):
            if 0 <= y - dy < h and 0 <= x - dx < w:
                out[:, y, x] = image[:, y - dy, x - dx]
    return out


def test_random_shift_matches_the_naive_shift_with_zero_fill():
    images = torch.rand(16, 2, 7, 9) + 1.0  # no zeros before the shift
    shifted = random_shift(images, 3, torch.Generator().manual_seed(5))
    assert shifted.shape == images.shape
    g = torch.Generator().manual_seed(5)  # the draws random_shift makes: dy for all, then dx
    dy, dx = torch.randint(-3, 4, (16,), generator=g), torch.randint(-3, 4, (16,), generator=g)
    for n in range(16):
        assert torch.equal(shifted[n], naive_shift(images[n], dy[n].item(), dx[n].item()))
    zeros = (shifted[:, 0] == 0).sum(dim=(1, 2))
    expected = 7 * 9 - (7 - dy.abs()) * (9 - dx.abs())
    assert torch.equal(zeros, expected)


def test_random_shift_edge_cases():
    images = torch.rand(4, 1, 5, 5)
    assert random_shift(images, 0) is images
    with pytest.raises(ValueError, match="max_shift"):
        random_shift(images, -1)
    with pytest.raises(ValueError, match="N×C×H×W"):
        random_shift(images[0], 1)


def test_random_flip():
    images = torch.rand(8, 3, 4, 5)
    assert torch.equal(random_flip(images, 1.0), images.flip(-1))
    assert torch.equal(random_flip(images, 0.0), images)
    mixed = random_flip(images, 0.5, torch.Generator().manual_seed(0))
    for original, out in zip(images, mixed):
        assert torch.equal(out, original) or torch.equal(out, original.flip(-1))
    with pytest.raises(ValueError, match="p must be"):
        random_flip(images, 1.5)


def test_make_augment():
    assert make_augment("none") is None
    images = torch.rand(32, 1, 6, 6)
    for name in ("shift", "shift-flip"):
        out = make_augment(name)(images, torch.Generator().manual_seed(0))
        assert out.shape == images.shape
    with pytest.raises(ValueError, match="shift-flip"):
        make_augment("rotate")


# --- device ----------------------------------------------------------------------------------

def test_pick_device(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert pick_device().type == expected
    assert pick_device("auto").type == expected
    with pytest.raises(ValueError, match="not a device"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            pick_device("cuda")


def test_device_environment_override(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "nonsense")
    with pytest.raises(ValueError, match="COURSE_DEVICE"):
        pick_device()
    assert describe_device("cpu").startswith("cpu (")


# --- checkpoints and resume ------------------------------------------------------------------

class InterruptAt:
    """Augmentation that interrupts the run at its ``at``-th call (then behaves normally).

    Its ``name`` (what a checkpoint records of an augmentation function) says that it is the
    shift-flip augmentation, so that the run can be resumed with ``make_augment("shift-flip")``.
    """

    name = "shift-flip"

    def __init__(self, at, how):
        self.calls, self.at, self.how = 0, at, how
        self.augment = make_augment("shift-flip")

    def __call__(self, images, generator):
        self.calls += 1
        if self.calls == self.at:
            if self.how == "raise":
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGINT)  # like Ctrl-C or a Jupyter interrupt
        return self.augment(images, generator)


@pytest.mark.parametrize("how", ["raise", "signal"])
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, how):
    kwargs = dict(epochs=3, batch_size=64, device="cpu", progress=False, seed=1)
    model, optimizer, scheduler = make_run()
    reference = fit(model, TRAIN, TEST, optimizer=optimizer, scheduler=scheduler,
                    augment=make_augment("shift-flip"), **kwargs)

    path = tmp_path / "run.pt"
    model2, optimizer2, scheduler2 = make_run()
    with pytest.raises(KeyboardInterrupt):  # 8 steps per epoch: stop in epoch 2
        fit(model2, TRAIN, TEST, optimizer=optimizer2, scheduler=scheduler2,
            augment=InterruptAt(11, how), checkpoint_path=path, **kwargs)
    assert path.is_file()
    saved = load_checkpoint(path, restore_rng=False)
    assert saved["epoch"] == 1 and saved["extra"]["step"] == (2 if how == "raise" else 3)

    model3, optimizer3, scheduler3 = make_run(seed=99)  # other initial weights: all restored
    resumed = fit(model3, TRAIN, TEST, optimizer=optimizer3, scheduler=scheduler3,
                  augment=make_augment("shift-flip"), checkpoint_path=path, **kwargs)
    for key, value in model.state_dict().items():
        assert torch.equal(value, model3.state_dict()[key]), key
    assert resumed.val_accuracy == reference.val_accuracy
    assert resumed.train_loss == pytest.approx(reference.train_loss, rel=1e-9)
    assert load_checkpoint(path, restore_rng=False)["epoch"] == 3


def test_resume_of_a_finished_run_changes_nothing(tmp_path):
    path = tmp_path / "run.pt"
    model, optimizer, _ = make_run()
    first = fit(model, TRAIN, TEST, epochs=2, batch_size=64, optimizer=optimizer, device="cpu",
                progress=False, checkpoint_path=path)
    model2, optimizer2, _ = make_run(seed=5)
    again = fit(model2, TRAIN, TEST, epochs=2, batch_size=64, optimizer=optimizer2,
                device="cpu", progress=False, checkpoint_path=path)
    assert again == first
    assert all(torch.equal(v, model2.state_dict()[k]) for k, v in model.state_dict().items())


def write_checkpoint(path):
    model, optimizer, scheduler = make_run()
    save_checkpoint(path, model, optimizer, scheduler, History().to_dict(), epoch=0)
    return path


def test_truncated_checkpoint_raises_a_clear_error(tmp_path):
    path = write_checkpoint(tmp_path / "run.pt")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    model, optimizer, _ = make_run()
    with pytest.raises(CheckpointError, match="(?s)not a readable checkpoint.*resume=False"):
        fit(model, TRAIN, TEST, epochs=1, optimizer=optimizer, device="cpu", progress=False,
            checkpoint_path=path)


def test_random_bytes_raise_a_clear_error(tmp_path):
    path = tmp_path / "run.pt"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="truncated, corrupt"):
        load_checkpoint(path, Tiny())


def test_wrong_model_raises_a_clear_error(tmp_path):
    path = write_checkpoint(tmp_path / "run.pt")
    with pytest.raises(CheckpointError, match=r"saved from Tiny\(\*\*\{'width': 4\}\).*Other"):
        load_checkpoint(path, Other())
    with pytest.raises(CheckpointError, match=r"width': 8"):
        load_checkpoint(path, Tiny(width=8))


def test_missing_entries_raise_a_clear_error(tmp_path):
    path = tmp_path / "bare.pt"
    torch.save(Tiny().state_dict(), path)  # a bare state_dict is not a checkpoint
    with pytest.raises(CheckpointError, match="lacks the entries"):
        load_checkpoint(path, Tiny())
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "absent.pt", Tiny())


def test_resume_with_other_settings_is_refused(tmp_path):
    path = tmp_path / "run.pt"
    model, optimizer, _ = make_run()
    fit(model, TRAIN, TEST, epochs=1, batch_size=64, optimizer=optimizer, device="cpu",
        progress=False, checkpoint_path=path)
    model2, optimizer2, _ = make_run()
    with pytest.raises(CheckpointError, match="batch_size=64"):
        fit(model2, TRAIN, TEST, epochs=2, batch_size=32, optimizer=optimizer2, device="cpu",
            progress=False, checkpoint_path=path)
    history = fit(model2, TRAIN, TEST, epochs=1, batch_size=32, optimizer=optimizer2,
                  device="cpu", progress=False, checkpoint_path=path, resume=False)
    assert len(history) == 1


# --- resuming with other settings is refused -------------------------------------------------

BASE = dict(epochs=1, batch_size=64, device="cpu", progress=False)


def adamw(model, **hyper):
    return torch.optim.AdamW(model.parameters(), **{"lr": 0.01, **hyper})


def one_cycle(optimizer, epochs):
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.01,
                                               total_steps=epochs * steps_per_epoch(512, 64))


def sequential(p):
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Dropout(p), nn.Flatten(),
                         nn.Linear(4 * 64, 2))


def call(model=None, train=TRAIN, val=TEST, optimizer=None, **options):
    """fit's arguments for a call: the first run's unless changed."""
    model = model if model is not None else Tiny()
    return dict(model=model, train_data=train, val_data=val,
                optimizer=optimizer if optimizer is not None else adamw(model),
                **{**BASE, **options})


def sgd_call():
    model = Tiny()
    return call(model, optimizer=torch.optim.SGD(model.parameters(), lr=0.01))


def scheduled_call(epochs):
    model = Tiny()
    optimizer = adamw(model)
    return call(model, optimizer=optimizer, scheduler=one_cycle(optimizer, epochs))


def sequential_call(p):
    model = sequential(p)
    return call(model)


# (what changes, the first run's fit arguments, the second call's, a line of the message)
CHANGES = {
    "optimizer type": (call, sgd_call,
                       "optimizer.class='torch.optim.adamw.AdamW' → 'torch.optim.sgd.SGD'"),
    "learning rate": (call, lambda: call(optimizer=adamw(Tiny(), lr=0.02)),
                      "optimizer.groups[0].lr=0.01 → 0.02"),
    "weight decay": (call, lambda: call(optimizer=adamw(Tiny(), weight_decay=0.1)),
                     "optimizer.groups[0].weight_decay=0.01 → 0.1"),
    "scheduler added": (call, lambda: scheduled_call(1),
                        "scheduler=None → 'torch.optim.lr_scheduler.OneCycleLR'"),
    "schedule length": (lambda: scheduled_call(1), lambda: scheduled_call(2),
                        "scheduler.state.total_steps=8 → 16"),
    "augmentation": (call, lambda: call(augment="flip"), "augment='none' → 'flip'"),
    "model configuration": (call, lambda: call(Tiny(width=8)), "model.config.width=4 → 8"),
    "model class": (call, lambda: call(Other()), "model.class='test_training.Tiny' → "
                                                 "'test_training.Other'"),
    "layers of a model without config": (
        lambda: sequential_call(0.2), lambda: sequential_call(0.5),
        "model.layers (first differing line)='(2): Dropout(p=0.2, inplace=False)' → "
        "'(2): Dropout(p=0.5, inplace=False)'"),
    "fewer epochs": (lambda: call(epochs=2), call, "epochs=2 → 1"),
    "batch size": (call, lambda: call(batch_size=32), "batch_size=64 → 32"),
    "seed": (call, lambda: call(seed=1), "seed=0 → 1"),
    "mixed precision": (call, lambda: call(amp=False), "amp=None → False"),
    "restore_best": (call, lambda: call(restore_best=True), "restore_best=False → True"),
    "label smoothing": (call, lambda: call(label_smoothing=0.1), "label_smoothing='<absent>' → 0.1"),
    "test-time augmentation": (call, lambda: call(tta="flip"), "tta='<absent>' → 'flip'"),
    "training data": (call, lambda: call(train=bars(512, 5)), "train_data.digest="),
    "validation data": (call, lambda: call(val=None), "val_data={'images': 256"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_resume_with_any_other_setting_is_refused(tmp_path, change):
    first, second, line = CHANGES[change]
    path = tmp_path / "run.pt"
    torch.manual_seed(0)
    fit(**first(), checkpoint_path=path)
    written = path.read_bytes()
    torch.manual_seed(1)
    arguments = second()
    before = {k: v.clone() for k, v in arguments["model"].state_dict().items()}
    with pytest.raises(SettingsMismatchError) as error:
        fit(**arguments, checkpoint_path=path)
    message = str(error.value)
    assert re.search(r"(?m)^  " + re.escape(line), message), message
    assert "holds a run with other settings" in message
    assert f"To start over, delete {path}, pass resume=False or use another checkpoint_path" \
        in message
    assert "To continue the old run, call fit with the settings it was started with" in message
    assert isinstance(error.value, CheckpointError) and error.value.differences
    assert path.read_bytes() == written  # nothing written, nothing restored
    assert all(torch.equal(v, arguments["model"].state_dict()[k]) for k, v in before.items())
    arguments = second()
    assert len(fit(**arguments, checkpoint_path=path, resume=False)) == arguments["epochs"]


def test_refusal_lists_every_difference(tmp_path):
    path = tmp_path / "run.pt"
    fit(**call(), checkpoint_path=path)
    model = Tiny()
    with pytest.raises(SettingsMismatchError) as error:
        fit(**call(model, optimizer=adamw(model, lr=0.5), seed=3, augment="shift"),
            checkpoint_path=path)
    assert error.value.differences == [("seed", 0, 3), ("augment", "none", "shift"),
                                       ("optimizer.groups[0].lr", 0.01, 0.5)]
    lines = str(error.value).splitlines()
    assert lines[1:4] == ["  seed=0 → 3", "  augment='none' → 'shift'",
                          "  optimizer.groups[0].lr=0.01 → 0.5"]


def test_raising_epochs_continues_the_run_exactly(tmp_path):
    path = tmp_path / "run.pt"
    model, optimizer, _ = make_run()
    fit(model, TRAIN, TEST, optimizer=optimizer, augment="shift-flip", checkpoint_path=path,
        **BASE)
    longer, optimizer2, _ = make_run(seed=7)
    history = fit(longer, TRAIN, TEST, optimizer=optimizer2, augment="shift-flip",
                  checkpoint_path=path, **{**BASE, "epochs": 3})
    straight, optimizer3, _ = make_run()
    reference = fit(straight, TRAIN, TEST, optimizer=optimizer3, augment="shift-flip",
                    **{**BASE, "epochs": 3})
    assert history.epoch == [1, 2, 3] and history.val_accuracy == reference.val_accuracy
    assert all(torch.equal(v, straight.state_dict()[k]) for k, v in longer.state_dict().items())
    assert load_checkpoint(path, restore_rng=False)["extra"]["config"]["epochs"] == 3


def test_checkpoint_of_an_older_course_utils_resumes_with_a_warning(tmp_path):
    path = tmp_path / "run.pt"
    model, optimizer, _ = make_run()
    first = fit(model, TRAIN, TEST, optimizer=optimizer, checkpoint_path=path, **BASE)
    state = torch.load(path, weights_only=True)  # make it look like a format-1 checkpoint
    state["format_version"] = 1
    state["extra"]["fit"] = {"batch_size": 64, "train_size": 512, "seed": 0, "world_size": 1,
                             "epochs": 1}
    del state["extra"]["config"], state["extra"]["best"]
    state["history"] = {("test_" + k[4:] if k.startswith("val_") else k): v
                        for k, v in state["history"].items()}
    torch.save(state, path)
    model2, optimizer2, _ = make_run()
    with pytest.warns(UserWarning, match="older course_utils.*could not be compared"):
        history = fit(model2, TRAIN, TEST, optimizer=optimizer2, checkpoint_path=path,
                      **{**BASE, "epochs": 2})
    assert history.val_accuracy[0] == first.val_accuracy[0] and len(history) == 2
    torch.save(state, path)
    with pytest.raises(SettingsMismatchError, match="batch_size=64 → 32"):
        fit(Tiny(), TRAIN, TEST, checkpoint_path=path, **{**BASE, "batch_size": 32})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checkpoint of this version: no warning
        model3, optimizer3, _ = make_run()
        fit(model3, TRAIN, TEST, optimizer=optimizer3, checkpoint_path=tmp_path / "new.pt",
            **BASE)
        model3, optimizer3, _ = make_run()
        fit(model3, TRAIN, TEST, optimizer=optimizer3, checkpoint_path=tmp_path / "new.pt",
            **BASE)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = write_checkpoint(tmp_path / "run.pt")
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        write_checkpoint(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]
