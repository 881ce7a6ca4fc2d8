"""benchmarks/backbone_latency.py runs end to end (tiny preset, small input) and prints its ratio table."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_backbone_latency_ablation_runs_and_prints_ratios():
    cmd = [sys.executable, str(ROOT / 'benchmarks/backbone_latency.py'), '--preset', 'tiny', '--size', '64x176',
           '--batch', '2', '--iters', '1', '--warmup', '0', '--ablation']
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.splitlines()
    rows = {name: next((line for line in lines if line.startswith(name)), None)
            for name in ('ResNet-50 (bevdet_r50)', 'hybrid, naive (before)', '+ one preprocessing pass',
                         '+ channels-last CLIP', '+ bf16 autocast (auto)', 'final w/o fused SDPA',
                         'ResNet-50, ch-last + auto')}
    assert all(rows.values()), res.stdout
    ratio = re.compile(r'\d+\.\d\dx')
    for line in rows.values():
        assert len(ratio.findall(line)) == 2, line  # latency and memory, each as a ratio to ResNet-50
    assert rows['ResNet-50 (bevdet_r50)'].count('1.00x') == 2
    # fp32 rows reproduce the naive outputs: relative errors of the 4 levels are printed
    assert len(re.findall(r'\d\.\de[-+]\d\d', rows['+ channels-last CLIP'])) == 4
