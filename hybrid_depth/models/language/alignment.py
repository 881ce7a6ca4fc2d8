"""Pure image-text alignment functions: point feature sampling and pixel-text logits."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ['pixel_text_logits', 'point_text_logits', 'sample_point_features']


def sample_point_features(features: Sequence[torch.Tensor], points: torch.Tensor, stride: int = 14,
                          mode: str = 'nearest') -> torch.Tensor:
    """Features of every level at image points, concatenated over levels.

    Level maps cover the zero-padded image (``h * stride`` x ``w * stride`` pixels, original at the top-left),
    so pixel ``(u, v)`` lies in cell ``(u / stride, v / stride)``: sampled with ``grid_sample``
    (``align_corners=False``) at ``x = 2 (u + 0.5) / (w stride) - 1`` (nearest cell, or bilinear).

    Args:
        features: L maps (B, C_l, h, w) on the same grid.
        points: (B, P, 2) pixel coordinates ``(u, v)`` in the input image.
        stride: Pixels per feature cell (the patch size).
        mode: ``'nearest'`` (official: nearest cell) or ``'bilinear'``.

    Returns:
        (B, P, sum_l C_l) point features.
    """
    out = []
    for feat in features:
        h, w = feat.shape[-2:]
        gx = 2 * (points[..., 0] + 0.5) / (w * stride) - 1
        gy = 2 * (points[..., 1] + 0.5) / (h * stride) - 1
        grid = torch.stack([gx, gy], dim=-1)[:, :, None]  # (B, P, 1, 2)
        sampled = F.grid_sample(feat, grid.to(feat.dtype), mode=mode, align_corners=False)  # (B, C, P, 1)
        out.append(sampled[..., 0].transpose(1, 2))
    return torch.cat(out, dim=-1)


def point_text_logits(point_features: torch.Tensor, text_embeds: torch.Tensor,
                      scale: float = 100.0) -> torch.Tensor:
    """``logits[b, p, k] = scale * <f_bp / |f_bp|, t_k / |t_k|>``.

    Args:
        point_features: (B, P, D) projected point features.
        text_embeds: (K, D) prompt embeddings.
        scale: Logit scale (100).

    Returns:
        (B, P, K) logits.
    """
    return scale * F.normalize(point_features, dim=-1) @ F.normalize(text_embeds, dim=-1).T


def pixel_text_logits(features: torch.Tensor, text_embeds: torch.Tensor,
                      scale: float = 100.0) -> torch.Tensor:
    """Per-pixel language alignment: ``logits[b, k, y, x] = scale * <f_b(y, x) / |f_b(y, x)|, t_k / |t_k|>``.

    Args:
        features: (B, D, h, w) feature map (channels = text embedding dim).
        text_embeds: (K, D) prompt embeddings.
        scale: Logit scale (100).

    Returns:
        (B, K, h, w) logits.
    """
    f = F.normalize(features, dim=1)
    t = F.normalize(text_embeds, dim=-1)
    return scale * torch.einsum('bdhw,kd->bkhw', f, t)
