"""Validate the untrained model once, before the first training iteration: the baseline of every run's log.

mmengine's train loops validate only after training epochs or iterations (``val_begin`` >= 1), so a log never
shows what the model scored before it learned anything. This hook runs the runner's own validation loop (same
dataloader, evaluator and logging) in ``before_train``; its metrics land in the log and in the JSON scalars at
step 0, which is how ``tools/demo.py`` prints "untrained -> trained" pairs. A resumed run (``runner.iter > 0``)
is not validated again. Written here because neither mmengine nor mmdet3d has such a hook.
"""
from __future__ import annotations

from mmdet3d.registry import HOOKS
from mmengine.hooks import Hook

__all__ = ['ValidateBeforeTrainHook']


@HOOKS.register_module()
class ValidateBeforeTrainHook(Hook):
    """Run ``runner.val_loop`` once before training (skipped on resume or without a validation loop)."""

    priority = 'LOWEST'  # after every other before_train (EMA, checkpoint loading) so it scores the start point

    def before_train(self, runner) -> None:
        if runner.iter > 0 or runner.val_loop is None:
            return
        runner.val_loop.run()
