"""End to end through tools/train.py and tools/test.py on the synthetic nuScenes (NuScenesMetric, devkit)."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def data_root_options(root: Path, cbgs: bool = False) -> list[str]:
    """``--cfg-options`` pointing every dataloader and evaluator of a BEVDet config at ``root`` (``cbgs``: the
    training set is wrapped in ``CBGSDataset``, as in the depth-supervised configs)."""
    r = f'{root}/'
    train = 'train_dataloader.dataset.dataset' if cbgs else 'train_dataloader.dataset'
    return [f'{train}.data_root={r}', f'val_dataloader.dataset.data_root={r}',
            f'test_dataloader.dataset.data_root={r}', f'val_evaluator.data_root={r}',
            f'val_evaluator.ann_file={r}nuscenes_infos_val.pkl', f'test_evaluator.data_root={r}',
            f'test_evaluator.ann_file={r}nuscenes_infos_val.pkl',
            f'{train}.metainfo.version=v1.0-mini', 'val_dataloader.dataset.metainfo.version=v1.0-mini',
            'test_dataloader.dataset.metainfo.version=v1.0-mini']


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


@pytest.mark.slow
def test_demo_config_trains_and_tests(synthetic_world, synthetic_nuscenes_infos, tmp_path):
    work = tmp_path / 'work'
    opts = data_root_options(synthetic_world.nuscenes) + [
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
        'default_hooks.checkpoint.interval=1',
        # fixed seed: with mmengine's random default seed, some 2-iteration runs predicted no box at all and
        # nuscenes-devkit refuses an empty result set ("Invalid box type: None")
        'randomness.seed=0']
    _run([str(ROOT / 'tools' / 'train.py'), str(ROOT / 'configs' / 'demo' / 'bevdet_hybrid_demo.py'), '--work-dir',
          str(work), '--cfg-options', *opts], cwd=tmp_path)
    ckpt = work / 'epoch_1.pth'
    assert ckpt.is_file()
    proc = _run([str(ROOT / 'tools' / 'test.py'), str(ROOT / 'configs' / 'demo' / 'bevdet_hybrid_demo.py'), str(ckpt),
                 '--work-dir', str(work), '--cfg-options', *opts], cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert re.search(r'NuScenes metric/pred_instances_3d_NuScenes/mAP: \d', out), out[-3000:]
    assert re.search(r'pred_instances_3d_NuScenes/NDS: \d', out)
    assert 'car_AP_dist_2.0' in out


@pytest.mark.slow
def test_full_size_hybrid_config_one_iteration(synthetic_world, synthetic_nuscenes_infos, tmp_path):
    """configs/bevdet_hybrid.py at full size (CLIP RN50 + DINOv2 ViT-B/14, random init, 256x704, 6 cameras).

    One sample cannot be class-balanced (CBGS keeps ``int(n_class * (0.1 / share))`` samples per class, none here), so
    the training set is wrapped in a ``RepeatDataset`` of one pass instead of ``CBGSDataset``.
    """
    work = tmp_path / 'work'
    opts = data_root_options(synthetic_world.nuscenes, cbgs=True) + [
        'train_dataloader.dataset.type=RepeatDataset', 'train_dataloader.dataset.times=1',
        'model.img_backbone.encoder.clip_pretrained=None', 'model.img_backbone.encoder.dino_pretrained=None',
        'model.img_view_transformer.depth_net.prompt_bank.clip_pretrained=None',
        'train_dataloader.batch_size=1', 'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.dataset.indices=1', 'train_cfg.max_epochs=1', 'train_cfg.val_begin=2',
        'default_hooks.checkpoint.interval=100', 'default_hooks.logger.interval=1']
    start = time.perf_counter()
    proc = _run([str(ROOT / 'tools' / 'train.py'), str(ROOT / 'configs' / 'bevdet_hybrid.py'), '--work-dir', str(work),
                 '--cfg-options', *opts], cwd=tmp_path)
    elapsed = time.perf_counter() - start
    out = proc.stdout + proc.stderr
    match = re.search(r'Epoch\(train\) \[1\]\[1/1\].*?time: ([\d.]+).*?loss: ([\d.]+).*?loss_depth: ([\d.]+)', out)
    assert match, out[-3000:]
    assert float(match.group(2)) > 0 and float(match.group(3)) > 0
    print(f'full-size bevdet_hybrid: one iteration {float(match.group(1)):.1f} s, whole run {elapsed:.0f} s')


@pytest.mark.slow
def test_full_size_r50_config_one_iteration(synthetic_world, synthetic_nuscenes_infos, tmp_path):
    """configs/bevdet_r50.py at full size (ResNet-50 from scratch: no ImageNet file here, 256x704, 6 cameras),
    with its MEGVII EMA hook, through tools/train.py."""
    work = tmp_path / 'work'
    opts = data_root_options(synthetic_world.nuscenes) + [
        'model.img_backbone.init_cfg=None', 'train_dataloader.batch_size=1', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_dataloader.dataset.indices=1', 'train_cfg.max_epochs=1',
        'train_cfg.val_begin=2', 'default_hooks.checkpoint.interval=100', 'default_hooks.logger.interval=1']
    start = time.perf_counter()
    proc = _run([str(ROOT / 'tools' / 'train.py'), str(ROOT / 'configs' / 'bevdet_r50.py'), '--work-dir', str(work),
                 '--cfg-options', *opts], cwd=tmp_path)
    elapsed = time.perf_counter() - start
    out = proc.stdout + proc.stderr
    match = re.search(r'Epoch\(train\) \[1\]\[1/1\].*?time: ([\d.]+).*?loss: ([\d.]+)', out)
    assert match and float(match.group(2)) > 0, out[-3000:]
    assert 'loss_depth: ' not in out  # BEVDet: no depth loss, no LiDAR loaded
    print(f'full-size bevdet_r50: one iteration {float(match.group(1)):.1f} s, whole run {elapsed:.0f} s')
