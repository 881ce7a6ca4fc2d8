"""KITTI raw ``oxts/`` packets (OXTS RT3003 GPS/IMU) of a synthetic drive.

Each packet is one line of 30 space-separated values (KITTI's ``dataformat.txt``): ``lat lon alt roll pitch
yaw vn ve vf vl vu ax ay az af al au wx wy wz wf wl wu pos_accuracy vel_accuracy navstat numsats posmode
velmode orimode``. Positions are WGS84 degrees / metres; yaw is the heading, 0 = east, counter-clockwise;
the IMU measures specific force, so a level vehicle at constant velocity reads +9.81 m/s^2 upwards.
KITTI's devkit (and pykitti) turn packets into poses with a Mercator projection scaled by the first
packet's latitude: :func:`mercator_xy` is that projection and :func:`latlon_from_mercator` its inverse, so
the poses a reader computes from these packets are the rendered IMU poses.
"""
from __future__ import annotations

import numpy as np

__all__ = ['OXTS_FIELDS', 'EARTH_RADIUS', 'mercator_xy', 'latlon_from_mercator', 'oxts_packet']

OXTS_FIELDS = ('lat', 'lon', 'alt', 'roll', 'pitch', 'yaw', 'vn', 've', 'vf', 'vl', 'vu', 'ax', 'ay', 'az', 'af',
               'al', 'au', 'wx', 'wy', 'wz', 'wf', 'wl', 'wu', 'pos_accuracy', 'vel_accuracy', 'navstat',
               'numsats', 'posmode', 'velmode', 'orimode')
EARTH_RADIUS = 6378137.0  # metres (KITTI devkit's value)
GRAVITY = 9.81


def mercator_xy(lat: float, lon: float, scale: float) -> np.ndarray:
    """KITTI devkit's ``latlonToMercator``: (2,) metres east, north for degrees ``lat``, ``lon``."""
    return np.array([scale * np.deg2rad(lon) * EARTH_RADIUS,
                     scale * EARTH_RADIUS * np.log(np.tan(np.pi * (90.0 + lat) / 360.0))])


def latlon_from_mercator(xy: np.ndarray, scale: float) -> tuple[float, float]:
    """Inverse of :func:`mercator_xy`: degrees ``(lat, lon)``."""
    lon = np.rad2deg(xy[0] / (scale * EARTH_RADIUS))
    lat = 360.0 / np.pi * np.arctan(np.exp(xy[1] / (scale * EARTH_RADIUS))) - 90.0
    return float(lat), float(lon)


def oxts_packet(T_merc_imu: np.ndarray, velocity: np.ndarray, yaw_rate: float, scale: float, alt0: float
                ) -> list[float]:
    """One packet of a level vehicle.

    Args:
        T_merc_imu: (4, 4) IMU -> local Mercator frame (x east, y north, z up; metres), yaw about z only.
        velocity: (3,) IMU velocity in the Mercator frame, m/s.
        yaw_rate: rad/s, counter-clockwise.
        scale: Mercator scale ``cos(lat0)`` of the drive.
        alt0: altitude of the Mercator frame's z = 0, metres.

    Returns:
        The 30 values in ``OXTS_FIELDS`` order.
    """
    lat, lon = latlon_from_mercator(T_merc_imu[:2, 3], scale)
    yaw = float(np.arctan2(T_merc_imu[1, 0], T_merc_imu[0, 0]))
    c, s = np.cos(yaw), np.sin(yaw)
    vf, vl = c * velocity[0] + s * velocity[1], -s * velocity[0] + c * velocity[1]
    return [lat, lon, alt0 + float(T_merc_imu[2, 3]), 0.0, 0.0, yaw, float(velocity[1]), float(velocity[0]), vf, vl,
            float(velocity[2]), 0.0, 0.0, GRAVITY, 0.0, 0.0, GRAVITY, 0.0, 0.0, yaw_rate, 0.0, 0.0, yaw_rate,
            0.03, 0.02, 4, 10, 5, 5, 6]
