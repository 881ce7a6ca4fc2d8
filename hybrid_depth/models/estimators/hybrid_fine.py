"""Hybrid-depth fine stage (Zhang et al., ICCV 2025): hybrid encoder + pixel-level language alignment + DPT,
trained by Monodepth2-style self-supervision.

The encoder starts from the coarse stage (``load_from`` a coarse checkpoint: mmengine loads it with
``strict=False``, so the depth tokens, decoder and PoseNet start fresh; the authors' ``stage1.ckpt`` converts with
``tools/convert_official_checkpoint.py``). Trainable by default (``trainable='fine'``, the official
``Stage2/trainer.py`` set): CLIP image tower, align convs, the text tower's embeddings / ``ln_final`` /
``text_projection``, last DINOv2 block, depth tokens, decoder, PoseNet; frozen: CLIP text transformer, other
DINOv2 blocks. The loss is taken at the decoder's scales: the official head gives scale 0 only.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmdet3d.registry import MODELS

from .contracts import with_upstream_value
from .self_supervised import SelfSupervisedDepthEstimator

__all__ = ['HybridFineDepthEstimator']


@MODELS.register_module()
class HybridFineDepthEstimator(SelfSupervisedDepthEstimator):
    """Fine-stage depth model: ``disp = decoder(prompt_bank(encoder(img)))``.

    Args:
        encoder: ``HybridEncoder`` config (4 levels of C channels on the 1/14 grid).
        prompt_bank: ``DepthPromptBank`` config with ``num_depth_tokens`` N > 0 (levels become C + N channels);
            ``feature_channels`` defaults to the encoder's C.
        decoder: ``HybridDPTDecoder`` config; ``in_channels`` and ``patch_size`` default to the upstream values.
        pose_net: ``HybridPoseNet`` config.
        trainable: Stage name or patterns (default ``'fine'``).
        **kwargs: :class:`SelfSupervisedDepthEstimator` arguments (losses, frame ids, depth range, ...).
    """

    def __init__(self, encoder: dict, prompt_bank: dict, decoder: dict, pose_net: dict,
                 trainable: str | Sequence[str] | None = 'fine', **kwargs) -> None:
        super().__init__(pose_net=pose_net, trainable=trainable, **kwargs)
        self.encoder = MODELS.build(encoder)
        self.prompt_bank = MODELS.build(with_upstream_value(prompt_bank, 'feature_channels', self.encoder.out_channels,
                                                      'prompt_bank'))
        if not self.prompt_bank.num_depth_tokens:
            raise ValueError('the fine stage needs prompt_bank.num_depth_tokens > 0')
        decoder = with_upstream_value(decoder, 'in_channels', self.prompt_bank.out_channels, 'decoder')
        self.decoder = MODELS.build(with_upstream_value(decoder, 'patch_size', self.encoder.patch_size, 'decoder'))
        self._apply_trainable()

    def predict_disparity(self, img: torch.Tensor) -> dict[int, torch.Tensor]:
        """Args: img (B, 3, H, W) RGB in [0, 1]. Returns ``{0: (B, 1, H, W)}`` ReLU disparity (official head) or
        ``{s: (B, 1, H // 2**s, W // 2**s)}`` sigmoid disparity (option ``decoder.head='sigmoid'``)."""
        return self.decoder(self.prompt_bank(self.encoder(img)), img.shape[-2:])
