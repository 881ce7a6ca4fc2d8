"""KITTI raw triplets and the Eigen test split on the synthetic world (real files, Monodepth2 layout)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from hybrid_depth.datasets.depth_transforms import PackDepthInputs
from hybrid_depth.datasets.kitti_eigen import KittiEigenTestDataset
from hybrid_depth.datasets.kitti_raw import KittiRawDepthDataset, kitti_velodyne_depth

init_default_scope('mmdet3d')

TRAIN_PIPELINE = [dict(type='LoadDepthFrames'), dict(type='ResizeDepthFrames', height=56, width=168),
                  dict(type='PackDepthInputs', frame_ids=[0, -1, 1], num_scales=4)]


def test_triplets_intrinsics_and_batch_format(synthetic_world) -> None:
    root = synthetic_world.kitti
    ds = KittiRawDepthDataset(str(root), pipeline=TRAIN_PIPELINE)
    lines = (root / 'splits/eigen_zhou/train_files.txt').read_text().split('\n')
    assert len(ds) == len([x for x in lines if x.strip()])
    sample = ds[0]
    inputs, meta = sample['inputs'], sample['data_samples']
    assert inputs['imgs'].shape == inputs['imgs_raw'].shape == (3, 3, 56, 168)
    assert 0 <= float(inputs['imgs'].min()) and float(inputs['imgs'].max()) <= 1
    # frames -1, 0, +1 of a moving car differ; the paths follow the split line
    assert not torch.equal(inputs['imgs'][0], inputs['imgs'][1])
    info = ds.get_data_info(0)
    folder, frame, side = lines[0].split()
    assert info['frame_paths'][-1].endswith(f'{folder}/image_02/data/{int(frame) - 1:010d}.jpg') and side == 'l'
    # intrinsics: read from P_rect_02 (0-based), rescaled per pyramid scale
    K = inputs['cam2img']
    assert K.shape == (4, 3, 3)
    for s in range(4):
        assert K[s, 0, 0] == pytest.approx(float(info['intrinsics'][0, 0]) * (168 // 2 ** s), rel=1e-5)
        assert K[s, 1, 2] == pytest.approx(float(info['intrinsics'][1, 2]) * (56 // 2 ** s), rel=1e-5)
    calib = (root / folder.split('/')[0] / 'calib_cam_to_cam.txt').read_text()
    P = np.array([float(v) for v in calib.split('P_rect_02:')[1].split('\n')[0].split()]).reshape(3, 4)
    S = np.array([float(v) for v in calib.split('S_rect_02:')[1].split('\n')[0].split()])
    assert info['intrinsics'][0, 2] == pytest.approx((P[0, 2] - 1) / S[0], rel=1e-6)
    assert meta.img_path == info['frame_paths'][0] and meta.frame_ids == [0, -1, 1]


def test_flip_and_colour_jitter_follow_monodepth2(synthetic_world) -> None:
    pipe = [dict(type='LoadDepthFrames'), dict(type='ResizeDepthFrames', height=56, width=168),
            dict(type='RandomFlipDepthFrames', prob=1.0), dict(type='ColorJitterDepthFrames', prob=1.0),
            dict(type='PackDepthInputs', frame_ids=[0, -1, 1])]
    plain = KittiRawDepthDataset(str(synthetic_world.kitti), pipeline=TRAIN_PIPELINE)[0]['inputs']
    np.random.seed(0)
    aug = KittiRawDepthDataset(str(synthetic_world.kitti), pipeline=pipe)[0]
    # un-jittered frames are exactly the mirrored plain frames; the jittered ones differ
    torch.testing.assert_close(aug['inputs']['imgs_raw'], plain['imgs_raw'].flip(-1))
    assert not torch.allclose(aug['inputs']['imgs'], aug['inputs']['imgs_raw'], atol=1e-3)
    # mirrored principal point: cx' = W - 1 - cx at every scale
    for s in range(4):
        w = 168 // 2 ** s
        cx, cx_flip = plain['cam2img'][s, 0, 2], aug['inputs']['cam2img'][s, 0, 2]
        assert float(cx_flip) == pytest.approx(w - w / 168 - float(cx), abs=1e-4)
    assert aug['data_samples'].flip is True


def _copy_kitti(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns('velodyne_points'))
    return dst


def test_missing_frame_fails_at_build_naming_the_path(synthetic_world, tmp_path: Path) -> None:
    root = _copy_kitti(synthetic_world.kitti, tmp_path / 'kitti')
    folder, frame, _ = (root / 'splits/eigen_zhou/train_files.txt').read_text().split('\n')[0].split()
    missing = root / folder / 'image_02' / 'data' / f'{int(frame) + 1:010d}.jpg'
    missing.unlink()
    with pytest.raises(FileNotFoundError) as err:
        KittiRawDepthDataset(str(root), pipeline=TRAIN_PIPELINE)
    assert str(missing) in str(err.value)


def test_missing_calibration_fails_at_build_naming_the_path(synthetic_world, tmp_path: Path) -> None:
    root = _copy_kitti(synthetic_world.kitti, tmp_path / 'kitti')
    calib = next(root.glob('*/calib_cam_to_cam.txt'))
    calib.unlink()
    with pytest.raises(FileNotFoundError) as err:
        KittiRawDepthDataset(str(root), pipeline=TRAIN_PIPELINE)
    assert str(calib) in str(err.value)


def test_missing_split_file_and_bad_line(synthetic_world, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='no_such_split.txt'):
        KittiRawDepthDataset(str(synthetic_world.kitti), ann_file='splits/no_such_split.txt')
    bad = tmp_path / 'bad.txt'
    bad.write_text('2011_09_26/2011_09_26_drive_0001_sync 1 x\n')
    with pytest.raises(ValueError, match='bad.txt:1'):
        KittiRawDepthDataset(str(synthetic_world.kitti), ann_file=str(bad))


def test_eigen_test_split_ground_truth(synthetic_world) -> None:
    root = synthetic_world.kitti
    pipe = [dict(type='LoadDepthFrames'), dict(type='ResizeDepthFrames', height=56, width=168),
            dict(type='PackDepthInputs', frame_ids=[0])]
    ds = KittiEigenTestDataset(str(root), pipeline=pipe)
    gt = np.load(root / 'splits/eigen/gt_depths.npz', allow_pickle=True)['data']
    assert len(ds) == len(gt) > 0
    sample = ds[0]
    assert sample['inputs']['imgs'].shape == (1, 3, 56, 168)
    np.testing.assert_array_equal(sample['data_samples'].gt_depth, gt[0])
    # the velodyne projection used for validation reproduces the exported Eigen ground truth
    info = ds.get_data_info(0)
    velo = root / info['folder'] / 'velodyne_points' / 'data' / f"{info['frame_index']:010d}.bin"
    np.testing.assert_allclose(kitti_velodyne_depth(info['calib_dir'], str(velo)), gt[0], atol=1e-4)
    assert (gt[0] > 0).sum() > 100


def test_pack_pads_point_groups() -> None:
    pack = PackDepthInputs(frame_ids=[0], max_groups=3)
    img = np.zeros((20, 30, 3), np.uint8)
    pts = np.array([[[1, 19], [1, 10]], [[40, 5], [2, 2]]], np.float32)  # second group: one point outside
    out = pack({'frames': {0: img}, 'img_shape': (20, 30), 'points': pts, 'points_valid': np.ones((2, 2), bool)})
    assert out['inputs']['points'].shape == (3, 2, 2)
    assert out['inputs']['points_valid'].tolist() == [[True, True], [False, True], [False, False]]
