"""DINOv2 tower from timm (Oquab et al., 2023, https://arxiv.org/abs/2304.07193).

``build_dinov2`` creates a timm DINOv2 ViT with ``dynamic_img_size=True`` (position embeddings interpolated to
the actual patch grid) and loads local weights only; ``DinoV2Tower`` pads the input to a multiple of the patch
size and returns chosen intermediate blocks, each after the final LayerNorm, as NCHW maps.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import timm
import torch
from torch import nn

from .clip_towers import pad_to_multiple
from .pretrained import resolve_timm_weights

__all__ = ['DinoV2Tower', 'build_dinov2']


def build_dinov2(model_name: str = 'vit_base_patch14_dinov2', pretrained: str | None = 'lvd142m',
                 model_kwargs: dict | None = None, cache_dir: str | None = None) -> nn.Module:
    """Create a timm DINOv2 ViT (no classifier, dynamic image size), loading weights from a local file only.

    Args:
        model_name: timm architecture name.
        pretrained: ``None`` (random init), a timm tag found in the local HF cache (``'lvd142m'``) or a path
            to a timm or original-format DINOv2 checkpoint.
        model_kwargs: Extra ``timm.create_model`` keyword arguments (e.g. ``embed_dim``, ``depth``,
            ``num_heads``, ``img_size`` for tiny variants). Not modified.
        cache_dir: HF hub cache dir used to resolve tags.

    Returns:
        The timm ``VisionTransformer``.

    Raises:
        WeightsNotFoundError: if ``pretrained`` names weights that are not on disk.
    """
    kwargs = {'num_classes': 0, 'dynamic_img_size': True}
    kwargs.update(copy.deepcopy(model_kwargs or {}))
    if pretrained is None:
        return timm.create_model(model_name, pretrained=False, **kwargs)
    path = resolve_timm_weights(model_name, pretrained, cache_dir)
    return timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay={'file': path, 'source': ''},
                             **kwargs)


class DinoV2Tower(nn.Module):
    """Intermediate DINOv2 blocks as NCHW maps at 1/patch of the padded input.

    Args:
        model: A timm ``VisionTransformer`` built with ``dynamic_img_size=True``.
        indices: 0-based block indices ([2, 5, 8, 11] for ViT-B/14); blocks after the last one are removed.
        fused_attn: Attention through ``F.scaled_dot_product_attention`` (fused flash kernels on CPU and
            CUDA) in every block, whatever timm's ``TIMM_FUSED_ATTN`` default says; ``False``: timm's explicit
            ``softmax(q k^T) v`` (same values up to rounding, slower).
    """

    def __init__(self, model: nn.Module, indices: Sequence[int] = (2, 5, 8, 11), fused_attn: bool = True) -> None:
        super().__init__()
        self.indices = tuple(int(i) for i in indices)
        if max(self.indices) >= len(model.blocks):
            raise ValueError(f'block index {max(self.indices)} out of range for {len(model.blocks)} blocks')
        model.prune_intermediate_layers(list(self.indices), prune_norm=False, prune_head=True)
        for block in model.blocks:
            block.attn.fused_attn = fused_attn
        self.model = model
        self.patch_size = model.patch_embed.patch_size[0]
        self.feature_info = [{'num_chs': model.embed_dim, 'reduction': self.patch_size,
                              'module': f'model.blocks.{i}'} for i in self.indices]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Extract features.

        Args:
            x: (B, 3, H, W) image, already ImageNet-normalised.

        Returns:
            len(indices) maps (B, C, ceil(H/p), ceil(W/p)) after the final LayerNorm.
        """
        x = pad_to_multiple(x, self.patch_size)
        return self.model.forward_intermediates(x, indices=list(self.indices), norm=True, output_fmt='NCHW',
                                                intermediates_only=True)
