"""Which of mmcv's compiled CUDA kernels this process can use: probed once per op and device, logged once.

An mmcv built without CUDA ops (a CPU-only wheel, a venv built on a login node, a wheel for another GPU
architecture) still imports; its ops fail only when first called on CUDA tensors ("implementation for device
cuda:0 not found", "Not compiled with GPU support"), for rotated NMS at the first validation, after an epoch.
The models ask :func:`cuda_kernel_available` before calling a kernel and otherwise use their fallback:

- ``ms_deform_attn`` (FB-BEV's deformable sampling): the PyTorch ``grid_sample`` path
  (mmcv's ``multi_scale_deformable_attn_pytorch``);
- ``nms_rotated`` (BEVDet's and FB-BEV's rotated BEV NMS): mmcv's CPU op on tensors moved to the CPU.

The probe runs the op once on tiny tensors of the device; the answer is cached per ``(op, device)`` and the
chosen implementation is logged once with mmengine's current logger. ``tools/train.py`` / ``tools/test.py``
probe every op at start (:func:`log_cuda_ops`), so the log says it before the first iteration.
"""
from __future__ import annotations

import logging

import torch
from mmengine.logging import print_log

__all__ = ['CUDA_OPS', 'cuda_kernel_available', 'log_cuda_ops']

# op name -> what runs when its CUDA kernel is missing
CUDA_OPS = {
    'ms_deform_attn': 'PyTorch grid_sample path (multi_scale_deformable_attn_pytorch)',
    'nms_rotated': "mmcv's CPU op on tensors moved to the CPU",
}

_available: dict[tuple[str, str], bool] = {}


def _probe(op: str, device: torch.device) -> None:
    """Run ``op``'s CUDA kernel once on tiny tensors of ``device``; raises when it is not compiled."""
    if op == 'ms_deform_attn':
        from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttnFunction
        value = torch.zeros(1, 1, 1, 1, device=device)  # (bs, keys, heads, C)
        shapes = torch.ones(1, 2, dtype=torch.long, device=device)  # one 1x1 level
        start = torch.zeros(1, dtype=torch.long, device=device)
        loc = torch.full((1, 1, 1, 1, 1, 2), 0.5, device=device)  # (bs, Q, heads, L, P, 2)
        weights = torch.ones(1, 1, 1, 1, 1, device=device)
        MultiScaleDeformableAttnFunction.apply(value, shapes, start, loc, weights, 64)
    elif op == 'nms_rotated':
        from mmcv.ops import nms_rotated
        nms_rotated(torch.tensor([[0.0, 0.0, 1.0, 1.0, 0.0]], device=device), torch.ones(1, device=device), 0.5)
    else:
        raise ValueError(f'unknown mmcv CUDA op {op!r}; known: {sorted(CUDA_OPS)}')
    torch.cuda.synchronize(device)


def cuda_kernel_available(op: str, device: torch.device | str) -> bool:
    """Whether mmcv's compiled CUDA kernel of ``op`` runs on ``device`` (False for non-CUDA devices).

    Probed on the first call per ``(op, device)`` and logged once: the kernel, or the fallback and why.

    Args:
        op: A key of :data:`CUDA_OPS`.
        device: The device of the tensors the op would run on.
    """
    if op not in CUDA_OPS:
        raise ValueError(f'unknown mmcv CUDA op {op!r}; known: {sorted(CUDA_OPS)}')
    device = torch.device(device)
    if device.type != 'cuda':
        return False
    if device.index is None:
        device = torch.device('cuda', torch.cuda.current_device())
    key = (op, str(device))
    if key not in _available:
        try:
            _probe(op, device)
        except Exception as err:  # noqa: BLE001 (mmcv raises RuntimeError, NotImplementedError, AssertionError)
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            _available[key] = False
            print_log(f'mmcv op {op} on {device}: no compiled CUDA kernel ({reason}); using the {CUDA_OPS[op]}',
                      logger='current', level=logging.WARNING)
        else:
            _available[key] = True
            print_log(f"mmcv op {op} on {device}: mmcv's compiled CUDA kernel", logger='current')
    return _available[key]


def log_cuda_ops(device: torch.device | str) -> dict[str, bool]:
    """Probe (and log) every op of :data:`CUDA_OPS` on ``device``; returns ``{op: kernel available}``."""
    return {op: cuda_kernel_available(op, device) for op in CUDA_OPS}
