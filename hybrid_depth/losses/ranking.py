"""Coarse-stage (language-guided ordering) losses: the prompt rank loss and distance-weighted repulsion.

Normalisation (``reduction``): ``'official'`` follows ``modules/MainRunnerLM_vit2.py`` / ``DepthCLIP_dino.py``:
the rank loss (``MarginRankingLoss(margin=0)`` per pair) is summed over the 21 pairs of every lane and over the
lanes, then divided by the number of images; the repulsion is ``sum_{i,j} |i-j|/(P-1) cos(f_i, f_j) / P^2`` per
lane, averaged over lanes. ``'mean'`` (ours, an option) averages both over the valid pairs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ['LOSS_REDUCTIONS', 'distance_weighted_repulsion', 'rank_loss']

LOSS_REDUCTIONS = ('official', 'mean')


def _check(reduction: str) -> None:
    if reduction not in LOSS_REDUCTIONS:
        raise ValueError(f'reduction must be one of {LOSS_REDUCTIONS}, got {reduction!r}')


def rank_loss(logits: torch.Tensor, valid: torch.Tensor | None = None, margin: float = 0.0,
              reduction: str = 'mean', num_images: int | None = None) -> torch.Tensor:
    """Margin ranking of ordered points against ordered depth prompts.

    Points and prompts share one order (rank 0 = nearest point / "very close"). On prompt ``j`` the point of
    rank ``j`` must score higher than every point of lower rank ``i < j``; per pair
    ``l_b(i, j) = max(0, -(s_b[j, j] - s_b[i, j]) + margin)``.

    Args:
        logits: (B, P, P) scores ``s[b, i, j]`` of point (rank) ``i`` on prompt ``j``; B = groups (lanes).
        valid: Optional (B, P) bool/float mask of points that exist; pairs with a missing point are skipped.
        margin: Ranking margin (0 as the paper).
        reduction: ``'mean'``: mean over the valid pairs; ``'official'``: sum over the valid pairs of all groups
            divided by ``num_images``.
        num_images: Images the groups come from (``'official'`` only; default: B).

    Returns:
        Scalar loss (0 if there is no valid pair).
    """
    _check(reduction)
    b, p, _ = logits.shape
    diag = logits.diagonal(dim1=1, dim2=2)  # (B, P): s[j, j]
    hinge = F.relu(logits - diag[:, None, :] + margin)  # (B, P_i, P_j): max(0, s[i, j] - s[j, j] + m)
    pairs = torch.ones(p, p, dtype=logits.dtype, device=logits.device).tril(-1).T  # i < j
    weight = pairs.expand(b, p, p)
    if valid is not None:
        v = valid.to(logits.dtype)
        weight = weight * v[:, :, None] * v[:, None, :]
    if reduction == 'official':
        return (hinge * weight).sum() / max(b if num_images is None else num_images, 1)
    return (hinge * weight).sum() / weight.sum().clamp_min(1.0)


def distance_weighted_repulsion(features: torch.Tensor, valid: torch.Tensor | None = None,
                                reduction: str = 'mean') -> torch.Tensor:
    """Push apart features of points far apart in the order.

    ``'mean'``: ``L = mean_{i != j} |i - j| / (P - 1) cos(f_i, f_j)`` over the valid ordered pairs;
    ``'official'``: ``L = mean_groups sum_{i, j} |i - j| / (P - 1) cos(f_i, f_j) / P^2`` over the groups with a
    valid pair.

    Args:
        features: (B, P, C) point features ordered by rank; B = groups (lanes).
        valid: Optional (B, P) mask of points that exist.
        reduction: ``'mean'`` or ``'official'``.

    Returns:
        Scalar loss in [-1, 1].
    """
    _check(reduction)
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
    if reduction == 'official':
        per_group = (cos * dist_w * pair_w).sum(dim=(1, 2)) / p ** 2  # (B,)
        groups = pair_w.sum(dim=(1, 2)) > 0
        return per_group[groups].sum() / groups.sum().clamp_min(1)
    return (cos * dist_w * pair_w).sum() / pair_w.sum().clamp_min(1.0)
