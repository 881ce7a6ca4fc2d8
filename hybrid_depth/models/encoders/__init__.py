"""Image encoders: CLIP and DINOv2 towers, the hybrid encoder, the Monodepth2 ResNet encoder."""
from .clip_towers import ClipTextEncoder, ClipVisualTower, build_open_clip, pad_to_multiple
from .dinov2 import DinoV2Tower, build_dinov2
from .hybrid_encoder import (
    TINY_CLIP_CFG,
    TINY_DINO_KWARGS,
    TINY_ENCODER_KWARGS,
    HybridEncoder,
    hybrid_encoder_rn50_vitb14,
    hybrid_encoder_tiny,
)
from .pretrained import WeightsNotFoundError, resolve_open_clip_weights, resolve_timm_weights
from .resnet_encoder import Monodepth2ResNetEncoder, build_timm_resnet

__all__ = [
    'TINY_CLIP_CFG', 'TINY_DINO_KWARGS', 'TINY_ENCODER_KWARGS', 'ClipTextEncoder', 'ClipVisualTower',
    'DinoV2Tower', 'HybridEncoder', 'Monodepth2ResNetEncoder', 'WeightsNotFoundError', 'build_dinov2',
    'build_open_clip', 'build_timm_resnet', 'hybrid_encoder_rn50_vitb14', 'hybrid_encoder_tiny',
    'pad_to_multiple', 'resolve_open_clip_weights', 'resolve_timm_weights'
]
