"""FB-BEV on mmdet3d 1.x (https://arxiv.org/abs/2308.02236): importing this package registers its modules.

One file per role: ``detector`` (``FBBEV``), ``depth_aware_backward_projection``
(``DepthAwareBackwardProjection``), ``deformable_sampling`` (PyTorch / CUDA / reference sampling),
``pillar_projection`` (geometry), ``frpn`` (``ForegroundRegionProposalNet``), ``bev_box_mask`` (GT masks),
``temporal_alignment`` (frame split, adjacent-frame BEV warp), ``adjacent_frame`` (``FBBEVNuScenesDataset``,
``FBBEVLoadAdjacentFrame``), ``mask_iou_metric`` (``FBBEVNuScenesMetric``, ``FRPNMaskIoUMetric``).
BEVDet's modules are imported from ``projects.BEVDet.bevdet``, none is copied.
"""
from .adjacent_frame import FBBEVLoadAdjacentFrame, FBBEVNuScenesDataset, previous_indices
from .bev_box_mask import eval_bev_mask, gt_bev_masks, rasterise_box_mask
from .deformable_sampling import deformable_sampling, deformable_sampling_reference
from .depth_aware_backward_projection import DepthAwareBackwardProjection
from .detector import FBBEV
from .frpn import ForegroundRegionProposalNet
from .mask_iou_metric import FBBEVNuScenesMetric, FRPNMaskIoUMetric
from .temporal_alignment import align_adjacent_bev, split_frames

__all__ = [
    'DepthAwareBackwardProjection', 'FBBEV', 'FBBEVLoadAdjacentFrame', 'FBBEVNuScenesDataset', 'FBBEVNuScenesMetric',
    'FRPNMaskIoUMetric', 'ForegroundRegionProposalNet', 'align_adjacent_bev', 'deformable_sampling',
    'deformable_sampling_reference', 'eval_bev_mask', 'gt_bev_masks', 'previous_indices', 'rasterise_box_mask',
    'split_frames'
]
