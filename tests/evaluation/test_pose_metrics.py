"""Snippet ATE equals Monodepth2's ``evaluate_pose.py`` on the same inputs."""
from __future__ import annotations

import numpy as np
import pytest

from hybrid_depth.evaluation import odometry_ate, relative_poses, snippet_ate, snippet_ates, snippet_xyz


# --- the oracle: ported from Monodepth2's evaluate_pose.py (nianticlabs/monodepth2; identical in
# Zhangwenyao1/Hybrid-depth Stage2/evaluate_pose.py), functions from SfMLearner, unchanged but for names ---
def ref_dump_xyz(source_to_target_transformations):
    xyzs = []
    cam_to_world = np.eye(4)
    xyzs.append(cam_to_world[:3, 3])
    for source_to_target_transformation in source_to_target_transformations:
        cam_to_world = np.dot(cam_to_world, source_to_target_transformation)
        xyzs.append(cam_to_world[:3, 3])
    return xyzs


def ref_compute_ate(gtruth_xyz, pred_xyz_o):
    offset = gtruth_xyz[0] - pred_xyz_o[0]
    pred_xyz = pred_xyz_o + offset[None, :]
    scale = np.sum(gtruth_xyz * pred_xyz) / np.sum(pred_xyz ** 2)
    alignment_error = pred_xyz * scale - gtruth_xyz
    rmse = np.sqrt(np.sum(alignment_error ** 2)) / gtruth_xyz.shape[0]
    return rmse


def ref_evaluate(pred_poses, gt_poses_txt_rows):
    """``evaluate()`` from the point where ``pred_poses`` is concatenated, ``np.loadtxt(poses/XX.txt)`` given."""
    gt_global_poses = gt_poses_txt_rows.reshape(-1, 3, 4)
    gt_global_poses = np.concatenate(
        (gt_global_poses, np.zeros((gt_global_poses.shape[0], 1, 4))), 1)
    gt_global_poses[:, 3, 3] = 1
    gt_xyzs = gt_global_poses[:, :3, 3]
    gt_local_poses = []
    for i in range(1, len(gt_global_poses)):
        gt_local_poses.append(
            np.linalg.inv(np.dot(np.linalg.inv(gt_global_poses[i - 1]), gt_global_poses[i])))
    ates = []
    num_frames = gt_xyzs.shape[0]
    track_length = 5
    for i in range(0, num_frames - 1):
        local_xyzs = np.array(ref_dump_xyz(pred_poses[i:i + track_length - 1]))
        gt_local_xyzs = np.array(ref_dump_xyz(gt_local_poses[i:i + track_length - 1]))
        ates.append(ref_compute_ate(gt_local_xyzs, local_xyzs))
    return np.mean(ates), np.std(ates), ates
# --- end of the oracle ---


def _random_rigid(rng: np.random.Generator, n: int, step: float = 1.0, angle: float = 0.1) -> np.ndarray:
    """(n, 4, 4) random rigid transforms: rotation up to ``angle`` rad, translation ~ ``step`` m."""
    out = np.tile(np.eye(4), (n, 1, 1))
    for k in range(n):
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        a = rng.uniform(-angle, angle)
        skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        out[k, :3, :3] = np.eye(3) + np.sin(a) * skew + (1 - np.cos(a)) * skew @ skew
        out[k, :3, 3] = rng.normal(size=3) * step + [0, 0, step]
    return out


def _trajectory(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 4, 4) ``T_world_cam`` of a random drive starting at the identity (KITTI poses file convention)."""
    steps = _random_rigid(rng, n - 1)
    poses = [np.eye(4)]
    for s in steps:
        poses.append(poses[-1] @ s)
    return np.stack(poses)


@pytest.mark.parametrize('n', [2, 3, 7, 30])
def test_odometry_ate_equals_monodepth2(n):
    rng = np.random.default_rng(n)
    gt = _trajectory(rng, n)
    pred = _random_rigid(rng, n - 1, step=0.3)  # another scale than the ground truth: the alignment matters
    ref_mean, ref_std, ref_ates = ref_evaluate(pred, gt[:, :3].reshape(n, 12))
    mean, std = odometry_ate(pred, gt)
    assert mean == pytest.approx(ref_mean, rel=1e-12, abs=1e-15)
    assert std == pytest.approx(ref_std, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(snippet_ates(pred, gt[:, :3]), ref_ates, rtol=1e-12)  # (N, 3, 4) rows accepted
    # the inputs tell a missing scale alignment apart: the same error without it is far from the reference
    gt_rel = relative_poses(gt)
    unscaled = [np.sqrt(np.sum((snippet_xyz(pred[i:i + 4]) - snippet_xyz(pred[i:i + 4])[0]
                                - snippet_xyz(gt_rel[i:i + 4])) ** 2)) / len(snippet_xyz(gt_rel[i:i + 4]))
                for i in range(n - 1)]
    assert abs(np.mean(unscaled) - ref_mean) > 0.1 * ref_mean


def test_snippet_functions_equal_the_reference_pieces():
    rng = np.random.default_rng(1)
    poses = _random_rigid(rng, 4)
    np.testing.assert_array_equal(snippet_xyz(poses), np.array(ref_dump_xyz(poses)))
    gt, pred = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    assert snippet_ate(gt, pred) == pytest.approx(ref_compute_ate(gt, pred), rel=1e-14)


def test_relative_poses_are_the_reference_gt_local_poses():
    gt = _trajectory(np.random.default_rng(2), 6)
    ref = [np.linalg.inv(np.linalg.inv(gt[i - 1]) @ gt[i]) for i in range(1, 6)]
    np.testing.assert_allclose(relative_poses(gt), np.stack(ref), atol=1e-12)


def test_ground_truth_as_prediction_scores_zero_and_noise_does_not():
    rng = np.random.default_rng(3)
    gt = _trajectory(rng, 12)
    exact = relative_poses(gt)
    assert odometry_ate(exact, gt) == pytest.approx((0.0, 0.0), abs=1e-12)
    scaled = exact.copy()
    scaled[:, :3, 3] *= 0.02  # a monocular network's unknown scale costs nothing
    assert odometry_ate(scaled, gt)[0] == pytest.approx(0.0, abs=1e-12)
    noisy = exact @ _random_rigid(rng, 11, step=0.05, angle=0.02)
    mean, std = odometry_ate(noisy, gt)
    assert mean > 1e-3 and std > 0


def test_shape_mismatch_is_an_error():
    gt = _trajectory(np.random.default_rng(4), 5)
    with pytest.raises(ValueError, match='N - 1'):
        odometry_ate(relative_poses(gt)[:-1], gt)
