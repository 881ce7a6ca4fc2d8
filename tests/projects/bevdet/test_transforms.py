"""BEVDet transforms on the synthetic nuScenes: loading errors, BEV augmentation, LiDAR depth targets."""
from __future__ import annotations

import copy
import shutil

import numpy as np
import pytest
import torch
from mmdet3d.structures import LiDARInstance3DBoxes

from projects.BEVDet.bevdet.transforms import (
    BEVDetBEVAugmentation,
    BEVDetLoadMultiViewImages,
    BEVDetMultiViewDepthTargets,
)
from projects.BEVDet.bevdet.view_transformer import frustum_to_bev


@pytest.fixture(scope='module')
def dataset(synthetic_nuscenes_infos, synthetic_world):
    from mmdet3d.datasets import NuScenesDataset
    from mmengine.registry import init_default_scope

    import projects.BEVDet.bevdet  # noqa: F401  (registration)
    init_default_scope('mmdet3d')
    cams = ['CAM_FRONT_LEFT', 'CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_BACK_LEFT', 'CAM_BACK', 'CAM_BACK_RIGHT']
    prefix = dict(pts='samples/LIDAR_TOP', sweeps='sweeps/LIDAR_TOP', **{c: f'samples/{c}' for c in cams})
    return NuScenesDataset(data_root=str(synthetic_world.nuscenes), ann_file=str(synthetic_nuscenes_infos['train']),
                           data_prefix=prefix, modality=dict(use_lidar=True, use_camera=True), pipeline=[],
                           test_mode=False)


def _info(dataset, index: int = 0) -> dict:
    return copy.deepcopy(dataset.get_data_info(index))


def test_missing_image_error_names_sample_and_file(dataset, tmp_path):
    info = _info(dataset)
    path = info['images']['CAM_BACK']['img_path']
    moved = tmp_path / 'image.jpg'
    shutil.copy(path, moved)
    info['images']['CAM_BACK']['img_path'] = str(tmp_path / 'missing.jpg')
    with pytest.raises(FileNotFoundError) as err:
        BEVDetLoadMultiViewImages((64, 176))(info)
    assert info['token'] in str(err.value) and str(tmp_path / 'missing.jpg') in str(err.value)


def test_missing_calibration_error_names_sample(dataset):
    info = _info(dataset)
    del info['images']['CAM_FRONT']['cam2ego']
    with pytest.raises(KeyError) as err:
        BEVDetLoadMultiViewImages((64, 176))(info)
    assert info['token'] in str(err.value) and 'CAM_FRONT' in str(err.value)


def test_depth_targets_lift_back_to_lidar_points(dataset):
    """Every pixel with a LiDAR depth, lifted with the view transformer's geometry, lands on a LiDAR point."""
    from mmdet3d.datasets.transforms import LoadPointsFromFile
    np.random.seed(0)
    results = BEVDetLoadMultiViewImages((96, 256), is_train=True)(_info(dataset))
    results = LoadPointsFromFile(coord_type='LIDAR', load_dim=5, use_dim=5)(results)
    results = BEVDetMultiViewDepthTargets()(results)
    depth = results['gt_depth']
    assert depth.shape == (6, 96, 256) and (depth > 0).sum() > 100
    cam, v, u = np.nonzero(depth)
    lidar2ego = np.asarray(results['lidar_points']['lidar2ego'])
    points_ego = results['points'].tensor[:, :3].numpy() @ lidar2ego[:3, :3].T + lidar2ego[:3, 3]
    for i in np.random.choice(len(cam), 20, replace=False):
        c, d = cam[i], float(depth[cam[i], v[i], u[i]])
        frustum = torch.tensor([[float(u[i]), float(v[i]), d]]).view(1, 1, 1, 3)
        mats = [torch.as_tensor(results[k][c])[None, None] for k in ('cam2img', 'cam2ego', 'post_rots', 'post_trans')]
        lifted = frustum_to_bev(frustum, *mats, torch.eye(3)[None]).view(3).numpy()
        nearest = np.linalg.norm(points_ego - lifted, axis=1).min()
        assert nearest < 0.02 * d + 0.05, (nearest, d)  # rounding to the pixel grid


def test_bev_augmentation_moves_boxes_like_bda():
    np.random.seed(3)
    boxes = LiDARInstance3DBoxes(torch.tensor([[10.0, -4.0, -1.0, 4.0, 2.0, 1.5, 0.4, 1.0, 2.0]]), box_dim=9)
    corners = boxes.corners[0].numpy()
    out = BEVDetBEVAugmentation(flip_dx_ratio=1.0, flip_dy_ratio=1.0)({'gt_bboxes_3d': boxes})
    bda = out['bda']
    assert not np.allclose(bda, np.eye(3))
    moved = corners @ bda.T
    got = out['gt_bboxes_3d'].corners[0].numpy()
    # the same 8 corners as a set (flips change the corner order)
    assert np.abs(np.sort(moved, 0) - np.sort(got, 0)).max() < 1e-4
