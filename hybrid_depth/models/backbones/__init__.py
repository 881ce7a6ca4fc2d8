"""Image backbones for detectors: :class:`HybridDepthBackbone` (registered in mmdet3d's ``MODELS``)."""
from .hybrid_depth_backbone import HybridDepthBackbone
from .weights import load_exported_weights

__all__ = ['HybridDepthBackbone', 'load_exported_weights']
