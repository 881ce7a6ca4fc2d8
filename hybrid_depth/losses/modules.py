"""Thin registered loss modules (``loss_weight`` / ``reduction``) around this package's pure functions."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmdet3d.registry import MODELS
from torch import nn

from .photometric import automask_min_reprojection, min_reprojection, photometric_error
from .ranking import LOSS_REDUCTIONS, distance_weighted_repulsion, rank_loss
from .smoothness import edge_aware_smoothness

__all__ = ['DepthRankLoss', 'DistanceWeightedRepulsionLoss', 'EdgeAwareSmoothnessLoss',
           'MinReprojectionLoss']

_REDUCTIONS = ('mean', 'sum', 'none')


@MODELS.register_module()
class MinReprojectionLoss(nn.Module):
    """Monodepth2 photometric loss: per-pixel minimum reprojection over sources, optional auto-masking.

    Args:
        ssim_weight: ``alpha`` of ``alpha/2 (1 - SSIM) + (1 - alpha) L1`` (0.85).
        use_automask: Compare against unwarped sources and keep the overall per-pixel minimum (Monodepth2).
        automask_noise_std: Tie-breaking noise on the identity errors (1e-5).
        reduction: ``'mean'`` | ``'sum'`` over pixels, or ``'none'`` for the (B, 1, H, W) map.
        loss_weight: Multiplier of the result.
    """

    def __init__(self, ssim_weight: float = 0.85, use_automask: bool = True, automask_noise_std: float = 1e-5,
                 reduction: str = 'mean', loss_weight: float = 1.0) -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f'reduction must be one of {_REDUCTIONS}, got {reduction!r}')
        self.ssim_weight = ssim_weight
        self.use_automask = use_automask
        self.automask_noise_std = automask_noise_std
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, target: torch.Tensor, warped: Sequence[torch.Tensor],
                sources: Sequence[torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Compute the loss.

        Args:
            target: (B, 3, H, W) target frame.
            warped: S tensors (B, 3, H, W), the sources warped into the target view.
            sources: S tensors (B, 3, H, W), the unwarped sources (required when ``use_automask``).

        Returns:
            ``(loss, mask)``: weighted loss (scalar, or (B, 1, H, W) for ``reduction='none'``) and the
            (B, 1, H, W) auto-mask (``None`` without auto-masking).
        """
        reproj = torch.cat([photometric_error(w, target, self.ssim_weight) for w in warped], dim=1)
        mask = None
        if self.use_automask:
            if sources is None:
                raise ValueError('use_automask=True needs the unwarped `sources`')
            identity = torch.cat([photometric_error(s, target, self.ssim_weight) for s in sources], dim=1)
            loss_map, mask = automask_min_reprojection(reproj, identity, self.automask_noise_std)
        else:
            loss_map = min_reprojection(reproj)
        if self.reduction == 'mean':
            loss_map = loss_map.mean()
        elif self.reduction == 'sum':
            loss_map = loss_map.sum()
        return self.loss_weight * loss_map, mask


@MODELS.register_module()
class EdgeAwareSmoothnessLoss(nn.Module):
    """Edge-aware smoothness of the mean-normalised disparity (always a mean over pixels).

    Args:
        loss_weight: Multiplier (1e-3 in Monodepth2 / Hybrid-depth; the per-scale ``1 / 2**s`` factor belongs
            to the caller).
    """

    def __init__(self, loss_weight: float = 1e-3) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, disp: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """Args: disp (B, 1, H, W); image (B, C, H, W). Returns the weighted scalar loss."""
        return self.loss_weight * edge_aware_smoothness(disp, image)


@MODELS.register_module()
class DepthRankLoss(nn.Module):
    """Coarse-stage margin ranking of ordered points on ordered depth prompts.

    Args:
        margin: Ranking margin (0).
        loss_weight: Multiplier (1).
        reduction: ``'official'`` (sum over pairs and lanes / images, default) or ``'mean'`` (over valid pairs).
    """

    def __init__(self, margin: float = 0.0, loss_weight: float = 1.0, reduction: str = 'official') -> None:
        super().__init__()
        if reduction not in LOSS_REDUCTIONS:
            raise ValueError(f'reduction must be one of {LOSS_REDUCTIONS}, got {reduction!r}')
        self.margin = margin
        self.loss_weight = loss_weight
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, valid: torch.Tensor | None = None,
                num_images: int | None = None) -> torch.Tensor:
        """Args: logits (G, P, P) point-by-prompt scores of G lanes; valid (G, P) optional; num_images the
        images the lanes come from (``'official'``). Returns the weighted loss."""
        return self.loss_weight * rank_loss(logits, valid, self.margin, self.reduction, num_images)


@MODELS.register_module()
class DistanceWeightedRepulsionLoss(nn.Module):
    """Coarse-stage repulsion: rank-distance-weighted cosine similarity of point features.

    Args:
        loss_weight: Multiplier (1).
        reduction: ``'official'`` (per lane ``sum / P^2``, mean over lanes, default) or ``'mean'`` (over pairs).
    """

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'official') -> None:
        super().__init__()
        if reduction not in LOSS_REDUCTIONS:
            raise ValueError(f'reduction must be one of {LOSS_REDUCTIONS}, got {reduction!r}')
        self.loss_weight = loss_weight
        self.reduction = reduction

    def forward(self, features: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """Args: features (G, P, C) ordered point features; valid (G, P) optional. Returns weighted loss."""
        return self.loss_weight * distance_weighted_repulsion(features, valid, self.reduction)
