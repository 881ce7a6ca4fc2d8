"""Novel view synthesis by inverse warping (backproject -> transform -> project -> grid_sample)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .camera import backproject, project, transform_points

__all__ = ['pixels_to_grid', 'view_synthesis']


def pixels_to_grid(pixels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pixel coordinates -> ``grid_sample`` grid in [-1, 1] (``align_corners=True`` convention).

    ``x = 2 u / (W - 1) - 1``, ``y = 2 v / (H - 1) - 1``, so pixel centres 0 and W-1 map to -1 and 1.

    Args:
        pixels: (B, 2, H*W) pixel coordinates ``(u, v)`` for each target pixel, row-major.
        height: Target height H.
        width: Target width W.

    Returns:
        (B, H, W, 2) normalised sampling grid.
    """
    b = pixels.shape[0]
    u = pixels[:, 0] / max(width - 1, 1) * 2 - 1
    v = pixels[:, 1] / max(height - 1, 1) * 2 - 1
    return torch.stack([u, v], dim=-1).reshape(b, height, width, 2)


def view_synthesis(source: torch.Tensor, depth: torch.Tensor, cam2img: torch.Tensor, T_src_tgt: torch.Tensor,
                   padding_mode: str = 'border') -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruct the target view from a source image: ``I_t(p) = I_s(<K T_src_tgt D_t(p) K^-1 p>)``.

    Args:
        source: (B, C, H, W) source image ``I_s``.
        depth: (B, 1, H, W) target depth ``D_t``, in metres.
        cam2img: (B, 3, 3) intrinsics at this resolution (same camera for both views).
        T_src_tgt: (B, 4, 4) transform from the target camera frame to the source camera frame.
        padding_mode: ``grid_sample`` padding (Monodepth2 uses ``'border'``).

    Returns:
        ``(warped, grid)``: (B, C, H, W) reconstructed target image and the (B, H, W, 2) sampling grid.
    """
    h, w = depth.shape[-2:]
    points = transform_points(backproject(depth, cam2img), T_src_tgt)  # (B, 3, HW)
    pixels, _ = project(points, cam2img)  # (B, 2, HW)
    grid = pixels_to_grid(pixels, h, w)
    warped = F.grid_sample(source, grid, mode='bilinear', padding_mode=padding_mode, align_corners=True)
    return warped, grid
