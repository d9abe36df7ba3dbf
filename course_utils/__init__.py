"""Helpers for the CNN course: data, numpy convolution, kernels, checks, plots, widgets.

Import what a lesson needs from its module, e.g.
``from course_utils.convolution import conv2d``.
"""

__version__ = "0.1.0"
