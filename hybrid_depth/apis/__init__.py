"""High-level entry points for using trained models outside the Runner (as ``mmdet3d.apis``)."""
from .depth_inference import colorize_disparity, infer_depth, init_depth_model

__all__ = ['init_depth_model', 'infer_depth', 'colorize_disparity']
