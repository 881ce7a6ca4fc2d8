"""Generation: determinism, refusal to overwrite, atomic writes, presets and the CLI."""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from hybrid_depth.datasets.synthetic import generate as generate_module
from hybrid_depth.datasets.synthetic import generate_synthetic, get_preset

ROOT = Path(__file__).resolve().parents[3]


def _micro():
    """A very small preset (a few seconds) exercising every writer."""
    return get_preset('tiny', scale=0.1, nuscenes_cam_sweeps=0, nuscenes_lidar_azimuth=120, kitti_drives=2,
                      kitti_frames=3, kitti_lidar_azimuth=120, tusimple_clips=1)


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


def test_same_seed_gives_identical_bytes(tmp_path):
    a = generate_synthetic(tmp_path / 'a', _micro(), seed=3, progress=False)
    b = generate_synthetic(tmp_path / 'b', _micro(), seed=3, progress=False)
    c = generate_synthetic(tmp_path / 'c', _micro(), seed=4, progress=False)
    da, db, dc = _digest(a.root), _digest(b.root), _digest(c.root)
    assert len(da) > 100
    assert da == db
    assert any(name.endswith('.jpg') for name in da)
    assert da['nuscenes/v1.0-mini/sample_annotation.json'] != dc['nuscenes/v1.0-mini/sample_annotation.json']


def test_parallel_scenes_match_serial(tmp_path):
    """workers=2 renders the nuScenes scenes in a pool: same files, same bytes, same progress total."""
    from hybrid_depth.datasets.synthetic.nuscenes_writer import MINI_SCENES, write_nuscenes
    cfg = dataclasses.replace(_micro().nuscenes, cam_sweeps=1)  # sweeps too
    frames = {1: [], 2: []}
    for workers in frames:
        write_nuscenes(tmp_path / f'w{workers}', cfg, 3, frames[workers].append, workers=workers)
    serial, parallel = _digest(tmp_path / 'w1'), _digest(tmp_path / 'w2')
    assert len(serial) > 100 and any(name.endswith('.pcd.bin') for name in serial)
    assert parallel == serial
    per_scene = 6 * (cfg.keyframes + (cfg.keyframes - 1) * cfg.cam_sweeps)
    assert sum(frames[1]) == sum(frames[2]) == len(MINI_SCENES) * per_scene
    assert frames[2] == [per_scene] * len(MINI_SCENES)  # one call per finished scene
    with pytest.raises(ValueError, match='workers'):
        generate_synthetic(tmp_path / 'bad', _micro(), workers=0)
    spec = importlib.util.spec_from_file_location('make_synthetic', ROOT / 'tools' / 'make_synthetic.py')
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.parse_args(['--out-dir', 'x', '--workers', '3']).workers == 3
    assert 1 <= cli.parse_args(['--out-dir', 'x']).workers <= 10
    with pytest.raises(SystemExit):
        cli.parse_args(['--out-dir', 'x', '--workers', '0'])


def test_parallel_kitti_drives_match_serial(tmp_path):
    """workers=2 renders the KITTI drives in a pool: same files, same bytes (splits, gt_depths.npz), same
    progress total, one progress call per drive."""
    from hybrid_depth.datasets.synthetic.kitti_writer import write_kitti
    cfg = dataclasses.replace(_micro().kitti, drives=4, frames=4, test_drives=2, test_frames=1)
    frames = {1: [], 2: []}
    counts = {w: write_kitti(tmp_path / f'w{w}', cfg, 5, frames[w].append, workers=w) for w in frames}
    serial, parallel = _digest(tmp_path / 'w1'), _digest(tmp_path / 'w2')
    assert len(serial) > 50 and 'splits/eigen/gt_depths.npz' in serial
    assert parallel == serial
    assert counts[1] == counts[2] and counts[1]['test'] == 2  # one test frame on each of the 2 test drives
    assert sum(frames[1]) == sum(frames[2]) == cfg.drives * cfg.frames
    assert frames[2] == [cfg.frames] * cfg.drives
    with pytest.raises(ValueError, match='workers'):
        write_kitti(tmp_path / 'bad', cfg, 5, workers=0)


def test_eigen_test_frames_spread_over_each_test_drive():
    from hybrid_depth.datasets.synthetic.kitti_writer import _test_frames
    cfg = get_preset('tiny', kitti_frames=12).kitti
    assert _test_frames(cfg) == list(range(1, 11))  # default: every frame with both neighbours
    assert _test_frames(dataclasses.replace(cfg, test_frames=3)) == [1, 5, 10]
    assert _test_frames(dataclasses.replace(cfg, test_frames=50)) == list(range(1, 11))
    with pytest.raises(ValueError, match='kitti_test_frames'):
        get_preset('tiny', kitti_test_frames=0)
    # the depth preset: thousands of training frames over many drives, >= 100 Eigen test frames over several drives
    depth = get_preset('depth').kitti
    train_lines = 2 * (depth.drives - depth.test_drives) * (depth.frames - 2)
    assert train_lines >= 5000 and depth.drives - depth.test_drives >= 40
    assert depth.test_drives >= 5 and depth.test_drives * len(_test_frames(depth)) >= 100
    assert depth.scale == get_preset('small').kitti.scale


def test_refuses_non_empty_folder_without_force(tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'keep.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='--force'):
        generate_synthetic(out, _micro(), formats=['tusimple'], progress=False)
    assert (out / 'keep.txt').read_text() == 'mine'
    generate_synthetic(out, _micro(), formats=['tusimple'], force=True, progress=False)
    assert not (out / 'keep.txt').exists() and (out / 'tusimple' / 'label_data_0313.json').is_file()
    empty = tmp_path / 'empty'
    empty.mkdir()
    generate_synthetic(empty, _micro(), formats=['tusimple'], progress=False)  # an empty folder is fine


def test_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    def broken_kitti(root, cfg, seed, progress=None, workers=1):
        (Path(root) / 'half_written.bin').parent.mkdir(parents=True, exist_ok=True)
        (Path(root) / 'half_written.bin').write_bytes(b'x')
        raise RuntimeError('disk full')

    monkeypatch.setattr(generate_module, 'write_kitti', broken_kitti)
    out = tmp_path / 'world'
    with pytest.raises(RuntimeError, match='disk full'):
        generate_synthetic(out, _micro(), formats=['tusimple', 'kitti'], progress=False)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left behind either
    # with --force an existing folder survives a failed run untouched
    out.mkdir()
    (out / 'old.txt').write_text('old')
    with pytest.raises(RuntimeError):
        generate_synthetic(out, _micro(), formats=['kitti'], force=True, progress=False)
    assert (out / 'old.txt').read_text() == 'old'


def test_presets_and_bad_options():
    tiny, small = get_preset('tiny'), get_preset('small')
    assert small.nuscenes.keyframes > tiny.nuscenes.keyframes and small.kitti.scale > tiny.kitti.scale
    # the demo world: rendered at the width the demo detectors feed (no resampling before their crop), and the
    # real v1.0-mini's scene length (2 val scenes of ~40 keyframes: 81 val samples there, 80 here)
    from hybrid_depth.engine.cli import load_config
    demo = load_config(str(ROOT / 'configs/demo/bevdet_hybrid_demo.py'))
    assert round(1600 * small.nuscenes.scale) == demo.input_size[1]
    assert small.nuscenes.keyframes == 40
    assert get_preset('full', nuscenes_keyframes=7).nuscenes.keyframes == 7
    with pytest.raises(KeyError, match='nuscenes_frames'):
        get_preset('full', nuscenes_frames=3)
    with pytest.raises(KeyError, match='huge'):
        get_preset('huge')
    with pytest.raises(ValueError, match='nuscenes_keyframes'):
        get_preset('tiny', nuscenes_keyframes=1)
    with pytest.raises(ValueError, match='lidar'):
        generate_synthetic('/nonexistent/never', 'tiny', formats=['lidar'])


def test_cli_refuses_then_forces(tmp_path):
    out = tmp_path / 'cli'
    out.mkdir()
    (out / 'x').write_text('x')
    cmd = [sys.executable, str(ROOT / 'tools' / 'make_synthetic.py'), '--out-dir', str(out), '--preset', 'tiny',
           '--scale', '0.1', '--formats', 'tusimple', '--tusimple-clips', '1', '--no-progress']
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and 'not empty' in r.stderr
    r = subprocess.run(cmd + ['--force'], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (out / 'tusimple' / 'label_data_0313.json').is_file() and not (out / 'x').exists()


def test_contact_sheet(tmp_path):
    from PIL import Image

    from hybrid_depth.datasets.synthetic import make_contact_sheet
    path = make_contact_sheet(tmp_path / 'sheet.png', seed=0, width=600)
    with Image.open(path) as im:
        assert im.size[0] == 600 and im.size[1] > 400
