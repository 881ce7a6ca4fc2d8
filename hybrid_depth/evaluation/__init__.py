"""Depth and pose evaluation: pure Eigen-protocol and snippet-ATE metrics (registered metric classes in metrics/)."""
from . import metrics  # noqa: F401  (registers the metric classes)
from .depth_metrics import (
    DEPTH_METRIC_NAMES,
    aggregate_depth_metrics,
    compute_depth_errors,
    eigen_depth_metrics,
    garg_crop_mask,
)
from .pose_metrics import odometry_ate, relative_poses, snippet_ate, snippet_ates, snippet_xyz

__all__ = ['DEPTH_METRIC_NAMES', 'aggregate_depth_metrics', 'compute_depth_errors', 'eigen_depth_metrics',
           'garg_crop_mask', 'odometry_ate', 'relative_poses', 'snippet_ate', 'snippet_ates', 'snippet_xyz']
