"""KITTI Eigen-split depth metrics (Eigen et al. 2014; Monodepth2 ``evaluate_depth.py`` protocol), pure numpy.

Protocol: valid pixels ``min_depth < gt < max_depth``; optional Garg crop (rows 0.408-0.992 H, cols
0.036-0.964 W); per-image median scaling ``pred *= median(gt) / median(pred)`` over valid pixels; predictions
clamped to ``[min_depth, max_depth]``; the 7 metrics below averaged over images.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ['DEPTH_METRIC_NAMES', 'aggregate_depth_metrics', 'compute_depth_errors', 'eigen_depth_metrics',
           'garg_crop_mask']

DEPTH_METRIC_NAMES = ('abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'a1', 'a2', 'a3')


def compute_depth_errors(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The 7 Eigen metrics over matching 1-D arrays of valid, positive depths.

    ``abs_rel = mean(|g - p| / g)``, ``sq_rel = mean((g - p)^2 / g)``, ``rmse = sqrt(mean((g - p)^2))``,
    ``rmse_log = sqrt(mean((ln g - ln p)^2))``, ``a_k = mean(max(g/p, p/g) < 1.25^k)``.

    Args:
        gt: (N,) ground-truth depths in metres.
        pred: (N,) predicted depths in metres.

    Returns:
        Dict with ``abs_rel, sq_rel, rmse, rmse_log, a1, a2, a3``.
    """
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    thresh = np.maximum(gt / pred, pred / gt)
    return {
        'abs_rel': float(np.mean(np.abs(gt - pred) / gt)),
        'sq_rel': float(np.mean((gt - pred) ** 2 / gt)),
        'rmse': float(np.sqrt(np.mean((gt - pred) ** 2))),
        'rmse_log': float(np.sqrt(np.mean((np.log(gt) - np.log(pred)) ** 2))),
        'a1': float(np.mean(thresh < 1.25)),
        'a2': float(np.mean(thresh < 1.25 ** 2)),
        'a3': float(np.mean(thresh < 1.25 ** 3)),
    }


def garg_crop_mask(height: int, width: int) -> np.ndarray:
    """Garg et al. (2016) evaluation crop: rows ``[0.40810811 H, 0.99189189 H)``, cols ``[0.03594771 W,
    0.96405229 W)`` (the Monodepth2 constants, truncated to int).

    Args:
        height: Ground-truth height H.
        width: Ground-truth width W.

    Returns:
        (H, W) bool mask, True inside the crop.
    """
    crop = np.array([0.40810811 * height, 0.99189189 * height,
                     0.03594771 * width, 0.96405229 * width]).astype(np.int32)
    mask = np.zeros((height, width), dtype=bool)
    mask[crop[0]:crop[1], crop[2]:crop[3]] = True
    return mask


def eigen_depth_metrics(pred_depth: np.ndarray, gt_depth: np.ndarray, use_garg_crop: bool = True,
                        median_scaling: bool = True, min_depth: float = 1e-3,
                        max_depth: float = 80.0) -> tuple[dict[str, float], float]:
    """Metrics of one image under the Eigen protocol.

    Args:
        pred_depth: (H, W) predicted depth, already resized to the ground-truth resolution.
        gt_depth: (H, W) sparse ground truth (0 where missing), metres.
        use_garg_crop: Restrict to the Garg crop.
        median_scaling: Scale the prediction by ``median(gt) / median(pred)`` (monocular, scale-free models).
        min_depth: Lower validity bound (exclusive) and lower clamp.
        max_depth: Upper validity bound (exclusive) and upper clamp (the 80 m cap).

    Returns:
        ``(metrics, ratio)``: the 7 metrics and the median-scaling ratio used (1.0 without scaling).

    Raises:
        ValueError: if the shapes differ or no pixel is valid.
    """
    pred_depth = np.asarray(pred_depth, dtype=np.float64)
    gt_depth = np.asarray(gt_depth, dtype=np.float64)
    if pred_depth.shape != gt_depth.shape:
        raise ValueError(f'pred {pred_depth.shape} and gt {gt_depth.shape} must have the same shape; '
                         'resize the prediction to the ground-truth resolution first')
    mask = (gt_depth > min_depth) & (gt_depth < max_depth)
    if use_garg_crop:
        mask &= garg_crop_mask(*gt_depth.shape)
    if not mask.any():
        raise ValueError('no valid ground-truth pixel')
    pred, gt = pred_depth[mask], gt_depth[mask]
    ratio = 1.0
    if median_scaling:
        ratio = float(np.median(gt) / np.median(pred))
        pred = pred * ratio
    pred = np.clip(pred, min_depth, max_depth)
    return compute_depth_errors(gt, pred), ratio


def aggregate_depth_metrics(per_image: Iterable[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over images (the Eigen protocol averages per-image metrics).

    Args:
        per_image: Metric dicts from :func:`eigen_depth_metrics`.

    Returns:
        Dict of means, keyed as :data:`DEPTH_METRIC_NAMES`.
    """
    rows = list(per_image)
    if not rows:
        raise ValueError('no images to aggregate')
    return {k: float(np.mean([r[k] for r in rows])) for k in DEPTH_METRIC_NAMES}
