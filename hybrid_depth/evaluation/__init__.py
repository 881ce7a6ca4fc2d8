"""Depth evaluation: pure Eigen-protocol metrics (registered metric classes live elsewhere)."""
from . import metrics  # noqa: F401  (registers the metric classes)
from .depth_metrics import (
    DEPTH_METRIC_NAMES,
    aggregate_depth_metrics,
    compute_depth_errors,
    eigen_depth_metrics,
    garg_crop_mask,
)

__all__ = ['DEPTH_METRIC_NAMES', 'aggregate_depth_metrics', 'compute_depth_errors', 'eigen_depth_metrics',
           'garg_crop_mask']
