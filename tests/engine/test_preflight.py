"""Start-up checks: a GPU torch cannot use, NCCL without CUDA, missing CLIP weights: one line, before training.

``nvidia-smi`` cannot run on this CPU machine, so a GPU is made visible with an executable named nvidia-smi on
PATH that prints what the real one prints for ``-L``; torch really sees no GPU here.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.logging import MMLogger

from hybrid_depth.engine import preflight

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / 'tests/fixtures/configs/tiny_regression.py'
GPU_LINE = 'GPU 0: NVIDIA H200 (UUID: GPU-00000000-0000-0000-0000-000000000000)'
pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason='checks what happens when torch sees no GPU')


@pytest.fixture
def visible_gpu(tmp_path, monkeypatch) -> dict[str, str]:
    """PATH with an nvidia-smi listing one GPU, CUDA_VISIBLE_DEVICES unset; returns the environment."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    exe = bin_dir / 'nvidia-smi'
    exe.write_text(f'#!/bin/sh\n[ "$1" = "-L" ] && echo "{GPU_LINE}"\nexit 0\n')
    exe.chmod(0o755)
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')
    monkeypatch.delenv('CUDA_VISIBLE_DEVICES', raising=False)
    return dict(os.environ)


def _train(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = dict(env, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, 'tools/train.py', *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_visible_gpu_that_torch_cannot_use_stops_train_in_one_line(visible_gpu, tmp_path):
    res = _train(visible_gpu, str(TINY), '--work-dir', str(tmp_path / 'work'))
    assert res.returncode == 2
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and 'Traceback' not in res.stderr, res.stderr[-2000:]
    assert '1 NVIDIA GPU(s) visible (GPU 0: NVIDIA H200' in err[0] and "CUDA_VISIBLE_DEVICES=''" in err[0]
    assert not list((tmp_path / 'work').glob('**/*.pth'))  # nothing trained


def test_gpus_hidden_on_purpose_skip_the_check(visible_gpu, monkeypatch):
    assert preflight.visible_nvidia_gpus() == [GPU_LINE]
    with pytest.raises(preflight.PreflightError, match='NVIDIA GPU'):
        preflight.check_gpu_usable()
    for value in ('', '-1'):
        monkeypatch.setenv('CUDA_VISIBLE_DEVICES', value)
        preflight.check_gpu_usable()  # deliberate CPU run: no error


def test_nccl_without_cuda(visible_gpu, monkeypatch, tmp_path):
    nccl = dict(dist_cfg=dict(backend='nccl'))
    with pytest.raises(preflight.PreflightError, match="--launcher pytorch with env_cfg.dist_cfg.backend='nccl' needs"):
        preflight.check_dist_backend('pytorch', nccl)
    preflight.check_dist_backend('none', nccl)  # not distributed
    preflight.check_dist_backend('pytorch', dict(dist_cfg=dict(backend='gloo')))
    # no NVIDIA GPU on the machine at all: the runner's CPU mode (gloo), said in one warning line
    monkeypatch.setenv('PATH', '/nonexistent')
    log = tmp_path / 'nccl.log'
    MMLogger.get_instance('preflight_nccl', log_file=str(log), log_level='INFO')
    preflight.check_dist_backend('slurm', nccl)
    assert 'the processes train on the CPU with gloo' in log.read_text()


def test_missing_clip_weight_file_is_one_line_before_training(tmp_path):
    missing = tmp_path / 'no_such' / 'clip_rn50.pt'
    res = _train(dict(os.environ), 'configs/bevdet_hybrid.py', '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                 f'model.img_backbone.encoder.clip_pretrained={missing}',
                 'model.img_backbone.encoder.dino_pretrained=None',
                 'model.img_view_transformer.depth_net.prompt_bank.clip_pretrained=None')
    assert res.returncode == 2
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and 'Traceback' not in res.stderr, res.stderr[-2000:]
    assert 'weights not found' in err[0] and str(missing) in err[0]
