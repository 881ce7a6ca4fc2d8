"""Registered metrics: KITTI Eigen (7 metrics, standard order, Monodepth2 protocol) and pair-ordering accuracy."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from hybrid_depth.evaluation import DEPTH_METRIC_NAMES, eigen_depth_metrics
from hybrid_depth.evaluation.metrics import DepthOrderingMetric, KittiEigenDepthMetric, pair_ordering_counts

init_default_scope('mmdet3d')


def sparse_gt(seed: int = 0, h: int = 60, w: int = 200) -> np.ndarray:
    rng = np.random.default_rng(seed)
    gt = rng.uniform(2, 70, (h, w)).astype(np.float32)
    gt[rng.random((h, w)) < 0.7] = 0  # sparse, as velodyne ground truth
    return gt


def evaluate(metric, outputs) -> dict:
    metric.process({}, outputs)
    return metric.evaluate(len(outputs))


def test_perfect_up_to_scale_prediction_scores_zero_error() -> None:
    gt = sparse_gt()
    dense = np.where(gt > 0, gt, 30.0)
    pred_disp = torch.from_numpy(1.0 / (3.0 * dense))[None]  # depth 3x too large: median scaling removes it
    res = evaluate(KittiEigenDepthMetric(), [{'pred_disp': pred_disp, 'gt_depth': gt}])
    assert list(res) == [f'kitti_eigen/{n}' for n in DEPTH_METRIC_NAMES]  # the standard order
    assert res['kitti_eigen/abs_rel'] == pytest.approx(0, abs=1e-5) and res['kitti_eigen/a1'] == 1.0


def test_matches_the_pure_protocol_after_resizing() -> None:
    """Predictions at network resolution are resized (disparity, bilinear) to the ground truth, then inverted."""
    gts = [sparse_gt(i) for i in range(3)]
    rng = np.random.default_rng(5)
    disps = [rng.uniform(0.02, 0.5, (30, 100)).astype(np.float32) for _ in gts]
    res = evaluate(KittiEigenDepthMetric(prefix='k'),
                   [{'pred_disp': torch.from_numpy(d)[None], 'gt_depth': g} for d, g in zip(disps, gts)])
    import cv2
    per_image = [eigen_depth_metrics(1.0 / cv2.resize(d, (200, 60), interpolation=cv2.INTER_LINEAR), g)[0]
                 for d, g in zip(disps, gts)]
    for name in DEPTH_METRIC_NAMES:
        assert res[f'k/{name}'] == pytest.approx(np.mean([m[name] for m in per_image]), rel=1e-6)


def test_missing_ground_truth_is_one_clear_error() -> None:
    with pytest.raises(KeyError, match='gt_depth'):
        KittiEigenDepthMetric().process({}, [{'pred_disp': torch.ones(1, 4, 4)}])


def ordered_logits(rank: list[float]) -> np.ndarray:
    """(P, P) logits that score point p on word k by -|rank_p - k| (a point is best at its own rank)."""
    r = np.asarray(rank, dtype=np.float64)
    return -np.abs(r[:, None] - np.arange(len(r))[None, :])


def test_pair_ordering_counts() -> None:
    logits = np.stack([ordered_logits([0.1, 1.5, 1.2]), ordered_logits([2.0, 1.0, 0.0])])
    valid = np.array([[True, True, True], [True, True, False]])
    # group 0: on word 1, point 1 (0.5 away) beats point 0 (0.9): ok; word 2: point 2 (0.8) vs 0 (1.9): ok,
    # vs 1 (0.5): wrong. Group 1: only the pair (0, 1), on word 1: point 1 (0) beats point 0 (1): ok
    assert pair_ordering_counts(logits, valid) == (3, 4)
    with pytest.raises(ValueError, match='as many depth words'):
        pair_ordering_counts(logits[:, :, :2], valid)
    res = evaluate(DepthOrderingMetric(), [{'point_logits': logits, 'points_valid': valid},
                                           {'point_logits': ordered_logits([0.0, 1.0, 2.0])[None],
                                            'points_valid': np.ones((1, 3), bool)}])
    assert res['ordering/pair_acc'] == pytest.approx(6 / 7)
    assert res['ordering/group_acc'] == pytest.approx(2 / 3)


def test_nuscenes_metric_reports_per_camera() -> None:
    from hybrid_depth.evaluation.metrics import NuScenesLidarDepthMetric
    gt = sparse_gt(1)
    dense = np.where(gt > 0, gt, 30.0)
    outputs = [{'pred_disp': torch.from_numpy(1.0 / dense)[None], 'gt_depth': gt, 'camera': 'CAM_FRONT'},
               {'pred_disp': torch.from_numpy(np.full_like(gt, 0.05))[None], 'gt_depth': gt, 'camera': 'CAM_BACK'}]
    res = evaluate(NuScenesLidarDepthMetric(), outputs)
    assert list(res)[:7] == [f'nuscenes_depth/{n}' for n in DEPTH_METRIC_NAMES]
    assert res['nuscenes_depth/CAM_FRONT/abs_rel'] == pytest.approx(0, abs=1e-6)
    assert res['nuscenes_depth/CAM_BACK/abs_rel'] > 0.2
    assert res['nuscenes_depth/abs_rel'] == pytest.approx(res['nuscenes_depth/CAM_BACK/abs_rel'] / 2)
