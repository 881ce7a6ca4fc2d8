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
