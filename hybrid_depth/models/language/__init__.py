"""Language guidance: depth prompts, learnable depth tokens, point- and pixel-text logits."""
from .alignment import (
    TEXT_NORMS,
    interpolate_channels,
    normalize_text,
    pixel_text_logits,
    point_text_logits,
    sample_point_features,
)
from .prompt_bank import CHANNEL_REDUCTIONS, DEPTH_PROMPT_TEMPLATE, DEPTH_WORDS, DepthPromptBank

__all__ = ['CHANNEL_REDUCTIONS', 'DEPTH_PROMPT_TEMPLATE', 'DEPTH_WORDS', 'TEXT_NORMS', 'DepthPromptBank',
           'interpolate_channels', 'normalize_text', 'pixel_text_logits', 'point_text_logits',
           'sample_point_features']
