"""Training hooks of the depth stages."""
from .disparity_vis_hook import DisparityVisualizationHook, colorize_disparity

__all__ = ['DisparityVisualizationHook', 'colorize_disparity']
