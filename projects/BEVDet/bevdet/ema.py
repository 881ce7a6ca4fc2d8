"""BEVDepth's ("MEGVII") exponential moving average of the weights, as an mmengine averaged model.

BEVDet and FB-BEV train with ``MEGVIIEMAHook``: after every iteration ``n`` (counted from ``init_updates``)
``ema = d ema + (1 - d) w`` over every floating-point entry of the state dict (parameters and BN statistics), with
a decay that ramps up, ``d(n) = decay (1 - exp(-n / 2000))``. Here the same update is an ``ema_type`` for
mmengine's ``EMAHook``: ``dict(type='EMAHook', ema_type='MEGVIIExponentialMovingAverage', update_buffers=True)``.
"""
from __future__ import annotations

import math

import torch
from mmengine.model import BaseAveragedModel
from mmengine.registry import MODELS
from torch import nn

__all__ = ['MEGVIIExponentialMovingAverage', 'megvii_ema_decay']


def megvii_ema_decay(updates: int, decay: float = 0.999, ramp: float = 2000.0) -> float:
    """``decay (1 - exp(-updates / ramp))``: the decay of update number ``updates`` (1-based)."""
    return decay * (1.0 - math.exp(-updates / ramp))


@MODELS.register_module()
class MEGVIIExponentialMovingAverage(BaseAveragedModel):
    """EMA with BEVDepth's ramped decay (see the module docstring).

    Unlike mmengine's ``ExponentialMovingAverage`` the first update already averages (the copy made when training
    starts is the initial average, as upstream's ``deepcopy``).

    Args:
        model: The model to average.
        decay: Final decay (0.999).
        init_updates: Updates counted before the first one (upstream configs: 10560), which skips most of the ramp.
        ramp: Time constant of the ramp, in updates (2000).
        interval: Update every ``interval`` iterations.
        device: Device of the averaged copy.
        update_buffers: Average the buffers too (upstream: every floating-point state-dict entry).
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, init_updates: int = 0, ramp: float = 2000.0,
                 interval: int = 1, device: torch.device | None = None, update_buffers: bool = True) -> None:
        super().__init__(model, interval, device, update_buffers)
        self.decay = decay
        self.init_updates = init_updates
        self.ramp = ramp

    def avg_func(self, averaged_param: torch.Tensor, source_param: torch.Tensor, steps: int) -> None:
        """In place: ``averaged = d averaged + (1 - d) source`` with ``d`` of update ``init_updates + steps + 1``."""
        d = megvii_ema_decay(self.init_updates + int(steps) + 1, self.decay, self.ramp)
        averaged_param.mul_(d).add_(source_param, alpha=1.0 - d)

    def update_parameters(self, model: nn.Module) -> None:
        """Average every floating-point entry (no copy on the first step, unlike mmengine's base class)."""
        source = model.state_dict() if self.update_buffers else dict(model.named_parameters())
        if int(self.steps) % self.interval == 0:
            for key, averaged in self.avg_parameters.items():
                if averaged.dtype.is_floating_point:
                    self.avg_func(averaged.data, source[key].data.to(averaged.device), int(self.steps))
        if not self.update_buffers:
            for b_avg, b_src in zip(self.module.buffers(), model.buffers()):
                b_avg.data.copy_(b_src.data.to(b_avg.device))
        self.steps += 1
