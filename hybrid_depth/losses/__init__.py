"""Losses: pure functions (`photometric`, `smoothness`, `ranking`: torch only) and thin registered modules."""
from .modules import (
    DepthRankLoss,
    DistanceWeightedRepulsionLoss,
    EdgeAwareSmoothnessLoss,
    MinReprojectionLoss,
)
from .photometric import automask_min_reprojection, min_reprojection, photometric_error, ssim
from .ranking import distance_weighted_repulsion, rank_loss
from .smoothness import edge_aware_smoothness

__all__ = [
    'DepthRankLoss', 'DistanceWeightedRepulsionLoss', 'EdgeAwareSmoothnessLoss', 'MinReprojectionLoss',
    'automask_min_reprojection', 'distance_weighted_repulsion', 'edge_aware_smoothness', 'min_reprojection',
    'photometric_error', 'rank_loss', 'ssim'
]
