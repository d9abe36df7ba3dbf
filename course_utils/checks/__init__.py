"""Instant checks for the exercises, one module per lesson topic.

Each ``check_*`` runs a student's function on test cases. On success it prints one
line starting with a check mark; otherwise it raises ``CheckFailed`` (an
``AssertionError``) whose message says in words what is most likely wrong, by
comparing the answer with the typical wrong answers (flipped kernel, off-by-one
size, channels not summed, ...).

They all run on ``course_utils.checks.harness``, which calls the student's function on the
cases, compares with the reference and answers the common failures (an error, None, the
wrong type, the wrong shape) with the same words in every lesson; the topic modules hold
only their cases and their topic-specific hints.

Imported inside IPython (a notebook), this package registers ``checks.tracebacks``: a failed
check shows a header naming the check and the cell line, then its explanation, instead of a
traceback through the checks' source; the cell still fails (see ``checks.tracebacks``).
"""

from .architectures import check_conv_macs, check_inception_forward, check_vgg_block
from .backprop import (
    check_conv_backward,
    check_conv_backward_dw,
    check_conv_backward_dx,
    check_max_pool_backward,
    check_softmax_cross_entropy_grad,
)
from .convolution import check_conv2d_single, check_conv_matrix, check_output_size
from .featviz import check_fooling_step, check_total_variation, check_unit_iou
from .harness import CheckFailed
from .interpret import check_grad_cam_map, check_occlusion_map, check_vanilla_saliency
from .pooling import check_avg_pool2d, check_cross_channel_max, check_max_pool2d_single
from .receptive_field import check_input_region, check_rf_recurrence, check_vgg_stack_rf
from .resnet import check_basic_block_forward, check_batchnorm_eval, check_residual_gradient
from .time_to_accuracy import check_difference_error, check_one_cycle_lr, check_seconds_to_target
from .tracebacks import install as _install_short_tracebacks
from .training import check_accuracy_under_shift, check_mlp_parameter_count, check_train_step

__all__ = ["CheckFailed", "check_conv2d_single", "check_output_size", "check_conv_matrix",
           "check_rf_recurrence", "check_input_region", "check_vgg_stack_rf"]
__all__ += ["check_max_pool2d_single", "check_avg_pool2d", "check_cross_channel_max"]
__all__ += ["check_conv_backward_dw", "check_conv_backward_dx", "check_max_pool_backward",
            "check_softmax_cross_entropy_grad", "check_conv_backward"]
__all__ += ["check_mlp_parameter_count", "check_train_step", "check_accuracy_under_shift"]
__all__ += ["check_conv_macs", "check_vgg_block", "check_inception_forward"]
__all__ += ["check_basic_block_forward", "check_batchnorm_eval", "check_residual_gradient"]
__all__ += ["check_vanilla_saliency", "check_occlusion_map", "check_grad_cam_map"]
__all__ += ["check_total_variation", "check_fooling_step", "check_unit_iou"]
__all__ += ["check_seconds_to_target", "check_one_cycle_lr", "check_difference_error"]

_install_short_tracebacks()  # only inside IPython; see checks.tracebacks
