"""tools/gpu_check.sh with DEV=cpu (reduced sizes: demo configs, batch 1, 2 iterations, one gloo process)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_cpu_prints_a_passing_table(synthetic_world, synthetic_nuscenes_infos, tmp_path):
    env = dict(os.environ, DEV='cpu', WORLD=str(synthetic_world.nuscenes), WORK=str(tmp_path), PYTHON=sys.executable,
               OMP_NUM_THREADS='2')
    res = subprocess.run(['bash', 'tools/gpu_check.sh'], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    out = res.stdout
    assert res.returncode == 0, (out[-3000:], res.stderr[-3000:])
    assert 'fp64 reference checks (a): bev_pool pass, backward projection pass' in out
    rows = [line.split() for line in out.splitlines() if line.startswith(('bevdet_hybrid_demo', 'fbbev_hybrid_demo'))]
    assert [(r[0], r[1]) for r in rows] == [('bevdet_hybrid_demo', 'fp32'), ('bevdet_hybrid_demo', 'bf16'),
                                            ('fbbev_hybrid_demo', 'fp32'), ('fbbev_hybrid_demo', 'bf16')]
    for r in rows:  # config precision samples/s <mem> GiB RSS train test checks
        assert float(r[2]) > 0 and r[3:6] == [r[3], 'GiB', 'RSS'] and float(r[3]) > 0
        assert r[6] == 'pass' and r[7] == ('pass' if r[1] == 'fp32' else '-') and r[8] == 'pass'
    assert re.search(r'gpu_check: PASS in \d+ s', out)
