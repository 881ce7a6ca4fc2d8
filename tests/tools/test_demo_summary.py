"""tools/demo.py: stage skipping by stamps and the final metric summary read from mmengine's JSON logs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools'))
import demo  # noqa: E402


def test_metric_summary_reads_the_newest_test_log(tmp_path):
    old = tmp_path / 'bevdet_test' / '20260101_000000'
    new = tmp_path / 'bevdet_test' / '20260102_000000'
    for folder, m_ap in ((old, 0.1), (new, 0.25)):
        folder.mkdir(parents=True)
        record = {'NuScenes metric/pred_instances_3d_NuScenes/mAP': m_ap,
                  'NuScenes metric/pred_instances_3d_NuScenes/NDS': 0.3,
                  'NuScenes metric/pred_instances_3d_NuScenes/car_AP_dist_2.0': 0.5, 'time': 1.0}
        (folder / f'{folder.name}.json').write_text(json.dumps(record) + '\n')
    depth = tmp_path / 'depth_test' / '20260101_000000'
    depth.mkdir(parents=True)
    (depth / '20260101_000000.json').write_text(json.dumps({'kitti_eigen/abs_rel': 0.123, 'kitti_eigen/rmse': 4.5,
                                                            'kitti_eigen/rmse_log': 0.2}) + '\n')
    lines = demo.metric_summary(tmp_path)
    assert lines == ['KITTI Eigen (fine depth): abs_rel 0.1230, rmse 4.5000',
                     'nuScenes val (BEVDet-hybrid): mAP 0.2500, NDS 0.3000, car AP@2m 0.5000']
    # the untrained baselines: the first record with metrics in the baseline stage's newest log; a training run
    # writes its records where mmengine's Runner does, under vis_data/ (next to scalars.json)
    train = tmp_path / 'bevdet' / '20260102_000000' / 'vis_data'
    train.mkdir(parents=True)
    records = [{'NuScenes metric/pred_instances_3d_NuScenes/mAP': 0.0,
                'NuScenes metric/pred_instances_3d_NuScenes/NDS': 0.01, 'step': 0},
               {'loss': 3.0, 'step': 8},
               {'NuScenes metric/pred_instances_3d_NuScenes/mAP': 0.2, 'step': 24}]
    (train / '20260102_000000.json').write_text(''.join(json.dumps(r) + '\n' for r in records))
    (train / 'scalars.json').write_text(json.dumps({'loss': 9.0}) + '\n')
    base = tmp_path / 'depth_baseline' / '20260101_000000'
    base.mkdir(parents=True)
    (base / '20260101_000000.json').write_text(json.dumps({'kitti_eigen/abs_rel': 0.5}) + '\n')
    lines = demo.metric_summary(tmp_path)
    assert lines == ['KITTI Eigen (fine depth): abs_rel 0.5000 -> 0.1230, rmse 4.5000 (untrained -> trained)',
                     'nuScenes val (BEVDet-hybrid): mAP 0.0000 -> 0.2500, NDS 0.0100 -> 0.3000, car AP@2m 0.5000 '
                     '(untrained -> trained)']
    assert demo.metric_summary(tmp_path / 'nothing') == []


def test_demo_stages_chain_the_project_tools():
    stages = demo.build_stages()
    names = [s.name for s in stages]
    assert names[:3] == ['data', 'depth_coarse', 'depth_fine'] and names.index('export') < names.index('bevdet')
    assert names.index('depth_coarse') < names.index('depth_baseline') < names.index('depth_test')
    assert [s.name for s in stages if s.optional] == ['fbbev', 'fbbev_test', 'fbbev_visualize']
    for stage in stages:
        for path in stage.needs_files:
            assert (ROOT / path).is_file(), (stage.name, path)
        assert all(dep in names[:names.index(stage.name)] for dep in stage.after), stage.name
