"""Hybrid depth branch of the BEV detectors: :class:`HybridLSSDepthNet` (registered in mmdet3d's ``MODELS``)."""
from .hybrid_lss_depth_net import HybridLSSDepthNet, depth_bin_prior

__all__ = ['HybridLSSDepthNet', 'depth_bin_prior']
