"""Seeds everywhere: every demo config fixes `randomness.seed`, every benchmark takes seeds and sets it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIGS = sorted((ROOT / 'configs' / 'demo').glob('*.py'))
TRAINING_BENCHMARKS = ['hybrid_depth_ablation.py', 'detection_sanity.py', 'paper_tables.py']


@pytest.mark.parametrize('path', DEMO_CONFIGS, ids=lambda p: p.name)
def test_every_demo_config_fixes_the_seed(path):
    cfg = Config.fromfile(str(path))
    assert isinstance(cfg.get('randomness', {}).get('seed'), int), f'{path.name}: no randomness.seed'


@pytest.mark.parametrize('name', TRAINING_BENCHMARKS)
def test_training_benchmarks_take_seeds_and_set_randomness(name):
    source = (ROOT / 'benchmarks' / name).read_text()
    tree = ast.parse(source)
    flags = {a.value for node in ast.walk(tree) if isinstance(node, ast.Call)
             for a in node.args if isinstance(a, ast.Constant) and a.value == '--seeds'}
    assert flags == {'--seeds'}, f'{name}: no --seeds flag'
    assert "'randomness'" in source, f'{name}: never sets randomness'


def test_demo_passes_its_seed_to_every_training_stage():
    import sys
    sys.path.insert(0, str(ROOT / 'tools'))
    import argparse

    import demo
    args = argparse.Namespace(work_dir=Path('/nonexistent'), seed=7, preset='small')
    for stage in demo.build_stages():
        if stage.name in ('depth_coarse',) or stage.name in ('bevdet', 'fbbev'):
            cmd = stage.command(args)
            assert 'randomness.seed=7' in cmd, stage.name
