"""Depth prompts of Hybrid-depth: 7 fixed depth words (coarse) and N learnable depth tokens (fine stage).

Both use the template ``"This patch appears to be {}"`` encoded by a CLIP text transformer (open_clip, frozen
by default). A learnable depth token is one vector of the text transformer's width put in place of the word,
i.e. the prompt is ``[SOT] this patch appears to be <token_k> [EOT]`` (as the official ``<|depth_k|>``
tokens). Sequences are cut right after ``[EOT]``: with CLIP's causal mask this equals the 77-token result.
"""
from __future__ import annotations

from collections.abc import Sequence

import open_clip
import torch
from mmdet3d.registry import MODELS
from torch import nn

from ..encoders.clip_towers import ClipTextEncoder, build_open_clip
from .alignment import pixel_text_logits, point_text_logits

__all__ = ['DEPTH_PROMPT_TEMPLATE', 'DEPTH_WORDS', 'DepthPromptBank']

DEPTH_PROMPT_TEMPLATE = 'This patch appears to be {}'
DEPTH_WORDS = ('very close', 'close', 'slightly close', 'neither close nor distant', 'slightly distant',
               'distant', 'very distant')


def _trim(token_ids: torch.Tensor) -> torch.Tensor:
    """Cut (N, 77) token ids after the last end-of-text token (the row-wise maximum id)."""
    return token_ids[:, :int(token_ids.argmax(dim=-1).max()) + 1]


@MODELS.register_module()
class DepthPromptBank(nn.Module):
    """Depth-word and depth-token prompts plus the image-text heads of both stages.

    Coarse stage: :meth:`point_logits` projects the concatenated 4-level point features with a learned
    linear layer (the official code subsamples channels 4096 -> 1024 instead) and scores them against the
    7 depth words. Fine stage: :meth:`forward` appends to each feature level the pixel-text logits against the
    N depth tokens (``C + N`` channels).

    Args:
        clip_model: open_clip architecture whose text tower is used.
        clip_pretrained: ``'openai'``, a checkpoint path, or ``None`` (random init); see ``HybridEncoder``.
        clip_model_cfg: Custom open_clip config (e.g. ``TINY_CLIP_CFG``).
        cache_dir: Cache directory used to resolve weight tags.
        template: Prompt template with one ``{}``.
        depth_words: Ordered fixed depth words, nearest first.
        num_depth_tokens: Learnable depth tokens N (0 disables the fine-stage head).
        feature_channels: Channels C of each encoder level.
        num_levels: Encoder levels concatenated for point features.
        logit_scale: Scale of the cosine logits (100).
        train_text_encoder: Leave the CLIP text tower trainable (frozen in the paper).
    """

    def __init__(self, clip_model: str = 'RN50', clip_pretrained: str | None = 'openai',
                 clip_model_cfg: dict | None = None, cache_dir: str | None = None,
                 template: str = DEPTH_PROMPT_TEMPLATE, depth_words: Sequence[str] = DEPTH_WORDS,
                 num_depth_tokens: int = 256, feature_channels: int = 1024, num_levels: int = 4,
                 logit_scale: float = 100.0, train_text_encoder: bool = False) -> None:
        super().__init__()
        clip = build_open_clip(clip_model, clip_pretrained, clip_model_cfg, cache_dir)
        self.text_encoder = ClipTextEncoder(clip)
        self.text_encoder.requires_grad_(train_text_encoder)
        embed_dim = self.text_encoder.embed_dim
        self.embed_dim = embed_dim
        self.logit_scale = logit_scale
        self.num_depth_words = len(depth_words)
        self.num_depth_tokens = num_depth_tokens
        self.feature_channels = feature_channels
        ctx = self.text_encoder.context_length
        words = open_clip.tokenize([template.format(w) for w in depth_words], context_length=ctx)
        self.register_buffer('word_token_ids', _trim(words), persistent=False)
        self.point_proj = nn.Linear(num_levels * feature_channels, embed_dim)
        if num_depth_tokens > 0:
            # [SOT] this patch appears to be [EOT]
            stem = open_clip.tokenize([template.format('').rstrip()], context_length=ctx)[0]
            eot = int(stem.argmax())
            ids = torch.cat([stem[:eot], stem.new_zeros(1), stem[eot:eot + 1]])  # placeholder id 0 before EOT
            self.register_buffer('token_prompt_ids', ids[None].repeat(num_depth_tokens, 1), persistent=False)
            self.token_position = eot
            self.depth_tokens = nn.Parameter(torch.randn(num_depth_tokens, self.text_encoder.width) * 0.02)
            self.pixel_proj = (nn.Identity() if feature_channels == embed_dim
                               else nn.Conv2d(feature_channels, embed_dim, kernel_size=1))
            self.out_channels = feature_channels + num_depth_tokens
        else:
            self.depth_tokens = None
            self.pixel_proj = None
            self.out_channels = feature_channels

    def encode_depth_words(self) -> torch.Tensor:
        """Embeddings of the fixed depth prompts, nearest first.

        Returns:
            (num_depth_words, embed_dim) L2-normalised embeddings.
        """
        return nn.functional.normalize(self.text_encoder(self.word_token_ids), dim=-1)

    def encode_depth_tokens(self) -> torch.Tensor:
        """Embeddings of the learnable depth-token prompts.

        Returns:
            (N, embed_dim) L2-normalised embeddings (differentiable w.r.t. ``depth_tokens``).
        """
        if self.depth_tokens is None:
            raise RuntimeError('num_depth_tokens=0: this prompt bank has no depth tokens')
        ids = self.token_prompt_ids
        embeds = self.text_encoder.token_embedding(ids)  # (N, L, width)
        pos = torch.arange(ids.shape[1], device=ids.device) == self.token_position  # (L,)
        embeds = torch.where(pos[None, :, None], self.depth_tokens[:, None, :].to(embeds.dtype), embeds)
        return nn.functional.normalize(self.text_encoder(ids, embeds), dim=-1)

    def point_logits(self, point_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Coarse stage: score ordered points against the depth words.

        Args:
            point_features: (B, P, num_levels * C) from ``sample_point_features``.

        Returns:
            ``(logits, projected)``: (B, P, num_depth_words) logits ``scale * cos`` and the (B, P, embed_dim)
            projected point features (input of the repulsion loss).
        """
        projected = self.point_proj(point_features)
        return point_text_logits(projected, self.encode_depth_words(), self.logit_scale), projected

    def forward(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Fine stage: append depth-token logits to every level.

        Args:
            features: Levels (B, C, h_l, w_l).

        Returns:
            Levels (B, C + N, h_l, w_l): ``[features || scale * cos(feature, token prompt)]``.
        """
        text = self.encode_depth_tokens()
        return [torch.cat([f, pixel_text_logits(self.pixel_proj(f), text, self.logit_scale)], dim=1)
                for f in features]
