"""The synthetic KITTI raw output read the way Monodepth2 reads it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def monodepth2_read_calib_file(path: Path) -> dict:
    """Monodepth2's ``kitti_utils.read_calib_file``: 'key: values' lines, non-float values skipped."""
    data = {}
    with open(path) as f:
        for line in f.readlines():
            key, value = line.split(':', 1)
            try:
                data[key] = np.array([float(x) for x in value.split()])
            except ValueError:
                pass
    return data


def _split(root: Path, rel: str) -> list[list[str]]:
    return [line.split() for line in (root / 'splits' / rel).read_text().splitlines()]


def test_calib_files_parse_like_monodepth2(synthetic_world):
    date = synthetic_world.kitti / '2011_09_26'
    for name in ('calib_cam_to_cam.txt', 'calib_velo_to_cam.txt'):
        text = (date / name).read_text()
        assert '\n\n' not in text and text.strip(), name  # no blank lines
    cam2cam = monodepth2_read_calib_file(date / 'calib_cam_to_cam.txt')
    velo2cam = monodepth2_read_calib_file(date / 'calib_velo_to_cam.txt')
    assert velo2cam['R'].reshape(3, 3).shape == (3, 3) and velo2cam['T'].shape == (3,)
    P2, P3 = cam2cam['P_rect_02'].reshape(3, 4), cam2cam['P_rect_03'].reshape(3, 4)
    assert cam2cam['R_rect_00'].reshape(3, 3).shape == (3, 3)
    baseline = (P2[0, 3] - P3[0, 3]) / P2[0, 0]
    assert abs(baseline - 0.53) < 1e-6  # cam2 0.06 m left, cam3 0.47 m right of cam0
    w, h = cam2cam['S_rect_02'].astype(int)
    first = _split(synthetic_world.kitti, 'eigen_zhou/train_files.txt')[0]
    with Image.open(synthetic_world.kitti / first[0] / 'image_02' / 'data' / f'{int(first[1]):010d}.jpg') as im:
        assert im.size == (w, h)
    # Monodepth2's fixed normalised K matches the rendered intrinsics (up to the rounding of the image size)
    assert np.isclose(P2[0, 0] / w, 0.58, rtol=2e-3) and np.isclose(P2[1, 1] / h, 1.92, rtol=2e-3)


def test_split_lines_reference_existing_frames_with_neighbours(synthetic_world):
    root = synthetic_world.kitti
    for rel in ('eigen_zhou/train_files.txt', 'eigen_zhou/val_files.txt', 'eigen/test_files.txt'):
        lines = _split(root, rel)
        assert lines, rel
        for folder, frame, side in lines:
            assert side in ('l', 'r')
            cam = {'l': 'image_02', 'r': 'image_03'}[side]
            for f in (int(frame) - 1, int(frame), int(frame) + 1):
                assert (root / folder / cam / 'data' / f'{f:010d}.jpg').is_file()
            velo = np.fromfile(root / folder / 'velodyne_points' / 'data' / f'{int(frame):010d}.bin', np.float32)
            assert velo.size % 4 == 0 and velo.size // 4 > 1000
    test_drives = {line[0] for line in _split(root, 'eigen/test_files.txt')}
    train_drives = {line[0] for line in _split(root, 'eigen_zhou/train_files.txt')}
    assert not test_drives & train_drives


def test_gt_depths_match_flat_ground_geometry(synthetic_world):
    """gt_depths.npz loads as Monodepth2's evaluation loads it, one map per test line at image size, and its
    road pixels agree with the flat-ground depth implied by the calibration (checks the pixel convention)."""
    root = synthetic_world.kitti
    gt = np.load(root / 'splits' / 'eigen' / 'gt_depths.npz', allow_pickle=True, fix_imports=True,
                 encoding='latin1')['data']
    lines = _split(root, 'eigen/test_files.txt')
    assert len(gt) == len(lines)
    cam2cam = monodepth2_read_calib_file(root / '2011_09_26' / 'calib_cam_to_cam.txt')
    w, h = cam2cam['S_rect_02'].astype(int)
    K = cam2cam['P_rect_02'].reshape(3, 4)[:, :3]
    rel = []
    for depth in gt:
        assert depth.shape == (h, w) and (depth > 0).sum() > 500
        v, u = np.nonzero(depth[int(0.85 * h):] > 0)
        v = v + int(0.85 * h)
        z_cam = depth[v, u] - 0.27  # export_gt_depth stores the velodyne x (0.27 m behind the cameras)
        cy = K[1, 2] - 1.0  # P_rect uses KITTI's 1-based pixel coordinates
        z_ground = K[1, 1] * 1.65 / (v - cy)  # cameras 1.65 m above a flat road
        rel.append(np.abs(z_cam - z_ground) / z_ground)
    rel = np.concatenate(rel)
    assert len(rel) > 100
    assert np.median(rel) < 0.01, np.median(rel)


def _oxts_pose(packet: np.ndarray, scale: float) -> np.ndarray:
    """KITTI devkit's ``convertOxtsToPose`` for one packet: (4, 4) IMU -> Mercator (x east, y north, z up)."""
    lat, lon, alt, roll, pitch, yaw = packet[:6]
    er = 6378137.0
    t = np.array([scale * lon * np.pi * er / 180, scale * er * np.log(np.tan((90 + lat) * np.pi / 360)), alt])
    rx = np.array([[1, 0, 0], [0, np.cos(roll), -np.sin(roll)], [0, np.sin(roll), np.cos(roll)]])
    ry = np.array([[np.cos(pitch), 0, np.sin(pitch)], [0, 1, 0], [-np.sin(pitch), 0, np.cos(pitch)]])
    rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    T = np.eye(4)
    T[:3, :3] = rz @ ry @ rx
    T[:3, 3] = t
    return T


def test_raw_drives_are_complete_as_released(synthetic_world):
    """image_00/01 (grey), image_02/03, oxts (30-field packets) and velodyne timestamps_start/end, one line per
    frame in every sensor folder."""
    drives = sorted((synthetic_world.kitti / '2011_09_26').glob('*_sync'))
    assert drives
    for drive in drives:
        frames = sorted((drive / 'image_02' / 'data').glob('*.jpg'))
        for sensor, ext in (('image_00', 'jpg'), ('image_01', 'jpg'), ('image_03', 'jpg'), ('oxts', 'txt'),
                            ('velodyne_points', 'bin')):
            assert len(list((drive / sensor / 'data').glob(f'*.{ext}'))) == len(frames), (drive, sensor)
            assert len((drive / sensor / 'timestamps.txt').read_text().splitlines()) == len(frames)
        start, mid, end = ((drive / 'velodyne_points' / f'timestamps{s}.txt').read_text().splitlines()
                           for s in ('_start', '', '_end'))
        assert len(start) == len(end) == len(frames)
        assert all(a < b < c for a, b, c in zip(start, mid, end))  # same date and minute: strings order by time
        with Image.open(drive / 'image_00' / 'data' / frames[0].name) as grey, Image.open(frames[0]) as colour:
            assert grey.mode == 'L' and grey.size == colour.size
        assert len((drive / 'oxts' / 'dataformat.txt').read_text().splitlines()) == 30
        for packet in (drive / 'oxts' / 'data').glob('*.txt'):
            assert len(packet.read_text().split()) == 30


def test_oxts_poses_follow_the_rendered_ego_motion(synthetic_world):
    """Packets -> poses (KITTI devkit) -> velodyne via calib_imu_to_velo: between frames the velodyne moves
    straight ahead along its own +x by the packet's forward speed x 0.1 s, level, without turning, as the ego
    of the rendered drive does."""
    calib = monodepth2_read_calib_file(synthetic_world.kitti / '2011_09_26' / 'calib_imu_to_velo.txt')
    T_velo_imu = np.eye(4)
    T_velo_imu[:3, :3] = calib['R'].reshape(3, 3)
    T_velo_imu[:3, 3] = calib['T']
    for drive in sorted((synthetic_world.kitti / '2011_09_26').glob('*_sync')):
        packets = [np.loadtxt(p) for p in sorted((drive / 'oxts' / 'data').glob('*.txt'))]
        scale = np.cos(packets[0][0] * np.pi / 180)
        poses = [_oxts_pose(p, scale) @ np.linalg.inv(T_velo_imu) for p in packets]  # velodyne -> Mercator
        for a, b, packet in zip(poses[:-1], poses[1:], packets[:-1]):
            rel = np.linalg.inv(a) @ b  # velodyne(f + 1) in velodyne(f)
            speed = packet[8]  # vf, m/s
            assert speed > 3.0
            np.testing.assert_allclose(rel[:3, 3], [0.1 * speed, 0.0, 0.0], atol=0.01)
            np.testing.assert_allclose(rel[:3, :3], np.eye(3), atol=1e-6)
            np.testing.assert_allclose(np.hypot(packet[6], packet[7]), speed, rtol=1e-6)  # |(vn, ve)| = vf
