"""course_tools.kernel_polling: the sliced wait still delivers every message and still times out."""

import asyncio
import time
from queue import Empty

import pytest
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import start_new_async_kernel

from course_tools.kernel_polling import SLICE_SECONDS, poll_in_slices


def test_patch_is_idempotent():
    poll_in_slices()
    patched = AsyncZMQSocketChannel.get_msg
    poll_in_slices()
    assert AsyncZMQSocketChannel.get_msg is patched and patched.sliced


async def _reply_to(channel, msg_id):
    """The reply to `msg_id`, skipping replies to earlier requests (start-up's kernel_info)."""
    while True:
        message = await channel.get_msg(timeout=60)
        if message["parent_header"].get("msg_id") == msg_id:
            return message


async def _round_trip():
    manager, client = await start_new_async_kernel(kernel_name="python3")
    try:
        msg_id = client.execute("21 * 2")
        reply = await _reply_to(client.shell_channel, msg_id)
        results = []
        while True:
            message = await client.iopub_channel.get_msg(timeout=60)
            if message["msg_type"] == "execute_result":
                results.append(message["content"]["data"]["text/plain"])
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle" \
                    and message["parent_header"].get("msg_id") == msg_id:
                break
        # Nothing is ever sent unasked on the control channel (the shell channel may still carry
        # late replies to the kernel_info requests that start-up repeats on a loaded machine).
        started = time.monotonic()
        with pytest.raises(Empty):
            await client.control_channel.get_msg(timeout=3 * SLICE_SECONDS)
        waited = time.monotonic() - started
        return reply, results, waited
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)


def test_sliced_wait_delivers_replies_and_still_times_out():
    poll_in_slices()
    reply, results, waited = asyncio.run(_round_trip())
    assert reply["msg_type"] == "execute_reply" and reply["content"]["status"] == "ok"
    assert results == ["42"]
    # It waited the whole timeout across several slices rather than giving up after one.
    assert waited >= 3 * SLICE_SECONDS * 0.9
