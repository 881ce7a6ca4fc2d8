"""Stop training at the first non-finite loss, naming the iteration and the loss term.

mmengine logs ``loss: nan`` and carries on, so a diverged run burns its whole schedule and keeps writing
checkpoints of NaN weights over the good ones. :class:`NonFiniteLossHook` checks every logged loss term after
each iteration and raises :class:`NonFiniteLossError` at the first NaN / inf. It runs before the
``CheckpointHook``, so no checkpoint of that iteration is written: the last checkpoint on disk holds the last
good weights and ``tools/train.py --resume`` continues from it. ``configs/_base_/default_runtime.py`` turns it
on; ``--cfg-options default_hooks.nonfinite_loss.enabled=False`` keeps mmengine's behaviour (train on).
"""
from __future__ import annotations

import math

from mmdet3d.registry import HOOKS
from mmengine.hooks import Hook

__all__ = ['NonFiniteLossError', 'NonFiniteLossHook']


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss (the message names the iteration and the term)."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` after the first iteration whose loss terms are not all finite.

    Args:
        enabled: ``False`` keeps mmengine's behaviour (log the NaN and train on).
    """

    priority = 'ABOVE_NORMAL'  # before CheckpointHook (VERY_LOW): the diverged weights are never saved

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: dict | None = None) -> None:
        if not self.enabled or not outputs:
            return
        bad = {k: float(v) for k, v in outputs.items() if 'loss' in k and not math.isfinite(float(v))}
        if not bad:
            return
        terms = [k for k in bad if k != 'loss'] or list(bad)
        last = runner.work_dir if not runner.cfg.get('default_hooks', {}).get('checkpoint') else \
            f'{runner.work_dir} (last checkpoint there; resume with --resume)'
        raise NonFiniteLossError(
            f'training diverged: iteration {runner.iter + 1} (epoch {runner.epoch + 1}) has non-finite loss '
            + ', '.join(f'{k} = {bad[k]}' for k in terms) + f'; no checkpoint of it was written; work dir {last}')
