"""BEVDetNuScenesMetric: an empty prediction set is scored as the devkit scores classes without predictions."""
from __future__ import annotations

import json

import mmengine
import pytest

from projects.BEVDet.bevdet import BEVDetNuScenesMetric
from projects.BEVDet.bevdet.nuscenes_metric import count_result_boxes

CLASSES = ['car', 'truck', 'trailer', 'bus', 'construction_vehicle', 'bicycle', 'motorcycle', 'pedestrian',
           'traffic_cone', 'barrier']


def _metric(root, infos) -> BEVDetNuScenesMetric:
    metric = BEVDetNuScenesMetric(data_root=str(root), ann_file=str(infos['val']))
    metric.version = 'v1.0-mini'
    return metric


def _write(path, results: dict) -> str:
    meta = dict(use_camera=True, use_lidar=False, use_radar=False, use_map=False, use_external=False)
    path.write_text(json.dumps(dict(meta=meta, results=results)))
    return str(path)


def test_empty_results_score_zero_with_the_devkit_keys(synthetic_world, synthetic_nuscenes_infos, tmp_path):
    infos = mmengine.load(synthetic_nuscenes_infos['val'])['data_list']
    tokens = [info['token'] for info in infos]
    metric = _metric(synthetic_world.nuscenes, synthetic_nuscenes_infos)

    (tmp_path / 'empty').mkdir()
    empty = _metric(synthetic_world.nuscenes, synthetic_nuscenes_infos)._evaluate_single(
        _write(tmp_path / 'empty' / 'results.json', {t: [] for t in tokens}), classes=CLASSES)
    assert count_result_boxes(str(tmp_path / 'empty' / 'results.json')) == 0
    assert empty['pred_instances_3d_NuScenes/mAP'] == 0.0
    assert empty['pred_instances_3d_NuScenes/NDS'] == 0.0
    assert empty['pred_instances_3d_NuScenes/car_AP_dist_2.0'] == 0.0
    assert empty['pred_instances_3d_NuScenes/mATE'] == 1.0
    assert (tmp_path / 'empty' / 'metrics_summary.json').is_file()

    # one real box through the devkit: same keys, and the same NaN pattern for cones and barriers
    box = dict(sample_token=tokens[0], translation=[0.0, 0.0, 0.0], size=[1.9, 4.5, 1.6], rotation=[1, 0, 0, 0],
               velocity=[0.0, 0.0], detection_name='car', detection_score=0.5, attribute_name='vehicle.parked')
    (tmp_path / 'one').mkdir()
    one = metric._evaluate_single(_write(tmp_path / 'one' / 'results.json',
                                         {t: ([box] if t == tokens[0] else []) for t in tokens}), classes=CLASSES)
    assert set(one) == set(empty)
    nan_keys = {k for k, v in one.items() if v != v}
    assert nan_keys == {k for k, v in empty.items() if v != v}
    assert 'pred_instances_3d_NuScenes/traffic_cone_attr_err' in nan_keys


def test_not_a_result_file(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"meta": {}}')
    with pytest.raises(KeyError, match='bad.json'):
        count_result_boxes(str(bad))
