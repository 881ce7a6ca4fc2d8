"""Ordered point groups of the coarse stage: TuSimple lanes (label row order) and the flat-ground prior."""
from __future__ import annotations

import json

import numpy as np
import pytest
from mmengine.registry import init_default_scope

import hybrid_depth.datasets.depth_transforms  # noqa: F401  (registers the pipeline steps)
from hybrid_depth.datasets.ground_prior import GroundPriorOrderDataset, ground_points_in_image, level_camera_from_ground
from hybrid_depth.datasets.tusimple_lanes import TuSimpleLaneOrderDataset, select_lane_points

init_default_scope('mmdet3d')


def test_lane_points_follow_the_label_rows_or_run_near_to_far() -> None:
    h_samples = [100, 110, 120, 130, 140, 150, 160, 170, 180]  # top -> bottom = far -> near
    xs = [-2, 50, 52, 54, 56, 58, 60, 62, 64]
    pts = select_lane_points(xs, h_samples, num_points=7)
    # official: the label rows as listed, index j * ((n - 1) // 6) of the n = 8 labelled points -> the 7 farthest
    assert pts[0].tolist() == [50, 110] and pts[-1].tolist() == [62, 170]
    near = select_lane_points(xs, h_samples, num_points=7, order='near_to_far')
    assert near[0].tolist() == [64, 180]  # option: lowest labelled point = nearest first -> the 7 nearest
    assert near[-1].tolist() == [52, 120]
    assert np.all(np.diff(near[:, 1]) < 0) and np.all(np.diff(pts[:, 1]) > 0)
    spread = select_lane_points(xs, h_samples, num_points=7, spacing='linspace', order='near_to_far')
    assert spread[-1].tolist() == [50, 110]  # option: the highest labelled point = farthest last
    assert select_lane_points(xs[:6] + [-2] * 3, h_samples, num_points=7) is None
    long = select_lane_points(list(range(20)), list(range(0, 200, 10)), num_points=7)
    assert long[:, 1].tolist() == [10 * 3 * j for j in range(7)]  # (20 - 1) // 6 = 3, from the top row
    long_near = select_lane_points(list(range(20)), list(range(0, 200, 10)), num_points=7, order='near_to_far')
    assert long_near[:, 1].tolist() == [190 - 10 * 3 * j for j in range(7)]  # other rows: 19 % 6 != 0
    with pytest.raises(ValueError, match='spacing'):
        select_lane_points(xs, h_samples, spacing='even')
    with pytest.raises(ValueError, match='order'):
        select_lane_points(xs, h_samples, order='far_to_near')


def test_resize_keeps_aspect_ratio_short_side_and_divisor() -> None:
    """Official coarse input: short side 224, long side the nearest multiple of 14 (1280x720 -> 392x224)."""
    from hybrid_depth.datasets.depth_transforms import ResizeDepthFrames
    t = ResizeDepthFrames(short_side=224, size_divisor=14)
    assert t.output_size(720, 1280) == (224, 392) and t.output_size(1280, 720) == (392, 224)
    img = np.zeros((720, 1280, 3), np.uint8)
    out = t.transform({'img_shape': (720, 1280), 'frames': {0: img}, 'points': np.array([[[639.5, 359.5]]])})
    assert out['frames'][0].shape == (224, 392, 3) and out['img_shape'] == (224, 392)
    assert out['points'][0, 0].tolist() == pytest.approx([195.5, 111.5])  # the image centre stays the centre
    with pytest.raises(ValueError, match='either height and width, or short_side'):
        ResizeDepthFrames(height=10, width=10, short_side=224)
    with pytest.raises(ValueError, match='multiple'):
        ResizeDepthFrames(short_side=225, size_divisor=14)


def test_tusimple_dataset_groups_match_labels(synthetic_world) -> None:
    root = synthetic_world.tusimple
    pipe = [dict(type='LoadDepthFrames'), dict(type='PackDepthInputs', frame_ids=[0], max_groups=6)]
    ds = TuSimpleLaneOrderDataset(str(root), pipeline=pipe)
    labels = [json.loads(x) for x in (root / 'label_data_0313.json').read_text().splitlines() if x.strip()]
    assert 0 < len(ds) <= len(labels)
    info = ds.get_data_info(0)
    label = next(lb for lb in labels if info['img_path'].endswith(lb['raw_file']))
    long_lanes = [lane for lane in label['lanes'] if sum(x >= 0 for x in lane) >= 7]
    assert info['points'].shape == (len(long_lanes), 7, 2)
    for pts in info['points']:
        assert np.all(np.diff(pts[:, 1]) > 0)  # official: label rows, v increases (far/top first)
    near = TuSimpleLaneOrderDataset(str(root), order='near_to_far', pipeline=pipe).get_data_info(0)['points']
    assert np.all(np.diff(near[:, :, 1], axis=1) < 0)  # option: v decreases, near (bottom) to far (top)
    sample = ds[0]
    assert sample['inputs']['points'].shape == (6, 7, 2) and sample['inputs']['imgs'].shape[:2] == (1, 3)


def test_tusimple_missing_label_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match='label_data_0313.json'):
        TuSimpleLaneOrderDataset(str(tmp_path))


def test_ground_points_lie_on_the_ground_at_their_distance() -> None:
    K = np.array([[700.0, 0, 600], [0, 700, 180], [0, 0, 1]])
    T = level_camera_from_ground(1.65)
    dist = [6.0, 10.0, 20.0, 40.0]
    pts, valid = ground_points_in_image(K, T, dist, [-2.0, 0.0, 2.0], 375, 1242)
    assert valid.all()
    for g, y in enumerate([-2.0, 0.0, 2.0]):
        for p, d in enumerate(dist):
            ray = np.linalg.inv(K) @ np.array([pts[g, p, 0], pts[g, p, 1], 1.0])  # camera frame, z = 1
            scale = 1.65 / ray[1]  # the ray meets the ground plane y_cam = 1.65
            assert scale * ray[2] == pytest.approx(d, rel=1e-4)  # forward distance
            assert -scale * ray[0] == pytest.approx(y, abs=1e-4)  # left is -x_cam
    # near to far = bottom to top of the image
    assert np.all(np.diff(pts[..., 1], axis=1) < 0)


def test_ground_prior_for_a_rotated_camera_keeps_the_order() -> None:
    K = np.array([[500.0, 0, 400], [0, 500, 225], [0, 0, 1]])
    yaw = np.deg2rad(70)  # a side camera of a rig: heading 70 degrees to the left
    R = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    T_ground_cam = np.linalg.inv(level_camera_from_ground(1.5))
    T_ground_cam[:3] = np.concatenate([R @ T_ground_cam[:3, :3], R @ T_ground_cam[:3, 3:]], axis=1)
    pts, valid = ground_points_in_image(K, np.linalg.inv(T_ground_cam), [5, 10, 20], [0.0], 450, 800)
    assert valid.all() and np.all(np.diff(pts[0, :, 1]) < 0)
    assert pts[0, :, 0] == pytest.approx([400, 400, 400], abs=1e-3)  # straight ahead of the camera


def test_ground_prior_dataset_on_kitti(synthetic_world) -> None:
    pipe = [dict(type='LoadDepthFrames'), dict(type='ResizeDepthFrames', height=56, width=168),
            dict(type='PackDepthInputs', frame_ids=[0], max_groups=5)]
    ds = GroundPriorOrderDataset(str(synthetic_world.kitti), pipeline=pipe)
    sample = ds[0]
    assert sample['inputs']['points'].shape == (5, 7, 2)
    valid = sample['inputs']['points_valid']
    assert valid.sum() >= 20
    pts = sample['inputs']['points']
    assert bool(((pts[..., 1] >= 0) & (pts[..., 1] <= 55))[valid].all())  # rescaled into the 56-row image
    with pytest.raises(ValueError, match='increase'):
        GroundPriorOrderDataset(str(synthetic_world.kitti), distances=[10.0, 5.0])


def test_nuscenes_ground_prior_matches_the_rendered_depth(synthetic_world) -> None:
    """On every camera (level, as the rig's) a prior point at distance d has camera depth d where the ground is
    visible, and never more (an object in front can only make it nearer)."""
    from hybrid_depth.datasets.ground_prior import NuScenesGroundPriorOrderDataset
    from hybrid_depth.datasets.synthetic import load_depth_png
    pipe = [dict(type='LoadDepthFrames'), dict(type='PackDepthInputs', frame_ids=[0], max_groups=5)]
    ds = NuScenesGroundPriorOrderDataset(str(synthetic_world.nuscenes), version='v1.0-mini', split='mini_val',
                                         keyframes_only=True, pipeline=pipe)
    dist = np.asarray(ds.distances)
    near = dist <= 15.0  # farther, one pixel of rounding spans metres of ground
    visible, total, cams = 0, 0, set()
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        cams.add(info['camera'])
        depth = load_depth_png(info['img_path'].replace('/samples/', '/depth/samples/').replace('.jpg', '.png'))
        for pts, ok in zip(info['points'], info['points_valid']):
            keep = ok & near
            z = np.array([depth[int(round(v)), int(round(u))] for u, v in pts[keep]])
            d = dist[keep]
            assert np.all(z <= d * 1.05)
            visible += int(np.sum(np.abs(z - d) < 0.05 * d))
            total += len(z)
    assert len(cams) == 6 and total > 100 and visible / total > 0.3
    assert ds[0]['inputs']['points'].shape == (5, 7, 2)
