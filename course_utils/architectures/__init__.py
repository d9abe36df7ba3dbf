"""Classic CNN architectures, faithful to their papers, and tools to measure them.

* :func:`build` (a model by name) and :func:`names`: AlexNet (the model zoo's single tower and
  the 2012 paper's two towers), VGG-11/13/16/19, GoogLeNet, ResNet-18/34/50/101/152 at
  ImageNet size, and Fashion-MNIST-size versions of each family (``alexnet_small``,
  ``vgg_small``, ``googlenet_small``, ``resnet20``..``resnet56`` and their plain twins
  ``plain20``..``plain56``). One module per family: :mod:`.alexnet`, :mod:`.vgg`,
  :mod:`.googlenet`, :mod:`.resnet`, :mod:`.resnet_small`; their docstrings say where model
  zoos differ from the papers.
* :func:`count_parameters`, :func:`count_macs` (multiply-accumulates of one forward pass),
  :func:`layer_table` and :func:`format_table` (a per-layer table for printing).

PyTorch only (no torchvision).
"""

from .cost import count_macs, count_parameters
from .registry import build, names, options_of
from .table import LayerRow, format_table, layer_table

__all__ = ["build", "names", "options_of", "count_parameters", "count_macs", "layer_table",
           "format_table", "LayerRow"]
