"""Ctrl-C (or a Jupyter kernel interrupt) that waits for the current training step to finish.

``fit`` checks the flag between batches, so the checkpoint it writes on an interrupt holds a
consistent state (weights, optimizer, data position and generators of one completed step).
"""

import signal

__all__ = ["DeferredInterrupt"]


class DeferredInterrupt:
    """Turn SIGINT into a flag checked between batches, inside a ``with`` block.

    The first SIGINT lets the current batch finish; :meth:`check` then raises
    KeyboardInterrupt. A second one interrupts at once. Outside the main thread (where
    handlers cannot be installed), or with ``enabled=False`` (under DDP, where the ranks
    would stop at different batches), interrupts are left alone.
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
