"""The chunked, multi-process v1 -> v2 info update equals mmdet3d's serial update entry for entry."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from hybrid_depth.datasets.synthetic.mmdet3d_infos import create_mmdet3d_nuscenes_infos, merge_updated_chunks


def _root_copy(src, dst):
    """A nuScenes root that shares the world's files (links) but gets its own info pkls."""
    dst.mkdir()
    for entry in src.iterdir():
        if not entry.name.endswith('.pkl'):
            os.symlink(entry, dst / entry.name)
    return dst


def test_parallel_infos_equal_serial(synthetic_world, synthetic_nuscenes_infos, tmp_path, capfd):
    root = _root_copy(synthetic_world.nuscenes, tmp_path / 'nuscenes')
    capfd.readouterr()
    out = create_mmdet3d_nuscenes_infos(root, workers=3)  # 3 chunks per split: uneven sizes, >1 chunk per process
    printed = capfd.readouterr()
    assert 'task/s' not in printed.out + printed.err, 'quiet=True let mmengine progress bars through'
    assert not list(root.glob('*.part'))
    for split in ('train', 'val'):
        serial = pickle.loads(synthetic_nuscenes_infos[split].read_bytes())
        parallel = pickle.loads(out[split].read_bytes())
        assert len(parallel['data_list']) == len(serial['data_list']) >= 3
        assert [i['sample_idx'] for i in parallel['data_list']] == list(range(len(serial['data_list'])))
        assert parallel['metainfo'] == serial['metainfo']
        for a, b in zip(parallel['data_list'], serial['data_list']):
            # assert_equal recurses into dicts and lists and counts NaN == NaN (the devkit writes NaN velocities)
            np.testing.assert_equal(a, b, err_msg=f'{split}: sample {b["sample_idx"]} ({b["token"]}) differs')


def _part(tokens, ignored=(), version='v1.0-mini'):
    categories = {'car': 0, 'pedestrian': 1, **dict.fromkeys(ignored, -1)}
    return {'metainfo': {'categories': categories, 'dataset': 'nuscenes', 'version': version, 'info_version': '1.1'},
            'data_list': [{'sample_idx': i, 'token': t} for i, t in enumerate(tokens)]}


def test_merge_renumbers_and_unions_ignored_classes():
    merged = merge_updated_chunks([_part(['a', 'b']), _part(['c'], ignored=['animal']), _part(['d', 'e'])])
    assert [(i['sample_idx'], i['token']) for i in merged['data_list']] == list(enumerate('abcde'))
    assert merged['metainfo']['categories'] == {'car': 0, 'pedestrian': 1, 'animal': -1}


def test_merge_rejects_mixed_versions_and_nothing():
    with pytest.raises(ValueError, match="metainfo\\['version'\\]"):
        merge_updated_chunks([_part(['a']), _part(['b'], version='v1.0-trainval')])
    with pytest.raises(ValueError, match='no chunks'):
        merge_updated_chunks([])


def test_workers_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match='workers must be >= 1'):
        create_mmdet3d_nuscenes_infos(tmp_path, workers=0)
