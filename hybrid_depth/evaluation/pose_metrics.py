"""KITTI odometry pose metric: 5-frame snippet ATE with scale alignment (Zhou et al. 2017, SfMLearner; the
protocol of Monodepth2's ``evaluate_pose.py``), pure numpy.

Protocol on a sequence of N frames:

1. ``pred[i]`` (N - 1 of them) is the network's pose of the pair ``(i, i + 1)``: ``T_{i+1, i}``, the transform
   taking points from camera ``i``'s frame into camera ``i + 1``'s (the un-inverted PoseNet output of the pair
   ``[I_i, I_{i+1}]``, Monodepth2's ``cam_T_cam`` of frame +1);
2. the ground truth ``G[i]`` (N of them) is camera ``i``'s pose in the sequence frame (``T_world_cam``, KITTI's
   ``poses/XX.txt``); its relative poses are ``inv(inv(G[i]) G[i + 1]) = T_{i+1, i}``, the same transform;
3. for every start ``i`` in ``0 .. N - 2``: the up-to-4 relative poses ``[i, i + 4)`` of each are chained
   (:func:`snippet_xyz`, up to 5 positions) and compared by :func:`snippet_ate`;
4. the mean and standard deviation over the N - 1 snippets are reported (the last snippets are shorter).

The chaining multiplies the ``T_{i+1, i}`` left to right (SfMLearner's ``dump_xyz``), so its "positions" are
those of the inverse motion; ground truth and prediction are chained the same way, which is what the protocol
compares.
"""
from __future__ import annotations

import numpy as np

__all__ = ['odometry_ate', 'relative_poses', 'snippet_ate', 'snippet_ates', 'snippet_xyz']


def snippet_xyz(relative_poses: np.ndarray) -> np.ndarray:
    """Chain relative poses from the identity and collect the translations (SfMLearner's ``dump_xyz``).

    Args:
        relative_poses: (K, 4, 4) transforms ``T_{j+1, j}`` of K consecutive pairs.

    Returns:
        (K + 1, 3) translations of ``I, P_0, P_0 P_1, ..., P_0 ... P_{K-1}``.
    """
    acc = np.eye(4)
    xyz = [acc[:3, 3].copy()]
    for pose in np.asarray(relative_poses, dtype=np.float64):
        acc = acc @ pose
        xyz.append(acc[:3, 3].copy())
    return np.stack(xyz)


def snippet_ate(gt_xyz: np.ndarray, pred_xyz: np.ndarray) -> float:
    """Absolute trajectory error of one snippet after aligning its first point and its scale.

    ``p = pred + (gt[0] - pred[0])``; ``s = sum(gt * p) / sum(p ** 2)`` (least squares); the error is
    ``||s p - gt||_F / K`` with K the number of points (SfMLearner's ``compute_ate``: the norm of all residuals
    divided by K, not a root mean square).

    Args:
        gt_xyz: (K, 3) ground-truth positions (metres).
        pred_xyz: (K, 3) predicted positions (any scale).

    Returns:
        The error in the ground truth's units.
    """
    gt = np.asarray(gt_xyz, dtype=np.float64)
    pred = np.asarray(pred_xyz, dtype=np.float64)
    pred = pred + (gt[0] - pred[0])[None]
    scale = np.sum(gt * pred) / np.sum(pred ** 2)
    return float(np.sqrt(np.sum((scale * pred - gt) ** 2)) / len(gt))


def relative_poses(global_poses: np.ndarray) -> np.ndarray:
    """Relative poses of consecutive frames from their global poses.

    Args:
        global_poses: (N, 4, 4) ``T_world_cam`` of each frame.

    Returns:
        (N - 1, 4, 4) ``T_{i+1, i} = inv(T_world_cam[i + 1]) T_world_cam[i]``.
    """
    g = np.asarray(global_poses, dtype=np.float64)
    return np.linalg.inv(g[1:]) @ g[:-1]


def snippet_ates(pred_relative_poses: np.ndarray, gt_global_poses: np.ndarray, track_length: int = 5) -> np.ndarray:
    """Per-snippet ATE of a sequence (Monodepth2 ``evaluate_pose.py``).

    Args:
        pred_relative_poses: (N - 1, 4, 4) predicted ``T_{i+1, i}`` of the pairs ``(i, i + 1)`` (camera ``i`` ->
            camera ``i + 1``), any scale.
        gt_global_poses: (N, 4, 4) or (N, 3, 4) ground-truth ``T_world_cam`` (KITTI ``poses/XX.txt`` rows).
        track_length: Frames per snippet (5: 4 relative poses).

    Returns:
        (N - 1,) errors; snippet ``i`` starts at frame ``i``.

    Raises:
        ValueError: the counts or shapes do not match.
    """
    pred = np.asarray(pred_relative_poses, dtype=np.float64)
    gt = np.asarray(gt_global_poses, dtype=np.float64)
    if gt.ndim == 3 and gt.shape[1:] == (3, 4):
        gt = np.concatenate([gt, np.broadcast_to([[[0.0, 0.0, 0.0, 1.0]]], (len(gt), 1, 4))], axis=1)
    if gt.ndim != 3 or gt.shape[1:] != (4, 4) or len(gt) < 2 or pred.shape != (len(gt) - 1, 4, 4):
        raise ValueError(f'snippet ATE needs (N - 1, 4, 4) predictions and (N, 4, 4) ground truth, N >= 2; got '
                         f'{pred.shape} and {gt.shape}')
    gt_rel = relative_poses(gt)
    n = track_length - 1
    return np.array([snippet_ate(snippet_xyz(gt_rel[i:i + n]), snippet_xyz(pred[i:i + n]))
                     for i in range(len(pred))])


def odometry_ate(pred_relative_poses: np.ndarray, gt_global_poses: np.ndarray,
                 track_length: int = 5) -> tuple[float, float]:
    """Mean and (population) standard deviation of :func:`snippet_ates` over a sequence: the two numbers
    Monodepth2's ``evaluate_pose.py`` prints ("Trajectory error: mean, std")."""
    ates = snippet_ates(pred_relative_poses, gt_global_poses, track_length)
    return float(ates.mean()), float(ates.std())
