"""The FB-BEV configs: leaves differ from their bases only where they must; the demos compare with BEVDet's."""
from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[3]


def _cfg(name: str) -> Config:
    return Config.fromfile(str(ROOT / 'configs' / name))


@pytest.mark.parametrize('fbbev, bevdet', [('fbbev_hybrid.py', 'bevdet_hybrid.py'),
                                           ('demo/fbbev_hybrid_demo.py', 'demo/bevdet_hybrid_demo.py')])
def test_fbbev_is_bevdet_plus_the_fb_bev_parts(fbbev, bevdet):
    """Same data, schedule, evaluation data and every shared model part; FB-BEV adds only its own modules."""
    a, b = _cfg(fbbev), _cfg(bevdet)
    model_a, model_b = a.model.to_dict(), b.model.to_dict()
    assert model_a.pop('type') == 'FBBEV' and model_b.pop('type') == 'BEVDet'
    assert {model_a.pop(k)['type'] for k in ('backward_projection', 'frpn')} == {
        'DepthAwareBackwardProjection', 'ForegroundRegionProposalNet'}
    assert model_a == model_b
    for key in ('train_dataloader', 'val_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert a[key] == b[key], key
    eval_a, eval_b = a.val_evaluator.to_dict(), b.val_evaluator.to_dict()
    assert eval_a.pop('type') == 'FBBEVNuScenesMetric' and eval_b.pop('type') == 'BEVDetNuScenesMetric'
    assert eval_a == eval_b


def test_full_r50_keeps_published_settings_and_uses_the_camera_aware_depth_net():
    cfg = _cfg('fbbev_r50.py')
    vt = cfg.model.img_view_transformer
    assert vt.grid_config['x'] == (-51.2, 51.2, 0.8) and tuple(vt.input_size) == (256, 704)
    assert vt.depth_net.type == 'BEVDepthCameraAwareDepthNet' and vt.loss_depth_weight == 3.0
    assert cfg.model.frpn.threshold == 0.4 and cfg.model.frpn.pos_weight == 2.13
    assert cfg.train_cfg.max_epochs == 24 and cfg.train_dataloader.batch_size == 8
