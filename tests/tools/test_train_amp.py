"""``tools/train.py --amp`` on CPU (bf16 autocast) trains both demo detectors like fp32.

Two iterations of configs/demo/bevdet_hybrid_demo.py and configs/demo/fbbev_hybrid_demo.py on the tiny synthetic
world, seed 0, once in fp32 and once with ``--amp``: every logged loss is finite and within 3 % of the fp32 run
(measured: 0.1-0.5 %; before the fp32 regions (head losses, camera geometry) the heatmap loss was 10-40 % off).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RTOL = 0.03


def _options(root: Path) -> list[str]:
    r = f'{root}/'
    return [f'train_dataloader.dataset.data_root={r}', f'val_dataloader.dataset.data_root={r}',
            f'test_dataloader.dataset.data_root={r}', f'val_evaluator.data_root={r}',
            f'val_evaluator.ann_file={r}nuscenes_infos_val.pkl', f'test_evaluator.data_root={r}',
            f'test_evaluator.ann_file={r}nuscenes_infos_val.pkl', 'train_dataloader.dataset.metainfo.version=v1.0-mini',
            'train_cfg.max_epochs=1', 'train_cfg.val_begin=2', 'train_dataloader.dataset.indices=4',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False', 'custom_hooks=[]',
            'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=100', 'randomness.seed=0']


def _train(config: str, work: Path, root: Path, amp: bool) -> list[dict]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = [sys.executable, 'tools/train.py', config, '--work-dir', str(work), '--cfg-options', *_options(root)]
    proc = subprocess.run(args + (['--amp'] if amp else []), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = next(work.glob('*/vis_data/scalars.json')).read_text().splitlines()
    return [rec for rec in map(json.loads, lines) if 'loss' in rec]


@pytest.mark.slow
@pytest.mark.parametrize('config', ['configs/demo/bevdet_hybrid_demo.py', 'configs/demo/fbbev_hybrid_demo.py'])
def test_amp_bf16_on_cpu_trains_like_fp32(config, synthetic_world, synthetic_nuscenes_infos, tmp_path):
    fp32 = _train(config, tmp_path / 'fp32', synthetic_world.nuscenes, amp=False)
    amp = _train(config, tmp_path / 'amp', synthetic_world.nuscenes, amp=True)
    dumped = next((tmp_path / 'amp').glob('*/vis_data/config.py')).read_text()
    assert "type='HybridDepthAmpOptimWrapper'" in dumped
    assert [r['iter'] for r in fp32] == [r['iter'] for r in amp] == [1, 2]
    for a, b in zip(fp32, amp):
        for key in (k for k in a if 'loss' in k):
            assert math.isfinite(b[key]), (key, b)
            assert b[key] == pytest.approx(a[key], rel=RTOL), (key, a['iter'], a[key], b[key])
    # the step moves the loss the same way in both precisions
    assert (amp[1]['loss'] - amp[0]['loss']) * (fp32[1]['loss'] - fp32[0]['loss']) > 0
