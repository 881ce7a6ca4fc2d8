"""Depth prompts of Hybrid-depth: 7 fixed depth words (coarse) and N learnable depth tokens (fine stage).

Both use the template ``"This patch appears to be {}"`` encoded by a CLIP text transformer (open_clip, frozen
by default). A learnable depth token is one vector of the text transformer's width put in place of the word,
i.e. the prompt is ``[SOT] this patch appears to be <token_k> [EOT]`` (as the official ``<|depth_k|>``
tokens). Sequences are cut right after ``[EOT]``: with CLIP's causal mask this equals the 77-token result.

Official by default (``modules/DepthCLIP_dino.py``, ``Stage2/networks/dino_clip_encoder.py`` and
``depthclip_decoder.py``): features reach the text width without parameters (``channel_reduction='interpolate'``:
every 4th channel of the 4 x 1024 point features; identity for 1024-ch pixels), the text matrix is
row-normalised and divided by its norm (``text_norm='matrix'``), and the fine stage puts the logits first
(``logits_first=True``: ``[logits || features]``). Our variants are options: a learned projection
(``channel_reduction='linear'``), cosine logits (``text_norm='rows'``), ``logits_first=False``.
"""
from __future__ import annotations

from collections.abc import Sequence

import open_clip
import torch
from mmdet3d.registry import MODELS
from torch import nn

from ..encoders.clip_towers import ClipTextEncoder, build_open_clip
from .alignment import TEXT_NORMS, interpolate_channels, pixel_text_logits, point_text_logits

__all__ = ['CHANNEL_REDUCTIONS', 'DEPTH_PROMPT_TEMPLATE', 'DEPTH_WORDS', 'DepthPromptBank']

CHANNEL_REDUCTIONS = ('interpolate', 'linear')

DEPTH_PROMPT_TEMPLATE = 'This patch appears to be {}'
DEPTH_WORDS = ('very close', 'close', 'slightly close', 'neither close nor distant', 'slightly distant',
               'distant', 'very distant')


def _trim(token_ids: torch.Tensor) -> torch.Tensor:
    """Cut (N, 77) token ids after the last end-of-text token (the row-wise maximum id)."""
    return token_ids[:, :int(token_ids.argmax(dim=-1).max()) + 1]


@MODELS.register_module()
class DepthPromptBank(nn.Module):
    """Depth-word and depth-token prompts plus the image-text heads of both stages.

    Coarse stage: :meth:`point_logits` reduces the concatenated 4-level point features to the text width
    (official: every 4th channel; option: a learned linear layer ``point_proj``) and scores them against the
    7 depth words. Fine stage: :meth:`forward` adds to each feature level the pixel-text logits against the
    N depth tokens (``N + C`` channels, logits first as the official decoder).

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
        logit_scale: Logit scale (100, as the official code; see ``text_norm`` for the effective scale).
        train_text_encoder: Leave the CLIP text tower trainable (the estimators' trainable sets decide).
        channel_reduction: ``'interpolate'`` (official, parameter-free) or ``'linear'`` (ours: learned
            ``point_proj`` (Linear) for the coarse stage and ``pixel_proj`` (1x1 conv) for the fine stage).
        text_norm: ``'matrix'`` (official: rows normalised, then the matrix divided by its norm, an effective
            scale of ``100 / sqrt(N)``: 37.8 for 7 words, 6.25 for 256 tokens) or ``'rows'`` (ours: cosine x 100).
        logits_first: Fine-stage level layout ``[logits || features]`` (official) or ``[features || logits]``.
    """

    def __init__(self, clip_model: str = 'RN50', clip_pretrained: str | None = 'openai',
                 clip_model_cfg: dict | None = None, cache_dir: str | None = None,
                 template: str = DEPTH_PROMPT_TEMPLATE, depth_words: Sequence[str] = DEPTH_WORDS,
                 num_depth_tokens: int = 256, feature_channels: int = 1024, num_levels: int = 4,
                 logit_scale: float = 100.0, train_text_encoder: bool = False,
                 channel_reduction: str = 'interpolate', text_norm: str = 'matrix',
                 logits_first: bool = True) -> None:
        super().__init__()
        if channel_reduction not in CHANNEL_REDUCTIONS:
            raise ValueError(f'channel_reduction must be one of {CHANNEL_REDUCTIONS}, got {channel_reduction!r}')
        if text_norm not in TEXT_NORMS:
            raise ValueError(f'text_norm must be one of {TEXT_NORMS}, got {text_norm!r}')
        self.channel_reduction = channel_reduction
        self.text_norm = text_norm
        self.logits_first = logits_first
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
        learned = channel_reduction == 'linear'
        self.point_proj = nn.Linear(num_levels * feature_channels, embed_dim) if learned else None
        if num_depth_tokens > 0:
            # [SOT] this patch appears to be [EOT]
            stem = open_clip.tokenize([template.format('').rstrip()], context_length=ctx)[0]
            eot = int(stem.argmax())
            ids = torch.cat([stem[:eot], stem.new_zeros(1), stem[eot:eot + 1]])  # placeholder id 0 before EOT
            self.register_buffer('token_prompt_ids', ids[None].repeat(num_depth_tokens, 1), persistent=False)
            self.token_position = eot
            self.depth_tokens = nn.Parameter(torch.randn(num_depth_tokens, self.text_encoder.width) * 0.02)
            self.pixel_proj = (nn.Conv2d(feature_channels, embed_dim, kernel_size=1)
                               if learned and feature_channels != embed_dim else nn.Identity())
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
            ``(logits, projected)``: (B, P, num_depth_words) logits and the (B, P, embed_dim) reduced point
            features (input of the repulsion loss).
        """
        if self.point_proj is not None:
            projected = self.point_proj(point_features)
        else:
            projected = interpolate_channels(point_features, self.embed_dim)
        logits = point_text_logits(projected, self.encode_depth_words(), self.logit_scale, self.text_norm)
        return logits, projected

    def forward(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Fine stage: append depth-token logits to every level.

        Args:
            features: Levels (B, C, h_l, w_l).

        Returns:
            Levels (B, N + C, h_l, w_l): ``[logits || features]`` (``logits_first``) or ``[features || logits]``.
        """
        text = self.encode_depth_tokens()
        out = []
        for f in features:
            logits = pixel_text_logits(self.pixel_proj(f), text, self.logit_scale, self.text_norm)
            out.append(torch.cat([logits, f] if self.logits_first else [f, logits], dim=1))
        return out
