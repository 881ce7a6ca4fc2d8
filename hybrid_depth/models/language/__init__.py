"""Language guidance: depth prompts, learnable depth tokens, point- and pixel-text logits."""
from .alignment import pixel_text_logits, point_text_logits, sample_point_features
from .prompt_bank import DEPTH_PROMPT_TEMPLATE, DEPTH_WORDS, DepthPromptBank

__all__ = ['DEPTH_PROMPT_TEMPLATE', 'DEPTH_WORDS', 'DepthPromptBank', 'pixel_text_logits',
           'point_text_logits', 'sample_point_features']
