"""Mixed-precision choice for the encoders: bf16 autocast where the hardware runs bf16 natively, fp32 elsewhere.

``'auto'`` picks bf16 on CUDA devices that support it and on CPUs with native bf16 dot products (x86
``avx512_bf16`` or ``amx_bf16``; without them oneDNN emulates bf16 and it is slower than fp32).
"""
from __future__ import annotations

import functools

import torch

__all__ = ['AUTOCAST_MODES', 'autocast_dtype', 'cpu_has_native_bf16']

AUTOCAST_MODES = ('auto', 'bf16', None)


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether the CPU has bf16 dot-product instructions (``avx512_bf16`` / ``amx_bf16`` in /proc/cpuinfo)."""
    try:
        with open('/proc/cpuinfo') as fh:
            for line in fh:
                if line.startswith('flags'):
                    flags = set(line.split(':', 1)[1].split())
                    return bool(flags & {'avx512_bf16', 'amx_bf16'})
    except OSError:
        pass
    return False


def autocast_dtype(mode: str | None, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``mode`` on ``device`` (``None``: run in fp32).

    Args:
        mode: ``'bf16'`` (always), ``'auto'`` (bf16 where native, see the module docstring) or ``None``.
        device: Device the inputs live on.
    """
    if mode not in AUTOCAST_MODES:
        raise ValueError(f'autocast must be one of {AUTOCAST_MODES}, got {mode!r}')
    if mode is None:
        return None
    if mode == 'bf16':
        return torch.bfloat16
    if device.type == 'cuda':
        return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else None  # Ampere+
    if device.type == 'cpu':
        return torch.bfloat16 if cpu_has_native_bf16() else None
    return None
