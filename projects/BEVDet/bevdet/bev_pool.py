"""Voxel pooling of lifted camera features ("splat" of Lift-Splat-Shoot / BEVDet's ``bev_pool_v2``).

``out[b, z, y, x, c] = sum_{i in voxel(b, z, y, x)} depth[i] * feat[pixel(i), c]`` over frustum points ``i``
(one per pixel and depth bin). The voxel of every point depends only on the camera geometry, so it is
computed once per geometry (:func:`plan_bev_pool`) and reused by the pooling:

- :func:`bev_pool` (fast path): forward is a CSR sparse-dense product ``S @ feat`` whose rows are voxels and
  whose values are the depth probabilities; the hand-written backward is ``S^T @ grad_out`` for the features
  (rows = pixels, naturally ordered) and a sampled dense-dense product ``<grad_out[voxel(i)], feat[pixel(i)]>``
  for the depth. No scatter with index collisions anywhere. Pure PyTorch; runs on CPU and CUDA.
- :func:`bev_pool_index_add`: the plain port (gather, multiply by depth, ``index_add_``) with autograd.
- :func:`bev_pool_reference`: a Python loop over points; slow and obviously correct (tests only).

Shapes: ``F = B * N * h * w`` pixels, ``D`` depth bins, ``C`` channels, ``R = B * Z * Y * X`` voxels.
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import torch

__all__ = ['BEVPoolPlan', 'VOXEL_INDEX', 'plan_bev_pool', 'voxel_ranks', 'bev_pool', 'bev_pool_index_add',
           'bev_pool_reference']

VOXEL_INDEX = ('trunc', 'floor')


class BEVPoolPlan(NamedTuple):
    """Geometry-only structure of one pooling (see :func:`plan_bev_pool`).

    Attributes:
        ranks: (F * D,) voxel of each point in (pixel, depth-bin) order; ``num_voxels`` for points outside.
        order: (K,) the K inside points sorted by voxel (indices into the F * D points).
        crow: (R + 1,) CSR row pointers of the voxel-major matrix S (R x F).
        col: (K,) pixel of each sorted inside point (CSR column indices of S).
        num_pixels: F.
        num_depth: D.
        num_voxels: R.
    """

    ranks: torch.Tensor
    order: torch.Tensor
    crow: torch.Tensor
    col: torch.Tensor
    num_pixels: int
    num_depth: int
    num_voxels: int


def voxel_ranks(points: torch.Tensor, grid_lower: torch.Tensor, grid_interval: torch.Tensor,
                grid_size: torch.Tensor, index: str = 'trunc') -> torch.Tensor:
    """Flat voxel index of every frustum point.

    The cell coordinate is ``q = (p - lower) / interval``; ``index='trunc'`` (official ``voxel_pooling_prepare_v2``:
    ``q.long()``, truncation toward zero) puts ``q`` in ``(-1, 0)`` into cell 0, so points up to one cell below each
    lower bound are pooled too; ``index='floor'`` keeps exactly the points inside ``[lower, upper)``.

    Args:
        points: (B, N, D, h, w, 3) point coordinates in the BEV (ego, after BEV augmentation) frame, metres.
        grid_lower: (3,) lower corner ``(x, y, z)`` of the grid, metres.
        grid_interval: (3,) voxel size, metres.
        grid_size: (3,) integer voxel counts ``(X, Y, Z)``.
        index: ``'trunc'`` (official) or ``'floor'``.

    Returns:
        (B * N * h * w * D,) long ranks ``((b * Z + z) * Y + y) * X + x`` in (b, n, h, w, d) order; points outside
        the grid get ``R = B * Z * Y * X``.
    """
    if index not in VOXEL_INDEX:
        raise ValueError(f'voxel index must be one of {VOXEL_INDEX}, got {index!r}')
    b = points.shape[0]
    nx, ny, nz = (int(v) for v in grid_size)
    q = (points - grid_lower) / grid_interval  # (B, N, D, h, w, 3) cell coordinates
    idx = (q.floor() if index == 'floor' else q).long()  # .long() truncates toward zero
    idx = idx.permute(0, 1, 3, 4, 2, 5)  # (B, N, h, w, D, 3): pixel-major, depth-minor
    x, y, z = idx.unbind(-1)
    inside = (x >= 0) & (x < nx) & (y >= 0) & (y < ny) & (z >= 0) & (z < nz)
    batch = torch.arange(b, device=points.device).view(b, 1, 1, 1, 1)
    ranks = ((batch * nz + z) * ny + y) * nx + x
    num_voxels = b * nx * ny * nz
    return torch.where(inside, ranks, torch.full_like(ranks, num_voxels)).flatten()


def plan_bev_pool(ranks: torch.Tensor, num_pixels: int, num_depth: int, num_voxels: int) -> BEVPoolPlan:
    """Sort the inside points by voxel once; the result serves every pooling with this geometry.

    Args:
        ranks: (F * D,) from :func:`voxel_ranks` (pixel-major, depth-minor).
        num_pixels: F.
        num_depth: D.
        num_voxels: R (the out-of-grid marker).

    Returns:
        The :class:`BEVPoolPlan`.
    """
    if ranks.numel() != num_pixels * num_depth:
        raise ValueError(f'ranks has {ranks.numel()} points, expected {num_pixels} x {num_depth}')
    inside = torch.nonzero(ranks < num_voxels).squeeze(1)
    order = inside[torch.argsort(ranks[inside], stable=True)]
    counts = torch.bincount(ranks[order], minlength=num_voxels)
    crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    col = torch.div(order, num_depth, rounding_mode='floor')
    return BEVPoolPlan(ranks, order, crow, col, num_pixels, num_depth, num_voxels)


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


class _BEVPoolFunction(torch.autograd.Function):
    """CSR forward and collision-free backward of :func:`bev_pool`."""

    @staticmethod
    def forward(ctx, depth: torch.Tensor, feat: torch.Tensor, plan: BEVPoolPlan) -> torch.Tensor:
        values = depth.reshape(-1)[plan.order]
        out = _csr(plan.crow, plan.col, values, (plan.num_voxels, plan.num_pixels)) @ feat
        ctx.save_for_backward(depth, feat)
        ctx.plan = plan
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        depth, feat = ctx.saved_tensors
        plan: BEVPoolPlan = ctx.plan
        f, d, r = plan.num_pixels, plan.num_depth, plan.num_voxels
        grad_pad = torch.cat([grad_out, grad_out.new_zeros(1, grad_out.shape[1])])  # row R: outside points
        crow_t = torch.arange(0, f * d + 1, d, device=depth.device)  # pixel-major: D entries per pixel
        grad_depth = grad_feat = None
        if ctx.needs_input_grad[1]:
            s_t = _csr(crow_t, plan.ranks, depth.reshape(-1).to(grad_out.dtype), (f, r + 1))
            grad_feat = s_t @ grad_pad  # (F, C) = sum_d depth[f, d] * grad_out[voxel(f, d)]
        if ctx.needs_input_grad[0]:
            pattern = _csr(crow_t, plan.ranks, grad_out.new_zeros(f * d), (f, r + 1))
            sampled = torch.sparse.sampled_addmm(pattern, feat.to(grad_out.dtype), grad_pad.t(), beta=0.0)
            grad_depth = sampled.values().view(f, d).to(depth.dtype)
        return grad_depth, grad_feat, None


def bev_pool(depth: torch.Tensor, feat: torch.Tensor, plan: BEVPoolPlan) -> torch.Tensor:
    """Fast voxel pooling (CSR forward, hand-written backward).

    Args:
        depth: (F, D) depth probabilities of every pixel.
        feat: (F, C) context features of every pixel.
        plan: From :func:`plan_bev_pool`.

    Returns:
        (R, C) pooled features, rows ``((b * Z + z) * Y + y) * X + x``.
    """
    return _BEVPoolFunction.apply(depth, feat, plan)


def bev_pool_index_add(depth: torch.Tensor, feat: torch.Tensor, ranks: torch.Tensor,
                       num_voxels: int) -> torch.Tensor:
    """Plain port: gather, multiply by depth, ``index_add_`` into a flat buffer; autograd backward.

    Args:
        depth: (F, D) depth probabilities.
        feat: (F, C) features.
        ranks: (F * D,) from :func:`voxel_ranks`.
        num_voxels: R.

    Returns:
        (R, C) pooled features.
    """
    c = feat.shape[1]
    prod = (depth[:, :, None] * feat[:, None, :]).reshape(-1, c)  # (F * D, C)
    inside = ranks < num_voxels
    out = feat.new_zeros(num_voxels, c)
    return out.index_add(0, ranks[inside], prod[inside])


def bev_pool_reference(depth: torch.Tensor, feat: torch.Tensor, ranks: torch.Tensor,
                       num_voxels: int) -> torch.Tensor:
    """Brute force: one Python iteration per frustum point (for tests on tiny inputs).

    Args:
        depth: (F, D) depth probabilities.
        feat: (F, C) features.
        ranks: (F * D,) from :func:`voxel_ranks`.
        num_voxels: R.

    Returns:
        (R, C) pooled features.
    """
    num_depth = depth.shape[1]
    rows = [feat.new_zeros(feat.shape[1]) for _ in range(num_voxels)]
    for point, voxel in enumerate(ranks.tolist()):
        if voxel < num_voxels:
            pixel, bin_ = divmod(point, num_depth)
            rows[voxel] = rows[voxel] + depth[pixel, bin_] * feat[pixel]
    return torch.stack(rows)
