"""Depth decoders: DPT (Hybrid-depth) and the Monodepth2 baseline decoder."""
from .dpt import HybridDPTDecoder
from .monodepth2 import Monodepth2DepthDecoder

__all__ = ['HybridDPTDecoder', 'Monodepth2DepthDecoder']
