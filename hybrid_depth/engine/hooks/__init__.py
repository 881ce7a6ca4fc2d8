"""Training hooks of the depth stages."""
from .disparity_vis_hook import DisparityVisualizationHook, colorize_disparity
from .validate_before_train import ValidateBeforeTrainHook

__all__ = ['DisparityVisualizationHook', 'ValidateBeforeTrainHook', 'colorize_disparity']
