"""GPU defaults of the real detector configs: pinned loaders, the LR rule's base batch, cudnn_benchmark stated."""
from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('name', ['bevdet_r50.py', 'bevdet_hybrid.py', 'fbbev_r50.py', 'fbbev_hybrid.py'])
def test_real_configs_pin_memory_and_state_the_base_batch(name):
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    assert cfg.train_dataloader.pin_memory is True and cfg.val_dataloader.pin_memory is True
    assert cfg.test_dataloader.pin_memory is True
    # schedules are for 8 GPUs x batch 8 (BEVDet); --auto-scale-lr rescales from this base
    assert cfg.auto_scale_lr.base_batch_size == 64 == 8 * cfg.train_dataloader.batch_size
    assert cfg.env_cfg.cudnn_benchmark is False and cfg.env_cfg.dist_cfg.backend == 'nccl'
