"""nuScenes depth metric: predictions against the keyframe lidar projected into each camera."""
from __future__ import annotations

from collections import defaultdict

from mmdet3d.registry import METRICS
from mmengine.logging import print_log

from ..depth_metrics import aggregate_depth_metrics
from .kitti_eigen_metric import KittiEigenDepthMetric, format_depth_table

__all__ = ['NuScenesLidarDepthMetric']


@METRICS.register_module()
class NuScenesLidarDepthMetric(KittiEigenDepthMetric):
    """The 7 Eigen metrics against projected ``LIDAR_TOP`` depth, overall and per camera.

    Same protocol as :class:`KittiEigenDepthMetric` (``gt_depth`` from ``LoadNuScenesLidarDepth``, per-image
    median scaling, 80 m cap) except the Garg crop, which is specific to KITTI's image layout: off by default.
    Returns the overall metrics in the standard order, then ``<camera>/abs_rel`` per camera.

    Args:
        use_garg_crop: Restrict to the Garg crop (default False on nuScenes).
        **kwargs: :class:`KittiEigenDepthMetric` arguments.
    """

    default_prefix = 'nuscenes_depth'

    def __init__(self, use_garg_crop: bool = False, **kwargs) -> None:
        super().__init__(use_garg_crop=use_garg_crop, **kwargs)

    def _group_of(self, sample: dict) -> dict:
        return {'camera': sample.get('camera', 'unknown')}

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        out = super().compute_metrics(results)
        groups = defaultdict(list)
        for r in results:
            groups[r['camera']].append(r)
        for cam in sorted(groups):
            m = aggregate_depth_metrics(groups[cam])
            print_log(f'\n{cam} ({len(groups[cam])} images)\n{format_depth_table(m)}', logger='current')
            out[f'{cam}/abs_rel'] = m['abs_rel']
        return out
