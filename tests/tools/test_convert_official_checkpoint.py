"""tools/convert_official_checkpoint.py: the authors' Stage-1 / Stage-2 files -> our checkpoints and the BEV export.

The official-layout inputs are made from a seeded model by our own inverse mapping; the demo configs (tiny towers)
stand in for the real ones so that the test is fast (the full-size mapping is checked against the official key
manifest in tests/models/test_official_equivalence.py).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from hybrid_depth.models.official_checkpoint import official_stage1_from_ours, official_stage2_from_ours

pytestmark = pytest.mark.slow  # three tool runs in fresh interpreters (~1 min idle, 3 min on a loaded CPU)

ROOT = Path(__file__).resolve().parents[2]
COARSE = 'configs/demo/depth_coarse_tusimple.py'
FINE = None  # set by the fixture below: the fine demo with the official head (the demo itself uses the sigmoid option)


@pytest.fixture(autouse=True)
def fine_config(tmp_path_factory: pytest.TempPathFactory) -> None:
    global FINE
    path = tmp_path_factory.getbasetemp() / 'fine_official_head.py'
    path.write_text(f"_base_ = ['{ROOT / 'configs/demo/depth_fine_kitti.py'}']\n"
                    "model = dict(decoder=dict(head='official', num_scales=1))\n")
    FINE = str(path)


def _model(config: str):
    from mmdet3d.registry import MODELS

    import hybrid_depth.models  # noqa: F401
    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    return MODELS.build(Config.fromfile(Path(ROOT, config)).model)


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, 'tools/convert_official_checkpoint.py', *args, '--fine-config', FINE,
                           '--coarse-config', COARSE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_convert_stage2_and_stage1(tmp_path: Path) -> None:
    fine = _model(FINE)
    files = official_stage2_from_ours(fine.state_dict())
    folder = tmp_path / 'checkpoints'
    folder.mkdir()
    for name, sd in files.items():
        extra = {'height': 64, 'width': 192, 'use_stereo': False} if name == 'encoder' else {}
        torch.save({**sd, **extra}, folder / f'{name}.pth')  # Monodepth2 layout (+ its non-tensor entries)
    coarse = _model(COARSE)
    stage1 = official_stage1_from_ours(coarse.state_dict())
    stage1['model.depth_head.projects.0.weight'] = torch.zeros(2, 2)  # Stage 1's unused DPT head: dropped
    torch.save({'state_dict': stage1, 'epoch': 19, 'hyper_parameters': {'lr': 3.57e-4}}, tmp_path / 'stage1.ckpt')
    out = tmp_path / 'out'
    proc = _run('--stage2', str(folder), '--stage1', str(tmp_path / 'stage1.ckpt'), '--out-dir', str(out))
    assert proc.returncode == 0, proc.stderr
    ours = torch.load(out / 'hybrid_depth_fine_official.pth', weights_only=True)
    assert set(ours['state_dict']) == set(fine.state_dict())
    assert all(torch.equal(v, fine.state_dict()[k]) for k, v in ours['state_dict'].items())
    bev = torch.load(out / 'hybrid_depth_bev_official.pth', weights_only=True)['state_dict']
    assert torch.equal(bev['backbone.dino.model.pos_embed'], fine.state_dict()['encoder.dino.model.pos_embed'])
    assert torch.equal(bev['depth_branch.prompt_bank.depth_tokens'], fine.state_dict()['prompt_bank.depth_tokens'])
    assert not any(k.startswith('pose_net') for k in bev)
    got = torch.load(out / 'hybrid_depth_coarse_official.pth', weights_only=True)['state_dict']
    assert set(got) == set(coarse.state_dict()) and all(torch.equal(v, coarse.state_dict()[k]) for k, v in got.items())
    reloaded = _model(FINE)
    reloaded.load_state_dict(ours['state_dict'], strict=True)


def test_unknown_or_missing_keys_write_nothing(tmp_path: Path) -> None:
    files = official_stage2_from_ours(_model(FINE).state_dict())
    files['depth'].pop('depth_head.scratch.output_conv1.weight')
    files['encoder']['clip.mystery'] = torch.zeros(1)
    folder = tmp_path / 'checkpoints'
    folder.mkdir()
    for name, sd in files.items():
        torch.save(sd, folder / f'{name}.pth')
    out = tmp_path / 'out'
    proc = _run('--stage2', str(folder), '--out-dir', str(out))
    assert proc.returncode == 1
    assert 'encoder.pth: clip.mystery' in proc.stderr and 'decoder.heads.0.conv1.weight' in proc.stderr
    assert not out.exists() or not any(out.iterdir())
    proc = _run('--stage2', str(tmp_path / 'nowhere'), '--out-dir', str(out))
    assert proc.returncode == 1 and 'not found' in proc.stderr
