"""A real tiny training run whose loss turns non-finite: it stops there, naming iteration and term, and the last
checkpoint resumes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from hybrid_depth.engine.runner import trusted_checkpoint_loading

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'tests/fixtures/configs/tiny_regression.py'
DIVERGE = ROOT / 'tests/fixtures/configs/tiny_regression_diverge.py'


def train(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, 'tools/train.py', str(config), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_first_nonfinite_loss_stops_training_and_last_checkpoint_resumes(tmp_path: Path) -> None:
    res = train(DIVERGE, '--work-dir', str(tmp_path))
    last = res.stderr.strip().splitlines()[-1]
    assert res.returncode == 1, res.stderr[-3000:]
    assert last.startswith('error: training diverged: iteration 6 ') and 'loss_mse = ' in last, last
    assert (tmp_path / 'iter_4.pth').is_file() and not (tmp_path / 'iter_8.pth').exists()
    with trusted_checkpoint_loading():
        good = torch.load(tmp_path / 'iter_4.pth', map_location='cpu')
    assert all(torch.isfinite(v).all() for v in good['state_dict'].values())
    # the last good checkpoint resumes (input scaling gone) and the run completes
    res = train(CONFIG, '--work-dir', str(tmp_path), '--resume')
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'iter_4.pth' in res.stdout + res.stderr and (tmp_path / 'iter_8.pth').is_file()


def test_option_keeps_mmengine_behaviour(tmp_path: Path) -> None:
    res = train(DIVERGE, '--work-dir', str(tmp_path), '--cfg-options', 'default_hooks.nonfinite_loss.enabled=False')
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / 'iter_8.pth').is_file()  # mmengine trains on through the NaN
