"""The resume fix: mmengine's own checkpoint objects load under weights_only, anything else is still refused."""
from __future__ import annotations

import argparse
import io

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim.scheduler import CosineAnnealingLR, OneCycleLR

from hybrid_depth.engine.runner import trusted_checkpoint_loading


def _save(obj) -> io.BytesIO:
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return buf


def test_schedulers_and_message_hub_load_under_weights_only() -> None:
    opt = torch.optim.AdamW(torch.nn.Linear(2, 2).parameters(), lr=1e-3)
    scheds = [OneCycleLR(opt, eta_max=1e-2, total_steps=10), CosineAnnealingLR(opt, T_max=5)]
    hub = MessageHub.get_instance('test_runner_checkpoint')
    hub.update_scalar('train/loss', 0.5)
    ckpt = {'param_schedulers': [s.state_dict() for s in scheds], 'message_hub': hub.state_dict()}
    with pytest.raises(Exception, match='(?i)weights.only|unsupported global'):
        torch.load(_save(ckpt))
    with trusted_checkpoint_loading():
        loaded = torch.load(_save(ckpt))
    assert loaded['param_schedulers'][0]['anneal_func'] is OneCycleLR._annealing_cos
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 0.5


def test_other_objects_are_still_refused() -> None:
    with trusted_checkpoint_loading(), pytest.raises(Exception, match='(?i)weights.only|unsupported global'):
        torch.load(_save({'args': argparse.Namespace(a=1)}))
