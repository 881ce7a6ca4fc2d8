"""The KITTI odometry layout of the synthetic KITTI raw test drives (for pose evaluation, Monodepth2 ``odom`` split).

Made from the written KITTI raw files alone (the images, the OXTS packets and the three calibration files), as
KITTI's odometry ground truth is made from its raw recordings. Layout under ``root``::

    sequences/XX/image_2/%06d.png, image_3/%06d.png    the raw drive's image_02 / image_03 frames, as PNG
    sequences/XX/calib.txt                             P0..P3 (rectified, 3 x 4), Tr (velodyne -> rectified cam0)
    sequences/XX/times.txt                             seconds since the first frame, one line per frame
    poses/XX.txt                                       one line per frame: the first 3 rows (12 values) of
                                                       T_cam0first_cam0, the left grey camera's pose in the
                                                       sequence's first camera frame (x right, y down, z ahead)
    splits/odom/test_files_XX.txt                      "<int(XX)> <frame> l" for frames 0 .. N - 2 (pairs [0, 1])

The sequences are the Eigen test drives of ``splits/eigen/test_files.txt`` in their order, numbered from 09 (the
odometry sequences Monodepth2 evaluates on are 09 and 10). Poses: the KITTI devkit's ``convertOxtsToPose``
(Mercator with the scale ``cos(lat)`` of the drive's first packet; rotation ``Rz(yaw) Ry(pitch) Rx(roll)``)
gives ``T_world_imu``; the camera is ``T_world_imu inv(R_rect_00 T_cam0_velo T_velo_imu)``. The Mercator scale
differs from the writer's by up to ~4e-4 (the drives are placed up to 2 km from the writer's reference), which
scales all translations of a drive by that factor, as the devkit would.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from ...utils.atomic import atomic_write
from .kitti_writer import read_calib_file
from .oxts import mercator_xy

__all__ = ['write_kitti_odometry', 'oxts_to_pose', 'FIRST_SEQUENCE']

FIRST_SEQUENCE = 9


def oxts_to_pose(packet: np.ndarray, scale: float) -> np.ndarray:
    """KITTI devkit ``convertOxtsToPose`` for one packet.

    Args:
        packet: (30,) OXTS values (lat, lon in degrees, alt in metres, roll, pitch, yaw in radians first).
        scale: Mercator scale ``cos(lat0)`` of the drive's first packet.

    Returns:
        (4, 4) ``T_world_imu`` (x east, y north, z up; metres).
    """
    lat, lon, alt, roll, pitch, yaw = (float(v) for v in packet[:6])
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    T = np.eye(4)
    T[:3, :3] = rz @ ry @ rx
    T[:2, 3] = mercator_xy(lat, lon, scale)
    T[2, 3] = alt
    return T


def _rigid(calib: dict, rkey: str, tkey: str) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = calib[rkey].reshape(3, 3)
    T[:3, 3] = calib[tkey]
    return T


def _seconds(stamp: str) -> float:
    """Seconds of a KITTI timestamp line ``YYYY-MM-DD HH:MM:SS.nnnnnnnnn`` since midnight (ns kept)."""
    day, _, frac = stamp.strip().partition('.')
    t = datetime.strptime(day, '%Y-%m-%d %H:%M:%S')
    return t.hour * 3600 + t.minute * 60 + t.second + int(frac.ljust(9, '0')) * 1e-9


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(text)


def _fmt(values: np.ndarray) -> str:
    return ' '.join(f'{v + 0.0:.9e}' for v in np.asarray(values, np.float64).ravel())


def write_kitti_odometry(raw_root: Path, root: Path, first_sequence: int = FIRST_SEQUENCE) -> dict:
    """Write the KITTI odometry layout of the Eigen test drives of a (synthetic) KITTI raw root.

    Args:
        raw_root: KITTI raw root with ``splits/eigen/test_files.txt``, the drives and the date's calib files.
        root: Output folder (Monodepth2's odometry ``data_path``).
        first_sequence: Number of the first sequence (09).

    Returns:
        ``{'sequences': {'09': '<date>/<drive>', ...}, 'frames': total frames}``.
    """
    raw_root, root = Path(raw_root), Path(root)
    drives = list(dict.fromkeys(line.split()[0] for line in
                                (raw_root / 'splits' / 'eigen' / 'test_files.txt').read_text().splitlines() if line))
    out: dict = {'sequences': {}, 'frames': 0}
    for k, folder in enumerate(drives):
        seq = f'{first_sequence + k:02d}'
        date_dir = raw_root / folder.split('/')[0]
        cam2cam = read_calib_file(date_dir / 'calib_cam_to_cam.txt')
        T_cam0_velo = _rigid(read_calib_file(date_dir / 'calib_velo_to_cam.txt'), 'R', 'T')
        T_velo_imu = _rigid(read_calib_file(date_dir / 'calib_imu_to_velo.txt'), 'R', 'T')
        R_rect = np.eye(4)
        R_rect[:3, :3] = cam2cam['R_rect_00'].reshape(3, 3)
        T_imu_cam0 = np.linalg.inv(R_rect @ T_cam0_velo @ T_velo_imu)  # rectified cam0 -> IMU
        drive = raw_root / folder
        packets = [np.loadtxt(p) for p in sorted((drive / 'oxts' / 'data').glob('*.txt'))]
        scale = np.cos(np.deg2rad(packets[0][0]))
        cams = [oxts_to_pose(p, scale) @ T_imu_cam0 for p in packets]  # T_world_cam0
        poses = [np.linalg.inv(cams[0]) @ c for c in cams]
        _write_text(root / 'poses' / f'{seq}.txt', ''.join(_fmt(p[:3]) + '\n' for p in poses))
        sdir = root / 'sequences' / seq
        for raw_cam, cam in (('image_02', 'image_2'), ('image_03', 'image_3')):
            frames = sorted((drive / raw_cam / 'data').glob('*.jpg'))
            if len(frames) != len(packets):
                raise ValueError(f'{drive}: {len(frames)} {raw_cam} frames but {len(packets)} OXTS packets')
            for f, src in enumerate(frames):
                with atomic_write(sdir / cam / f'{f:06d}.png') as tmp:
                    cv2.imwrite(str(tmp), cv2.imread(str(src), cv2.IMREAD_COLOR))
        T_rect0_velo = R_rect @ T_cam0_velo
        calib = [f'P{i}: {_fmt(cam2cam[f"P_rect_0{i}"])}' for i in range(4)] + [f'Tr: {_fmt(T_rect0_velo[:3])}']
        _write_text(sdir / 'calib.txt', '\n'.join(calib) + '\n')
        stamps = [_seconds(s) for s in (drive / 'image_02' / 'timestamps.txt').read_text().splitlines() if s]
        _write_text(sdir / 'times.txt', ''.join(f'{t - stamps[0]:.6e}\n' for t in stamps))
        _write_text(root / 'splits' / 'odom' / f'test_files_{seq}.txt',
                    ''.join(f'{int(seq)} {f} l\n' for f in range(len(packets) - 1)))
        out['sequences'][seq] = folder
        out['frames'] += len(packets)
    return out
