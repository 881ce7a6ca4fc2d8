"""Multi-scale deformable sampling (the core of deformable attention) with three implementations.

``out[m, q, head] = sum_{l, p} w[m, q, head, l, p] * bilinear(value_l[m, :, head], loc[m, q, head, l, p])``

- :func:`deformable_sampling` dispatches: mmcv's CUDA kernel (``MultiScaleDeformableAttnFunction``) for CUDA
  tensors when mmcv has it compiled for that device (probed once, logged:
  :func:`projects.BEVDet.bevdet.mmcv_cuda_ops.cuda_kernel_available`), else the pure-PyTorch ``grid_sample``
  path (mmcv's ``multi_scale_deformable_attn_pytorch``).
- :func:`deformable_sampling_reference`: Python loops with an explicit bilinear formula (tests only).

FB-BEV's depth weighting is *not* in here: the backward projection multiplies it into ``weights`` before
calling, so every path keeps it (upstream's CPU fallback dropped it because it was applied only inside the
CUDA branch).

Shapes: ``M`` value maps (batch x cameras), ``Q`` queries, ``H`` heads, ``L`` levels, ``P`` points,
``C`` channels per head; locations are ``grid_sample(align_corners=False)`` coordinates in ``[0, 1]``
(``x`` along the width), outside points read zeros.
"""
from __future__ import annotations

import torch
from mmcv.ops.multi_scale_deform_attn import multi_scale_deformable_attn_pytorch

from projects.BEVDet.bevdet.mmcv_cuda_ops import cuda_kernel_available

__all__ = ['deformable_sampling', 'deformable_sampling_pytorch', 'deformable_sampling_cuda',
           'deformable_sampling_reference']


def deformable_sampling_pytorch(value: torch.Tensor, spatial_shapes: torch.Tensor, locations: torch.Tensor,
                                weights: torch.Tensor) -> torch.Tensor:
    """Pure-PyTorch path (``grid_sample`` per level); runs on any device, differentiable.

    Args:
        value: (M, sum_l h_l w_l, H, C) flattened value maps, level-major.
        spatial_shapes: (L, 2) long ``(h_l, w_l)``.
        locations: (M, Q, H, L, P, 2) normalised ``(x, y)``.
        weights: (M, Q, H, L, P) attention weights (depth weighting already multiplied in).

    Returns:
        (M, Q, H * C).
    """
    return multi_scale_deformable_attn_pytorch(value, spatial_shapes, locations, weights)


def deformable_sampling_cuda(value: torch.Tensor, spatial_shapes: torch.Tensor, locations: torch.Tensor,
                             weights: torch.Tensor, im2col_step: int = 64) -> torch.Tensor:
    """mmcv's CUDA kernel; same arguments and result as :func:`deformable_sampling_pytorch`."""
    from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttnFunction
    shapes = spatial_shapes.long()
    level_start = torch.cat([shapes.new_zeros(1), (shapes[:, 0] * shapes[:, 1]).cumsum(0)[:-1]])
    return MultiScaleDeformableAttnFunction.apply(value, shapes, level_start, locations, weights, im2col_step)


def deformable_sampling(value: torch.Tensor, spatial_shapes: torch.Tensor, locations: torch.Tensor,
                        weights: torch.Tensor, use_cuda_kernel: bool = True) -> torch.Tensor:
    """Dispatch: the CUDA kernel for CUDA tensors when ``use_cuda_kernel`` and mmcv has it compiled for that
    device, else the PyTorch path.

    Arguments and result as :func:`deformable_sampling_pytorch`.
    """
    if use_cuda_kernel and value.is_cuda and cuda_kernel_available('ms_deform_attn', value.device):
        return deformable_sampling_cuda(value, spatial_shapes, locations, weights)
    return deformable_sampling_pytorch(value, spatial_shapes, locations, weights)


def _bilinear(feature: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """Bilinear read of a (C, h, w) map at normalised ``(x, y)``; zeros outside (``align_corners=False``)."""
    _, h, w = feature.shape
    px, py = x * w - 0.5, y * h - 0.5  # continuous cell coordinates (cell centres at integers)
    x0, y0 = int(torch.floor(torch.tensor(px))), int(torch.floor(torch.tensor(py)))
    out = feature.new_zeros(feature.shape[0])
    for yi in (y0, y0 + 1):
        for xi in (x0, x0 + 1):
            if 0 <= xi < w and 0 <= yi < h:
                out = out + (1 - abs(px - xi)) * (1 - abs(py - yi)) * feature[:, yi, xi]
    return out


def deformable_sampling_reference(value: torch.Tensor, spatial_shapes: torch.Tensor, locations: torch.Tensor,
                                  weights: torch.Tensor) -> torch.Tensor:
    """Brute-force loops over maps, queries, heads, levels and points (slow; tests only).

    Arguments and result as :func:`deformable_sampling_pytorch`.
    """
    m_count, _, num_heads, channels = value.shape
    _, num_queries, _, num_levels, num_points, _ = locations.shape
    starts = [0]
    for h_l, w_l in spatial_shapes.tolist():
        starts.append(starts[-1] + h_l * w_l)
    out = value.new_zeros(m_count, num_queries, num_heads, channels)
    for m in range(m_count):
        for lvl, (h_l, w_l) in enumerate(spatial_shapes.tolist()):
            level = value[m, starts[lvl]:starts[lvl + 1]]  # (h w, H, C)
            for head in range(num_heads):
                feature = level[:, head].T.reshape(channels, h_l, w_l)
                for q in range(num_queries):
                    for p in range(num_points):
                        x, y = locations[m, q, head, lvl, p].tolist()
                        out[m, q, head] += weights[m, q, head, lvl, p] * _bilinear(feature, x, y)
    return out.flatten(2)
