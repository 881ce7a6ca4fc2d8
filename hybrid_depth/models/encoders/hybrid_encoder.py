"""Hybrid-grained CLIP + DINOv2 encoder of Hybrid-depth (Zhang et al., ICCV 2025, https://arxiv.org/abs/2510.09320).

A CLIP image tower (open_clip; RN50 by default) and a DINOv2 ViT (timm; ViT-B/14 by default) each see the
image with their own normalisation. Each of the 4 CLIP levels is resized (nearest) to the DINOv2 patch grid
and mapped by a 1x1 conv to ``clip_align_channels`` (identity when it already has that width); each level is
the concatenation ``[DINO block i || aligned CLIP level i]`` (768 + 256 = 1024 channels at 1/14 by default).

Input normalisation (``normalize``): official by default. The official Stage 2 (and so the released weights)
feeds raw [0, 1] images to both towers (``'none'``, the default); the official Stage 1 feeds both towers the same
ImageNet-normalised image (``'imagenet'``, set by the coarse configs); ``'per_tower'`` (CLIP statistics for CLIP,
ImageNet for DINOv2) is our variant, kept as an option. DINOv2 position embeddings are resampled as the official
DINOv2 hub model does (bicubic with the ``+0.1`` scale-factor offset; see :class:`DinoV2Tower`).

Extension of the official code (which hard-codes 224x672): any H x W (input zero-padded at the bottom/right to a
multiple of 14 after normalisation); for multiples of 14 the result is the official one.

Speed (``benchmarks/backbone_latency.py``): both towers' inputs are normalised and padded in one pass, the CLIP
ResNet runs in channels-last memory format, DINOv2 uses fused SDPA attention (all three give the reference's
values), and, with ``autocast='auto'`` (our option; official and default: fp32), both towers run under bf16 autocast
where the hardware has native bf16 (outputs in fp32; see :mod:`.precision`).
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmdet3d.registry import MODELS
from open_clip import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from torch import nn

from .clip_towers import ClipVisualTower, build_open_clip, pad_to_multiple
from .dinov2 import DinoV2Tower, build_dinov2
from .precision import AUTOCAST_MODES, autocast_dtype

__all__ = ['IMAGENET_MEAN', 'IMAGENET_STD', 'NORMALIZE_MODES', 'TINY_CLIP_CFG', 'TINY_DINO_KWARGS',
           'TINY_ENCODER_KWARGS',
           'HybridEncoder',            'hybrid_encoder_rn50_vitb14', 'hybrid_encoder_tiny']

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# input normalisation of the two towers: (CLIP mean, CLIP std, DINOv2 mean, DINOv2 std)
NORMALIZE_MODES = {
    'none': ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),  # official Stage 2
    'imagenet': (IMAGENET_MEAN, IMAGENET_STD, IMAGENET_MEAN, IMAGENET_STD),  # official Stage 1
    'per_tower': (OPENAI_DATASET_MEAN, OPENAI_DATASET_STD, IMAGENET_MEAN, IMAGENET_STD),  # ours (option)
}


@MODELS.register_module()
class HybridEncoder(nn.Module):
    """CLIP + DINOv2 hybrid encoder: 4 levels of ``dino_dim + clip_align_channels`` channels at 1/14.

    Args:
        clip_model: open_clip architecture name (ResNet towers give their 4 stage outputs, ViT towers 4
            intermediate blocks).
        clip_pretrained: ``'openai'`` (or another open_clip tag) resolved in the local cache, a checkpoint
            path, or ``None`` for random init.
        clip_model_cfg: Custom open_clip ``CLIP`` config dict (e.g. :data:`TINY_CLIP_CFG`); overrides
            ``clip_model``'s architecture.
        clip_vit_indices: Block indices when the CLIP tower is a ViT (``None``: 4 evenly spaced).
        dino_model: timm DINOv2 architecture name.
        dino_pretrained: timm tag (``'lvd142m'``) resolved in the local HF cache, a checkpoint path, or
            ``None`` for random init.
        dino_kwargs: Extra ``timm.create_model`` arguments (e.g. :data:`TINY_DINO_KWARGS`).
        dino_indices: 0-based DINOv2 blocks taken (one per level), after the final LayerNorm.
        clip_align_channels: Channels of each aligned CLIP level.
        cache_dir: Cache directory used to resolve weight tags (default: the libraries' caches).
        norm_eval: Keep the CLIP tower's BatchNorm layers in eval mode (frozen running statistics) while
            training, as mmdet backbones do for small batches.
        normalize: Input normalisation: ``'none'`` (official Stage 2 and the released weights: raw [0, 1] to
            both towers), ``'imagenet'`` (official Stage 1: ImageNet statistics for both towers) or
            ``'per_tower'`` (ours: CLIP statistics for CLIP, ImageNet for DINOv2).
        dino_pos_embed: DINOv2 position-embedding resampling, ``'official'`` (DINOv2 hub: bicubic with scale
            factor ``(g + 0.1) / M``) or ``'timm'`` (bicubic to the grid size).
        autocast: ``'auto'``: run both towers and the align convs under bf16 autocast on CUDA devices with
            bf16 and CPUs with native bf16 (AVX512-BF16 / AMX), fp32 elsewhere; ``'bf16'``: always; ``None``
            (official, default): fp32. Weights and returned maps stay fp32, so training is plain mixed precision.
        channels_last: Run the CLIP ResNet tower in channels-last memory format (same values; oneDNN / cuDNN
            convolutions skip their layout reorders). The ``'clip'`` maps are then channels-last.
        fused_attn: Fused SDPA attention in the DINOv2 blocks (see :class:`DinoV2Tower`).
        fused_preprocess: Normalise and zero-pad the input for both towers in one pass, writing straight into
            the padded (and, with ``channels_last``, channels-last) tower inputs; ``False``: the reference
            (normalise, pad, convert per tower). Same values either way.
    """

    def __init__(self, clip_model: str = 'RN50', clip_pretrained: str | None = 'openai',
                 clip_model_cfg: dict | None = None, clip_vit_indices: Sequence[int] | None = None,
                 dino_model: str = 'vit_base_patch14_dinov2', dino_pretrained: str | None = 'lvd142m',
                 dino_kwargs: dict | None = None, dino_indices: Sequence[int] = (2, 5, 8, 11),
                 clip_align_channels: int = 256, cache_dir: str | None = None, normalize: str = 'none',
                 dino_pos_embed: str = 'official',
                 norm_eval: bool = False, autocast: str | None = None, channels_last: bool = True,
                 fused_attn: bool = True, fused_preprocess: bool = True) -> None:
        super().__init__()
        self.norm_eval = norm_eval
        if len(dino_indices) != 4:
            raise ValueError(f'dino_indices must name 4 blocks, got {dino_indices}')
        if autocast not in AUTOCAST_MODES:
            raise ValueError(f'autocast must be one of {AUTOCAST_MODES}, got {autocast!r}')
        self.autocast = autocast
        if normalize not in NORMALIZE_MODES:
            raise ValueError(f'normalize must be one of {sorted(NORMALIZE_MODES)}, got {normalize!r}')
        self.normalize = normalize
        self.fused_preprocess = fused_preprocess
        clip = build_open_clip(clip_model, clip_pretrained, clip_model_cfg, cache_dir)
        self.clip = ClipVisualTower(clip.visual, clip_vit_indices)
        self.clip_memory_format = (torch.channels_last if channels_last and not self.clip.is_vit
                                   else torch.contiguous_format)
        dino = build_dinov2(dino_model, dino_pretrained, dino_kwargs, cache_dir)
        self.dino = DinoV2Tower(dino, dino_indices, fused_attn=fused_attn, pos_embed=dino_pos_embed)
        self.patch_size = self.dino.patch_size
        self.align = nn.ModuleList([
            nn.Identity() if info['num_chs'] == clip_align_channels
            else nn.Conv2d(info['num_chs'], clip_align_channels, kernel_size=1)
            for info in self.clip.feature_info
        ])
        for name, value in zip(('clip_mean', 'clip_std', 'dino_mean', 'dino_std'), NORMALIZE_MODES[normalize]):
            self.register_buffer(name, torch.tensor(value).view(1, 3, 1, 1), persistent=False)
        out_chs = self.dino.feature_info[0]['num_chs'] + clip_align_channels
        self.out_channels = out_chs
        self.feature_info = [{'num_chs': out_chs, 'reduction': self.patch_size, 'module': f'align.{i}'}
                             for i in range(4)]

    def train(self, mode: bool = True) -> HybridEncoder:
        """Set train/eval mode; with ``norm_eval`` the BatchNorm layers stay in eval mode."""
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        """Feature grid ``(ceil(H / 14), ceil(W / 14))`` for an input of ``height x width``."""
        p = self.patch_size
        return -(-height // p), -(-width // p)

    def preprocess(self, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tower inputs: ``img`` normalised per tower, zero-padded at the bottom/right to a multiple of 14.

        Args:
            img: (B, 3, H, W) RGB in [0, 1].

        Returns:
            CLIP input and DINOv2 input (normalised as ``normalize`` says), each (B, 3, 14 h, 14 w) with
            ``h, w = grid_size(H, W)``; the CLIP input in the CLIP tower's memory format.
        """
        if not self.fused_preprocess or (img.requires_grad and torch.is_grad_enabled()):  # out= has no autograd
            return self.preprocess_reference(img)
        b, c, height, width = img.shape
        h, w = self.grid_size(height, width)
        padded = []
        for mean, std, fmt in ((self.clip_mean, self.clip_std, self.clip_memory_format),
                               (self.dino_mean, self.dino_std, torch.contiguous_format)):
            out = torch.empty(b, c, h * self.patch_size, w * self.patch_size, dtype=img.dtype, device=img.device,
                              memory_format=fmt)
            out[..., height:, :] = 0
            out[..., :height, width:] = 0
            inner = out[..., :height, :width]
            torch.sub(img, mean, out=inner)  # the same two ops as the reference, written in place
            inner.div_(std)
            padded.append(out)
        return padded[0], padded[1]

    def preprocess_reference(self, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reference for :meth:`preprocess`: normalise, pad and convert the memory format, per tower."""
        clip_in = pad_to_multiple((img - self.clip_mean) / self.clip_std, self.patch_size)
        dino_in = pad_to_multiple((img - self.dino_mean) / self.dino_std, self.patch_size)
        return clip_in.contiguous(memory_format=self.clip_memory_format), dino_in

    def forward_intermediates(self, img: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """Tower outputs and the fused levels.

        Args:
            img: (B, 3, H, W) RGB in [0, 1].

        Returns:
            Dict with ``'clip'`` (4 maps at the CLIP strides of the padded image), ``'dino'`` (4 maps
            (B, dino_dim, h, w)) and ``'fused'`` (4 maps (B, out_channels, h, w)), ``h, w = grid_size(H, W)``;
            fp32 when the encoder's own autocast ran (otherwise the dtype of any outer autocast).
        """
        # both towers see the same zero-padded extent (zero = the tower's mean colour after normalisation)
        clip_in, dino_in = self.preprocess(img)
        dtype = autocast_dtype(self.autocast, img.device)
        # no context when fp32 (an outer autocast, e.g. mmengine's AmpOptimWrapper, still applies); no cast cache:
        # every weight is used once per forward, caching would only hold its bf16 copy until the end
        context = (torch.autocast(img.device.type, dtype=dtype, cache_enabled=False) if dtype is not None
                   else contextlib.nullcontext())
        with context:
            clip_feats = self.clip(clip_in)
            dino_feats = self.dino(dino_in)
            fused = []
            for align, c, d in zip(self.align, clip_feats, dino_feats):
                c = align(F.interpolate(c, size=d.shape[-2:], mode='nearest'))
                fused.append(torch.cat([d, c], dim=1))  # mixed dtypes under autocast promote to the wider
        out = {'clip': clip_feats, 'dino': dino_feats, 'fused': fused}
        if dtype is None:
            return out
        return {k: [t.float() for t in v] for k, v in out.items()}

    def forward(self, img: torch.Tensor) -> list[torch.Tensor]:
        """Encode an image.

        Args:
            img: (B, 3, H, W) RGB in [0, 1], any H and W (at least 32 for ResNet CLIP towers).

        Returns:
            4 maps (B, out_channels, ceil(H/14), ceil(W/14)), as ``feature_info``.
        """
        return self.forward_intermediates(img)['fused']


# Tiny variant (random init) for tests and the demo: 4-block CLIP-ResNet of width 8 (stage channels 32, 64,
# 128, 256), 1-layer text transformer, embed dim 64; 4-block DINOv2-style ViT/14 of width 48; fused 48 + 16.
TINY_CLIP_CFG = {
    'embed_dim': 64,
    'vision_cfg': {'image_size': 64, 'layers': [1, 1, 1, 1], 'width': 8, 'patch_size': None},
    'text_cfg': {'context_length': 77, 'vocab_size': 49408, 'width': 32, 'heads': 2, 'layers': 1},
}
TINY_DINO_KWARGS = {'img_size': 56, 'embed_dim': 48, 'depth': 4, 'num_heads': 2}
TINY_ENCODER_KWARGS = {'clip_pretrained': None, 'clip_model_cfg': TINY_CLIP_CFG,
                       'dino_model': 'vit_small_patch14_dinov2', 'dino_pretrained': None,
                       'dino_kwargs': TINY_DINO_KWARGS, 'dino_indices': (0, 1, 2, 3),
                       'clip_align_channels': 16}


def hybrid_encoder_rn50_vitb14(**kwargs) -> HybridEncoder:
    """The paper's encoder: CLIP RN50 ('openai') + DINOv2 ViT-B/14 ('lvd142m'), 4 x 1024 ch at 1/14."""
    return HybridEncoder(**kwargs)


def hybrid_encoder_tiny(**kwargs) -> HybridEncoder:
    """Tiny random-init variant (4 x 64 ch at 1/14) for tests and the demo; kwargs override."""
    cfg = copy.deepcopy(TINY_ENCODER_KWARGS)
    cfg.update(kwargs)
    return HybridEncoder(**cfg)
