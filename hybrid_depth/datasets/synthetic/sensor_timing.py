"""Sensor timing of the nuScenes rig: a 20 Hz spinning LIDAR_TOP that triggers the six cameras.

On the real car the LiDAR turns clockwise seen from above (the ego-frame azimuth of the beam decreases with
time) once every 50 ms, and each camera is exposed when the beam crosses the centre of its field of view.
The ``LIDAR_TOP`` timestamp is the end of the revolution, so within a sample every camera is earlier than the
LiDAR: CAM_FRONT_LEFT first (about -43 ms), then CAM_FRONT, CAM_FRONT_RIGHT, CAM_BACK_RIGHT, CAM_BACK and
CAM_BACK_LEFT last (about -0.5 ms), the order and spread of real nuScenes samples. Cameras then run at 12 Hz.

Azimuths are ego-frame angles about +z (0 = forward, counter-clockwise positive), radians.
"""
from __future__ import annotations

import numpy as np

__all__ = ['LIDAR_PERIOD_S', 'LIDAR_END_AZIMUTH', 'CAMERA_PERIOD_S', 'time_before_end', 'camera_azimuth',
           'camera_trigger_offset']

LIDAR_PERIOD_S = 0.05  # 20 Hz revolution
LIDAR_END_AZIMUTH = np.deg2rad(106.4)  # beam direction at the end of the revolution (the LIDAR_TOP timestamp)
CAMERA_PERIOD_S = 1.0 / 12.0  # 12 Hz cameras


def time_before_end(azimuth: np.ndarray | float) -> np.ndarray:
    """Seconds before the end of the revolution at which the beam points at ``azimuth`` (ego frame).

    Args:
        azimuth: (...) ego-frame azimuths, radians.

    Returns:
        (...) seconds in ``[0, LIDAR_PERIOD_S)``.
    """
    turn = np.mod(np.asarray(azimuth, np.float64) - LIDAR_END_AZIMUTH, 2 * np.pi)
    return turn / (2 * np.pi) * LIDAR_PERIOD_S


def camera_azimuth(T_ego_cam: np.ndarray) -> float:
    """Ego-frame azimuth of a camera's optical axis (its z axis), radians."""
    axis = np.asarray(T_ego_cam)[:3, 2]
    return float(np.arctan2(axis[1], axis[0]))


def camera_trigger_offset(T_ego_cam: np.ndarray) -> float:
    """Capture time of a camera relative to the LiDAR timestamp of its sample, seconds (<= 0)."""
    return -float(time_before_end(camera_azimuth(T_ego_cam)))
