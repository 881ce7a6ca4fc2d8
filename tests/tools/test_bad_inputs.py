"""The bad-input matrix: every file kind the tools read x {missing, empty, truncated, garbage, wrong layout}.

Each case corrupts one copy of one file of the shared tiny world (``synthetic_world`` /
``synthetic_nuscenes_infos``) in ``tmp_path`` (the rest of a dataroot is linked, never copied or regenerated),
runs the real tool's entry point on it and asserts a non-zero exit whose last stderr line names the file.
Most cases call the tools' ``main(argv)`` in this process (the imports cost 5-10 s per subprocess); one case
per tool also runs it as a subprocess (``SUBPROCESS_CASES``), so the command line itself is covered.

``HDB_BAD_INPUT_HANDLING=removed`` runs the same cases with the handlers replaced by the raw reads they guard
(:mod:`tests.tools.handling_removed`); then every case should fail.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from tests.tools import handling_removed

ROOT = Path(__file__).resolve().parents[2]
KINDS = ('missing', 'empty', 'truncated', 'garbage', 'layout')
RAN: list[str] = []


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if handling_removed.ACTIVE:
        handling_removed.patch_module(module)
    return module


@pytest.fixture(autouse=True, scope='module')
def _handlers_removed_on_request():
    if handling_removed.ACTIVE:
        handling_removed.apply()


def corrupt(path: Path, kind: str, layout: bytes | Callable[[Path], None] | None = None) -> None:
    """Turn ``path`` (a copy) into a bad file of ``kind``."""
    if kind == 'missing':
        path.unlink()
    elif kind == 'empty':
        path.write_bytes(b'')
    elif kind == 'truncated':
        data = path.read_bytes()
        path.write_bytes(data[:max(1, len(data) // 2)])
    elif kind == 'garbage':
        path.write_bytes(bytes(range(256)) * 4)
    elif kind == 'layout':
        if callable(layout):
            layout(path)
        else:
            path.write_bytes(layout)


def shadow(root: Path, rel: str, tmp: Path) -> tuple[Path, Path]:
    """A copy of dataroot ``root`` under ``tmp`` in which every entry is a link except the file ``rel``, copied.

    Returns:
        ``(new root, the copied file)``.
    """
    new_root = tmp / root.name
    src, dst = root, new_root
    parts = Path(rel).parts
    for i, part in enumerate(parts):
        dst.mkdir(parents=True, exist_ok=True)
        for entry in src.iterdir():
            if entry.name != part:
                os.symlink(entry, dst / entry.name)
        src, dst = src / part, dst / part
        if i == len(parts) - 1:
            shutil.copyfile(src, dst)
    return new_root, dst


def run_main(tool: str, argv: list[str], capsys) -> tuple[int, str]:
    """``tools/<tool>.py`` ``main(argv)`` in this process: (exit status, last stderr line)."""
    from mmengine.logging import MMLogger
    for logger in MMLogger._instance_dict.values():  # handlers of earlier runners hold earlier tests' streams
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, 'closed', False):
                handler.stream = sys.stdout
    capsys.readouterr()
    cwd = os.getcwd()
    try:
        code = _tool(tool).main(argv)
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err.strip().splitlines()
    return code, (err[-1] if err else '')


def run_subprocess(tool: str, argv: list[str]) -> tuple[int, str]:
    path = str(ROOT)
    if handling_removed.ACTIVE:
        path = f'{handling_removed.sitecustomize_dir(Path(tempfile.mkdtemp()))}{os.pathsep}{path}'
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, str(ROOT / 'tools' / f'{tool}.py'), *argv], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)
    err = proc.stderr.strip().splitlines()
    last = err[-1] if err else ''
    return proc.returncode, (f'Traceback (above): {last}' if 'Traceback' in proc.stderr else last)


def check(case: str, code: int, last: str, path: Path) -> None:
    assert code != 0, f'{case}: exit 0'
    assert str(path) in last, f'{case}: last stderr line does not name {path}: {last!r}'
    assert 'Traceback' not in last
    RAN.append(case)


def _loader_opts(prefix: str, root: Path) -> list[str]:
    return [f'{prefix}.num_workers=0', f'{prefix}.persistent_workers=False', f'{prefix}.dataset.data_root={root}/']


# --- info files (tools/test.py, BEVDet demo config) --------------------------------------------------------
@pytest.mark.parametrize('kind', KINDS)
def test_info_file(kind, synthetic_world, synthetic_nuscenes_infos, tmp_path, capsys):
    info = tmp_path / 'nuscenes_infos_val.pkl'
    shutil.copyfile(synthetic_nuscenes_infos['val'], info)
    v1 = {'infos': [{'token': 't', 'cams': {}}], 'metadata': {'version': 'v1.0-mini'}}  # mmdet3d 0.x layout
    corrupt(info, kind, layout=pickle.dumps(v1))
    ckpt = tmp_path / 'never_read.pth'
    ckpt.write_bytes(b'the info file fails first')
    argv = [str(ROOT / 'configs/demo/bevdet_hybrid_demo.py'), str(ckpt), '--work-dir', str(tmp_path / 'w'),
            '--cfg-options', *_loader_opts('test_dataloader', synthetic_world.nuscenes),
            f'test_dataloader.dataset.ann_file={info}', 'test_dataloader.dataset.metainfo.version=v1.0-mini']
    check(f'info/{kind}', *run_main('test', argv, capsys), info)


# --- checkpoints (tools/test.py, the tiny regression config) ----------------------------------------------
TINY = ROOT / 'tests/fixtures/configs/tiny_regression.py'


def _tiny_checkpoint(path: Path) -> None:
    from tests.fixtures.tiny_regression import TinyLinearRegressor
    torch.save({'state_dict': TinyLinearRegressor(4).state_dict(), 'meta': {}}, path)


@pytest.mark.parametrize('kind', (*KINDS, 'detector'))
def test_checkpoint(kind, tmp_path, capsys):
    ckpt = tmp_path / 'model.pth'
    _tiny_checkpoint(ckpt)
    # layout: the weights of another model (a depth model's encoder); detector: a BEV detector's key layout
    other = {'layout': {'encoder.conv.weight': torch.zeros(2)}, 'detector': {
        'img_backbone.conv1.weight': torch.zeros(2), 'pts_bbox_head.heatmap.weight': torch.zeros(2)}}
    corrupt(ckpt, 'layout' if kind == 'detector' else kind,
            layout=lambda p: torch.save({'state_dict': other[kind], 'meta': {}}, p))
    argv = [str(TINY), str(ckpt), '--work-dir', str(tmp_path / 'w')]
    code, last = run_main('test', argv, capsys)
    check(f'checkpoint/{kind}', code, last, ckpt)
    if kind == 'detector':
        assert 'a BEV detector' in last


def test_partial_checkpoint_needs_the_flag(tmp_path, capsys):
    """A checkpoint without some of the model's weights: an error, unless ``--partial-checkpoint`` (a start point)."""
    from tests.fixtures.tiny_regression import TinyLinearRegressor
    ckpt = tmp_path / 'partial.pth'
    state = TinyLinearRegressor(4).state_dict()
    torch.save({'state_dict': {'linear.weight': state['linear.weight']}, 'meta': {}}, ckpt)  # no linear.bias
    argv = [str(TINY), str(ckpt), '--work-dir', str(tmp_path / 'w')]
    code, last = run_main('test', argv, capsys)
    check('checkpoint/partial', code, last, ckpt)
    assert 'lacks 1 of the 2 weights' in last
    assert run_main('test', [*argv, '--partial-checkpoint'], capsys)[0] == 0


# --- nuScenes tables (tools/create_data.py) ----------------------------------------------------------------
@pytest.mark.parametrize('kind', KINDS)
def test_nuscenes_table(kind, synthetic_world, tmp_path, capsys):
    root, table = shadow(synthetic_world.nuscenes, 'v1.0-mini/sample.json', tmp_path)
    for info in root.glob('nuscenes_infos_*.pkl'):  # links to the shared infos: never written through
        info.unlink()
    corrupt(table, kind, layout=b'{"samples": []}')
    argv = ['nuscenes', '--root-path', str(root), '--out-dir', str(tmp_path / 'out'), '--version', 'v1.0-mini']
    check(f'nuscenes_table/{kind}', *run_main('create_data', argv, capsys), table)


def test_nuscenes_table_at_evaluation(synthetic_world, synthetic_nuscenes_infos, tmp_path):
    """The devkit's own table reading at evaluation (a corrupt sample.json was a raw JSONDecodeError)."""
    from projects.BEVDet.bevdet.nuscenes_metric import BEVDetNuScenesMetric

    root, table = shadow(synthetic_world.nuscenes, 'v1.0-mini/sample.json', tmp_path)
    corrupt(table, 'truncated')
    metric = BEVDetNuScenesMetric(data_root=str(root), ann_file=str(synthetic_nuscenes_infos['val']))
    metric.dataset_meta = {'version': 'v1.0-mini', 'classes': ['car']}
    result = tmp_path / 'results_nusc.json'
    result.write_text('{"meta": {"use_camera": true}, "results": {"x": [{"detection_name": "car"}]}}')
    metric.version = 'v1.0-mini'
    from hybrid_depth.engine.cli import DATA_ERRORS, data_error_line
    with pytest.raises(DATA_ERRORS) as err:
        metric._evaluate_single(str(result), classes=['car'])
    check('nuscenes_table_eval/truncated', 1, data_error_line(err.value), table)


# --- KITTI calibration and split files (tools/train.py, the fine-depth demo config) ------------------------
def _kitti_calib_rel(kitti: Path) -> str:
    date = next(p.name for p in kitti.iterdir() if (p / 'calib_cam_to_cam.txt').is_file())
    return f'{date}/calib_cam_to_cam.txt'


@pytest.mark.parametrize('kind', KINDS)
def test_kitti_calibration(kind, synthetic_world, tmp_path, capsys):
    root, calib = shadow(synthetic_world.kitti, _kitti_calib_rel(synthetic_world.kitti), tmp_path)
    corrupt(calib, kind, layout=b'calib_time: 09-Jan-2012 13:57:47\nS_rect_02: 1.0\nP_rect_02: 1 2 3\n')
    argv = [str(ROOT / 'configs/demo/depth_fine_kitti.py'), '--work-dir', str(tmp_path / 'w'),
            '--cfg-options', *_loader_opts('train_dataloader', root)]
    check(f'kitti_calib/{kind}', *run_main('train', argv, capsys), calib)


@pytest.mark.parametrize('kind', KINDS)
def test_kitti_split(kind, synthetic_world, tmp_path, capsys):
    split = tmp_path / 'train_files.txt'
    shutil.copyfile(synthetic_world.kitti / 'splits/eigen_zhou/train_files.txt', split)
    corrupt(split, kind, layout=b'2011_09_26/2011_09_26_drive_0001_sync 0000000005\n')
    argv = [str(ROOT / 'configs/demo/depth_fine_kitti.py'), '--work-dir', str(tmp_path / 'w'),
            '--cfg-options', *_loader_opts('train_dataloader', synthetic_world.kitti),
            f'train_dataloader.dataset.ann_file={split}']
    check(f'kitti_split/{kind}', *run_main('train', argv, capsys), split)


# --- TuSimple label lines (tools/train.py, the coarse-depth demo config) -----------------------------------
@pytest.mark.parametrize('kind', KINDS)
def test_tusimple_labels(kind, synthetic_world, tmp_path, capsys):
    root, labels = shadow(synthetic_world.tusimple, 'label_data_0313.json', tmp_path)
    corrupt(labels, kind, layout=b'{"lanes": [[1, 2]], "h_samples": [1, 2, 3], "raw_file": "x.jpg"}\n')
    argv = [str(ROOT / 'configs/demo/depth_coarse_tusimple.py'), '--work-dir', str(tmp_path / 'w'),
            '--cfg-options', 'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            f'train_dataloader.dataset.data_root={root}/']
    check(f'tusimple/{kind}', *run_main('train', argv, capsys), labels)


# --- tools/export_backbone.py input, and an export loaded by the detector (tools/train.py) ----------------
@pytest.mark.parametrize('kind', KINDS)
def test_export_input(kind, tmp_path, capsys):
    ckpt = tmp_path / 'depth.pth'
    _tiny_checkpoint(ckpt)  # holds no encoder./decoder. key: the 'layout' case as it is
    corrupt(ckpt, kind, layout=lambda p: None)
    argv = [str(ckpt), str(tmp_path / 'bev.pth')]
    check(f'export_input/{kind}', *run_main('export_backbone', argv, capsys), ckpt)
    assert not (tmp_path / 'bev.pth').exists()


@pytest.mark.parametrize('kind', KINDS)
def test_exported_backbone_file(kind, synthetic_world, synthetic_nuscenes_infos, tmp_path, capsys):
    export = tmp_path / 'bev_backbone.pth'
    _tiny_checkpoint(export)  # the layout case: a training checkpoint, not an export (no backbone.* key)
    corrupt(export, kind, layout=lambda p: None)
    argv = [str(ROOT / 'configs/demo/bevdet_hybrid_demo.py'), '--work-dir', str(tmp_path / 'w'),
            '--cfg-options', f'model.img_backbone.checkpoint={export}']
    check(f'exported_backbone/{kind}', *run_main('train', argv, capsys), export)


# --- tools/convert_official_checkpoint.py inputs -----------------------------------------------------------
@pytest.mark.parametrize('kind', KINDS[:4])  # unknown keys: the converter's own multi-line key report
def test_official_checkpoint(kind, tmp_path, capsys):
    folder = tmp_path / 'checkpoints'
    folder.mkdir()
    encoder = folder / 'encoder.pth'
    torch.save({'w': torch.zeros(3)}, encoder)
    shutil.copyfile(encoder, folder / 'depth.pth')
    corrupt(encoder, kind)
    argv = ['--stage2', str(folder), '--out-dir', str(tmp_path / 'out')]
    check(f'official/{kind}', *run_main('convert_official_checkpoint', argv, capsys), encoder)
    assert not (tmp_path / 'out').exists()


# --- the command lines themselves (one case per tool as a subprocess) --------------------------------------
def test_subprocess_cases(synthetic_world, synthetic_nuscenes_infos, tmp_path):
    info = tmp_path / 'nuscenes_infos_val.pkl'
    shutil.copyfile(synthetic_nuscenes_infos['val'], info)
    corrupt(info, 'truncated')
    ckpt = tmp_path / 'never_read.pth'
    ckpt.write_bytes(b'x')
    check('subprocess/test.py info truncated', *run_subprocess('test', [
        str(ROOT / 'configs/demo/bevdet_hybrid_demo.py'), str(ckpt), '--work-dir', str(tmp_path / 'w'),
        '--cfg-options', *_loader_opts('test_dataloader', synthetic_world.nuscenes),
        f'test_dataloader.dataset.ann_file={info}', 'test_dataloader.dataset.metainfo.version=v1.0-mini']), info)
    tiny = tmp_path / 'tiny.pth'
    _tiny_checkpoint(tiny)
    corrupt(tiny, 'truncated')
    check('subprocess/export_backbone.py truncated', *run_subprocess('export_backbone', [
        str(tiny), str(tmp_path / 'bev.pth')]), tiny)


def test_zoo_checksum(tmp_path):
    from hybrid_depth.utils import ChecksumError, verify_sha256
    from hybrid_depth.utils.checksum import sha256sum
    path = tmp_path / 'zoo.pth'
    torch.save({'state_dict': {'w': torch.ones(4)}}, path)
    good = sha256sum(path)
    verify_sha256(path, good)
    verify_sha256(path, good[:8])
    corrupt(path, 'truncated')
    with pytest.raises(ChecksumError) as err:
        verify_sha256(path, good)
    check('zoo/truncated', 1, str(err.value), path)


def test_zz_report_count() -> None:
    print(f'\nbad-input matrix: {len(RAN)} cases ran')
    assert len(RAN) >= 45, RAN
