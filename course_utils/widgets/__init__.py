"""Interactive explorers (ipywidgets), one module per lesson topic."""

from .conv_explorer import ConvExplorer, parse_kernel

__all__ = ["ConvExplorer", "parse_kernel"]
