"""nuScenes camera sweeps: triplets along each camera's prev/next chain, real intrinsics, projected lidar depth."""
from __future__ import annotations

import json

import numpy as np
import pytest
from mmengine.registry import init_default_scope

import hybrid_depth.datasets.depth_transforms  # noqa: F401  (registers the pipeline steps)
from hybrid_depth.datasets.nuscenes_sweeps import NuScenesSweepsDepthDataset
from hybrid_depth.datasets.synthetic import load_depth_png

init_default_scope('mmdet3d')


def test_triplets_follow_the_camera_chain(synthetic_world) -> None:
    root = synthetic_world.nuscenes
    pipe = [dict(type='LoadDepthFrames'), dict(type='PackDepthInputs', frame_ids=[0, -1, 1])]
    ds = NuScenesSweepsDepthDataset(str(root), version='v1.0-mini', split='mini_train', pipeline=pipe)
    rows = {r['token']: r for r in json.loads((root / 'v1.0-mini/sample_data.json').read_text())}
    calib = {c['token']: c for c in json.loads((root / 'v1.0-mini/calibrated_sensor.json').read_text())}
    assert len(ds) > 0
    cams = set()
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        row = rows[info['token']]
        cams.add(info['camera'])
        assert info['frame_paths'][-1].endswith(rows[row['prev']]['filename'])
        assert info['frame_paths'][1].endswith(rows[row['next']]['filename'])
        K = np.asarray(calib[row['calibrated_sensor_token']]['camera_intrinsic'])
        assert info['intrinsics'][0, 0] * row['width'] == pytest.approx(K[0, 0], rel=1e-5)
        assert info['intrinsics'][1, 2] * row['height'] == pytest.approx(K[1, 2], rel=1e-5)
    assert len(cams) == 6
    sample = ds[0]
    assert sample['inputs']['imgs'].shape[:2] == (3, 3) and sample['inputs']['cam2img'].shape == (4, 3, 3)


def test_projected_lidar_matches_the_rendered_depth(synthetic_world) -> None:
    root = synthetic_world.nuscenes
    pipe = [dict(type='LoadDepthFrames'), dict(type='LoadNuScenesLidarDepth'),
            dict(type='PackDepthInputs', frame_ids=[0])]
    ds = NuScenesSweepsDepthDataset(str(root), version='v1.0-mini', split='mini_val', frame_ids=[0],
                                    with_lidar_depth=True, pipeline=pipe)
    assert len(ds) > 0
    for i in range(0, len(ds), max(1, len(ds) // 4)):
        info = ds.get_data_info(i)
        gt = ds[i]['data_samples'].gt_depth
        exact = load_depth_png(info['img_path'].replace('/samples/', '/depth/samples/').replace('.jpg', '.png'))
        both = (gt > 0) & (exact > 0)
        assert both.sum() > 100
        # lidar -> ego(t_lidar) -> global -> ego(t_cam) -> camera: agrees with the renderer's own depth
        assert np.median(np.abs(gt[both] - exact[both]) / exact[both]) < 0.02


def test_bad_arguments(synthetic_world) -> None:
    with pytest.raises(ValueError, match='CAM_TOP'):
        NuScenesSweepsDepthDataset(str(synthetic_world.nuscenes), version='v1.0-mini', cameras=['CAM_TOP'])
    with pytest.raises(FileNotFoundError, match='v9.9'):
        NuScenesSweepsDepthDataset(str(synthetic_world.nuscenes), version='v9.9', split='mini_val')
