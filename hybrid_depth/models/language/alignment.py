"""Pure image-text alignment functions: point feature sampling, channel reduction and image-text logits.

Official Hybrid-depth conventions (``modules/DepthCLIP_dino.py``, ``Stage2/networks/depthclip_decoder.py``):
features are reduced to the text width without parameters (``F.interpolate`` over channels, nearest: for
4096 -> 1024 every 4th channel), the text matrix has L2-normalised rows and is then divided by its whole-matrix
(Frobenius) norm (``text_norm='matrix'``, an effective logit scale of ``100 / sqrt(N)``), and logits are
``100 * f_hat @ T``.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ['TEXT_NORMS', 'interpolate_channels', 'normalize_text', 'pixel_text_logits', 'point_text_logits',
           'sample_point_features']

TEXT_NORMS = ('matrix', 'rows')


def interpolate_channels(x: torch.Tensor, size: int) -> torch.Tensor:
    """Parameter-free channel reduction of the official code: nearest ``F.interpolate`` over the last dim.

    Args:
        x: (..., C) features.
        size: Output channels D (channel ``k`` of the output is input channel ``floor(k * C / D)``).

    Returns:
        (..., D) features (``x`` itself when ``C == D``).
    """
    if x.shape[-1] == size:
        return x
    lead = x.shape[:-1]
    return F.interpolate(x.reshape(1, -1, x.shape[-1]), size=size, mode='nearest').reshape(*lead, size)


def normalize_text(text_embeds: torch.Tensor, mode: str = 'matrix') -> torch.Tensor:
    """Normalise prompt embeddings.

    Args:
        text_embeds: (K, D) prompt embeddings.
        mode: ``'matrix'`` (official: rows L2-normalised, then the matrix divided by its Frobenius norm, i.e.
            by ``sqrt(K)``) or ``'rows'`` (rows L2-normalised only; ours, an option).

    Returns:
        (K, D) normalised embeddings.
    """
    if mode not in TEXT_NORMS:
        raise ValueError(f'text_norm must be one of {TEXT_NORMS}, got {mode!r}')
    t = text_embeds / text_embeds.norm(dim=-1, keepdim=True)
    return t / t.norm() if mode == 'matrix' else t


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


def point_text_logits(point_features: torch.Tensor, text_embeds: torch.Tensor, scale: float = 100.0,
                      text_norm: str = 'rows') -> torch.Tensor:
    """``logits[b, p, k] = scale * <f_bp / (|f_bp| + 1e-6), T_k>`` with ``T = normalize_text(text, text_norm)``.

    Args:
        point_features: (B, P, D) point features (already reduced to the text width D).
        text_embeds: (K, D) prompt embeddings.
        scale: Logit scale (100).
        text_norm: ``'rows'`` (cosine) or ``'matrix'`` (official; see :func:`normalize_text`).

    Returns:
        (B, P, K) logits.
    """
    f = point_features / (point_features.norm(dim=-1, keepdim=True) + 1e-6)  # the official epsilon
    return scale * f @ normalize_text(text_embeds, text_norm).T


def pixel_text_logits(features: torch.Tensor, text_embeds: torch.Tensor, scale: float = 100.0,
                      text_norm: str = 'rows') -> torch.Tensor:
    """Per-pixel language alignment: ``logits[b, k, y, x] = scale * <f_b(y, x) / |f_b(y, x)|, T_k>``.

    As the official decoder, each pixel feature is L2-normalised first and then reduced to the text width D
    with :func:`interpolate_channels` (identity when ``C == D``, as for the paper's 1024-ch features and CLIP RN50).

    Args:
        features: (B, C, h, w) feature map.
        text_embeds: (K, D) prompt embeddings.
        scale: Logit scale (100).
        text_norm: ``'rows'`` (cosine) or ``'matrix'`` (official; see :func:`normalize_text`).

    Returns:
        (B, K, h, w) logits.
    """
    b, c, h, w = features.shape
    f = features.flatten(2).transpose(1, 2)  # (B, hw, C)
    f = interpolate_channels(f / f.norm(dim=-1, keepdim=True), text_embeds.shape[-1])  # (B, hw, D)
    logits = scale * f @ normalize_text(text_embeds, text_norm).T  # (B, hw, K)
    return logits.transpose(1, 2).reshape(b, -1, h, w)
