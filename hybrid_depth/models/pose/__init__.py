"""Pose networks (parameters only; geometry lives in ``hybrid_depth.geometry``)."""
from .posenet import HybridPoseNet, PoseDecoder

__all__ = ['HybridPoseNet', 'PoseDecoder']
