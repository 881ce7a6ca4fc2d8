"""benchmarks/hybrid_depth_ablation.py: one real (tiny) train + test run per stage, and the mean +- sd table."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'benchmarks/hybrid_depth_ablation.py'


def _module():
    spec = importlib.util.spec_from_file_location('hybrid_depth_ablation', SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_table_is_mean_and_sample_sd_per_variant() -> None:
    mod = _module()
    rows = [{'stage': 'coarse', 'variant': 'official', 'seed': s, 'metrics': {'ordering/pair_acc': v}}
            for s, v in enumerate((0.9, 1.0, 0.95))]
    rows.append({'stage': 'coarse', 'variant': 'bf16', 'seed': 0, 'metrics': {'ordering/pair_acc': 0.5}})
    table = mod.table(rows, 'coarse')
    assert '| official | 0,1,2 | 0.9500 +- 0.0500 |' in table
    assert '| bf16 | 0 | 0.5000 +- nan |' in table
    assert table.index('official') < table.index('bf16')  # rows in the variant order


@pytest.mark.slow
def test_ablation_one_run_and_report(synthetic_world, tmp_path: Path) -> None:
    """One coarse run (2 epochs) end to end: train, test, a JSON line, the table; then --report reprints it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    out = tmp_path / 'results.jsonl'
    proc = subprocess.run([sys.executable, str(SCRIPT), '--stage', 'coarse', '--data-root', str(synthetic_world.root),
                           '--seeds', '0', '--epochs', '2', '--variants', 'official', '--out', str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads(out.read_text().splitlines()[0])
    assert row['variant'] == 'official' and 0.0 <= row['metrics']['ordering/pair_acc'] <= 1.0
    assert '| official | 0 |' in proc.stdout
    again = subprocess.run([sys.executable, str(SCRIPT), '--report', str(out)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert '| official | 0 |' in again.stdout
    bad = subprocess.run([sys.executable, str(SCRIPT), '--stage', 'fine', '--variants', 'learned_projection'],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and 'unknown fine variants' in bad.stderr
