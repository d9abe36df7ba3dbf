"""A per-layer table of a model: output shape, parameters, MACs and activation memory."""

import math
from dataclasses import dataclass

from .cost import layer_macs
from .trace import trace

__all__ = ["LayerRow", "layer_table", "format_table", "FLOAT32_BYTES"]

FLOAT32_BYTES = 4


@dataclass(frozen=True)
class LayerRow:
    """One layer's row: name, type, output shape (per image), parameters, MACs, output bytes."""

    name: str
    type: str
    output_shape: tuple
    parameters: int
    macs: int
    activation_bytes: int


def layer_table(model, input_shape):
    """One :class:`LayerRow` per call of a leaf module of ``model``, for one (C, H, W) image.

    Rows follow the order in which the layers run (eval mode, see :func:`.trace.trace`).
    ``parameters`` are the module's own, counted on its first call only (a module reused in
    ``forward`` shows 0 the second time), ``macs`` as in :func:`.cost.count_macs`, and
    ``activation_bytes`` the size of the layer's output for one image in float32 (4 bytes per
    value; an in-place layer or a view still gets its own row). The model is left unchanged.
    """
    rows, seen = [], set()
    for call in trace(model, input_shape):
        first = id(call.module) not in seen
        seen.add(id(call.module))
        parameters = sum(p.numel() for p in call.module.parameters()) if first else 0
        size = math.prod(call.output_shape)
        rows.append(LayerRow(call.name, type(call.module).__name__, call.output_shape, parameters,
                             layer_macs(call.module, call.output_shape), size * FLOAT32_BYTES))
    return rows


def format_table(rows, total=True):
    """``rows`` (from :func:`layer_table`) as aligned text columns with thousands separators.

    Columns: layer, type, output (C×H×W), parameters, MACs, activations (bytes); with ``total``
    a last line adds up parameters, MACs and activation bytes. Returns a string to print.
    """
    header = ("layer", "type", "output", "parameters", "MACs", "activations (bytes)")
    lines = [(row.name, row.type, "×".join(map(str, row.output_shape)), f"{row.parameters:,}",
              f"{row.macs:,}", f"{row.activation_bytes:,}") for row in rows]
    if total:
        lines.append(("total", "", "", f"{sum(r.parameters for r in rows):,}",
                      f"{sum(r.macs for r in rows):,}", f"{sum(r.activation_bytes for r in rows):,}"))
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def render(line):
        left = [cell.ljust(width) for cell, width in zip(line[:3], widths)]
        right = [cell.rjust(width) for cell, width in zip(line[3:], widths[3:])]
        return "  ".join(left + right).rstrip()

    rule = "  ".join("-" * width for width in widths)
    body = [render(line) for line in lines]
    if total:
        body.insert(len(body) - 1, rule)
    return "\n".join([render(header), rule, *body])
