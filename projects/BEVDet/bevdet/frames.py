"""Explicit frame changes of 3D boxes: BEVDet predicts in the ego frame, mmdet3d infos and NuScenesMetric use
the LiDAR frame (``lidar2ego`` from the info's ``lidar_points``).

Box convention (mmdet3d ``LiDARInstance3DBoxes``): ``(x, y, z, dx, dy, dz, yaw[, vx, vy])``, bottom centre,
yaw counter-clockwise from +x. Both frames share it (x forward, y left, z up); a rigid transform whose
rotation is about z keeps bottom centres bottom centres. nuScenes' LiDAR and ego differ by a yaw and a
translation, so that is exact here (any roll or pitch of ``T`` would only be applied to the centres).
"""
from __future__ import annotations

import numpy as np
import torch
from mmdet3d.structures import LiDARInstance3DBoxes

__all__ = ['transform_boxes', 'lidar_to_ego_boxes', 'ego_to_lidar_boxes']


def transform_boxes(boxes: LiDARInstance3DBoxes, T_dst_src: torch.Tensor | np.ndarray) -> LiDARInstance3DBoxes:
    """Move boxes from frame ``src`` to frame ``dst``.

    Args:
        boxes: Boxes in ``src`` (7 or 9 values; velocity rotated with the box).
        T_dst_src: (4, 4) rigid transform ``p_dst = R p_src + t``.

    Returns:
        New boxes in ``dst`` (centres ``R c + t``, yaw ``+ atan2(R10, R00)``, velocity ``R_xy v``).
    """
    T = torch.as_tensor(np.asarray(T_dst_src), dtype=boxes.tensor.dtype, device=boxes.tensor.device)
    out = boxes.clone()
    out.rotate(T[:3, :3].T)  # mmdet3d rotates row vectors: p @ rot_mat_T
    out.translate(T[:3, 3])
    return out


def lidar_to_ego_boxes(boxes: LiDARInstance3DBoxes, lidar2ego: torch.Tensor | np.ndarray) -> LiDARInstance3DBoxes:
    """LiDAR-frame boxes (mmdet3d infos, ground truth) -> ego frame (BEVDet's BEV grid)."""
    return transform_boxes(boxes, lidar2ego)


def ego_to_lidar_boxes(boxes: LiDARInstance3DBoxes, lidar2ego: torch.Tensor | np.ndarray) -> LiDARInstance3DBoxes:
    """Ego-frame boxes (BEVDet predictions) -> LiDAR frame (what NuScenesMetric expects)."""
    return transform_boxes(boxes, np.linalg.inv(np.asarray(lidar2ego, dtype=np.float64)))
