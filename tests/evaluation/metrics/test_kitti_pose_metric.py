"""KittiPoseMetric: pairs in any order (and padded duplicates) give the sequence's snippet ATE; gaps are an error."""
from __future__ import annotations

import numpy as np
import pytest

from hybrid_depth.evaluation import odometry_ate, relative_poses
from hybrid_depth.evaluation.metrics import KittiPoseMetric


def _drive(n: int, seed: int) -> np.ndarray:
    """(n, 4, 4) T_world_cam of a drive ahead along z with small random turns."""
    rng = np.random.default_rng(seed)
    poses = [np.eye(4)]
    for _ in range(n - 1):
        a = rng.uniform(-0.05, 0.05)
        step = np.eye(4)
        step[[0, 0, 2, 2], [0, 2, 0, 2]] = [np.cos(a), np.sin(a), -np.sin(a), np.cos(a)]
        step[:3, 3] = [rng.normal(0, 0.05), 0, 1.0]
        poses.append(poses[-1] @ step)
    return np.stack(poses)


def _samples(seq: str, gt: np.ndarray, pred: np.ndarray) -> list[dict]:
    return [{'sequence': seq, 'frame_index': i, 'pred_pose': pred[i], 'gt_poses': gt[i:i + 2]}
            for i in range(len(pred))]


def test_metric_equals_odometry_ate_per_sequence():
    gt9, gt10 = _drive(9, 0), _drive(6, 1)
    rng = np.random.default_rng(2)
    pred9 = relative_poses(gt9) * 0.3 + rng.normal(0, 0.01, (8, 4, 4))
    pred10 = relative_poses(gt10)
    samples = _samples('09', gt9, pred9) + _samples('10', gt10, pred10)
    order = rng.permutation(len(samples))
    metric = KittiPoseMetric()
    metric.process({}, [samples[i] for i in order] + samples[:2])  # shuffled, plus a sampler's padding
    out = metric.compute_metrics(metric.results)
    mean9, std9 = odometry_ate(pred9, gt9)
    assert out['seq09_ate_mean'] == pytest.approx(mean9) and out['seq09_ate_std'] == pytest.approx(std9)
    assert mean9 > 1e-3 and out['seq10_ate_mean'] == pytest.approx(0.0, abs=1e-12)
    assert out['ate_mean'] == pytest.approx(mean9 * 8 / 13)  # pooled over the 8 + 5 snippets


def test_gap_and_missing_keys_are_errors():
    gt = _drive(5, 3)
    samples = _samples('09', gt, relative_poses(gt))
    metric = KittiPoseMetric()
    metric.process({}, samples[:1] + samples[2:])
    with pytest.raises(ValueError, match=r'misses the pairs of frames \[1\]'):
        metric.compute_metrics(metric.results)
    with pytest.raises(KeyError, match='eval_task="pose"'):
        metric.process({}, [{'pred_disp': np.zeros((1, 2, 2))}])
