"""CLIP towers from open_clip (Radford et al., ICML 2021, https://arxiv.org/abs/2103.00020).

``build_open_clip`` creates an open_clip ``CLIP`` (a named architecture or a config dict) and loads local
weights only; ``ClipVisualTower`` turns its image tower into a 4-level feature extractor for any input size
(ResNet towers: the 4 residual stage outputs; ViT towers: 4 intermediate blocks with resampled position
embeddings); ``ClipTextEncoder`` runs its text transformer on token ids or on token embeddings (so learnable
prompt tokens can be inserted).
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import open_clip
import torch
import torch.nn.functional as F
from open_clip.modified_resnet import ModifiedResNet
from open_clip.transformer import VisionTransformer, text_global_pool
from timm.layers import resample_abs_pos_embed
from torch import nn

from .pretrained import is_torchscript_archive, resolve_open_clip_weights

__all__ = ['ClipTextEncoder', 'ClipVisualTower', 'build_open_clip', 'pad_to_multiple']


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad the bottom and right of ``x`` so that H and W are multiples of ``multiple``.

    Args:
        x: (B, C, H, W) tensor.
        multiple: Patch size.

    Returns:
        (B, C, ceil(H/m) m, ceil(W/m) m) tensor; the original occupies the top-left corner.
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    return F.pad(x, (0, pad_w, 0, pad_h))


def build_open_clip(model_name: str = 'RN50', pretrained: str | None = 'openai',
                    model_cfg: dict | None = None, cache_dir: str | None = None) -> open_clip.CLIP:
    """Create an open_clip CLIP model, loading weights from a local file only.

    Args:
        model_name: open_clip architecture name (ignored when ``model_cfg`` is given).
        pretrained: ``None`` (random init), a tag of ``model_name`` found in the local cache
            (``'openai'``), or a checkpoint path.
        model_cfg: ``CLIP(**model_cfg)`` keyword arguments (``embed_dim``, ``vision_cfg``, ``text_cfg``,
            ``quick_gelu``) for custom (e.g. tiny) variants. Not modified.
        cache_dir: Cache directory used to resolve tags.

    Returns:
        The CLIP model in train mode.

    Raises:
        WeightsNotFoundError: if ``pretrained`` names weights that are not on disk.
    """
    path = resolve_open_clip_weights(model_name, pretrained, cache_dir) if pretrained is not None else None
    weights_only = path is None or not is_torchscript_archive(path)
    if model_cfg is not None:
        model = open_clip.CLIP(**copy.deepcopy(model_cfg))
        if path is not None:
            open_clip.load_checkpoint(model, path, strict=True, weights_only=weights_only)
        return model
    # the tag's QuickGELU flag (OpenAI weights) changes the text transformer's activation
    tag_cfg = open_clip.get_pretrained_cfg(model_name, pretrained) if pretrained is not None else {}
    return open_clip.create_model(model_name, pretrained=path, weights_only=weights_only,
                                  force_quick_gelu=bool(tag_cfg.get('quick_gelu')))


class ClipVisualTower(nn.Module):
    """4-level feature extractor over an open_clip image tower, for any input size.

    ResNet towers (``ModifiedResNet``) return ``layer1..layer4`` (strides 4, 8, 16, 32); the attention-pool
    head is removed. ViT towers return the outputs of 4 blocks (default: evenly spaced, ending at the
    last), each after ``ln_post``, at stride = patch size (blocks after the last index and the pooled
    projection are removed); the input is zero-padded to a multiple of the patch
    size and the position embeddings are resampled (bicubic) to the actual grid.

    Args:
        visual: ``clip.visual`` of an open_clip CLIP model.
        vit_indices: Block indices for ViT towers (``None`` = 4 evenly spaced).
    """

    def __init__(self, visual: nn.Module, vit_indices: Sequence[int] | None = None) -> None:
        super().__init__()
        self.visual = visual
        if isinstance(visual, ModifiedResNet):
            self.is_vit = False
            self.vit_indices: tuple[int, ...] = ()
            chans = [getattr(visual, f'layer{i}')[-1].conv3.out_channels for i in range(1, 5)]
            self.feature_info = [{'num_chs': c, 'reduction': 2 ** (i + 2), 'module': f'visual.layer{i + 1}'}
                                 for i, c in enumerate(chans)]
            visual.attnpool = nn.Identity()  # the attention-pool head is not used: drop its parameters
        elif isinstance(visual, VisionTransformer):
            self.is_vit = True
            depth = len(visual.transformer.resblocks)
            if vit_indices is None:
                vit_indices = [round((depth * (i + 1)) / 4) - 1 for i in range(4)]
            self.vit_indices = tuple(int(i) for i in vit_indices)
            width = visual.transformer.width
            self.feature_info = [{'num_chs': width, 'reduction': visual.patch_size[0],
                                  'module': f'visual.transformer.resblocks.{i}'} for i in self.vit_indices]
            visual.proj = None  # pooled-embedding projection is not used
            visual.transformer.resblocks = visual.transformer.resblocks[:max(self.vit_indices) + 1]
        else:
            raise TypeError(f'unsupported open_clip image tower {type(visual).__name__}')

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Extract features.

        Args:
            x: (B, 3, H, W) image, already CLIP-normalised.

        Returns:
            4 maps (B, C_i, H_i, W_i), channels and strides as ``feature_info``.
        """
        if not self.is_vit:
            v = self.visual
            x = v.stem(x)
            feats = []
            for layer in (v.layer1, v.layer2, v.layer3, v.layer4):
                x = layer(x)
                feats.append(x)
            return feats
        return self._forward_vit(x)

    def _forward_vit(self, x: torch.Tensor) -> list[torch.Tensor]:
        v = self.visual
        x = pad_to_multiple(x, v.patch_size[0])
        x = v.conv1(x)  # (B, W, gh, gw)
        b, c, gh, gw = x.shape
        x = x.flatten(2).transpose(1, 2)  # (B, gh*gw, W)
        cls = v.class_embedding.to(x.dtype).expand(b, 1, c)
        pos = resample_abs_pos_embed(v.positional_embedding[None], new_size=[gh, gw],
                                     old_size=list(v.grid_size), num_prefix_tokens=1)
        x = torch.cat([cls, x], dim=1) + pos.to(x.dtype)
        x = v.ln_pre(v.patch_dropout(x))
        _, inter = v.transformer.forward_intermediates(x, indices=list(self.vit_indices))
        return [v.ln_post(t)[:, 1:].transpose(1, 2).reshape(b, c, gh, gw) for t in inter]


class ClipTextEncoder(nn.Module):
    """The CLIP text transformer of an open_clip ``CLIP``, callable on token embeddings.

    ``forward`` computes ``proj(ln_final(transformer(E + P))[eot])`` where ``E`` are token embeddings
    (looked up from ``token_ids`` unless given), ``P`` the position embeddings of the first ``L``
    positions and ``eot`` the position of the highest token id (CLIP's end-of-text token). Because the text
    transformer is causal, truncating the sequence right after the end-of-text token gives the same result
    as the full 77 tokens.

    Args:
        clip_model: An open_clip ``CLIP`` (its text modules are shared, not copied).
    """

    def __init__(self, clip_model: open_clip.CLIP) -> None:
        super().__init__()
        self.token_embedding = clip_model.token_embedding
        self.positional_embedding = clip_model.positional_embedding
        self.transformer = clip_model.transformer
        self.ln_final = clip_model.ln_final
        self.text_projection = clip_model.text_projection
        self.register_buffer('attn_mask', clip_model.attn_mask, persistent=False)
        self.pool_type = clip_model.text_pool_type
        self.width = self.token_embedding.embedding_dim
        self.context_length = self.positional_embedding.shape[0]
        proj = self.text_projection
        self.embed_dim = proj.out_features if isinstance(proj, nn.Linear) else (
            proj.shape[1] if proj is not None else self.width)

    def forward(self, token_ids: torch.Tensor, token_embeds: torch.Tensor | None = None) -> torch.Tensor:
        """Encode prompts.

        Args:
            token_ids: (N, L) token ids, L <= context length (used for end-of-text pooling).
            token_embeds: Optional (N, L, width) input embeddings replacing ``token_embedding(token_ids)``.

        Returns:
            (N, embed_dim) text embeddings (not normalised).
        """
        seq_len = token_ids.shape[1]
        x = self.token_embedding(token_ids) if token_embeds is None else token_embeds
        x = x + self.positional_embedding[:seq_len].to(x.dtype)
        mask = self.attn_mask[:seq_len, :seq_len] if self.attn_mask is not None else None
        x = self.ln_final(self.transformer(x, attn_mask=mask))
        x = text_global_pool(x, token_ids, self.pool_type)
        if isinstance(self.text_projection, nn.Linear):
            return self.text_projection(x)
        return x @ self.text_projection if self.text_projection is not None else x
