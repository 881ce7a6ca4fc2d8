"""Hybrid-depth image backbone for detectors: the CLIP + DINOv2 :class:`HybridEncoder` behind an mmdet-style
backbone interface (tuple of levels, declared channels and strides, frozen parts, pretrained init).

Initialisation, in order: the encoder's own weights (``encoder=dict(clip_pretrained='openai',
dino_pretrained='lvd142m')`` loads the raw CLIP / DINOv2 files from the local caches), then ``checkpoint``
(the output of ``tools/export_backbone.py``, keys ``backbone.*``; see :mod:`.weights`).
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmdet3d.registry import MODELS
from mmengine.model import BaseModule

from ..encoders import hybrid_encoder_rn50_vitb14, hybrid_encoder_tiny
from ..trainable import resolve_trainable
from .weights import load_exported_weights

__all__ = ['HybridDepthBackbone']

_PRESETS = {'rn50_vitb14': hybrid_encoder_rn50_vitb14, 'tiny': hybrid_encoder_tiny}


@MODELS.register_module()
class HybridDepthBackbone(BaseModule):
    """CLIP + DINOv2 hybrid encoder as a detection backbone.

    Input: (B, 3, H, W) RGB in [0, 1] (use a data preprocessor with ``mean=0, std=255, bgr_to_rgb=True``: the
    encoder applies its own ``normalize`` mode; by default none, as the official Stage 2 and the released
    weights). Output: one (B, C, h_i, w_i) map per ``out_indices`` entry, with
    ``C = feature_info[i]['num_chs']`` and stride ``feature_info[i]['reduction']``: the native grid is 1/14
    (``h = ceil(H / 14)``, covering the bottom/right zero padding); with ``out_strides`` each level is resampled
    (bilinear) to ``ceil(H / s) x ceil(W / s)``.

    Args:
        preset: ``'rn50_vitb14'`` (the paper's CLIP RN50 + DINOv2 ViT-B/14, 4 x 1024 ch) or ``'tiny'``
            (random-init 4 x 64 ch, for tests and demos).
        encoder: Keyword overrides of the preset's ``HybridEncoder`` arguments (e.g. ``clip_pretrained=None``;
            the speed-ups ``autocast``, ``channels_last``, ``fused_attn``, ``fused_preprocess`` are on by default,
            see ``benchmarks/backbone_latency.py``).
        out_indices: Levels returned (0-3).
        out_strides: Stride per returned level, or ``None`` for the native 1/14 grid.
        frozen: fnmatch patterns over the encoder's parameter names to freeze (``'dino.*'``,
            ``'clip.model.layer1.*'``); each must match something.
        norm_eval: Keep the CLIP tower's BatchNorm statistics frozen while training.
        checkpoint: Exported weights (``tools/export_backbone.py``) loaded into the encoder.
        init_cfg: mmengine init config.
    """

    def __init__(self, preset: str = 'rn50_vitb14', encoder: dict | None = None,
                 out_indices: Sequence[int] = (0, 1, 2, 3), out_strides: Sequence[int] | None = None,
                 frozen: Sequence[str] = (), norm_eval: bool = False, checkpoint: str | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if preset not in _PRESETS:
            raise ValueError(f'unknown preset {preset!r}; choose from {sorted(_PRESETS)}')
        kwargs = copy.deepcopy(dict(encoder or {}))
        kwargs.setdefault('norm_eval', norm_eval)
        self.encoder = _PRESETS[preset](**kwargs)
        self.out_indices = tuple(out_indices)
        if out_strides is not None and len(out_strides) != len(self.out_indices):
            raise ValueError(f'out_strides {tuple(out_strides)} must give one stride per out_indices entry')
        self.out_strides = tuple(out_strides) if out_strides is not None else None
        patch = self.encoder.patch_size
        self.feature_info = [
            {'num_chs': self.encoder.feature_info[i]['num_chs'],
             'reduction': self.out_strides[k] if self.out_strides else patch, 'module': f'encoder.align.{i}'}
            for k, i in enumerate(self.out_indices)]
        self.out_channels = [f['num_chs'] for f in self.feature_info]
        self.missing_from_checkpoint = (load_exported_weights(self.encoder, checkpoint, 'backbone.')
                                        if checkpoint else [])
        self.frozen_names = resolve_trainable(self.encoder, frozen, strict=True) if frozen else []
        params = dict(self.encoder.named_parameters())
        for name in self.frozen_names:
            params[name].requires_grad_(False)

    def forward(self, img: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Args: img: (B, 3, H, W) RGB in [0, 1]. Returns: the levels described in the class docstring."""
        levels = self.encoder(img)
        outs = [levels[i] for i in self.out_indices]
        if self.out_strides is None:
            return tuple(outs)
        height, width = img.shape[-2:]
        resampled = []
        for feat, stride in zip(outs, self.out_strides):
            gh, gw = feat.shape[-2:]  # grid of the padded image (gh * 14 rows)
            ph, pw = -(-gh * self.encoder.patch_size // stride), -(-gw * self.encoder.patch_size // stride)
            feat = F.interpolate(feat, size=(ph, pw), mode='bilinear', align_corners=False)
            resampled.append(feat[..., :-(-height // stride), :-(-width // stride)])
        return tuple(resampled)
