"""Voxel pooling of lifted camera features ("splat" of Lift-Splat-Shoot / BEVDet's ``bev_pool_v2``).

``out[b, z, y, x, c] = sum_{i in voxel(b, z, y, x)} depth[i] * feat[pixel(i), c]`` over frustum points ``i``
(one per pixel and depth bin). The voxel of every point depends only on the camera geometry, so it is
computed once per geometry (:func:`plan_bev_pool`) and reused by the pooling:

- :func:`bev_pool` (fast path): forward is a CSR sparse-dense product ``S @ feat`` whose rows are voxels,
  columns pixels, and whose value ``S[v, p]`` sums the depth probabilities of pixel ``p``'s bins that fall into
  voxel ``v`` (itself a CSR product ``G @ depth``); the hand-written backward is ``S^T @ grad_out`` for the
  features and a sampled dense-dense product ``<grad_out[v], feat[p]>`` on the pattern of S^T for the depth,
  gathered back to every frustum point of the entry. All matrices are canonical CSR (sorted, unique column
  indices per row: cuSPARSE's contract); no scatter with index collisions anywhere. Pure PyTorch; CPU and CUDA.
- :func:`bev_pool_index_add`: the plain port (gather, multiply by depth, ``index_add_``) with autograd.
- :func:`bev_pool_reference`: a Python loop over points; slow and obviously correct (tests only).

Shapes: ``F = B * N * h * w`` pixels, ``D`` depth bins, ``C`` channels, ``R = B * Z * Y * X`` voxels, ``K``
inside points, ``E`` distinct (voxel, pixel) pairs (``E <= K``).
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import torch

__all__ = ['BEVPoolPlan', 'VOXEL_INDEX', 'plan_bev_pool', 'voxel_ranks', 'bev_pool', 'bev_pool_index_add',
           'bev_pool_reference']

VOXEL_INDEX = ('trunc', 'floor')


class BEVPoolPlan(NamedTuple):
    """Geometry-only structure of one pooling (see :func:`plan_bev_pool`); every CSR matrix is canonical.

    Canonical (cuSPARSE's contract): within each row the column indices are strictly increasing, so no column
    repeats. Several depth bins of one pixel falling into the same voxel are one *entry* ``(voxel, pixel)``
    of S whose value is the sum of their depth probabilities.

    Attributes:
        ranks: (F * D,) voxel of each point in (pixel, depth-bin) order; ``num_voxels`` for points outside.
        crow: (R + 1,) CSR row pointers of S (R x F), rows = voxels.
        col: (E,) pixel of each entry of S (sorted and unique within each row).
        fwd_entry: (E,) for each entry of S (row-major), its index in the transposed order below.
        crow_t: (F + 1,) CSR row pointers of S^T (F x R), rows = pixels.
        col_t: (E,) voxel of each entry of S^T (sorted and unique within each row).
        crow_sum: (E + 1,) CSR row pointers of the summation matrix G (E x F * D): entry ``e`` of S^T sums
            the depth of its points (``values_t = G @ depth``).
        col_sum: (K,) point index of each of the K inside points, grouped by entry (sorted within a row).
        point_entry: (F * D,) the S^T entry of every point; ``E`` for points outside the grid.
        num_pixels: F.
        num_depth: D.
        num_voxels: R.
    """

    ranks: torch.Tensor
    crow: torch.Tensor
    col: torch.Tensor
    fwd_entry: torch.Tensor
    crow_t: torch.Tensor
    col_t: torch.Tensor
    crow_sum: torch.Tensor
    col_sum: torch.Tensor
    point_entry: torch.Tensor
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


def _row_pointers(rows: torch.Tensor, num_rows: int) -> torch.Tensor:
    """(num_rows + 1,) CSR row pointers of entries with sorted row indices ``rows``."""
    counts = torch.bincount(rows, minlength=num_rows)
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


def plan_bev_pool(ranks: torch.Tensor, num_pixels: int, num_depth: int, num_voxels: int) -> BEVPoolPlan:
    """Build the canonical CSR matrices of one geometry once; the result serves every pooling with it.

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
    # sort each pixel's D bins by voxel (small row sorts, no global sort): S^T order (pixel, voxel, bin);
    # outside points carry the largest rank and end each row
    voxel_sorted, bin_order = torch.sort(ranks.view(num_pixels, num_depth), dim=1, stable=True)  # (F, D)
    pixel_ids = torch.arange(num_pixels, device=ranks.device)
    point_sorted = (pixel_ids[:, None] * num_depth + bin_order).flatten()  # (F * D,)
    inside = voxel_sorted.flatten() < num_voxels
    col_sum = point_sorted[inside]  # (K,) inside points grouped by (pixel, voxel), bins ascending
    voxel = voxel_sorted.flatten()[inside]  # (K,)
    pixel = torch.div(col_sum, num_depth, rounding_mode='floor')  # (K,)
    first = torch.ones_like(inside[:voxel.numel()])  # (K,) first point of each (pixel, voxel) entry
    first[1:] = (voxel[1:] != voxel[:-1]) | (pixel[1:] != pixel[:-1])
    point_to_entry = first.cumsum(0) - 1  # (K,)
    starts = torch.nonzero(first).squeeze(1)  # (E,)
    num_entries = starts.numel()
    pixel_e, voxel_e = pixel[starts], voxel[starts]  # (E,) in S^T order
    crow_sum = torch.cat([starts, starts.new_full((1,), voxel.numel())])
    point_entry = torch.full_like(ranks, num_entries)
    point_entry[col_sum] = point_to_entry
    fwd_entry = torch.argsort(voxel_e, stable=True)  # S row-major; stable keeps pixels ascending in a row
    return BEVPoolPlan(
        ranks=ranks, crow=_row_pointers(voxel_e[fwd_entry], num_voxels), col=pixel_e[fwd_entry],
        fwd_entry=fwd_entry, crow_t=_row_pointers(pixel_e, num_pixels), col_t=voxel_e,
        crow_sum=crow_sum, col_sum=col_sum, point_entry=point_entry,
        num_pixels=num_pixels, num_depth=num_depth, num_voxels=num_voxels)


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


class _BEVPoolFunction(torch.autograd.Function):
    """Canonical-CSR forward and collision-free backward of :func:`bev_pool` (fp32 or fp64 inputs)."""

    @staticmethod
    def forward(ctx, depth: torch.Tensor, feat: torch.Tensor, plan: BEVPoolPlan) -> torch.Tensor:
        num_entries = plan.col_t.numel()
        ones = depth.new_ones(plan.col_sum.numel())
        g = _csr(plan.crow_sum, plan.col_sum, ones, (num_entries, plan.num_pixels * plan.num_depth))
        values_t = (g @ depth.reshape(-1, 1)).squeeze(1)  # (E,) summed depth of each (pixel, voxel) entry
        out = _csr(plan.crow, plan.col, values_t[plan.fwd_entry], (plan.num_voxels, plan.num_pixels)) @ feat
        ctx.save_for_backward(values_t, feat)
        ctx.plan = plan
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        values_t, feat = ctx.saved_tensors
        plan: BEVPoolPlan = ctx.plan
        f, d, r = plan.num_pixels, plan.num_depth, plan.num_voxels
        grad_out = grad_out.contiguous()
        grad_depth = grad_feat = None
        if ctx.needs_input_grad[1]:
            s_t = _csr(plan.crow_t, plan.col_t, values_t.to(grad_out.dtype), (f, r))
            grad_feat = s_t @ grad_out  # (F, C) = sum_v S[v, f] * grad_out[v]
        if ctx.needs_input_grad[0]:
            pattern = _csr(plan.crow_t, plan.col_t, grad_out.new_zeros(plan.col_t.numel()), (f, r))
            sampled = torch.sparse.sampled_addmm(pattern, feat.to(grad_out.dtype), grad_out.t(), beta=0.0)
            per_entry = torch.cat([sampled.values(), grad_out.new_zeros(1)])  # (E + 1,): last = outside
            grad_depth = per_entry[plan.point_entry].view(f, d)  # every point of an entry gets its gradient
        return grad_depth, grad_feat, None


def _pool_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """fp64 if any input is fp64, else fp32 (half types are widened: sparse products refuse them)."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def bev_pool(depth: torch.Tensor, feat: torch.Tensor, plan: BEVPoolPlan) -> torch.Tensor:
    """Fast voxel pooling (canonical CSR forward, hand-written backward); autocast-safe.

    Runs in fp32 (fp64 for fp64 inputs) with autocast disabled: half-precision inputs (AMP) are widened, and
    the result stays fp32 (each voxel sums up to hundreds of points; the next layer under autocast casts it
    down itself). Gradients reach the inputs in their own dtypes.

    Args:
        depth: (F, D) depth probabilities of every pixel.
        feat: (F, C) context features of every pixel.
        plan: From :func:`plan_bev_pool`.

    Returns:
        (R, C) pooled features (fp32, or fp64 for fp64 inputs), rows ``((b * Z + z) * Y + y) * X + x``.
    """
    dtype = _pool_dtype(depth, feat)
    with torch.autocast(device_type=feat.device.type, enabled=False):
        return _BEVPoolFunction.apply(depth.to(dtype), feat.to(dtype), plan)


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
