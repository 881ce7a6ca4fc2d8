"""Explicit frame changes: cameras -> the key ego frame, and 3D boxes between ego and LiDAR.

The BEV grid, the boxes and the evaluation live in the **key ego** frame: the ego at the sample's LIDAR_TOP
(key) timestamp. Each camera fires at its own time (up to ~45 ms before the LiDAR on nuScenes, 0.5-1 m of
ego motion at city speed), so a camera meets the key ego frame only through :func:`cam2keyego`, the one
function every lift, projection, depth target and visualisation uses. BEVDet predicts in the key ego frame,
mmdet3d infos and NuScenesMetric use the LiDAR frame (``lidar2ego`` from the info's ``lidar_points``).

Box convention (mmdet3d ``LiDARInstance3DBoxes``): ``(x, y, z, dx, dy, dz, yaw[, vx, vy])``, bottom centre,
yaw counter-clockwise from +x. Both frames share it (x forward, y left, z up); a rigid transform whose
rotation is about z keeps bottom centres bottom centres. nuScenes' LiDAR and ego differ by a yaw and a
translation, so that is exact here (any roll or pitch of ``T`` would only be applied to the centres).
"""
from __future__ import annotations

import numpy as np
import torch
from mmdet3d.structures import LiDARInstance3DBoxes

__all__ = ['cam2keyego', 'transform_boxes', 'lidar_to_ego_boxes', 'ego_to_lidar_boxes']


def cam2keyego(lidar2cam: np.ndarray, lidar2ego: np.ndarray) -> np.ndarray:
    """Camera -> key ego with per-camera ego-motion compensation (BEVDet's ``sensor2keyego``).

    mmdet3d's converter builds ``lidar2cam`` through each camera's own ``ego_pose`` (LiDAR -> key ego ->
    global -> the camera's ego -> camera), so ``lidar2ego @ inv(lidar2cam)`` equals official BEVDet's
    ``inv(keyego2global) @ ego2global_cam @ cam2ego``, with the key ego at the LiDAR timestamp. The static
    calibrated ``cam2ego`` alone would ignore the ego motion between the camera's and the LiDAR's time.

    Args:
        lidar2cam: (4, 4) or (..., 4, 4) key LiDAR -> camera (the info's ``images[cam]['lidar2cam']``).
        lidar2ego: (4, 4) or (..., 4, 4) key LiDAR -> key ego (the info's ``lidar_points['lidar2ego']``).

    Returns:
        (..., 4, 4) float64 camera -> key ego transform.
    """
    return np.asarray(lidar2ego, np.float64) @ np.linalg.inv(np.asarray(lidar2cam, np.float64))


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
