"""Make notebook execution by nbclient (nbgrader, scripts/build_lesson.py) immune to lost wake-ups.

jupyter_client's asyncio channels wait for a kernel message with one long `socket.poll(timeout)`.
With the pyzmq/jupyter_client versions this course installs, that wait occasionally misses the
event for a message that has already arrived (seen here in about one `nbgrader autograde` run in
three: the kernel idle, the client asleep until the cell timeout). Polling in short slices
re-checks the socket each time, so a missed wake-up costs at most one slice.

    from course_tools.kernel_polling import poll_in_slices
    poll_in_slices()          # once, before executing notebooks

nbgrader reads this from the `nbgrader_config.py` that course_tools/grading_course.py writes.
"""

import time
from queue import Empty

SLICE_SECONDS = 0.5


def _sliced_get_msg(original):
    async def get_msg(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = SLICE_SECONDS if deadline is None else deadline - time.monotonic()
            if await self.socket.poll(int(max(0.0, min(remaining, SLICE_SECONDS)) * 1000)):
                return await self._recv()
            if deadline is not None and time.monotonic() >= deadline:
                raise Empty

    get_msg.sliced = True
    get_msg.original = original
    return get_msg


def poll_in_slices():
    """Patch jupyter_client's async channel so every wait polls in SLICE_SECONDS slices.

    Idempotent; returns True when the patch is in place."""
    from jupyter_client.channels import AsyncZMQSocketChannel

    if not getattr(AsyncZMQSocketChannel.get_msg, "sliced", False):
        AsyncZMQSocketChannel.get_msg = _sliced_get_msg(AsyncZMQSocketChannel.get_msg)
    return True
