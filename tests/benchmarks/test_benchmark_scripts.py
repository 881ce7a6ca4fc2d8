"""The benchmark scripts run end to end and print their ratio tables (no timing is asserted)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                          capture_output=True, text=True, timeout=900)


def test_bev_pool_benchmark_runs():
    res = _run('benchmarks/bev_pool.py', '--iters', '2', '--methods', 'fast')
    assert res.returncode == 0, res.stderr[-3000:]
    rows = {m.group(1).strip(): m for m in re.finditer(r'^(fast|cumsum)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+'
                                                        r'([\d.]+)x\s+([\d.]+)x$', res.stdout, flags=re.M)}
    assert set(rows) == {'fast', 'cumsum'}, res.stdout
    assert float(rows['cumsum'].group(5)) == 1.0 and float(rows['fast'].group(5)) > 0
    res = _run('benchmarks/bev_pool.py', '--methods', 'fastest')
    assert res.returncode == 2 and "unknown method(s) ['fastest']" in res.stderr


def test_depth_train_step_benchmark_runs():
    res = _run('benchmarks/depth_train_step.py', '--tiny', '--steps', '1', '--height', '64', '--width', '192',
               '--batch', '1')
    assert res.returncode == 0, res.stderr[-3000:]
    assert re.search(r'ratio fine_tiny / monodepth2: time x[\d.]+, peak memory x[\d.]+', res.stdout), res.stdout


def test_detector_step_benchmark_runs(synthetic_world, synthetic_nuscenes_infos):
    """Both variants train on the tiny world through mmengine's Runner and the ratio line is printed."""
    import json
    root = f'{synthetic_world.nuscenes}/'
    options = {'train_dataloader.dataset.data_root': root, 'train_dataloader.num_workers': 0,
               'train_dataloader.persistent_workers': False, 'train_dataloader.batch_size': 1}
    res = _run('benchmarks/detector_step.py', '--iters', '1', '--warmup', '1', '--cfg-options', json.dumps(options))
    assert res.returncode == 0, res.stderr[-3000:]
    times = dict(re.findall(r'^\s+(before|after): ([\d.]+) s/it', res.stdout, flags=re.M))
    assert set(times) == {'before', 'after'} and all(float(t) > 0 for t in times.values()), res.stdout
    assert re.search(r'ratio before / after: [\d.]+x time, [\d.]+x memory', res.stdout), res.stdout


def test_omp_wait_policy_benchmark_runs():
    res = _run('benchmarks/omp_wait_policy.py', '--hogs', '0', '1', '--repeats', '1', '--steps', '1', '--layers', '1',
               '--channels', '4', '--size', '8')
    assert res.returncode == 0, res.stderr[-3000:]
    rows = re.findall(r'^\| (\d) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)x \|$', res.stdout, flags=re.M)
    assert [r[0] for r in rows] == ['0', '1'], res.stdout


def test_onnx_latency_benchmark_runs():
    res = _run('benchmarks/onnx_latency.py', '--iters', '1', '--warmup', '0', '--threads', '1')
    assert res.returncode == 0, res.stderr[-3000:]
    rows = dict(re.findall(r'^(pytorch|onnxruntime)\s+([\d.]+)\s+[\d.]+\s+[\d.]+x$', res.stdout, flags=re.M))
    assert set(rows) == {'pytorch', 'onnxruntime'} and all(float(v) > 0 for v in rows.values()), res.stdout
    assert re.search(r'ratio pytorch / onnxruntime: [\d.]+x \(max abs diff of the outputs [\d.e+-]+\)', res.stdout)
