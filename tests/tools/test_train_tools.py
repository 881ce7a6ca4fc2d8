"""tools/train.py, tools/test.py and the launch scripts, end to end on a tiny registered model (CPU)."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hybrid_depth.engine.runner import trusted_checkpoint_loading

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'tests/fixtures/configs/tiny_regression.py'


def run_tool(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def load_ckpt(path: Path) -> dict:
    with trusted_checkpoint_loading():
        return torch.load(path, map_location='cpu')


def scalars(work_dir: Path) -> dict[int, dict]:
    """Per-iteration logged scalars from mmengine's ``vis_data/scalars.json`` (last run wins)."""
    out = {}
    for f in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            if 'lr' in rec:
                out[rec['iter']] = rec
    return out


@pytest.fixture(scope='module')
def straight_run(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp('straight')
    res = run_tool('tools/train.py', str(CONFIG), '--work-dir', str(work))
    assert res.returncode == 0, res.stderr[-3000:]
    return work


def test_resume_continues_iteration_optimizer_and_schedule(straight_run: Path, tmp_path: Path) -> None:
    # The same config crashes right after iteration 4 (checkpoint iter_4.pth written) ...
    res = run_tool('tools/train.py', str(CONFIG.with_name('tiny_regression_crash.py')),
                   '--work-dir', str(tmp_path))
    assert res.returncode != 0 and 'simulated crash after iteration 4' in res.stderr
    assert (tmp_path / 'iter_4.pth').is_file() and not (tmp_path / 'iter_8.pth').exists()
    # ... then resume with --resume (auto: latest checkpoint in the work dir) up to 8.
    res = run_tool('tools/train.py', str(CONFIG), '--work-dir', str(tmp_path), '--resume')
    assert res.returncode == 0, res.stderr[-3000:]
    log = res.stdout + res.stderr
    assert 'resumed' in log.lower() and 'iter_4.pth' in log

    a = load_ckpt(straight_run / 'iter_8.pth')
    b = load_ckpt(tmp_path / 'iter_8.pth')
    assert b['meta']['iter'] == 8
    # Same weights as an uninterrupted run: iteration counter, data order and optimizer momentum all resumed.
    for k, v in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][k], v)
    mom_a = [s['momentum_buffer'] for s in a['optimizer']['state'].values()]
    mom_b = [s['momentum_buffer'] for s in b['optimizer']['state'].values()]
    assert len(mom_a) == len(mom_b) == 2
    for x, y in zip(mom_a, mom_b):
        torch.testing.assert_close(x, y)
    for sa, sb in zip(a['param_schedulers'], b['param_schedulers']):
        assert (sa['last_step'], sa['_global_step'], sa['_last_value']) == \
            (sb['last_step'], sb['_global_step'], sb['_last_value'])
    # The logged LR of iterations 5..8 continues the schedule (milestone 6 halves it from the 7th on).
    lr_a, lr_b = scalars(straight_run), scalars(tmp_path)
    assert [lr_b[i]['lr'] for i in range(5, 9)] == pytest.approx([lr_a[i]['lr'] for i in range(5, 9)])
    assert lr_b[7]['lr'] == pytest.approx(lr_b[6]['lr'] * 0.5)


def test_stock_torch_load_refuses_mmengine_checkpoint_but_ours_accepts(straight_run: Path) -> None:
    """The upstream bug the runner fixes: weights_only=True (torch>=2.6 default) refuses HistoryBuffer."""
    with pytest.raises(Exception, match='(?i)weights.only|unsupported global'):
        torch.load(straight_run / 'iter_8.pth', map_location='cpu')
    ckpt = load_ckpt(straight_run / 'iter_8.pth')  # still weights_only: only mmengine's own types added
    assert 'log_scalars' in ckpt['message_hub']


def test_test_tool_reports_metric(straight_run: Path, tmp_path: Path) -> None:
    res = run_tool('tools/test.py', str(CONFIG), str(straight_run / 'iter_8.pth'), '--work-dir', str(tmp_path))
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'tiny/mse' in res.stdout + res.stderr


@pytest.mark.slow
def test_dist_train_two_gloo_processes(tmp_path: Path) -> None:
    # no PORT: one node, the launcher binds a free port itself (tools/dist_train.sh), so a port held by
    # someone else (here torchrun's default, 29500) cannot get in the way
    env = {k: v for k, v in os.environ.items() if k not in ('PORT', 'NNODES')}
    env.update(PYTHON=sys.executable, OMP_NUM_THREADS='1')
    with socket.socket() as default_port:
        with contextlib.suppress(OSError):  # already taken by another program: the same condition
            default_port.bind(('127.0.0.1', 29500))
            default_port.listen()
        res = subprocess.run(['bash', 'tools/dist_train.sh', str(CONFIG), '2', '--work-dir', str(tmp_path)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-3000:])
    assert (tmp_path / 'iter_8.pth').is_file()
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'Distributed launcher: pytorch' in log and 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size


def test_train_missing_config_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / 'no_such_config.py'
    res = run_tool('tools/train.py', str(missing))
    assert res.returncode != 0
    assert str(missing) in res.stderr
    assert 'Traceback' not in res.stderr


def test_train_misspelt_cfg_option_names_the_key(tmp_path: Path) -> None:
    res = run_tool('tools/train.py', str(CONFIG), '--work-dir', str(tmp_path),
                   '--cfg-options', 'train_dataloader.batch_sise=2')
    assert res.returncode != 0
    assert 'train_dataloader.batch_sise' in res.stderr
    assert "did you mean 'train_dataloader.batch_size'" in res.stderr
    assert not list(tmp_path.glob('*.pth'))


def test_analyze_logs_plots_curves_of_a_run(straight_run: Path, tmp_path: Path) -> None:
    out = tmp_path / 'curves.png'
    res = run_tool('tools/analyze_logs.py', 'plot_curve', str(straight_run), '--keys', 'loss', 'lr',
                   '--out', str(out))
    assert res.returncode == 0, res.stderr
    from PIL import Image
    img = Image.open(out)
    assert img.size == (800, 600)  # two 8x3 inch subplots at 100 dpi
    res = run_tool('tools/analyze_logs.py', 'plot_curve', str(straight_run), '--keys', 'los', '--out', str(out))
    assert res.returncode == 2 and "key 'los'" in res.stderr
    res = run_tool('tools/analyze_logs.py', 'cal_train_time', str(straight_run))
    assert res.returncode == 0 and '8 iterations' in res.stdout


def test_benchmark_tool_reports_latency_fps_memory(straight_run: Path) -> None:
    res = run_tool('tools/benchmark.py', str(CONFIG), str(straight_run / 'iter_8.pth'), '--samples', '3',
                   '--warmup', '1')
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout
    assert 'timed batches: 3 after 1 warm-up' in out
    for field in ('latency: mean', 'FPS:', 'peak memory:'):
        assert field in out
    res = run_tool('tools/benchmark.py', str(CONFIG), 'missing.pth')
    assert res.returncode == 2 and 'missing.pth' in res.stderr
