"""FB-BEV's foreground region proposal network (FRPN): a BEV foreground mask from the LSS BEV.

Head: conv3x3-BN-ReLU-conv3x3 -> 1-channel logits (FB-OCC's ``FRPN``). Loss: BCE with ``pos_weight`` 2.13 (from
LSS) plus Dice, against :func:`.bev_box_mask.rasterise_box_mask` targets. Cells whose probability exceeds
``threshold`` (0.4) are foreground and the only ones that attend to the images in the backward projection; the
mask IoU is evaluated at ``eval_threshold`` (0.5), as upstream's test code does.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmdet3d.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

__all__ = ['ForegroundRegionProposalNet', 'frpn_mask_loss', 'dice_loss']


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Soft Dice loss ``1 - (2 sum(p t) + eps) / (sum(p) + sum(t) + eps)`` per sample, averaged.

    Args:
        logits: (B, ...) mask logits.
        target: (B, ...) {0, 1} targets.
        eps: Smoothing (an empty target with an empty prediction scores 0 loss).

    Returns:
        Scalar.
    """
    prob = logits.sigmoid().flatten(1)
    target = target.flatten(1).to(prob.dtype)
    inter = (prob * target).sum(1)
    return (1 - (2 * inter + eps) / (prob.sum(1) + target.sum(1) + eps)).mean()


def frpn_mask_loss(logits: torch.Tensor, target: torch.Tensor, pos_weight: float = 2.13
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """FRPN losses: mean BCE with ``pos_weight`` on foreground cells, and Dice.

    Args:
        logits: (B, Y, X) mask logits.
        target: (B, Y, X) bool GT mask.
        pos_weight: Weight of the positive term of the BCE.

    Returns:
        ``(bce, dice)`` scalars.
    """
    target = target.to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, target, pos_weight=logits.new_tensor(pos_weight))
    return bce, dice_loss(logits, target)


@MODELS.register_module()
class ForegroundRegionProposalNet(BaseModule):
    """FRPN head.

    Args:
        in_channels: Channels of the LSS BEV.
        mid_channels: Hidden channels (default ``in_channels // 2``).
        threshold: Probability above which a cell is foreground (upstream ``mask_thre``).
        eval_threshold: Probability above which a cell counts as foreground in the mask-IoU evaluation.
        pos_weight: BCE positive weight.
        loss_bce_weight: Weight of the BCE term.
        loss_dice_weight: Weight of the Dice term.
        prior_prob: Initial foreground probability set on the last bias, or None (upstream: PyTorch's default
            init). A prior below ``threshold`` keeps an untrained FRPN from sending every cell to the images.
        init_cfg: mmengine init config.
    """

    def __init__(self, in_channels: int, mid_channels: int | None = None, threshold: float = 0.4,
                 eval_threshold: float = 0.5, pos_weight: float = 2.13, loss_bce_weight: float = 1.0,
                 loss_dice_weight: float = 1.0, prior_prob: float | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg)
        mid = mid_channels or max(in_channels // 2, 1)
        self.mask_net = nn.Sequential(nn.Conv2d(in_channels, mid, 3, padding=1), nn.BatchNorm2d(mid),
                                      nn.ReLU(inplace=True), nn.Conv2d(mid, 1, 3, padding=1))
        self.threshold = threshold
        self.eval_threshold = eval_threshold
        self.pos_weight = pos_weight
        self.loss_bce_weight = loss_bce_weight
        self.loss_dice_weight = loss_dice_weight
        self.prior_prob = prior_prob
        self._init_prior()

    def _init_prior(self) -> None:
        if self.prior_prob is not None:
            nn.init.constant_(self.mask_net[-1].bias, -math.log((1 - self.prior_prob) / self.prior_prob))

    def init_weights(self) -> None:
        """mmengine's ``init_weights`` followed by the foreground prior (if any) on the last bias."""
        super().init_weights()
        self._init_prior()

    def forward(self, bev: torch.Tensor) -> torch.Tensor:
        """Args: bev: (B, C, Y, X) LSS BEV. Returns: (B, Y, X) foreground logits."""
        return self.mask_net(bev)[:, 0]

    def foreground(self, logits: torch.Tensor, threshold: float | None = None) -> torch.Tensor:
        """Args: logits: (B, Y, X); threshold: default ``self.threshold``.
        Returns: (B, Y, X) bool, ``sigmoid(logits) > threshold``."""
        return logits.sigmoid() > (self.threshold if threshold is None else threshold)

    def loss(self, logits: torch.Tensor, gt_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Args: logits: (B, Y, X); gt_mask: (B, Y, X) bool. Returns: ``loss_frpn_bce``, ``loss_frpn_dice``."""
        bce, dice = frpn_mask_loss(logits, gt_mask, self.pos_weight)
        return dict(loss_frpn_bce=self.loss_bce_weight * bce, loss_frpn_dice=self.loss_dice_weight * dice)
