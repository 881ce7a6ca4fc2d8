"""Geometry of FB-BEV's backward projection: pillar reference points, their projection into the cameras
(``bev_to_image``, defined next to the lift it inverts in BEVDet's view transformer) and depth consistency.

Pure functions of tensors (no modules, no device calls). Frames follow BEVDet's view transformer
(:func:`projects.BEVDet.bevdet.view_transformer.frustum_to_bev`), whose forward chain we invert here:

``p_bev = bda @ p_ego``,  ``p_ego = cam2ego @ p_cam``,  ``(u d, v d, d) = cam2img @ p_cam``,
``(u', v', d) = post_rot @ (u, v, d) + post_tran``  (``u', v'``: pixels of the *augmented* network input).

``cam2ego`` is camera -> **key** ego, each camera at its own capture time (BEVDet's loader builds it with
:func:`projects.BEVDet.bevdet.frames.cam2keyego`), so pillars project where the camera saw them.
The BEV frame is the augmented key ego frame (``x`` forward, ``y`` left, ``z`` up, metres); BEV maps are
``(B, C, Y, X)`` with ``x`` along the last axis and cell ``(iy, ix)`` centred at
``(x_lo + (ix + 0.5) dx, y_lo + (iy + 0.5) dy)``, the same cells as BEVDet's ``voxel_ranks``.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from projects.BEVDet.bevdet.view_transformer import bev_to_image  # noqa: F401  (the inverse of the LSS lift)

__all__ = ['bev_cell_centers', 'pillar_reference_points', 'bev_to_image', 'normalize_pixels',
           'depth_bin_one_hot', 'sample_depth_consistency', 'sample_depth_consistency_reference']


def bev_cell_centers(x_bound: Sequence[float], y_bound: Sequence[float]) -> torch.Tensor:
    """Centres of the BEV cells.

    Args:
        x_bound: ``(x_lo, x_hi, dx)`` metres.
        y_bound: ``(y_lo, y_hi, dy)`` metres.

    Returns:
        (Y, X, 2) ``(x, y)`` of every cell centre in the BEV frame, metres.
    """
    nx = int(round((x_bound[1] - x_bound[0]) / x_bound[2]))
    ny = int(round((y_bound[1] - y_bound[0]) / y_bound[2]))
    xs = x_bound[0] + (torch.arange(nx, dtype=torch.float32) + 0.5) * x_bound[2]
    ys = y_bound[0] + (torch.arange(ny, dtype=torch.float32) + 0.5) * y_bound[2]
    yy, xx = torch.meshgrid(ys, xs, indexing='ij')
    return torch.stack([xx, yy], dim=-1)


def pillar_reference_points(x_bound: Sequence[float], y_bound: Sequence[float], z_range: Sequence[float],
                            num_heights: int) -> torch.Tensor:
    """3D reference points of every BEV pillar: ``num_heights`` evenly spaced heights per cell.

    Heights are the centres of ``num_heights`` equal slices of ``[z_lo, z_hi]``.

    Args:
        x_bound: ``(x_lo, x_hi, dx)`` metres.
        y_bound: ``(y_lo, y_hi, dy)`` metres.
        z_range: ``(z_lo, z_hi)`` metres.
        num_heights: K anchors per pillar.

    Returns:
        (Y, X, K, 3) ``(x, y, z)`` in the BEV frame, metres.
    """
    xy = bev_cell_centers(x_bound, y_bound)  # (Y, X, 2)
    z_lo, z_hi = float(z_range[0]), float(z_range[1])
    zs = z_lo + (torch.arange(num_heights, dtype=torch.float32) + 0.5) * (z_hi - z_lo) / num_heights  # (K,)
    ny, nx = xy.shape[:2]
    xy = xy[:, :, None, :].expand(ny, nx, num_heights, 2)
    z = zs.view(1, 1, -1, 1).expand(ny, nx, num_heights, 1)
    return torch.cat([xy, z], dim=-1)


def normalize_pixels(uv: torch.Tensor, extent: Sequence[int]) -> torch.Tensor:
    """Pixels -> the ``[0, 1]`` sampling coordinates of ``grid_sample(align_corners=False)``.

    Pixel ``u`` (centre at the integer) covers ``[u - 0.5, u + 0.5]``, so ``x = (u + 0.5) / W``. ``extent`` is
    the area the feature map covers (``stride * w`` by ``stride * h``; larger than the image when the encoder
    pads), which keeps feature cells and pixels aligned as in BEVDet's frustum.

    Args:
        uv: (..., 2) pixels ``(u, v)``.
        extent: ``(H_ext, W_ext)`` pixels.

    Returns:
        (..., 2) normalised ``(x, y)``; inside the map iff both are in ``[0, 1]``.
    """
    h_ext, w_ext = extent
    scale = uv.new_tensor([1.0 / w_ext, 1.0 / h_ext])
    return (uv + 0.5) * scale


def _depth_bins(depth: torch.Tensor, d_min: float, step: float, num_bins: int,
                clip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``floor((depth - d_min) / step)`` as long, and whether the point has a bin (always, when clipped)."""
    bins = torch.floor((depth - d_min) / step)
    if clip:
        return bins.clamp(0, num_bins - 1).long(), torch.ones_like(bins, dtype=torch.bool)
    valid = (bins >= 0) & (bins < num_bins)
    return torch.where(valid, bins, torch.zeros_like(bins)).long(), valid


def depth_bin_one_hot(depth: torch.Tensor, depth_bound: Sequence[float], clip: bool = True) -> torch.Tensor:
    """One-hot depth bin of metric depths, with the binning of BEVDet's depth targets.

    Bin ``k`` covers ``[d_min + k step, d_min + (k + 1) step)``. Depths outside ``[d_min, d_max)`` take the
    edge bins with ``clip`` (FB-OCC's ``torch.clip(floor(.), 0, D - 1)``), else an all-zero row (such a point
    cannot agree with any predicted bin). Points behind the camera are removed by the visibility mask.

    Args:
        depth: (...) metres.
        depth_bound: ``(d_min, d_max, step)`` metres.
        clip: Clip to the edge bins.

    Returns:
        (..., D) float one-hot.
    """
    d_min, d_max, step = (float(x) for x in depth_bound)
    num_bins = len(torch.arange(d_min, d_max, step))
    bins, valid = _depth_bins(depth, d_min, step, num_bins, clip)
    return F.one_hot(bins, num_bins).to(depth.dtype) * valid[..., None].to(depth.dtype)


def sample_depth_consistency(depth_prob: torch.Tensor, locations: torch.Tensor, depth: torch.Tensor,
                             depth_bound: Sequence[float], clip: bool = True) -> torch.Tensor:
    """FB-BEV's depth-consistency weight: ``one_hot(bin(depth)) . depth_prob(location)``.

    The predicted distribution, sampled bilinearly (``grid_sample(align_corners=False)`` convention, zero
    outside the map) at each point's projection, dotted with the one-hot bin of the point's own camera depth:
    the predicted probability that the surface at that pixel lies in the point's depth bin. Only the selected
    bin is read (four gathers per point instead of sampling all ``D`` channels). Depths beyond the bins read the
    edge bins with ``clip`` (FB-OCC), else get 0.

    Args:
        depth_prob: (M, D, h, w) predicted depth distribution per camera image (softmax over D).
        locations: (M, P, 2) normalised sampling coordinates (see :func:`normalize_pixels`).
        depth: (M, P) camera depth of each point, metres.
        depth_bound: ``(d_min, d_max, step)`` of the distribution.
        clip: Clip depths to the edge bins.

    Returns:
        (M, P) weights in ``[0, 1]``.
    """
    m, num_bins, h, w = depth_prob.shape
    d_min, d_max, step = (float(x) for x in depth_bound)
    if len(torch.arange(d_min, d_max, step)) != num_bins:
        raise ValueError(f'depth_bound {tuple(depth_bound)} does not give the {num_bins} bins of the distribution')
    bins, has_bin = _depth_bins(depth, d_min, step, num_bins, clip)  # (M, P)
    px = locations[..., 0] * w - 0.5  # continuous cell coordinates, cell centres at integers
    py = locations[..., 1] * h - 0.5
    x0, y0 = torch.floor(px), torch.floor(py)
    flat = depth_prob.reshape(m, -1)  # (M, D h w)
    out = torch.zeros_like(px)
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            weight = (1 - (px - xi).abs()) * (1 - (py - yi).abs())
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            index = (bins * h + yi.clamp(0, h - 1).long()) * w + xi.clamp(0, w - 1).long()
            out = out + torch.where(inside, weight * torch.gather(flat, 1, index), torch.zeros_like(weight))
    return out * has_bin.to(out.dtype)


def sample_depth_consistency_reference(depth_prob: torch.Tensor, locations: torch.Tensor, depth: torch.Tensor,
                                       depth_bound: Sequence[float], clip: bool = True) -> torch.Tensor:
    """Same as :func:`sample_depth_consistency` by ``grid_sample`` of all ``D`` channels and an explicit
    dot product with :func:`depth_bin_one_hot` (the definition; slower, tests only)."""
    grid = (2 * locations - 1).unsqueeze(1)  # (M, 1, P, 2)
    sampled = F.grid_sample(depth_prob, grid, mode='bilinear', padding_mode='zeros',
                            align_corners=False)  # (M, D, 1, P)
    sampled = sampled[:, :, 0].transpose(1, 2)  # (M, P, D)
    return (sampled * depth_bin_one_hot(depth, depth_bound, clip)).sum(-1)
