"""The BEVDet configs keep the published settings and build (demo vs real: tests/configs/test_detector_demo_configs)."""
from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[3]


def _cfg(name: str) -> Config:
    return Config.fromfile(str(ROOT / 'configs' / name))


@pytest.mark.parametrize('name, depth_step, channels', [('bevdet_r50.py', 1.0, 64), ('bevdet_hybrid.py', 0.5, 80)])
def test_full_configs_keep_published_settings(name, depth_step, channels):
    """bevdet-r50.py, and the official depth configs' bins and channels for the depth-supervised hybrid."""
    cfg = _cfg(name)
    vt = cfg.model.img_view_transformer
    assert vt.grid_config['x'] == (-51.2, 51.2, 0.8) and vt.grid_config['depth'] == (1.0, 60.0, depth_step)
    assert tuple(vt.input_size) == (256, 704) and vt.out_channels == channels
    assert cfg.optim_wrapper.optimizer.lr == 2e-4 and cfg.train_cfg.max_epochs == 24
    assert cfg.train_dataloader.batch_size == 8


def test_demo_model_builds_and_runs_on_cpu():
    import torch
    from mmdet3d.registry import MODELS
    from mmengine.registry import init_default_scope

    import hybrid_depth.models.backbones  # noqa: F401
    import hybrid_depth.models.depth_branch  # noqa: F401
    import projects.BEVDet.bevdet  # noqa: F401
    init_default_scope('mmdet3d')
    model = MODELS.build(_cfg('demo/bevdet_hybrid_demo.py').model)
    model.init_weights()
    heatmap_bias = model.pts_bbox_head.task_heads[0].heatmap[-1].bias
    torch.testing.assert_close(heatmap_bias, torch.full_like(heatmap_bias, -2.19))  # init reaches the task heads
