"""Sensor rigs: nuScenes' 6 cameras + LIDAR_TOP, KITTI's stereo pair + HDL-64E, a TuSimple front camera.

Mounting poses are ``T_ego_sensor`` (4, 4): sensor frame -> ego frame (ego: x forward, y left, z up, origin on
the ground). Camera frames are OpenCV-style (x right, y down, z forward) with pixel centres at integer
coordinates; LiDAR frames are x/y/z right-handed with z up.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .transforms import CAM_FROM_FORWARD, make_transform, rot_y, rot_z

__all__ = ['Camera', 'Lidar', 'nuscenes_cameras', 'nuscenes_lidar', 'kitti_cameras', 'kitti_lidar',
           'tusimple_camera', 'NUSCENES_CAMERAS']

NUSCENES_CAMERAS = ('CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_FRONT_LEFT', 'CAM_BACK', 'CAM_BACK_LEFT',
                    'CAM_BACK_RIGHT')


@dataclass(frozen=True)
class Camera:
    """A pinhole camera.

    Attributes:
        name: channel name (``'CAM_FRONT'``, ``'image_02'``...).
        K: (3, 3) intrinsics for ``width`` x ``height`` pixels.
        width, height: image size in pixels.
        T_ego_cam: (4, 4) camera -> ego transform.
    """

    name: str
    K: np.ndarray
    width: int
    height: int
    T_ego_cam: np.ndarray

    def scaled(self, scale: float) -> Camera:
        """The same camera with images resized by ``scale`` (intrinsics scaled accordingly)."""
        if scale == 1.0:
            return self
        K = self.K.copy()
        K[:2] *= scale
        return Camera(self.name, K, int(round(self.width * scale)), int(round(self.height * scale)),
                      self.T_ego_cam)


@dataclass(frozen=True)
class Lidar:
    """A spinning LiDAR.

    Attributes:
        name: channel name.
        elevations: (B,) beam elevation angles in radians (beam index = ring index).
        n_azimuth: firings per revolution.
        max_range: metres.
        T_ego_lidar: (4, 4) lidar -> ego transform.
    """

    name: str
    elevations: np.ndarray
    n_azimuth: int
    max_range: float
    T_ego_lidar: np.ndarray

    def directions(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit ray directions (B * A, 3), lidar frame, azimuth-major order; ring index (B * A,)."""
        az = np.arange(self.n_azimuth) * (2 * np.pi / self.n_azimuth)
        a, e = np.meshgrid(az, self.elevations, indexing='ij')  # (A, B)
        d = np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], -1).reshape(-1, 3)
        ring = np.broadcast_to(np.arange(len(self.elevations)), a.shape).reshape(-1)
        return d, ring


def _cam_pose(yaw_deg: float, xyz: tuple[float, float, float], pitch_deg: float = 0.0) -> np.ndarray:
    # pitch > 0 tilts the optical axis down (rotation about the camera's body y axis, which points left)
    R = rot_z(np.deg2rad(yaw_deg)) @ rot_y(np.deg2rad(pitch_deg)) @ CAM_FROM_FORWARD
    return make_transform(R, np.array(xyz))


def _K(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def nuscenes_cameras(scale: float = 1.0) -> list[Camera]:
    """The 6 nuScenes cameras (1600 x 900 at scale 1), with nuScenes-like intrinsics and mountings."""
    spec = {  # yaw (deg), position in ego (m), fx, cx, cy
        'CAM_FRONT': (0.0, (1.70, 0.02, 1.51), 1266.4, 816.3, 491.5),
        'CAM_FRONT_RIGHT': (-55.0, (1.55, -0.49, 1.49), 1260.8, 807.9, 495.3),
        'CAM_FRONT_LEFT': (55.0, (1.52, 0.49, 1.51), 1272.6, 826.6, 479.8),
        'CAM_BACK': (180.0, (0.03, 0.0, 1.57), 809.2, 829.2, 481.8),
        'CAM_BACK_LEFT': (110.0, (1.04, 0.48, 1.56), 1256.7, 817.8, 451.9),
        'CAM_BACK_RIGHT': (-110.0, (1.03, -0.48, 1.59), 1259.5, 807.3, 501.2),
    }
    cams = []
    for name in NUSCENES_CAMERAS:
        yaw, xyz, f, cx, cy = spec[name]
        cams.append(Camera(name, _K(f, f, cx, cy), 1600, 900, _cam_pose(yaw, xyz)).scaled(scale))
    return cams


def nuscenes_lidar(n_azimuth: int = 1080) -> Lidar:
    """LIDAR_TOP: a 32-beam HDL-32E (-30.67 to +10.67 deg), mounted with its x axis pointing ego-right."""
    T = make_transform(rot_z(-np.pi / 2), np.array([0.985, 0.0, 1.84]))
    return Lidar('LIDAR_TOP', np.deg2rad(np.linspace(-30.67, 10.67, 32)), n_azimuth, 80.0, T)


# KITTI: cameras 0.27 m ahead of the velodyne and 1.65 m above ground; cam1 (grey) 0.54 m, cam3 0.47 m right of
# cam0 (grey), cam2 0.06 m left. Intrinsics are Monodepth2's fixed K (0.58 W, 1.92 H, W / 2, H / 2) at 1242 x 375.
KITTI_SIZE = (1242, 375)
KITTI_BASELINE = {'image_00': 0.0, 'image_01': -0.54, 'image_02': 0.06, 'image_03': -0.47}


def kitti_cameras(scale: float = 1.0) -> dict[str, Camera]:
    """Rectified KITTI cameras ``image_00`` / ``image_01`` (grey left / right), ``image_02`` / ``image_03``
    (colour left / right)."""
    w, h = KITTI_SIZE
    K = _K(0.58 * w, 1.92 * h, 0.5 * w, 0.5 * h)
    return {n: Camera(n, K, w, h, _cam_pose(0.0, (0.27, off, 1.65))).scaled(scale)
            for n, off in KITTI_BASELINE.items()}


def kitti_lidar(n_azimuth: int = 1800) -> Lidar:
    """The HDL-64E velodyne (64 beams, +2 to -24.8 deg), 1.73 m above ground, axes = ego axes."""
    return Lidar('velodyne', np.deg2rad(np.linspace(-24.8, 2.0, 64)), n_azimuth, 100.0,
                 make_transform(np.eye(3), np.array([0.0, 0.0, 1.73])))


def tusimple_camera(scale: float = 1.0) -> Camera:
    """A highway front camera, 1280 x 720 at scale 1, 1.5 m high, pitched 3 deg down."""
    return Camera('tusimple', _K(1000.0, 1000.0, 640.0, 360.0), 1280, 720,
                  _cam_pose(0.0, (1.5, 0.0, 1.5), pitch_deg=3.0)).scaled(scale)
