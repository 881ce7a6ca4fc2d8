"""Training hooks of the depth stages."""
from .disparity_vis_hook import DisparityVisualizationHook, colorize_disparity
from .nonfinite_loss import NonFiniteLossError, NonFiniteLossHook
from .validate_before_train import ValidateBeforeTrainHook

__all__ = ['DisparityVisualizationHook', 'NonFiniteLossError', 'NonFiniteLossHook', 'ValidateBeforeTrainHook',
           'colorize_disparity']
