"""The info-file contract: mmdet3d 1.x infos load; other layouts or missing keys are one clear error."""
from __future__ import annotations

import copy
import pickle

import mmengine
import pytest

from projects.BEVDet.bevdet.info_contract import BEVDetNuScenesDataset, InfoFileError

CAMS = ['CAM_FRONT_LEFT', 'CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_BACK_LEFT', 'CAM_BACK', 'CAM_BACK_RIGHT']


def _dataset(root, ann_file) -> BEVDetNuScenesDataset:
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet3d')
    prefix = dict(pts='samples/LIDAR_TOP', sweeps='sweeps/LIDAR_TOP', **{c: f'samples/{c}' for c in CAMS})
    return BEVDetNuScenesDataset(data_root=str(root), ann_file=str(ann_file), data_prefix=prefix, pipeline=[],
                                 modality=dict(use_lidar=True, use_camera=True), test_mode=True)


def test_mmdet3d_v2_infos_load(synthetic_world, synthetic_nuscenes_infos):
    dataset = _dataset(synthetic_world.nuscenes, synthetic_nuscenes_infos['val'])
    raw = mmengine.load(synthetic_nuscenes_infos['val'])
    assert len(dataset) == len(raw['data_list']) > 0
    assert dataset.get_data_info(0)['token'] == raw['data_list'][0]['token']
    assert dataset.metainfo['info_version'] == raw['metainfo']['info_version']


def _broken(synthetic_nuscenes_infos, tmp_path, edit) -> tuple:
    raw = copy.deepcopy(mmengine.load(synthetic_nuscenes_infos['val']))
    raw = edit(raw)
    path = tmp_path / 'nuscenes_infos_val.pkl'
    path.write_bytes(pickle.dumps(raw))
    return path, raw


def _v1_layout(raw: dict) -> dict:
    """What mmdet3d 0.x / BEVDet's converter write: ``infos`` + ``metadata``, per-camera ``cams`` records."""
    infos = [dict(token=d['token'], lidar_path=d['lidar_points']['lidar_path'], cams={
        c: dict(data_path=v['img_path'], sensor2ego_rotation=[1, 0, 0, 0]) for c, v in d['images'].items()})
        for d in raw['data_list']]
    return dict(infos=infos, metadata=dict(version='v1.0-mini'))


def _drop(path: tuple):
    def edit(raw: dict) -> dict:
        node = raw['data_list'][1]
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        return raw
    return edit


def _drop_meta(raw: dict) -> dict:
    del raw['metainfo']['info_version']
    return raw


@pytest.mark.parametrize('edit, found', [
    (_v1_layout, "top-level keys ['infos', 'metadata']"),
    (_drop_meta, "lacks ['info_version']"),
    (_drop(('images', 'CAM_BACK', 'lidar2cam')), 'images.CAM_BACK.lidar2cam'),
    (_drop(('lidar_points', 'lidar2ego')), 'lidar_points.lidar2ego'),
    (_drop(('ego2global',)), "'ego2global'")])
def test_other_layouts_and_missing_keys_are_refused(synthetic_world, synthetic_nuscenes_infos, tmp_path, edit,
                                                     found):
    path, raw = _broken(synthetic_nuscenes_infos, tmp_path, edit)
    with pytest.raises(InfoFileError) as err:
        _dataset(synthetic_world.nuscenes, path)
    msg = str(err.value)
    assert str(path) in msg and found in msg and 'tools/create_data.py nuscenes' in msg, msg
    if 'data_list' in raw and edit is not _drop_meta:
        assert raw['data_list'][1]['token'] in msg


def test_missing_data_root_is_one_clear_error(tmp_path):
    missing = tmp_path / 'no_such_root'
    with pytest.raises(FileNotFoundError) as err:
        _dataset(missing, missing / 'nuscenes_infos_val.pkl')
    assert f'data root {missing} does not exist' in str(err.value) and 'create_data.py' in str(err.value)


@pytest.mark.slow
def test_tools_test_reports_a_missing_data_root_in_one_line(tmp_path):
    """``tools/test.py`` on a config whose data root does not exist: exit 2 and one ``error:`` line."""
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[3]
    checkpoint = tmp_path / 'model.pth'
    checkpoint.write_bytes(b'never read: the data fails first')
    missing = tmp_path / 'no_such_root'
    proc = subprocess.run([sys.executable, 'tools/test.py', 'configs/bevdet_r50.py', str(checkpoint), '--work-dir',
                           str(tmp_path / 'work'), '--cfg-options', f'test_dataloader.dataset.data_root={missing}/',
                           'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False'],
                          capture_output=True, text=True, cwd=repo)
    assert proc.returncode == 2, (proc.stdout[-2000:], proc.stderr[-2000:])
    errors = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    assert f'{missing}/nuscenes_infos_val.pkl' in errors[0] and 'does not exist' in errors[0], errors
