"""Hybrid-depth model library: encoders, language guidance, decoders, PoseNet, trainable-set configuration.

Importing this package registers ``HybridEncoder``, ``DepthPromptBank``, ``HybridDPTDecoder``,
``Monodepth2ResNetEncoder``, ``Monodepth2DepthDecoder``, ``HybridPoseNet``, the depth estimators, and the
BEV-side ``HybridDepthBackbone`` and ``HybridLSSDepthNet`` in mmdet3d's ``MODELS``.
"""
from . import estimators  # noqa: F401  (registers the depth models)
from .backbones import HybridDepthBackbone
from .decoders import HybridDPTDecoder, Monodepth2DepthDecoder
from .depth_branch import HybridLSSDepthNet
from .encoders import (
    TINY_CLIP_CFG,
    TINY_DINO_KWARGS,
    TINY_ENCODER_KWARGS,
    HybridEncoder,
    Monodepth2ResNetEncoder,
    WeightsNotFoundError,
    hybrid_encoder_rn50_vitb14,
    hybrid_encoder_tiny,
)
from .language import DEPTH_PROMPT_TEMPLATE, DEPTH_WORDS, DepthPromptBank
from .pose import HybridPoseNet
from .trainable import STAGE_TRAINABLE, apply_trainable, resolve_trainable

__all__ = [
    'DEPTH_PROMPT_TEMPLATE', 'DEPTH_WORDS', 'STAGE_TRAINABLE', 'TINY_CLIP_CFG', 'TINY_DINO_KWARGS',
    'TINY_ENCODER_KWARGS', 'DepthPromptBank', 'HybridDPTDecoder', 'HybridDepthBackbone', 'HybridEncoder',
    'HybridLSSDepthNet', 'HybridPoseNet',
    'Monodepth2DepthDecoder', 'Monodepth2ResNetEncoder', 'WeightsNotFoundError', 'apply_trainable',
    'hybrid_encoder_rn50_vitb14', 'hybrid_encoder_tiny', 'resolve_trainable'
]
