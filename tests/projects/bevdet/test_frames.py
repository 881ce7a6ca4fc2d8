"""Ego <-> LiDAR box conversion: corners move exactly as the rigid transform moves points."""
from __future__ import annotations

import math

import numpy as np
import torch
from mmdet3d.structures import LiDARInstance3DBoxes

from projects.BEVDet.bevdet.frames import ego_to_lidar_boxes, lidar_to_ego_boxes, transform_boxes


def _lidar2ego(yaw: float = math.pi / 2 + 0.1, t=(0.985, 0.02, 1.84)) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    T = np.eye(4)
    T[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    T[:3, 3] = t
    return T


def _boxes() -> LiDARInstance3DBoxes:
    t = torch.tensor([[10.0, -3.0, -1.5, 4.5, 1.9, 1.6, 0.3, 2.0, -1.0],
                      [-20.0, 15.0, -1.0, 0.8, 0.7, 1.8, -2.5, 0.0, 0.5]], dtype=torch.float64)
    return LiDARInstance3DBoxes(t, box_dim=9)


def test_corners_follow_the_transform():
    boxes, T = _boxes(), _lidar2ego()
    ego = lidar_to_ego_boxes(boxes, T)
    corners = boxes.corners.reshape(-1, 3).numpy()
    expected = corners @ T[:3, :3].T + T[:3, 3]
    np.testing.assert_allclose(ego.corners.reshape(-1, 3).numpy(), expected, atol=1e-5)
    # velocity is a direction: rotated, not translated
    np.testing.assert_allclose(ego.tensor[:, 7:9].numpy(), boxes.tensor[:, 7:9].numpy() @ T[:2, :2].T, atol=1e-9)
    assert not torch.allclose(ego.tensor, boxes.tensor)  # the transform is not the identity


def test_round_trip_and_input_untouched():
    boxes, T = _boxes(), _lidar2ego()
    before = boxes.tensor.clone()
    back = ego_to_lidar_boxes(lidar_to_ego_boxes(boxes, T), T)
    torch.testing.assert_close(boxes.tensor, before)
    np.testing.assert_allclose(back.corners.numpy(), boxes.corners.numpy(), atol=1e-5)


def test_synthetic_infos_lidar_to_ego_matches_devkit(synthetic_world, synthetic_nuscenes_infos):
    """GT from the mmdet3d infos moved to ego equals the devkit's global box moved by ego_pose (centres, yaw)."""
    import pickle

    from nuscenes.nuscenes import NuScenes
    from pyquaternion import Quaternion

    info = pickle.loads(synthetic_nuscenes_infos['train'].read_bytes())['data_list'][0]
    nusc = NuScenes('v1.0-mini', str(synthetic_world.nuscenes), verbose=False)
    # the raw v2 info holds gravity centres (NuScenesDataset converts them with origin (0.5, 0.5, 0.5) too)
    boxes = LiDARInstance3DBoxes(torch.tensor([i['bbox_3d'] for i in info['instances']], dtype=torch.float64),
                                 origin=(0.5, 0.5, 0.5))
    ego = transform_boxes(boxes, np.asarray(info['lidar_points']['lidar2ego']))
    lidar_sd = nusc.get('sample_data', nusc.get('sample', info['token'])['data']['LIDAR_TOP'])
    pose = nusc.get('ego_pose', lidar_sd['ego_pose_token'])
    centres, yaws = [], []
    for ann_token in nusc.get('sample', info['token'])['anns']:
        box = nusc.get_box(ann_token)
        box.translate(-np.array(pose['translation']))
        box.rotate(Quaternion(pose['rotation']).inverse)
        centres.append(box.center)
        yaws.append(box.orientation.yaw_pitch_roll[0])
    centres, yaws = np.array(centres), np.array(yaws)
    got = ego.gravity_center.numpy()
    # every converted box is one of the devkit's ego-frame boxes: same centre, same heading
    dist = np.linalg.norm(got[:, None] - centres[None], axis=-1)
    match = dist.argmin(1)
    assert dist.min(1).max() < 1e-3, dist.min(1).max()
    # mmdet3d 1.x LiDAR boxes use the devkit's yaw convention (counter-clockwise from +x)
    delta = np.angle(np.exp(1j * (ego.tensor[:, 6].numpy() - yaws[match])))
    assert np.abs(delta).max() < 1e-3, delta
