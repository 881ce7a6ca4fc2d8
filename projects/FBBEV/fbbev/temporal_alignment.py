"""BEVDet4D-style temporal fusion: split a sample's cameras into frames, align an adjacent frame's BEV map to the
current BEV frame by the ego motion."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .pillar_projection import bev_cell_centers, normalize_pixels

__all__ = ['align_adjacent_bev', 'split_frames']


def split_frames(imgs: torch.Tensor, cams: dict[str, torch.Tensor], frames: int
                 ) -> list[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """Split the cameras of a sample into its frames (current frame first, ``FBBEVLoadAdjacentFrame``'s order).

    Args:
        imgs: (B, N F, 3, H, W) images of ``F = frames`` frames of the same ``N`` cameras.
        cams: Camera tensors (B, N F, ...) and ``bda`` (B, 3, 3) (shared by every frame).

    Returns:
        ``F`` pairs ``(imgs (B, N, 3, H, W), cams (B, N, ...))``.

    Raises:
        ValueError: if the images are not ``frames`` frames of the same cameras.
    """
    n = imgs.shape[1] // frames
    if n * frames != imgs.shape[1]:
        raise ValueError(f'{imgs.shape[1]} images are not {frames} frames of the same cameras')
    return [(imgs[:, f * n:(f + 1) * n], {k: (v if k == 'bda' else v[:, f * n:(f + 1) * n]) for k, v in cams.items()})
            for f in range(frames)]


@torch.autocast('cuda', enabled=False)  # geometry and sampling in fp32 under AMP (bf16 metres are too coarse)
@torch.autocast('cpu', enabled=False)
def align_adjacent_bev(adj_bev: torch.Tensor, curr2adj: torch.Tensor, bda: torch.Tensor,
                       x_bound: Sequence[float], y_bound: Sequence[float]) -> torch.Tensor:
    """Resample the adjacent frame's BEV at the positions of the current frame's cells.

    Cell centre ``p`` (current BEV frame) -> ``bda^-1 p`` (current ego) -> ``curr2adj`` (adjacent ego) -> ``bda``
    (adjacent BEV frame, the same BEV augmentation for both frames as in BEVDet4D); bilinear, zeros outside.
    Points are taken at height 0 (the rotation of ego motion between keyframes is about z in practice).

    Args:
        adj_bev: (B, C, Y, X) adjacent-frame BEV, ``x`` along the last axis.
        curr2adj: (B, 4, 4) ``T_adj_curr``: current ego -> adjacent ego.
        bda: (B, 3, 3) BEV augmentation.
        x_bound: ``(x_lo, x_hi, dx)`` metres.
        y_bound: ``(y_lo, y_hi, dy)`` metres.

    Returns:
        (B, C, Y, X) adjacent features in the current BEV frame (fp32 for half-precision ``adj_bev``).
    """
    adj_bev = adj_bev.to(torch.promote_types(adj_bev.dtype, torch.float32))
    b, _, ny, nx = adj_bev.shape
    xy = bev_cell_centers(x_bound, y_bound).to(adj_bev)  # (Y, X, 2)
    pts = torch.cat([xy, torch.zeros_like(xy[..., :1])], dim=-1).view(1, -1, 3).expand(b, -1, 3)  # (B, YX, 3)
    ego = torch.einsum('bij,bpj->bpi', torch.inverse(bda), pts)
    adj = torch.einsum('bij,bpj->bpi', curr2adj[:, :3, :3], ego) + curr2adj[:, None, :3, 3]
    adj_bev_pts = torch.einsum('bij,bpj->bpi', bda, adj)  # (B, YX, 3)
    # metric -> cell index (u = (x - x_lo) / dx - 0.5, cell centres at integers) -> grid_sample coordinates
    u = (adj_bev_pts[..., 0] - x_bound[0]) / x_bound[2] - 0.5
    v = (adj_bev_pts[..., 1] - y_bound[0]) / y_bound[2] - 0.5
    grid = normalize_pixels(torch.stack([u, v], dim=-1), (ny, nx)) * 2 - 1  # (B, YX, 2)
    return F.grid_sample(adj_bev, grid.view(b, ny, nx, 2), mode='bilinear', padding_mode='zeros',
                         align_corners=False)
