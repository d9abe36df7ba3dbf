"""Interactive explorers (ipywidgets), one module per lesson topic."""

from .architecture_explorer import ArchitectureExplorer
from .attribution_explorer import AttributionExplorer
from .conv_explorer import ConvExplorer, parse_kernel
from .pooling_explorer import PoolingExplorer, relative_change  # noqa: F401  (lesson 03)
from .receptive_field_explorer import ReceptiveFieldExplorer
from .unit_explorer import UnitExplorer

__all__ = ["ArchitectureExplorer", "AttributionExplorer", "ConvExplorer", "parse_kernel",
           "ReceptiveFieldExplorer", "UnitExplorer"]
