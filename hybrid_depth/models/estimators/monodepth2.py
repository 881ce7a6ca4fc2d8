"""Monodepth2 baseline (Godard et al., ICCV 2019): ResNet-18 encoder + U-Net disparity decoder + PoseNet.

The same self-supervised losses as the fine stage (:class:`SelfSupervisedDepthEstimator`); everything trains.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmdet3d.registry import MODELS

from .contracts import with_upstream_value
from .self_supervised import SelfSupervisedDepthEstimator

__all__ = ['Monodepth2DepthEstimator']


@MODELS.register_module()
class Monodepth2DepthEstimator(SelfSupervisedDepthEstimator):
    """Monodepth2 depth model: ``disp = decoder(encoder(img))``.

    Args:
        encoder: ``Monodepth2ResNetEncoder`` config.
        decoder: ``Monodepth2DepthDecoder`` config; ``num_ch_enc`` defaults to the encoder's (the channel contract).
        pose_net: ``HybridPoseNet`` config.
        trainable: Stage name or patterns (default ``'monodepth2'``: everything).
        **kwargs: :class:`SelfSupervisedDepthEstimator` arguments.
    """

    def __init__(self, encoder: dict, decoder: dict, pose_net: dict,
                 trainable: str | Sequence[str] | None = 'monodepth2', **kwargs) -> None:
        super().__init__(pose_net=pose_net, trainable=trainable, **kwargs)
        self.encoder = MODELS.build(encoder)
        decoder = with_upstream_value(decoder, 'num_ch_enc', list(self.encoder.num_ch_enc), 'decoder')
        self.decoder = MODELS.build(decoder)
        self._apply_trainable()

    def predict_disparity(self, img: torch.Tensor) -> dict[int, torch.Tensor]:
        """Args: img (B, 3, H, W) RGB in [0, 1]. Returns ``{s: (B, 1, H_s, W_s)}`` sigmoid disparity, s = 0..3."""
        return self.decoder(self.encoder(img), img.shape[-2:])
