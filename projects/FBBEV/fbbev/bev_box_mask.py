"""Ground-truth BEV foreground masks rasterised from (rotated) 3D boxes, the target of FB-BEV's FRPN."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmdet3d.structures import Det3DDataSample

from projects.BEVDet.bevdet import lidar_to_ego_boxes

from .pillar_projection import bev_cell_centers

__all__ = ['eval_bev_mask', 'gt_bev_masks', 'rasterise_box_mask']


def rasterise_box_mask(boxes: torch.Tensor, x_bound: Sequence[float], y_bound: Sequence[float]) -> torch.Tensor:
    """Cells of a BEV grid covered by the footprints of boxes.

    A cell is foreground when its centre lies inside a box's rotated footprint; the cell containing a box's
    centre is always foreground, so objects smaller than a cell (pedestrians, cones) are never lost.

    Args:
        boxes: (M, >=7) ``(x, y, z, dx, dy, dz, yaw, ...)`` in the BEV frame (metres; ``dx`` along the heading,
            yaw counter-clockwise from +x, mmdet3d's LiDAR/ego box convention).
        x_bound: ``(x_lo, x_hi, dx)`` metres.
        y_bound: ``(y_lo, y_hi, dy)`` metres.

    Returns:
        (Y, X) bool mask, ``x`` along the last axis.
    """
    centres = bev_cell_centers(x_bound, y_bound).to(boxes.device, boxes.dtype)  # (Y, X, 2)
    ny, nx = centres.shape[:2]
    mask = torch.zeros(ny, nx, dtype=torch.bool, device=boxes.device)
    if boxes.shape[0] == 0:
        return mask
    rel = centres.view(1, ny, nx, 2) - boxes[:, None, None, :2]  # (M, Y, X, 2)
    cos, sin = boxes[:, 6].cos().view(-1, 1, 1), boxes[:, 6].sin().view(-1, 1, 1)
    local_x = cos * rel[..., 0] + sin * rel[..., 1]  # rotate by -yaw into the box frame
    local_y = -sin * rel[..., 0] + cos * rel[..., 1]
    inside = (local_x.abs() <= boxes[:, 3].view(-1, 1, 1) / 2) & (local_y.abs() <= boxes[:, 4].view(-1, 1, 1) / 2)
    mask = inside.any(0)
    ix = torch.floor((boxes[:, 0] - x_bound[0]) / x_bound[2]).long()
    iy = torch.floor((boxes[:, 1] - y_bound[0]) / y_bound[2]).long()
    keep = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    mask[iy[keep], ix[keep]] = True
    return mask


def gt_bev_masks(batch_data_samples: Sequence[Det3DDataSample], grid_config: dict,
                 device: torch.device) -> torch.Tensor:
    """FRPN training targets from the samples' ``gt_instances_3d`` (boxes already in the augmented ego frame).

    Args:
        batch_data_samples: Training samples.
        grid_config: The view transformer's grid (``x``, ``y`` bounds used).
        device: Where the masks go.

    Returns:
        (B, Y, X) bool.
    """
    return torch.stack([rasterise_box_mask(s.gt_instances_3d.bboxes_3d.tensor.to(device), grid_config['x'],
                                           grid_config['y']) for s in batch_data_samples])


def eval_bev_mask(sample: Det3DDataSample, grid_config: dict) -> torch.Tensor | None:
    """GT mask of a test sample from ``eval_ann_info`` (LiDAR-frame boxes -> ego frame).

    Returns:
        (Y, X) bool on the CPU, or None when the sample has no annotations.
    """
    ann = getattr(sample, 'eval_ann_info', None)
    if not ann or 'gt_bboxes_3d' not in ann:
        return None
    labels = torch.as_tensor(np.asarray(ann['gt_labels_3d']))
    boxes = lidar_to_ego_boxes(ann['gt_bboxes_3d'][labels >= 0], sample.metainfo['lidar2ego'])
    return rasterise_box_mask(boxes.tensor.float().cpu(), grid_config['x'], grid_config['y'])
