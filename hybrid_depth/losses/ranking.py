"""Coarse-stage (language-guided ordering) losses: the prompt rank loss and distance-weighted repulsion."""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ['distance_weighted_repulsion', 'rank_loss']


def rank_loss(logits: torch.Tensor, valid: torch.Tensor | None = None, margin: float = 0.0) -> torch.Tensor:
    """Margin ranking of ordered points against ordered depth prompts.

    Points and prompts share one order (rank 0 = nearest point / "very close"). On prompt ``j`` the point of
    rank ``j`` must score higher than every point of lower rank ``i < j``:
    ``L = mean_{b, i<j} max(0, -(s_b[j, j] - s_b[i, j]) + margin)``.

    Args:
        logits: (B, P, P) scores ``s[b, i, j]`` of point (rank) ``i`` on prompt ``j`` (e.g. 100 x cosine).
        valid: Optional (B, P) bool/float mask of points that exist; pairs with a missing point are skipped.
        margin: Ranking margin (0 as the paper).

    Returns:
        Scalar loss (0 if there is no valid pair).
    """
    b, p, _ = logits.shape
    diag = logits.diagonal(dim1=1, dim2=2)  # (B, P): s[j, j]
    hinge = F.relu(logits - diag[:, None, :] + margin)  # (B, P_i, P_j): max(0, s[i, j] - s[j, j] + m)
    pairs = torch.ones(p, p, dtype=logits.dtype, device=logits.device).tril(-1).T  # i < j
    weight = pairs.expand(b, p, p)
    if valid is not None:
        v = valid.to(logits.dtype)
        weight = weight * v[:, :, None] * v[:, None, :]
    return (hinge * weight).sum() / weight.sum().clamp_min(1.0)


def distance_weighted_repulsion(features: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Push apart features of points far apart in the order.

    ``L = mean_{i != j} |i - j| / (P - 1) cos(f_i, f_j)``.

    Args:
        features: (B, P, C) point features ordered by rank.
        valid: Optional (B, P) mask of points that exist.

    Returns:
        Scalar loss in [-1, 1] (averaged over ordered pairs ``i != j``).
    """
    b, p, _ = features.shape
    f = F.normalize(features, dim=-1)
    cos = f @ f.transpose(1, 2)  # (B, P, P)
    idx = torch.arange(p, dtype=features.dtype, device=features.device)
    dist_w = (idx[:, None] - idx[None, :]).abs() / max(p - 1, 1)  # (P, P), 0 on the diagonal
    pairs = 1 - torch.eye(p, dtype=features.dtype, device=features.device)
    pair_w = pairs.expand(b, p, p)
    if valid is not None:
        v = valid.to(features.dtype)
        pair_w = pair_w * v[:, :, None] * v[:, None, :]
    return (cos * dist_w * pair_w).sum() / pair_w.sum().clamp_min(1.0)
