"""DINOv2 tower from timm (Oquab et al., 2023, https://arxiv.org/abs/2304.07193).

``build_dinov2`` creates a timm DINOv2 ViT with ``dynamic_img_size=True`` (position embeddings interpolated to
the actual patch grid) and loads local weights only; ``DinoV2Tower`` pads the input to a multiple of the patch
size and returns chosen intermediate blocks, each after the final LayerNorm, as NCHW maps.

Position embeddings (``pos_embed``): ``'official'`` (default) resamples them as the official DINOv2 hub model used
by Hybrid-depth does (``interpolate_pos_encoding``: bicubic, no antialias, ``scale_factor = (g + 0.1) / M`` for a
grid of ``g`` patches and the ``M x M`` pretrained grid, unchanged when the grid is ``M x M``); ``'timm'`` is timm's
``resample_abs_pos_embed`` (bicubic to the grid size), whose values differ slightly.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import timm
import torch
import torch.nn.functional as F
from torch import nn

from .clip_towers import pad_to_multiple
from .pretrained import resolve_timm_weights

__all__ = ['DinoV2Tower', 'build_dinov2', 'official_patch_pos_embed']

POS_EMBED_MODES = ('official', 'timm')


def official_patch_pos_embed(pos_embed: torch.Tensor, grid: tuple[int, int], num_prefix_tokens: int = 1,
                             offset: float = 0.1) -> torch.Tensor:
    """Patch position embeddings resampled to ``grid`` as the official DINOv2 ``interpolate_pos_encoding``.

    Args:
        pos_embed: (1, num_prefix_tokens + M * M, C) pretrained embeddings (prefix first).
        grid: ``(gh, gw)`` patch grid.
        num_prefix_tokens: Leading non-patch tokens (the class token).
        offset: The DINOv2 ``interpolate_offset`` (0.1) added to the grid in the scale factor.

    Returns:
        (1, gh, gw, C) embeddings (the input unchanged, reshaped, when ``grid == (M, M)``).
    """
    patch = pos_embed[:, num_prefix_tokens:]
    n, dim = patch.shape[1], patch.shape[2]
    m = int(math.sqrt(n))
    if m * m != n:
        raise ValueError(f'position embeddings of {n} patches are not a square grid')
    gh, gw = grid
    patch = patch.reshape(1, m, m, dim)
    if (gh, gw) == (m, m):
        return patch
    out = F.interpolate(patch.permute(0, 3, 1, 2).float(), scale_factor=((gh + offset) / m, (gw + offset) / m),
                        mode='bicubic', antialias=False)
    if out.shape[-2:] != (gh, gw):
        raise RuntimeError(f'official position-embedding resampling gave {tuple(out.shape[-2:])}, expected {grid}')
    return out.permute(0, 2, 3, 1).to(pos_embed.dtype)


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
        pos_embed: ``'official'`` (DINOv2 hub resampling, default) or ``'timm'`` (see the module docstring).
    """

    def __init__(self, model: nn.Module, indices: Sequence[int] = (2, 5, 8, 11), fused_attn: bool = True,
                 pos_embed: str = 'official') -> None:
        super().__init__()
        if pos_embed not in POS_EMBED_MODES:
            raise ValueError(f'pos_embed must be one of {POS_EMBED_MODES}, got {pos_embed!r}')
        self.pos_embed_mode = pos_embed
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
        if self.pos_embed_mode == 'timm':
            return self.model.forward_intermediates(x, indices=list(self.indices), norm=True, output_fmt='NCHW',
                                                    intermediates_only=True)
        m = self.model
        x = m.patch_embed(x)  # (B, gh, gw, C): dynamic_img_size patch embedding is NHWC
        b, gh, gw, c = x.shape
        prefix = m.num_prefix_tokens
        x = x + official_patch_pos_embed(m.pos_embed, (gh, gw), prefix)
        cls = m.cls_token.expand(b, -1, -1) + m.pos_embed[:, :1]
        x = torch.cat([cls, x.reshape(b, gh * gw, c)], dim=1)  # (B, 1 + gh*gw, C)
        x = m.norm_pre(m.patch_drop(x))
        outs = []
        last = max(self.indices)
        for i, block in enumerate(m.blocks):
            x = block(x)
            if i in self.indices:
                outs.append(m.norm(x)[:, prefix:].transpose(1, 2).reshape(b, c, gh, gw).contiguous())
            if i == last:
                break
        return outs
