"""KITTI Eigen depth metric for ``tools/test.py`` (Monodepth2 ``evaluate_depth.py`` protocol).

Per image: the predicted scaled disparity is resized (bilinear) to the ground-truth resolution and inverted
to depth; then :func:`~hybrid_depth.evaluation.depth_metrics.eigen_depth_metrics` (valid 1e-3 < gt < 80, Garg
crop, per-image median scaling, clamp to [1e-3, 80]). The 7 metrics are averaged over images and reported in
the standard order ``abs_rel, sq_rel, rmse, rmse_log, a1, a2, a3``.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from mmdet3d.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from ..depth_metrics import DEPTH_METRIC_NAMES, aggregate_depth_metrics, eigen_depth_metrics

__all__ = ['KittiEigenDepthMetric', 'format_depth_table']


def format_depth_table(metrics: dict[str, float]) -> str:
    """Monodepth2-style two-line table of the 7 metrics in the standard order."""
    header = ' | '.join(f'{name:>8}' for name in DEPTH_METRIC_NAMES)
    values = ' | '.join(f'{metrics[name]:8.3f}' for name in DEPTH_METRIC_NAMES)
    return f'{header}\n{values}'


def resize_disp_to_depth(pred_disp: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w) scaled disparity -> (height, width) depth: bilinear resize of the disparity, then ``1 / disp``."""
    disp = cv2.resize(np.ascontiguousarray(pred_disp, dtype=np.float32), (width, height),
                      interpolation=cv2.INTER_LINEAR)
    return 1.0 / np.maximum(disp, 1e-6)


@METRICS.register_module()
class KittiEigenDepthMetric(BaseMetric):
    """Eigen-protocol depth metrics over predictions carrying ``pred_disp`` and ``gt_depth``.

    Each prediction dict (``SelfSupervisedDepthEstimator.predict``) holds ``pred_disp`` (1, h, w) scaled
    disparity and ``gt_depth`` (H, W) metres (0 = missing).

    Args:
        use_garg_crop: Restrict to the Garg crop (KITTI Eigen: True).
        median_scaling: Per-image median scaling (monocular models: True).
        min_depth: Lower validity bound and clamp.
        max_depth: Upper validity bound and clamp (80 m cap).
        collect_device: mmengine ``BaseMetric`` argument.
        prefix: Metric name prefix (``kitti_eigen/abs_rel``, ...).
    """

    default_prefix = 'kitti_eigen'

    def __init__(self, use_garg_crop: bool = True, median_scaling: bool = True, min_depth: float = 1e-3,
                 max_depth: float = 80.0, collect_device: str = 'cpu', prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.use_garg_crop = use_garg_crop
        self.median_scaling = median_scaling
        self.min_depth = min_depth
        self.max_depth = max_depth

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'gt_depth' not in sample:
                raise KeyError('prediction without gt_depth: evaluate on a dataset with ground truth '
                               '(e.g. KittiEigenTestDataset)')
            gt = np.asarray(sample['gt_depth'], dtype=np.float32)
            pred = resize_disp_to_depth(np.asarray(sample['pred_disp'])[0], *gt.shape)
            if not ((gt > self.min_depth) & (gt < self.max_depth)).any():
                continue  # no measurement in range (e.g. a camera frame without LiDAR returns)
            metrics, ratio = eigen_depth_metrics(pred, gt, self.use_garg_crop, self.median_scaling, self.min_depth,
                                                 self.max_depth)
            self.results.append({**metrics, 'ratio': ratio, **self._group_of(sample)})

    def _group_of(self, sample: dict) -> dict:
        """Extra keys stored with each image's result (subclasses: e.g. the camera name)."""
        return {}

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        """Mean of each metric over images, in the standard order (a table is also printed)."""
        if not results:
            raise ValueError(f'{type(self).__name__}: no image with valid ground truth was evaluated')
        metrics = aggregate_depth_metrics(results)
        ratios = np.array([r['ratio'] for r in results])
        lines = [f'{type(self).__name__} over {len(results)} images']
        if self.median_scaling:
            med = np.median(ratios)
            lines.append(f'scaling ratios | med: {med:0.3f} | std: {np.std(ratios / med):0.3f}')
        lines.append(format_depth_table(metrics))
        print_log('\n' + '\n'.join(lines), logger='current')
        return {name: metrics[name] for name in DEPTH_METRIC_NAMES}
