"""The messages between the grading judge and a sandboxed submission, and the plain data
a submission may return.

Both sides frame a message as a 4-byte big-endian length and its bytes. The judge sends
pickles (the sandbox trusts the judge); the sandbox answers with a JSON header followed by
its binary blobs, and the judge reads them back as plain data only:

* ``bool``, ``int``, ``float``, ``str``, ``None``, ``tuple`` and ``list`` of those: JSON;
* numpy arrays and numbers: ``np.save(allow_pickle=False)`` of a numeric array;
* torch tensors: ``torch.save`` of the tensor, read with ``torch.load(weights_only=True)``;
* models made of standard ``torch.nn`` layers: their description and weights
  (:mod:`course_tools.grading_modules`), built again in the judge from torch's own classes.

Anything else (a subclass's behaviour, an object with a lying ``__eq__``, a model) is sent as
"unsupported" and becomes an :class:`Unsupported` value, which no check accepts. A value is
therefore the same, however the student's code built it, once it reaches the judge.
"""

import io
import json
import pickle
import struct
import sys

import numpy as np

from course_tools.grading_modules import build_module, describe_module, load_state, state_blob

__all__ = ["MessageTooLarge", "ProtocolError", "Unsupported", "MAX_MESSAGE_BYTES",
           "send_frame", "read_frame", "send_request", "read_request", "send_reply", "read_reply",
           "encode_value", "decode_value", "encode_states", "apply_states"]

MAX_MESSAGE_BYTES = 64 * 2**20
MAX_DEPTH, MAX_ITEMS, MAX_TEXT = 6, 100_000, 10_000
NUMERIC_KINDS = "biufc"


class ProtocolError(Exception):
    """The sandbox sent something that is not a well-formed message."""


class MessageTooLarge(ProtocolError):
    """A message over the size limit (a result too large to return)."""


class Unsupported:
    """A returned value of a type the judge does not accept (shape (): no data)."""

    def __init__(self, type_name):
        self.type_name = str(type_name)[:100]

    def __repr__(self):
        return f"<a value of unsupported type {self.type_name}>"


# --- Framing ---------------------------------------------------------------------------------

def send_frame(stream, payload):
    """Write one length-prefixed frame of bytes and flush."""
    stream.write(struct.pack(">I", len(payload)) + payload)
    stream.flush()


def _read_exactly(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            raise EOFError("the other side closed the connection")
        data += chunk
    return data


def read_frame(stream, limit=MAX_MESSAGE_BYTES):
    """Read one frame; MessageTooLarge beyond ``limit`` bytes, EOFError at the end."""
    (n,) = struct.unpack(">I", _read_exactly(stream, 4))
    if n > limit:
        raise MessageTooLarge(f"a message of {n:,} bytes (limit {limit:,})")
    return _read_exactly(stream, n)


def send_request(stream, request):
    """Judge -> sandbox: any picklable object."""
    send_frame(stream, pickle.dumps(request))


def read_request(stream):
    """Sandbox side: the judge's request (trusted, so pickle is fine here)."""
    return pickle.loads(read_frame(stream, limit=2**31 - 1))


def send_reply(stream, header, blobs=()):
    """Sandbox -> judge: a JSON header (a dict) and its binary blobs."""
    send_frame(stream, json.dumps(dict(header, blobs=len(blobs))).encode())
    for blob in blobs:
        send_frame(stream, blob)


def read_reply(stream, limit=MAX_MESSAGE_BYTES):
    """Judge side: (header dict, [blob bytes]); ProtocolError if malformed."""
    try:
        header = json.loads(read_frame(stream, limit))
    except (ValueError, UnicodeDecodeError) as error:
        raise ProtocolError(f"not a JSON message: {error}") from None
    if not isinstance(header, dict) or not isinstance(header.get("blobs"), int):
        raise ProtocolError("a message without its header fields")
    total, blobs = 0, []
    for _ in range(min(header["blobs"], 10_000)):
        blobs.append(read_frame(stream, limit - total))
        total += len(blobs[-1])
    return header, blobs


# --- Values (sandbox side) -------------------------------------------------------------------

def _array_blob(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _tensor_blob(tensor):
    import torch
    buffer = io.BytesIO()
    torch.save(tensor.detach().cpu().as_subclass(torch.Tensor).clone(), buffer)
    return buffer.getvalue()


def encode_value(value, blobs, depth=0):
    """A JSON-able description of ``value`` as plain data; arrays and tensors appended to
    ``blobs`` (list of bytes). Subclasses are reduced to their base type's data."""
    if depth > MAX_DEPTH:
        return {"t": "unsupported", "type": "a structure nested too deeply"}
    if value is None:
        return {"t": "none"}
    if isinstance(value, (bool, np.bool_)):
        return {"t": "bool", "v": bool(value)}
    if isinstance(value, int):
        return {"t": "int", "v": int.__index__(value)}
    if isinstance(value, float):
        return {"t": "float", "v": float.__float__(value)}
    if isinstance(value, str):
        return {"t": "str", "v": str.__str__(value)[:MAX_TEXT]}
    if isinstance(value, (np.generic, np.ndarray)):
        array = np.array(value, subok=False)
        if array.dtype.kind not in NUMERIC_KINDS:
            return {"t": "unsupported", "type": f"numpy array of dtype {array.dtype.name}"}
        blobs.append(_array_blob(array))
        return {"t": "npscalar" if isinstance(value, np.generic) else "ndarray", "blob": len(blobs) - 1}
    if _is_tensor(value):
        blobs.append(_tensor_blob(value))
        return {"t": "tensor", "blob": len(blobs) - 1}
    if _is_module(value):
        try:
            description = describe_module(value)
        except TypeError as error:
            return {"t": "unsupported", "type": f"{type(value).__name__} ({error})"}
        blobs.append(state_blob(value.state_dict()))
        return {"t": "module", "spec": description, "blob": len(blobs) - 1}
    if isinstance(value, (tuple, list)):
        items = tuple.__iter__(value) if isinstance(value, tuple) else list.__iter__(value)
        items = list(items)
        if len(items) > MAX_ITEMS:
            return {"t": "unsupported", "type": f"a sequence of {len(items):,} items"}
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {"t": kind, "v": [encode_value(item, blobs, depth + 1) for item in items]}
    return {"t": "unsupported", "type": type(value).__name__}


def _is_module(value):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def _is_tensor(value):
    torch = sys.modules.get("torch")  # a tensor exists only if torch was imported
    return torch is not None and isinstance(value, torch.Tensor)


# --- Values (judge side) ---------------------------------------------------------------------

def _load_array(blob):
    array = np.load(io.BytesIO(blob), allow_pickle=False)
    if not isinstance(array, np.ndarray) or array.dtype.kind not in NUMERIC_KINDS:
        raise ProtocolError("an array blob that is not a numeric array")
    return array


def _load_tensor(blob):
    import torch
    tensor = torch.load(io.BytesIO(blob), weights_only=True)
    if type(tensor) is not torch.Tensor:
        raise ProtocolError("a tensor blob that is not a tensor")
    return tensor


def decode_value(description, blobs, depth=0):
    """The plain value an :func:`encode_value` description stands for; ProtocolError if it
    is malformed."""
    try:
        kind = description["t"]
        if depth > MAX_DEPTH + 1:
            raise ProtocolError("a value nested too deeply")
        if kind == "none":
            return None
        if kind in ("bool", "int", "float", "str"):
            value = description["v"]
            wanted = {"bool": bool, "int": int, "float": (int, float), "str": str}[kind]
            if not isinstance(value, wanted) or (kind == "int" and isinstance(value, bool)):
                raise ProtocolError(f"a {kind} that is not one")
            return float(value) if kind == "float" else value
        if kind in ("ndarray", "npscalar"):
            array = _load_array(blobs[description["blob"]])
            return array[()] if kind == "npscalar" else array
        if kind == "tensor":
            return _load_tensor(blobs[description["blob"]])
        if kind == "module":
            module = build_module(description["spec"])
            module.load_state_dict(load_state(blobs[description["blob"]]), strict=True)
            return module
        if kind in ("tuple", "list"):
            items = [decode_value(item, blobs, depth + 1) for item in description["v"]]
            return tuple(items) if kind == "tuple" else items
        if kind == "unsupported":
            return Unsupported(description.get("type", "?"))
    except ProtocolError:
        raise
    except Exception as error:  # a malformed description: any type, any key
        raise ProtocolError(f"a malformed value ({type(error).__name__}: {error})") from None
    raise ProtocolError(f"a value of unknown kind {kind!r}")


# --- Arguments changed in place ----------------------------------------------------------------

def encode_states(args, blobs):
    """Descriptions of the models' and optimizers' states among ``args`` after a call (a
    function such as a training step changes them in place); their bytes go to ``blobs``."""
    torch = sys.modules.get("torch")
    states = []
    for index, arg in enumerate(args if torch is not None else ()):
        if isinstance(arg, (torch.nn.Module, torch.optim.Optimizer)):
            blobs.append(state_blob(arg.state_dict()))
            kind = "module" if isinstance(arg, torch.nn.Module) else "optimizer"
            states.append({"arg": index, "kind": kind, "blob": len(blobs) - 1})
    return states


def apply_states(states, args, blobs):
    """Load the states a call left in its arguments into the judge's own ``args``;
    ProtocolError if they do not fit."""
    import torch
    try:
        for state in states or []:
            arg = args[int(state["arg"])]
            wanted = torch.nn.Module if state["kind"] == "module" else torch.optim.Optimizer
            if not isinstance(arg, wanted):
                raise ProtocolError("a state for an argument of another kind")
            arg.load_state_dict(load_state(blobs[int(state["blob"])]))
    except ProtocolError:
        raise
    except Exception as error:  # a state of another shape, or malformed
        raise ProtocolError(f"a changed argument that does not fit ({type(error).__name__})") from None
