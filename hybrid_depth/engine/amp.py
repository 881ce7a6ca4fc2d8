"""``HybridDepthAmpOptimWrapper``: mmengine's ``AmpOptimWrapper`` that also trains on CPU (bf16 autocast).

``tools/train.py --amp`` selects it. On CUDA it *is* mmengine's ``AmpOptimWrapper`` (fp16 autocast, dynamic
loss scaling; ``dtype='bfloat16'`` for bf16). mmengine 0.10 refuses to build that wrapper without a GPU; here,
on CPU, the same autocast context runs with ``torch.bfloat16`` (the only dtype CPU autocast supports) and
without loss scaling (bf16 has fp32's exponent range, so gradients do not underflow).
"""
from __future__ import annotations

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

__all__ = ['HybridDepthAmpOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class HybridDepthAmpOptimWrapper(AmpOptimWrapper):
    """Mixed precision: fp16 + dynamic loss scaling on CUDA (mmengine's wrapper), bf16 without scaling on CPU.

    Args:
        loss_scale: As mmengine's ``AmpOptimWrapper`` (CUDA only; ignored on CPU).
        dtype: Autocast dtype; ``None``: fp16 on CUDA, bf16 on CPU. CPU accepts only ``'bfloat16'``.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``clip_grad``, ``accumulative_counts``).
    """

    def __init__(self, loss_scale: str | float | dict = 'dynamic', dtype: str | torch.dtype | None = None,
                 **kwargs) -> None:
        if torch.cuda.is_available():
            super().__init__(loss_scale=loss_scale, dtype=dtype, **kwargs)
            return
        if dtype not in (None, 'bfloat16', torch.bfloat16):
            raise ValueError(f'optim_wrapper.dtype={dtype!r}: CPU autocast supports only bfloat16')
        OptimWrapper.__init__(self, **kwargs)
        self._scale_update_param = None
        self.loss_scaler = torch.amp.GradScaler('cpu', enabled=False)  # pass-through: no scaling
        self.cast_dtype = torch.bfloat16
