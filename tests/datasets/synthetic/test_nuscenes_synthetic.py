"""The synthetic nuScenes output through the real tools: nuscenes-devkit, DetectionEval, mmdet3d's converter."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from PIL import Image

from hybrid_depth.datasets.synthetic import load_depth_png

CAMS = ('CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_FRONT_LEFT', 'CAM_BACK', 'CAM_BACK_LEFT', 'CAM_BACK_RIGHT')
MINI_TRAIN = {'scene-0061', 'scene-0553', 'scene-0655', 'scene-0757', 'scene-0796', 'scene-1077', 'scene-1094',
              'scene-1100'}
MINI_VAL = {'scene-0103', 'scene-0916'}
TABLES = ('attribute', 'calibrated_sensor', 'category', 'ego_pose', 'instance', 'log', 'map', 'sample',
          'sample_annotation', 'sample_data', 'scene', 'sensor', 'visibility')


@pytest.fixture(scope='module')
def nusc(synthetic_world):
    from nuscenes import NuScenes
    return NuScenes('v1.0-mini', str(synthetic_world.nuscenes), verbose=False)


def _transform(rotation, translation) -> np.ndarray:
    from pyquaternion import Quaternion
    T = np.eye(4)
    T[:3, :3] = Quaternion(rotation).rotation_matrix
    T[:3, 3] = translation
    return T


def test_devkit_loads_all_tables_and_sensors(nusc, synthetic_world):
    for table in TABLES:
        assert (synthetic_world.nuscenes / 'v1.0-mini' / f'{table}.json').is_file()
        assert len(getattr(nusc, table)) > 0, table
    assert {s['name'] for s in nusc.scene} == MINI_TRAIN | MINI_VAL
    for sample in nusc.sample:
        assert set(sample['data']) == set(CAMS) | {'LIDAR_TOP'}
        lidar_path = nusc.get_sample_data_path(sample['data']['LIDAR_TOP'])
        pts = np.fromfile(lidar_path, np.float32)
        assert pts.size % 5 == 0 and pts.size // 5 > 1000
        sd = nusc.get('sample_data', sample['data']['CAM_FRONT'])
        with Image.open(nusc.get_sample_data_path(sd['token'])) as im:
            assert im.size == (sd['width'], sd['height'])
    # camera sweeps between keyframes: 12 Hz spacing, linked by prev/next
    sd = nusc.get('sample_data', nusc.sample[0]['data']['CAM_FRONT'])
    nxt = nusc.get('sample_data', sd['next'])
    assert not nxt['is_key_frame'] and nxt['filename'].startswith('sweeps/CAM_FRONT/')
    assert 80_000 <= nxt['timestamp'] - sd['timestamp'] <= 90_000
    for log in nusc.log:
        assert 'map_token' in log  # every log is in a map's log_tokens
    assert {a['visibility_token'] for a in nusc.sample_annotation} <= {'1', '2', '3', '4'}


def test_annotations_are_consistent(nusc):
    from nuscenes.eval.detection.utils import category_to_detection_name
    names = set()
    for ann in nusc.sample_annotation:
        name = category_to_detection_name(ann['category_name'])
        assert name is not None, ann['category_name']
        names.add(name)
        attrs = [nusc.get('attribute', t)['name'] for t in ann['attribute_tokens']]
        if name in ('traffic_cone', 'barrier'):
            assert attrs == []
        else:
            assert len(attrs) == 1 and attrs[0].split('.')[0] == {
                'pedestrian': 'pedestrian', 'bicycle': 'cycle', 'motorcycle': 'cycle'}.get(name, 'vehicle')
    assert len(names) == 10
    # velocities from prev/next equal the constant world velocity along the heading for moving vehicles
    moving = nusc.get('attribute', [a['token'] for a in nusc.attribute if a['name'] == 'vehicle.moving'][0])
    n_checked = 0
    for ann in nusc.sample_annotation:
        if moving['token'] in ann['attribute_tokens'] and (ann['prev'] or ann['next']):
            v = nusc.box_velocity(ann['token'])[:2]
            from pyquaternion import Quaternion
            heading = Quaternion(ann['rotation']).rotation_matrix[:2, 0]
            assert np.linalg.norm(v) > 1.0
            assert abs(np.dot(v, heading)) / np.linalg.norm(v) > 0.999
            n_checked += 1
    assert n_checked > 10


def test_ground_truth_as_predictions_scores_perfectly(nusc, tmp_path):
    from nuscenes.eval.detection.config import config_factory
    from nuscenes.eval.detection.evaluate import DetectionEval
    from nuscenes.eval.detection.utils import category_to_detection_name
    from nuscenes.utils.splits import create_splits_scenes
    val = set(create_splits_scenes()['mini_val'])
    results = {}
    for sample in nusc.sample:
        if nusc.get('scene', sample['scene_token'])['name'] not in val:
            continue
        boxes = []
        for tok in sample['anns']:
            ann = nusc.get('sample_annotation', tok)
            if ann['num_lidar_pts'] == 0:  # the evaluation drops such GT boxes
                continue
            attrs = [nusc.get('attribute', t)['name'] for t in ann['attribute_tokens']]
            boxes.append({'sample_token': sample['token'], 'translation': ann['translation'],
                          'size': ann['size'], 'rotation': ann['rotation'],
                          'velocity': [float(v) for v in nusc.box_velocity(tok)[:2]],
                          'detection_name': category_to_detection_name(ann['category_name']),
                          'detection_score': 1.0, 'attribute_name': attrs[0] if attrs else ''})
        results[sample['token']] = boxes
    path = tmp_path / 'results.json'
    meta = {'use_camera': True, 'use_lidar': False, 'use_radar': False, 'use_map': False, 'use_external': False}
    path.write_text(json.dumps({'meta': meta, 'results': results}))
    ev = DetectionEval(nusc, config_factory('detection_cvpr_2019'), str(path), 'mini_val', str(tmp_path),
                       verbose=False)
    metrics, _ = ev.evaluate()
    summary = metrics.serialize()
    assert summary['mean_ap'] > 0.95, summary['mean_dist_aps']
    assert summary['nd_score'] > 0.9, summary['tp_errors']
    assert all(ap > 0.95 for ap in summary['mean_dist_aps'].values()), summary['mean_dist_aps']


def test_rendered_depth_matches_lidar(nusc, synthetic_world):
    """Project every keyframe's LIDAR_TOP points into the 6 cameras with the devkit's calibration tables and
    compare with the rendered depth maps."""
    rel_errors = []
    for sample in nusc.sample:
        lsd = nusc.get('sample_data', sample['data']['LIDAR_TOP'])
        pts = np.fromfile(nusc.get_sample_data_path(lsd['token']), np.float32).reshape(-1, 5)[:, :3]
        lcs = nusc.get('calibrated_sensor', lsd['calibrated_sensor_token'])
        lpose = nusc.get('ego_pose', lsd['ego_pose_token'])
        T_global_lidar = _transform(lpose['rotation'], lpose['translation']) @ _transform(lcs['rotation'],
                                                                                           lcs['translation'])
        for cam in CAMS:
            sd = nusc.get('sample_data', sample['data'][cam])
            cs = nusc.get('calibrated_sensor', sd['calibrated_sensor_token'])
            pose = nusc.get('ego_pose', sd['ego_pose_token'])
            T_global_cam = _transform(pose['rotation'], pose['translation']) @ _transform(cs['rotation'],
                                                                                           cs['translation'])
            T_cam_lidar = np.linalg.inv(T_global_cam) @ T_global_lidar
            p = pts @ T_cam_lidar[:3, :3].T + T_cam_lidar[:3, 3]  # (N, 3) camera frame
            p = p[p[:, 2] > 1.0]
            uv = p @ np.array(cs['camera_intrinsic']).T
            u = np.round(uv[:, 0] / uv[:, 2]).astype(int)
            v = np.round(uv[:, 1] / uv[:, 2]).astype(int)
            ok = (u >= 0) & (u < sd['width']) & (v >= 0) & (v < sd['height'])
            depth = load_depth_png(synthetic_world.nuscenes / 'depth' / sd['filename'].replace('.jpg', '.png'))
            d = depth[v[ok], u[ok]]
            valid = d > 0
            rel_errors.append(np.abs(d[valid] - p[ok, 2][valid]) / p[ok, 2][valid])
    rel = np.concatenate(rel_errors)
    assert len(rel) > 10_000
    assert np.median(rel) < 0.01, np.median(rel)


def test_mmdet3d_info_creation(synthetic_nuscenes_infos, nusc):
    with open(synthetic_nuscenes_infos['train'], 'rb') as f:
        train = pickle.load(f)
    with open(synthetic_nuscenes_infos['val'], 'rb') as f:
        val = pickle.load(f)
    n_val = sum(nusc.get('scene', s['scene_token'])['name'] in MINI_VAL for s in nusc.sample)
    assert len(val['data_list']) == n_val and len(train['data_list']) == len(nusc.sample) - n_val
    assert val['metainfo']['version'] == 'v1.0-mini'
    labels = set()
    for info in train['data_list'] + val['data_list']:
        assert set(info['images']) == set(CAMS)
        valid = [i for i in info['instances'] if i['bbox_3d_isvalid']]
        assert valid and all(i['bbox_label'] >= 0 for i in info['instances'])
        labels |= {i['bbox_label'] for i in valid}
        assert sum(len(v) for v in info['cam_instances'].values()) > 0
        # lidar-frame boxes (gravity centres) sit on the ground: bottom z = -lidar height (1.84 m)
        bottoms = np.array([i['bbox_3d'][2] - i['bbox_3d'][5] / 2 for i in valid])
        assert np.allclose(bottoms, -1.84, atol=1e-3)
    assert labels == set(range(10))
