"""Pure camera and pose geometry (Monodepth2 ``layers.py`` style): tensors in, tensors out."""
from .camera import backproject, pixel_grid, project, scale_intrinsics, transform_points
from .depth import depth_to_disp, disp_to_depth
from .pose import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_pose_vec,
    pose_vec_to_matrix,
    transformation_from_parameters,
    translation_matrix,
)
from .view_synthesis import pixels_to_grid, view_synthesis

__all__ = [
    'axis_angle_to_matrix', 'backproject', 'depth_to_disp', 'disp_to_depth', 'matrix_to_axis_angle',
    'matrix_to_pose_vec', 'pixel_grid', 'pixels_to_grid', 'pose_vec_to_matrix', 'project', 'scale_intrinsics',
    'transform_points', 'transformation_from_parameters', 'translation_matrix', 'view_synthesis'
]
