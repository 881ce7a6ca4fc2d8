"""Pillar reference points on the synthetic nuScenes (known calibration): the BEV cell under an annotated car
projects onto that car's pixels in the cameras that see it, with the car's camera depth, through the BEV and
image augmentations; the devkit (quaternions, ``view_points``) is the independent reference."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from pyquaternion import Quaternion

from projects.BEVDet.bevdet.transforms import NUSCENES_CAMERAS, image_aug_matrix
from projects.FBBEV.fbbev.depth_aware_backward_projection import pillar_weights
from projects.FBBEV.fbbev.pillar_projection import bev_to_image, pillar_reference_points

FINAL = (128, 352)  # augmented (network) image (fH, fW)


def _calib(nusc, sd_token: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    sd = nusc.get('sample_data', sd_token)
    cs = nusc.get('calibrated_sensor', sd['calibrated_sensor_token'])
    cam2ego = np.eye(4)
    cam2ego[:3, :3] = Quaternion(cs['rotation']).rotation_matrix
    cam2ego[:3, 3] = cs['translation']
    return cam2ego, np.asarray(cs['camera_intrinsic']), sd['height'], sd['width']


def _devkit_pixel(point_ego: np.ndarray, cam2ego: np.ndarray, intrinsic: np.ndarray) -> tuple[np.ndarray, float]:
    from nuscenes.utils.geometry_utils import view_points
    p_cam = np.linalg.inv(cam2ego) @ np.append(point_ego, 1.0)
    return view_points(p_cam[:3, None], intrinsic, normalize=True)[:2, 0], float(p_cam[2])


@pytest.fixture(scope='module')
def nusc(synthetic_world):
    from nuscenes import NuScenes
    return NuScenes('v1.0-mini', str(synthetic_world.nuscenes), verbose=False)


def test_cell_under_a_car_projects_onto_the_car(nusc):
    from nuscenes.utils.geometry_utils import BoxVisibility, view_points
    checked = 0
    for sample in nusc.sample[:8]:
        for cam_index, cam in enumerate(NUSCENES_CAMERAS):
            _, boxes, intrinsic = nusc.get_sample_data(sample['data'][cam], box_vis_level=BoxVisibility.ALL)
            cars = [b for b in boxes if b.name.startswith('vehicle.car') and 4.0 < b.center[2] < 55.0]
            for box in cars[:1]:
                cam2ego, k, height, width = _calib(nusc, sample['data'][cam])
                centre_ego = (cam2ego @ np.append(box.center, 1.0))[:3]  # car centre, this camera's ego frame
                # BEV augmentation (rotate 12 deg, scale 1.03, flip x) and a one-cell grid centred on the car
                a = math.radians(12.0)
                rot = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
                bda = np.diag([-1.0, 1.0, 1.0]) @ (1.03 * rot)
                c = bda @ centre_ego
                ref = pillar_reference_points((c[0] - 0.4, c[0] + 0.4, 0.8), (c[1] - 0.4, c[1] + 0.4, 0.8),
                                              (c[2] - 0.3, c[2] + 0.3), 3)  # (1, 1, 3, 3): heights c_z -0.2/0/+0.2
                torch.testing.assert_close(ref[0, 0, 1].double(), torch.from_numpy(c), atol=1e-4, rtol=0)
                # image augmentation of the BEVDet loader (resize, crop, flip, rotation)
                aug = image_aug_matrix(FINAL[1] / width + 0.05, (9, int(height * (FINAL[1] / width + 0.05))
                                                                 - FINAL[0]), True, 3.0, FINAL)
                post_rot = np.eye(3)
                post_rot[:2, :2] = aug[:2, :2]
                post_tran = np.array([aug[0, 2], aug[1, 2], 0.0])
                calibs = [_calib(nusc, sample['data'][name]) for name in NUSCENES_CAMERAS]
                t = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float32)[None]  # noqa: E731
                uv, depth = bev_to_image(ref.view(1, -1, 3), t([cb[1] for cb in calibs]),
                                         t([cb[0] for cb in calibs]), t([post_rot] * 6), t([post_tran] * 6), t(bda))
                # the camera that sees the car: the devkit's pixel and depth of the car centre, augmented
                px, d = _devkit_pixel(centre_ego, cam2ego, k)
                expected = post_rot[:2, :2] @ px + post_tran[:2]
                np.testing.assert_allclose(uv[0, cam_index, 1].numpy(), expected, atol=0.05)
                assert abs(float(depth[0, cam_index, 1]) - box.center[2]) < 1e-3
                # all three heights land inside the car's projected outline (2D box of its corners)
                corners = view_points(box.corners(), intrinsic, normalize=True)[:2]  # (2, 8) original pixels
                corners_aug = post_rot[:2, :2] @ corners + post_tran[:2, None]
                lo, hi = corners_aug.min(1), corners_aug.max(1)
                for j in range(3):
                    assert (lo <= uv[0, cam_index, j].numpy()).all() and (uv[0, cam_index, j].numpy() <= hi).all()
                    assert abs(float(depth[0, cam_index, j]) - box.center[2]) < box.wlh.max()
                # the right cameras: visible (in front, inside the augmented image) exactly where the devkit
                # puts the centre in front of the camera and inside that image
                _, weights = pillar_weights(uv.view(1, 6, 1, 3, 2), depth.view(1, 6, 1, 3),
                                            torch.ones(1, 6, 1, 8, 22), (FINAL[0], FINAL[1]), (1.0, 60.0, 1.0),
                                            depth_aware=False, pixel_centres=True, weight_visibility=True)
                for j, (c2e, kk, _, _) in enumerate(calibs):
                    pj, dj = _devkit_pixel(centre_ego, c2e, kk)
                    pj = post_rot[:2, :2] @ pj + post_tran[:2]
                    seen = dj > 1e-3 and -0.5 <= pj[0] <= FINAL[1] - 0.5 and -0.5 <= pj[1] <= FINAL[0] - 0.5
                    assert bool(weights[0, j, 0, 1] > 0) == seen, (cam, NUSCENES_CAMERAS[j])
                assert weights[0, cam_index, 0, 1] == 1
                checked += 1
    assert checked >= 3
