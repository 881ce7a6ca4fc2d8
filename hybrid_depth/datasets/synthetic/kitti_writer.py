"""Write the synthetic world as KITTI raw drives, Monodepth2 split files and the Eigen ``gt_depths.npz``.

Layout under ``root``::

    <date>/calib_cam_to_cam.txt, calib_velo_to_cam.txt, calib_imu_to_velo.txt
    <date>/<date>_drive_XXXX_sync/image_00/data/%010d.jpg        left grey camera (8-bit grey JPEG)
    <date>/<date>_drive_XXXX_sync/image_01/data/%010d.jpg        right grey camera
    <date>/<date>_drive_XXXX_sync/image_02/data/%010d.jpg        left colour camera
    <date>/<date>_drive_XXXX_sync/image_03/data/%010d.jpg        right colour camera
    <date>/<date>_drive_XXXX_sync/velodyne_points/data/%010d.bin (N, 4) float32 x, y, z, reflectance
    <date>/<date>_drive_XXXX_sync/oxts/data/%010d.txt            30-field GPS/IMU packet (oxts.py)
    <date>/<date>_drive_XXXX_sync/oxts/dataformat.txt            the 30 field names
    <date>/<date>_drive_XXXX_sync/*/timestamps.txt               one line per frame (each sensor folder);
                                                                 velodyne_points also timestamps_start/end
    splits/eigen_zhou/{train,val}_files.txt                      "<date>/<drive> <frame> <l|r>"
    splits/eigen/test_files.txt, splits/eigen/gt_depths.npz      key 'data': object array of (H, W) depth

Frames: velodyne x forward, y left, z up (1.73 m above ground); rectified cameras x right, y down, z forward,
1.65 m above ground and 0.27 m ahead of the velodyne, cam2 0.06 m left of cam0, cam3 0.47 m right. Calib
values follow KITTI's conventions, including its 1-based pixel coordinates in ``P_rect`` (principal point
+1), so Monodepth2's ``generate_depth_map`` (which rounds and subtracts 1) lands on the 0-based pixel grid
the images are rendered on.

Timing: the cameras, the OXTS packets and the velodyne's ``timestamps.txt`` (the moment the spinning
velodyne faces forward and triggers the cameras) share one time per frame, as in KITTI's synced drives;
``timestamps_start`` / ``timestamps_end`` bracket the 100 ms revolution around it. The revolution itself is
rendered as one instant (no rolling LiDAR distortion on KITTI; KITTI's raw scans are not motion-compensated).
The OXTS poses are those of the IMU (``calib_imu_to_velo.txt``) on the rendered ego trajectory.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .camera_rig import KITTI_BASELINE, kitti_cameras, kitti_lidar
from .output import pool_context, save_jpeg, save_npz, token
from .oxts import OXTS_FIELDS, mercator_xy, oxts_packet
from .presets import KittiConfig
from .renderer import render_camera, render_lidar
from .world import make_world

__all__ = ['write_kitti', 'read_calib_file', 'kitti_depth_map', 'KITTI_DATE']

KITTI_DATE = '2011_09_26'
FPS = 10.0
T_VELO_IMU = np.array([-0.81, 0.32, -0.8])  # calib_imu_to_velo.txt (R = I, KITTI's T): p_velo = p_imu + T
KARLSRUHE = (49.011, 8.4235, 112.0)  # lat, lon (deg), altitude (m) near KITTI's drives


def _fmt(values: np.ndarray) -> str:
    return ' '.join(f'{v:.6e}' for v in np.asarray(values, np.float64).ravel())


def _calib_texts(cams: dict) -> tuple[str, str, str]:
    """Contents of calib_cam_to_cam.txt, calib_velo_to_cam.txt and calib_imu_to_velo.txt."""
    cam0 = cams['image_00']
    K = cam0.K
    lines = ['calib_time: 09-Jan-2012 13:57:47', 'corner_dist: 9.950000e-02']
    for i, name in enumerate(('image_00', 'image_01', 'image_02', 'image_03')):
        cam = cams[name]
        offset = KITTI_BASELINE[name]  # metres to the left of cam0
        size = np.array([cam.width, cam.height], np.float64)
        P = np.zeros((3, 4))
        P[:, :3] = K
        P[0, 2] += 1.0  # KITTI's 1-based pixel coordinates
        P[1, 2] += 1.0
        P[0, 3] = K[0, 0] * offset  # camera centre at x = -offset in the cam0 (rectified) frame
        lines += [f'S_0{i}: {_fmt(size)}', f'K_0{i}: {_fmt(K)}', f'D_0{i}: {_fmt(np.zeros(5))}',
                  f'R_0{i}: {_fmt(np.eye(3))}', f'T_0{i}: {_fmt([-offset, 0.0, 0.0])}',
                  f'S_rect_0{i}: {_fmt(size)}', f'R_rect_0{i}: {_fmt(np.eye(3))}', f'P_rect_0{i}: {_fmt(P)}']
    cam_to_cam = '\n'.join(lines) + '\n'
    lidar = kitti_lidar()
    T_cam0_velo = np.linalg.inv(cam0.T_ego_cam) @ lidar.T_ego_lidar
    velo_to_cam = '\n'.join(['calib_time: 15-Mar-2012 11:37:16', f'R: {_fmt(T_cam0_velo[:3, :3])}',
                             f'T: {_fmt(T_cam0_velo[:3, 3])}', 'delta_f: 0.000000e+00 0.000000e+00',
                             'delta_c: 0.000000e+00 0.000000e+00']) + '\n'
    imu_to_velo = '\n'.join(['calib_time: 25-May-2012 16:47:16', f'R: {_fmt(np.eye(3))}',
                             f'T: {_fmt(T_VELO_IMU)}']) + '\n'
    return cam_to_cam, velo_to_cam, imu_to_velo


def read_calib_file(path: str | Path) -> dict[str, np.ndarray]:
    """Read a KITTI calibration file the way Monodepth2 does ('key: values' lines, non-numeric skipped)."""
    data = {}
    with open(path) as f:
        for n, line in enumerate(f.read().splitlines(), 1):
            if ':' not in line:
                raise ValueError(f'{path}:{n}: expected "key: values", got {line!r}')
            key, value = line.split(':', 1)
            try:
                data[key] = np.array([float(x) for x in value.split()])
            except ValueError:
                pass
    return data


def kitti_depth_map(calib_dir: str | Path, velo: np.ndarray, cam: int = 2,
                    vel_depth: bool = True) -> np.ndarray:
    """Project velodyne points into a camera exactly as Monodepth2's ``generate_depth_map`` does.

    Args:
        calib_dir: the ``<date>`` folder with the two calib files.
        velo: (N, 4) velodyne points (x, y, z, reflectance), velodyne frame.
        cam: camera index (2 = left colour).
        vel_depth: store the velodyne x (forward distance from the lidar) rather than the camera z, as
            Monodepth2's ``export_gt_depth.py`` does.

    Returns:
        (H, W) float32 sparse depth (0 = no point), H x W from ``S_rect_0<cam>``.
    """
    cam2cam = read_calib_file(Path(calib_dir) / 'calib_cam_to_cam.txt')
    velo2cam = read_calib_file(Path(calib_dir) / 'calib_velo_to_cam.txt')
    T = np.eye(4)
    T[:3, :3] = velo2cam['R'].reshape(3, 3)
    T[:3, 3] = velo2cam['T']
    h, w = cam2cam[f'S_rect_0{cam}'][::-1].astype(np.int32)
    R_rect = np.eye(4)
    R_rect[:3, :3] = cam2cam['R_rect_00'].reshape(3, 3)
    P = cam2cam[f'P_rect_0{cam}'].reshape(3, 4) @ R_rect @ T  # (3, 4) velodyne -> image
    pts = np.concatenate([velo[:, :3], np.ones((len(velo), 1))], 1)
    pts = pts[pts[:, 0] >= 0]
    im = pts @ P.T
    im[:, :2] /= im[:, 2:3]
    if vel_depth:
        im[:, 2] = pts[:, 0]
    u = np.round(im[:, 0]) - 1
    v = np.round(im[:, 1]) - 1
    ok = (u >= 0) & (v >= 0) & (u < w) & (v < h)
    u, v, z = u[ok].astype(np.int64), v[ok].astype(np.int64), im[ok, 2]
    depth = np.full(h * w, np.inf)
    np.minimum.at(depth, v * w + u, z)  # the closest point wins a pixel
    depth[~np.isfinite(depth)] = 0
    depth[depth < 0] = 0
    return depth.reshape(h, w).astype(np.float32)


def _kitti_stamp(drive: int, ns: int) -> str:
    """KITTI timestamp line (``YYYY-MM-DD HH:MM:SS.nnnnnnnnn``) ``ns`` nanoseconds after 13:(2 + drive):25."""
    sec = 25 + ns // 1_000_000_000
    return f'{KITTI_DATE.replace("_", "-")} 13:{2 + drive + sec // 60:02d}:{sec % 60:02d}.{ns % 1_000_000_000:09d}'


def _test_frames(cfg: KittiConfig) -> list[int]:
    """Frames of one test drive in the Eigen split: all with both neighbours, or ``cfg.test_frames`` spread
    evenly over them."""
    inner = list(range(1, cfg.frames - 1))
    if cfg.test_frames is None or cfg.test_frames >= len(inner):
        return inner
    return sorted({inner[round(i)] for i in np.linspace(0, len(inner) - 1, cfg.test_frames)})


def _write_drive(root: Path, cfg: KittiConfig, seed: int, d: int,
                 progress: Callable[[int], None] | None = None) -> dict:
    """Render drive ``d`` (its frames, timestamps, OXTS, velodyne) and return its split lines.

    Depends only on ``(cfg, seed, d)``: drives render in any order, in any process. The calib files must
    already be in ``root / KITTI_DATE`` (test drives project their velodyne through them).

    Returns:
        ``{'train': [...], 'val': [...], 'test': [...]}`` split lines and ``'gt'``: one (H, W) float32 Eigen
        ground-truth depth per test line.
    """
    cams = kitti_cameras(cfg.scale)
    lidar = kitti_lidar(cfg.lidar_azimuth)
    date_dir = root / KITTI_DATE
    drive = f'{KITTI_DATE}_drive_{d + 1:04d}_sync'
    world = make_world(int(token(seed, 'kitti', drive)[:8], 16), cfg.frames / FPS)
    ddir = date_dir / drive
    stamps, starts, ends = [], [], []
    # the drive's road frame in a local Mercator frame: a seeded heading and offset near Karlsruhe
    rng = np.random.default_rng([seed, d, 23])
    heading = float(rng.uniform(-np.pi, np.pi))
    scale = float(np.cos(np.deg2rad(KARLSRUHE[0])))
    origin = mercator_xy(KARLSRUHE[0], KARLSRUHE[1], scale) + rng.uniform(-2000, 2000, 2)
    T_merc_road = np.eye(4)
    T_merc_road[:2, :2] = [[np.cos(heading), -np.sin(heading)], [np.sin(heading), np.cos(heading)]]
    T_merc_road[:2, 3] = origin
    T_ego_imu = lidar.T_ego_lidar.copy()
    T_ego_imu[:3, 3] += T_VELO_IMU  # the IMU origin sits at T in the velodyne frame
    for f in range(cfg.frames):
        t = f / FPS
        T_road_ego = world.ego_pose(t)
        boxes = world.boxes_at(t)
        for name in ('image_00', 'image_01', 'image_02', 'image_03'):
            r = render_camera(world, boxes, T_road_ego @ cams[name].T_ego_cam, cams[name])
            grey = name in ('image_00', 'image_01')
            save_jpeg(ddir / name / 'data' / f'{f:010d}.jpg',
                      np.round(r.rgb @ [0.299, 0.587, 0.114]).astype(np.uint8) if grey else r.rgb)
        packet = oxts_packet(T_merc_road @ T_road_ego @ T_ego_imu, T_merc_road[:3, :3] @ world.ego_velocity(t),
                             world.ego_yaw_rate(t), scale, KARLSRUHE[2])
        odir = ddir / 'oxts' / 'data'
        odir.mkdir(parents=True, exist_ok=True)
        (odir / f'{f:010d}.txt').write_text(' '.join(f'{v + 0.0:.15g}' if isinstance(v, float) else str(v)
                                                     for v in packet) + '\n')
        scan = render_lidar(boxes, T_road_ego @ lidar.T_ego_lidar, lidar)
        velo = scan.points[:, :4].copy()
        velo[:, 3] = np.clip(velo[:, 3] / 100.0, 0, 1)  # KITTI reflectance in [0, 1]
        vdir = ddir / 'velodyne_points' / 'data'
        vdir.mkdir(parents=True, exist_ok=True)
        velo.astype(np.float32).tofile(vdir / f'{f:010d}.bin')
        ns = 964_389_445 + f * 100_000_000 + d * 7_000_000  # nanoseconds after 13:MM:25
        stamps.append(_kitti_stamp(d, ns))
        starts.append(_kitti_stamp(d, ns - 50_000_000))
        ends.append(_kitti_stamp(d, ns + 50_000_000))
        if progress:
            progress(1)
    for name in ('image_00', 'image_01', 'image_02', 'image_03', 'velodyne_points', 'oxts'):
        (ddir / name / 'timestamps.txt').write_text('\n'.join(stamps) + '\n')
    (ddir / 'velodyne_points' / 'timestamps_start.txt').write_text('\n'.join(starts) + '\n')
    (ddir / 'velodyne_points' / 'timestamps_end.txt').write_text('\n'.join(ends) + '\n')
    (ddir / 'oxts' / 'dataformat.txt').write_text('\n'.join(f'{n}:' for n in OXTS_FIELDS) + '\n')
    lines: dict[str, list] = {'train': [], 'val': [], 'test': [], 'gt': []}
    if d < cfg.drives - cfg.test_drives:
        for f in range(1, cfg.frames - 1):  # frames with both temporal neighbours
            for side in ('l', 'r'):
                lines['val' if f % 5 == 4 else 'train'].append(f'{KITTI_DATE}/{drive} {f} {side}')
    else:
        for f in _test_frames(cfg):
            lines['test'].append(f'{KITTI_DATE}/{drive} {f:010d} l')
            velo = np.fromfile(ddir / 'velodyne_points' / 'data' / f'{f:010d}.bin', np.float32).reshape(-1, 4)
            lines['gt'].append(kitti_depth_map(date_dir, velo, cam=2, vel_depth=True))
    return lines


def _write_drive_star(args: tuple) -> dict:
    """:func:`_write_drive` on one argument tuple (for ``Pool.imap``)."""
    return _write_drive(*args)


def write_kitti(root: Path, cfg: KittiConfig, seed: int,
                progress: Callable[[int], None] | None = None, workers: int = 1) -> dict:
    """Render and write the KITTI raw drives, split files and Eigen ground truth.

    Args:
        root: output folder (Monodepth2's ``data_path``).
        cfg: writer settings.
        seed: world seed.
        progress: optional callback, called with the number of frames rendered (1 per frame when
            ``workers == 1``, one call per finished drive otherwise).
        workers: drives rendered in parallel processes; 1 renders in this process. Files are identical.

    Returns:
        Summary counts (``drives``, ``frames``, ``train``, ``val``, ``test`` lines).
    """
    if workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    root = Path(root)
    date_dir = root / KITTI_DATE
    date_dir.mkdir(parents=True, exist_ok=True)
    for name, text in zip(('calib_cam_to_cam.txt', 'calib_velo_to_cam.txt', 'calib_imu_to_velo.txt'),
                          _calib_texts(kitti_cameras(cfg.scale))):
        (date_dir / name).write_text(text)
    jobs = [(root, cfg, seed, d) for d in range(cfg.drives)]
    if workers == 1:
        results = [_write_drive(*job, progress=progress) for job in jobs]
    else:
        with pool_context().Pool(min(workers, len(jobs))) as pool:
            results = []
            for res in pool.imap(_write_drive_star, jobs):  # drive order: the split files as in the serial path
                results.append(res)
                if progress:
                    progress(cfg.frames)
    train, val, test = ([line for r in results for line in r[k]] for k in ('train', 'val', 'test'))
    if not val:  # keep the val split non-empty for tiny presets
        val.append(train.pop())
    splits = root / 'splits'
    for rel, lines in (('eigen_zhou/train_files.txt', train), ('eigen_zhou/val_files.txt', val),
                       ('eigen/test_files.txt', test)):
        (splits / rel).parent.mkdir(parents=True, exist_ok=True)
        (splits / rel).write_text('\n'.join(lines) + '\n')
    gt = np.empty(len(test), dtype=object)
    for i, depth in enumerate(g for r in results for g in r['gt']):
        # a copy with numpy's own float32 dtype: an array from a worker carries an unpickled dtype instance, and the
        # pickled object array would then differ in bytes from the serial one
        gt[i] = depth.astype(np.float32)
    save_npz(splits / 'eigen' / 'gt_depths.npz', data=gt)
    return {'drives': cfg.drives, 'frames': cfg.drives * cfg.frames, 'train': len(train), 'val': len(val),
            'test': len(test)}
