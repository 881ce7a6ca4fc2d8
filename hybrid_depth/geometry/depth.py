"""Disparity <-> depth conversions (Monodepth2 convention)."""
from __future__ import annotations

import torch

__all__ = ['depth_to_disp', 'disp_to_depth']


def disp_to_depth(disp: torch.Tensor, min_depth: float = 0.1,
                  max_depth: float = 100.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Map a sigmoid output to a bounded disparity and its depth (Monodepth2 ``disp_to_depth``).

    ``scaled = 1/max_depth + (1/min_depth - 1/max_depth) * disp``; ``depth = 1 / scaled``, so ``disp = 0``
    gives ``max_depth`` and ``disp = 1`` gives ``min_depth``.

    Args:
        disp: (B, 1, H, W) network output in [0, 1].
        min_depth: Depth in metres reached at ``disp = 1``.
        max_depth: Depth in metres reached at ``disp = 0``.

    Returns:
        ``(scaled_disp, depth)``, both (B, 1, H, W); depth in metres (up to the unknown monocular scale).
    """
    min_disp = 1.0 / max_depth
    max_disp = 1.0 / min_depth
    scaled_disp = min_disp + (max_disp - min_disp) * disp
    return scaled_disp, 1.0 / scaled_disp


def depth_to_disp(depth: torch.Tensor, min_depth: float = 0.1, max_depth: float = 100.0) -> torch.Tensor:
    """Inverse of :func:`disp_to_depth`: ``disp = (1/depth - 1/max_depth) / (1/min_depth - 1/max_depth)``.

    Args:
        depth: (B, 1, H, W) depth in metres, within [min_depth, max_depth].
        min_depth: Depth mapped to ``disp = 1``.
        max_depth: Depth mapped to ``disp = 0``.

    Returns:
        (B, 1, H, W) disparity in [0, 1].
    """
    min_disp = 1.0 / max_depth
    max_disp = 1.0 / min_depth
    return (1.0 / depth - min_disp) / (max_disp - min_disp)
