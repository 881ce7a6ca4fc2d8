"""tools/create_data.py: mmdet3d infos for the synthetic nuScenes; integrity errors name sample and file."""
from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools'))

from create_data import NuScenesIntegrityError, check_nuscenes  # noqa: E402


def _copy_tables(src: Path, dst: Path) -> Path:
    """A dataroot whose tables are copies (editable) and whose sensor folders link to ``src``."""
    dst.mkdir()
    shutil.copytree(src / 'v1.0-mini', dst / 'v1.0-mini')
    for name in ('samples', 'sweeps', 'maps'):
        (dst / name).symlink_to(src / name)
    return dst


def test_create_data_writes_infos_to_out_dir(synthetic_world, tmp_path):
    root = _copy_tables(synthetic_world.nuscenes, tmp_path / 'root')
    out = tmp_path / 'infos'
    proc = subprocess.run([sys.executable, str(ROOT / 'tools' / 'create_data.py'), 'nuscenes', '--root-path', str(root),
                           '--out-dir', str(out), '--version', 'v1.0-mini'],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    infos = {s: pickle.loads((out / f'nuscenes_infos_{s}.pkl').read_bytes()) for s in ('train', 'val')}
    samples = json.loads((root / 'v1.0-mini' / 'sample.json').read_text())
    assert len(infos['train']['data_list']) + len(infos['val']['data_list']) == len(samples)
    info = infos['train']['data_list'][0]
    assert set(info['images']) == {'CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT', 'CAM_BACK', 'CAM_BACK_LEFT',
                                   'CAM_BACK_RIGHT'}
    assert (root / 'samples' / 'CAM_FRONT' / info['images']['CAM_FRONT']['img_path']).is_file()
    assert not list(root.glob('*_dbinfos_*.pkl')) and not (root / 'nuscenes_gt_database').exists()
    assert not list(root.glob('*.pkl'))  # moved to out-dir


def test_missing_calibrated_sensor_names_sample_and_file(synthetic_world, tmp_path):
    root = _copy_tables(synthetic_world.nuscenes, tmp_path / 'root')
    table = root / 'v1.0-mini' / 'calibrated_sensor.json'
    records = json.loads(table.read_text())
    sample_data = json.loads((root / 'v1.0-mini' / 'sample_data.json').read_text())
    victim = next(sd for sd in sample_data if sd['is_key_frame'] and 'CAM_BACK/' in sd['filename'])
    table.write_text(json.dumps([r for r in records if r['token'] != victim['calibrated_sensor_token']]))
    with pytest.raises(NuScenesIntegrityError) as err:
        check_nuscenes(root, 'v1.0-mini')
    assert 'sample ' in str(err.value) and 'calibrated_sensor.json' in str(err.value)
    first_bad = next(sd for sd in sample_data if sd['is_key_frame']
                     and sd['calibrated_sensor_token'] == victim['calibrated_sensor_token'])
    assert first_bad['sample_token'] in str(err.value) and first_bad['filename'] in str(err.value)


def test_missing_image_names_sample_and_file(synthetic_world, tmp_path):
    root = tmp_path / 'root'
    root.mkdir()
    shutil.copytree(synthetic_world.nuscenes / 'v1.0-mini', root / 'v1.0-mini')
    shutil.copytree(synthetic_world.nuscenes / 'samples', root / 'samples')
    sample_data = json.loads((root / 'v1.0-mini' / 'sample_data.json').read_text())
    victim = next(sd for sd in sample_data if sd['is_key_frame'] and 'CAM_FRONT_LEFT/' in sd['filename'])
    (root / victim['filename']).unlink()
    proc = subprocess.run([sys.executable, str(ROOT / 'tools' / 'create_data.py'), 'nuscenes', '--root-path', str(root),
                           '--out-dir', str(root), '--version', 'v1.0-mini'], capture_output=True, text=True)
    assert proc.returncode == 2
    assert victim['sample_token'] in proc.stderr and victim['filename'] in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
