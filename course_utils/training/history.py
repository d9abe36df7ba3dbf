"""The record of a training run: one entry per epoch (losses, accuracies, seconds, lr)."""

import math
from dataclasses import asdict, dataclass, field

__all__ = ["History"]

# Columns of histories written before fit measured validation data instead of the test set.
RENAMED = {"test_loss": "val_loss", "test_accuracy": "val_accuracy"}


@dataclass
class History:
    """Per-epoch record of a run: one list entry per completed epoch.

    ``train_loss`` and ``train_accuracy`` are averaged over the epoch's (augmented) training
    batches while the weights changed; ``val_loss`` and ``val_accuracy`` are measured on the
    validation data after the epoch (NaN without validation data); ``seconds`` is the
    epoch's training time (evaluation excluded); ``lr`` the learning rate at its end.

    There is no test column: the test set is evaluated once, after the epoch (or the
    recipe) has been chosen on validation, with :func:`course_utils.evaluation.evaluate`.
    Histories saved with the former ``test_loss`` / ``test_accuracy`` columns are read by
    :meth:`from_dict` into ``val_loss`` / ``val_accuracy``.
    """

    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    lr: list = field(default_factory=list)

    def __len__(self):
        return len(self.epoch)

    def __getattr__(self, name):
        # Only called for names that are not attributes: explain the renamed columns.
        if name in RENAMED:
            raise AttributeError(
                f"History.{name} no longer exists: fit measures validation data after every "
                f"epoch, see History.{RENAMED[name]}. Evaluate the test set once, at the end, "
                "with course_utils.evaluation.evaluate(model, test_x, test_y).")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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

    @property
    def best_epoch(self):
        """The epoch (1, 2, ...) with the highest validation accuracy, the first of equals.

        None when no epoch was measured on validation data. This is the epoch that
        ``fit(..., restore_best=True)`` keeps.
        """
        best = None
        for epoch, accuracy in zip(self.epoch, self.val_accuracy):
            if not math.isnan(accuracy) and (best is None or accuracy > best[1]):
                best = (epoch, accuracy)
        return None if best is None else best[0]

    def to_dict(self):
        """Plain dict of lists (JSON-ready)."""
        return {name: list(values) for name, values in asdict(self).items()}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict` (missing fields start empty).

        Former ``test_loss`` / ``test_accuracy`` columns (histories and checkpoints written
        before validation data replaced the test set) are read as ``val_loss`` /
        ``val_accuracy``.
        """
        names = set(cls().to_dict())
        data = dict(data)
        for old, new in RENAMED.items():
            if old in data and new not in data:
                data[new] = data.pop(old)
        return cls(**{name: list(values) for name, values in data.items() if name in names})
