"""BEVDet transforms on the synthetic nuScenes (cameras at their real trigger times): loading errors, BEV
augmentation, LiDAR depth targets against the lift."""
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
from projects.BEVDet.bevdet.view_transformer import bev_to_image, frustum_to_bev


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
    """No silent identity for a missing ``lidar2cam`` (the camera's pose in the key LiDAR frame)."""
    info = _info(dataset)
    del info['images']['CAM_FRONT']['lidar2cam']
    with pytest.raises(KeyError) as err:
        BEVDetLoadMultiViewImages((64, 176))(info)
    assert info['token'] in str(err.value) and 'CAM_FRONT' in str(err.value) and 'lidar2cam' in str(err.value)


@pytest.mark.parametrize('damage', ['truncate', 'empty'])
def test_unreadable_image_error_names_sample_and_file(dataset, tmp_path, damage):
    info = _info(dataset)
    data = open(info['images']['CAM_BACK']['img_path'], 'rb').read()
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(data[:len(data) // 2] if damage == 'truncate' else b'')
    info['images']['CAM_BACK']['img_path'] = str(bad)
    with pytest.raises(OSError) as err:
        BEVDetLoadMultiViewImages((64, 176))(info)
    assert info['token'] in str(err.value) and str(bad) in str(err.value) and 'CAM_BACK' in str(err.value)


def _lidar_depth_through_lift_inverse(results: dict, cam2ego: np.ndarray) -> np.ndarray:
    """(N, fH, fW) nearest LiDAR depth per pixel, projecting ego-frame points with :func:`bev_to_image`."""
    lidar2ego = np.asarray(results['lidar_points']['lidar2ego'], np.float64)
    pts = results['points'].tensor[:, :3].numpy().astype(np.float64) @ lidar2ego[:3, :3].T + lidar2ego[:3, 3]
    fh, fw = results['img_shape']
    mats = [torch.as_tensor(np.asarray(results[k]), dtype=torch.float64)[None]
            for k in ('cam2img', 'post_rots', 'post_trans')]
    uv, d = bev_to_image(torch.as_tensor(pts)[None], mats[0], torch.as_tensor(cam2ego, dtype=torch.float64)[None],
                         mats[1], mats[2], torch.eye(3, dtype=torch.float64)[None])
    out = np.zeros((len(cam2ego), fh, fw), np.float32)
    for i in range(len(cam2ego)):
        u, v, di = np.round(uv[0, i, :, 0].numpy()), np.round(uv[0, i, :, 1].numpy()), d[0, i].numpy()
        keep = (di >= 1.0) & (di < 60.0) & (u >= 0) & (u < fw) & (v >= 0) & (v < fh)
        order = np.argsort(-di[keep])
        out[i, v[keep][order].astype(int), u[keep][order].astype(int)] = di[keep][order]
    return out


def test_depth_targets_and_lift_agree_per_pixel(dataset):
    """3b: the LiDAR depth targets are exactly the depth the lift's inverse gives each LiDAR point, pixel for
    pixel, and every target lifts back onto its LiDAR point; with the static ``cam2ego`` they disagree."""
    from mmdet3d.datasets.transforms import LoadPointsFromFile
    np.random.seed(0)
    results = BEVDetLoadMultiViewImages((96, 256), is_train=True)(_info(dataset))
    results = LoadPointsFromFile(coord_type='LIDAR', load_dim=5, use_dim=5)(results)
    results = BEVDetMultiViewDepthTargets()(results)
    target = results['gt_depth']
    assert target.shape == (6, 96, 256) and (target > 0).sum() > 500
    lifted_view = _lidar_depth_through_lift_inverse(results, results['cam2ego'])
    both = (target > 0) | (lifted_view > 0)
    agree = np.isclose(target, lifted_view, rtol=1e-4, atol=1e-4) & both
    assert agree.sum() >= 0.999 * both.sum(), (agree.sum(), both.sum())
    # lifting each target pixel's exact (u, v, d) back lands on the LiDAR point (no pixel rounding here)
    lidar2ego = np.asarray(results['lidar_points']['lidar2ego'])
    points_ego = results['points'].tensor[:, :3].numpy() @ lidar2ego[:3, :3].T + lidar2ego[:3, 3]
    mats = [torch.as_tensor(np.asarray(results[k]), dtype=torch.float64)[None]
            for k in ('cam2img', 'cam2ego', 'post_rots', 'post_trans')]
    uv, d = bev_to_image(torch.as_tensor(points_ego, dtype=torch.float64)[None], *mats,
                         torch.eye(3, dtype=torch.float64)[None])
    frustum = torch.cat([uv[0, 1], d[0, 1, :, None]], -1).view(1, 1, -1, 3)  # CAM_FRONT, every point
    lifted = frustum_to_bev(frustum, *[m[:, 1:2] for m in mats], torch.eye(3, dtype=torch.float64)[None])
    front = d[0, 1].numpy() > 1.0
    err = np.linalg.norm(lifted.view(-1, 3).numpy()[front] - points_ego[front], axis=1)
    assert err.max() < 1e-6, err.max()
    # the static calibrated mounting (no ego-motion compensation) puts the LiDAR elsewhere in the image
    cams = BEVDetLoadMultiViewImages((96, 256)).cameras
    static = np.stack([np.asarray(results['images'][c]['cam2ego']) for c in cams])
    wrong = _lidar_depth_through_lift_inverse(results, static)
    both = (target > 0) | (wrong > 0)
    assert (np.isclose(target, wrong, rtol=1e-4, atol=1e-4) & both).sum() < 0.9 * both.sum()


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
