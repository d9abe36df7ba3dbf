"""The record of a training run: one entry per epoch (losses, accuracies, seconds, lr)."""

from dataclasses import asdict, dataclass, field

__all__ = ["History"]


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
