"""tools/export_backbone.py: depth checkpoint -> detector weights (backbone.* / depth_branch.*); unmapped listed."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from hybrid_depth.engine.runner import trusted_checkpoint_loading

ROOT = Path(__file__).resolve().parents[2]


def run_export(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, 'tools/export_backbone.py', *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def fine_checkpoint(path: Path, extra: dict | None = None) -> dict:
    """A fine-stage checkpoint of the demo model (mmengine layout: state_dict + meta with the config)."""
    import hybrid_depth.models.estimators  # noqa: F401
    init_default_scope('mmdet3d')
    from mmdet3d.registry import MODELS
    cfg = Config.fromfile(ROOT / 'configs/demo/depth_fine_kitti.py')
    torch.manual_seed(0)
    state = MODELS.build(cfg.model).state_dict()
    state.update(extra or {})
    torch.save({'state_dict': state, 'meta': {'epoch': 3, 'iter': 30, 'cfg': cfg.pretty_text}}, path)
    return state


def load(path: Path) -> dict:
    with trusted_checkpoint_loading():
        return torch.load(path, map_location='cpu')


def test_export_maps_encoder_and_depth_branch(tmp_path: Path) -> None:
    state = fine_checkpoint(tmp_path / 'fine.pth')
    res = run_export(str(tmp_path / 'fine.pth'), str(tmp_path / 'out' / 'bev.pth'))
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'unmapped: 0 keys' in res.stdout
    out = load(tmp_path / 'out' / 'bev.pth')
    sd = out['state_dict']
    for key, value in state.items():
        if key.startswith('encoder.'):
            torch.testing.assert_close(sd['backbone.' + key[len('encoder.'):]], value)
        elif key.startswith(('prompt_bank.', 'decoder.')):
            torch.testing.assert_close(sd['depth_branch.' + key], value)
        else:
            assert key.startswith('pose_net.') and key in out['meta']['dropped']
    assert not any(k.startswith('pose_net') for k in sd)
    meta = out['meta']
    assert meta['source_meta'] == {'epoch': 3, 'iter': 30} and meta['unmapped'] == []
    assert meta['encoder']['type'] == 'HybridEncoder' and meta['decoder']['in_channels'] == 64 + 16
    assert not list((tmp_path / 'out').glob('.*tmp'))  # atomic write: no temporary file left behind


def test_export_rebuilds_the_image_branch_from_its_meta(tmp_path: Path) -> None:
    """The detector side's contract: plain ``weights_only`` loading, modules built from ``meta`` take the weights."""
    import hybrid_depth.models  # noqa: F401
    init_default_scope('mmdet3d')
    from mmdet3d.registry import MODELS
    fine_checkpoint(tmp_path / 'fine.pth')
    assert run_export(str(tmp_path / 'fine.pth'), str(tmp_path / 'bev.pth')).returncode == 0
    out = torch.load(tmp_path / 'bev.pth', map_location='cpu', weights_only=True)
    sd, meta = out['state_dict'], out['meta']
    for name, prefix in (('encoder', 'backbone.'), ('prompt_bank', 'depth_branch.prompt_bank.'),
                         ('decoder', 'depth_branch.decoder.')):
        module = MODELS.build(meta[name])
        module.load_state_dict({k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}, strict=True)


def test_unmapped_keys_are_listed_and_strict_refuses(tmp_path: Path) -> None:
    fine_checkpoint(tmp_path / 'fine.pth', extra={'ema.step': torch.tensor(3), 'head.w': torch.ones(2)})
    res = run_export(str(tmp_path / 'fine.pth'), str(tmp_path / 'bev.pth'))
    assert res.returncode == 0
    assert 'unmapped: 2 keys' in res.stdout and 'ema.step' in res.stdout and 'head.w' in res.stdout
    assert load(tmp_path / 'bev.pth')['meta']['unmapped'] == ['ema.step', 'head.w']
    res = run_export(str(tmp_path / 'fine.pth'), str(tmp_path / 'strict.pth'), '--strict')
    assert res.returncode == 1 and 'unmapped' in res.stderr and not (tmp_path / 'strict.pth').exists()


def test_custom_mapping_and_bad_input(tmp_path: Path) -> None:
    fine_checkpoint(tmp_path / 'fine.pth')
    res = run_export(str(tmp_path / 'fine.pth'), str(tmp_path / 'bev.pth'), '--map', 'encoder.=img_backbone.',
                     '--drop', 'pose_net.', 'prompt_bank.', 'decoder.')
    assert res.returncode == 0, res.stderr[-2000:]
    assert all(k.startswith('img_backbone.') for k in load(tmp_path / 'bev.pth')['state_dict'])
    res = run_export(str(tmp_path / 'missing.pth'), str(tmp_path / 'x.pth'))
    assert res.returncode == 2 and 'missing.pth' in res.stderr
    res = run_export(str(tmp_path / 'fine.pth'), str(tmp_path / 'x.pth'), '--map', 'encoder')
    assert res.returncode == 2 and 'OLD=NEW' in res.stderr
