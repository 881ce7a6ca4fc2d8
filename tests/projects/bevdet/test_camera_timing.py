"""Per-camera ego-motion compensation on the synthetic nuScenes, whose cameras fire at their real times.

The ground truth is the rendered world: every camera's exact depth map, lifted with the camera's own
``ego_pose`` record read by the nuScenes devkit, gives the pixels of each annotated object. Boxes of the
mmdet3d infos, moved to the camera's capture time with their annotated velocity and projected through
:func:`cam2keyego` (what the lift, the backward projection and the tools use), must cover exactly those
pixels; the static calibrated ``cam2ego`` misses them.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmdet3d.structures import LiDARInstance3DBoxes

from projects.BEVDet.bevdet.frames import cam2keyego, lidar_to_ego_boxes

CAMERAS = ('CAM_FRONT_LEFT', 'CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_BACK_LEFT', 'CAM_BACK', 'CAM_BACK_RIGHT')
MARGIN = 0.02  # metres added to every box side (depth PNGs are quantised to 1/256 m)


def _matrix(record: dict) -> np.ndarray:
    from pyquaternion import Quaternion
    T = np.eye(4)
    T[:3, :3] = Quaternion(record['rotation']).rotation_matrix
    T[:3, 3] = record['translation']
    return T


@pytest.fixture(scope='module')
def nusc(synthetic_world):
    from nuscenes.nuscenes import NuScenes
    return NuScenes('v1.0-mini', str(synthetic_world.nuscenes), verbose=False)


@pytest.fixture(scope='module')
def infos(synthetic_nuscenes_infos) -> list[dict]:
    return pickle.loads(Path(synthetic_nuscenes_infos['val']).read_bytes())['data_list']  # mini_val: 2 scenes


def _devkit_cam2keyego(nusc, sample_token: str, cam: str) -> tuple[np.ndarray, float]:
    """Official ``inv(keyego2global) @ ego2global_cam @ cam2ego`` from the devkit's records, and the camera's
    time minus the LiDAR's, seconds."""
    sample = nusc.get('sample', sample_token)
    lidar = nusc.get('sample_data', sample['data']['LIDAR_TOP'])
    sd = nusc.get('sample_data', sample['data'][cam])
    T = (np.linalg.inv(_matrix(nusc.get('ego_pose', lidar['ego_pose_token'])))
         @ _matrix(nusc.get('ego_pose', sd['ego_pose_token']))
         @ _matrix(nusc.get('calibrated_sensor', sd['calibrated_sensor_token'])))
    return T, (sd['timestamp'] - lidar['timestamp']) / 1e6


def _ego_boxes_at(info: dict, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Info boxes in the key ego frame moved by ``dt`` seconds of their velocity.

    Returns:
        (K, 3) gravity centres, (K, 3) sizes (dx, dy, dz), (K,) yaws, all key ego frame.
    """
    rows = [list(i['bbox_3d']) + list(i['velocity']) for i in info['instances']]
    boxes = LiDARInstance3DBoxes(torch.tensor(rows, dtype=torch.float64), box_dim=9, origin=(0.5, 0.5, 0.5))
    ego = lidar_to_ego_boxes(boxes, np.asarray(info['lidar_points']['lidar2ego']))
    centre = ego.gravity_center.numpy().copy()
    centre[:, :2] += ego.tensor[:, 7:9].numpy() * dt
    return centre, ego.dims.numpy(), ego.yaw.numpy()


def _box_corners(centre: np.ndarray, size: np.ndarray, yaw: float, margin: float) -> np.ndarray:
    """(8, 3) corners of a box grown by ``margin`` on every side."""
    half = size / 2 + margin
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
    c, s = np.cos(yaw), np.sin(yaw)
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return (signs * half) @ R.T + centre


def outside_distance(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Distance (px) of (P, 2) points outside a convex polygon (V, 2); 0 inside or on it."""
    a, b = polygon, np.roll(polygon, -1, axis=0)  # (V, 2) edges a -> b
    edge = b - a
    rel = points[:, None] - a[None]  # (P, V, 2)
    cross = edge[None, :, 0] * rel[..., 1] - edge[None, :, 1] * rel[..., 0]  # (P, V)
    orientation = np.sign(np.sum(a[:, 0] * b[:, 1] - b[:, 0] * a[:, 1]))  # sign of the polygon's area
    inside = np.all(cross * orientation >= 0, axis=1)
    t = np.clip((rel * edge[None]).sum(-1) / np.maximum((edge ** 2).sum(-1), 1e-12)[None], 0, 1)  # (P, V)
    dist = np.linalg.norm(rel - t[..., None] * edge[None], axis=-1).min(1)
    return np.where(inside, 0.0, dist)


def silhouette_errors(depth: np.ndarray, K: np.ndarray, true_cam2keyego: np.ndarray, cam2keyego_used: np.ndarray,
                      centres: np.ndarray, sizes: np.ndarray, yaws: np.ndarray) -> tuple[list[float], list[float]]:
    """Compare projected boxes with the rendered objects of one camera.

    Args:
        depth: (H, W) exact depth map (0 = sky).
        K: (3, 3) intrinsics.
        true_cam2keyego: (4, 4) the camera's pose in the key ego frame from the devkit's records: lifts the
            depth map to the rendered surfaces.
        cam2keyego_used: (4, 4) the matrix under test: projects the box corners.
        centres, sizes, yaws: boxes at the camera's capture time, key ego frame.

    Returns:
        ``(pixel_errors, see_through)`` per visible box: the largest distance (px) of a rendered pixel of
        the object outside the projected box outline, and the fraction of pixels inside the outline whose
        ray should hit the box first but where the rendering sees something farther (background).
    """
    h, w = depth.shape
    to_cam, true_to_cam = np.linalg.inv(cam2keyego_used), np.linalg.inv(true_cam2keyego)
    errors, see_through = [], []
    for centre, size, yaw in zip(centres, sizes, yaws):
        c, s = np.cos(yaw), np.sin(yaw)
        # candidate pixels: the rectangle of the box's true projection (the whole image if it crosses z = 0)
        true = _box_corners(centre, size, yaw, MARGIN) @ true_to_cam[:3, :3].T + true_to_cam[:3, 3]
        if (true[:, 2] <= 0.05).all():  # behind the camera
            continue
        if (true[:, 2] > 0.05).all():
            tuv = (true @ K.T)[:, :2] / true[:, 2:]
            lo = np.clip(np.floor(tuv.min(0)).astype(int) - 1, 0, (w, h))
            hi = np.clip(np.ceil(tuv.max(0)).astype(int) + 2, 0, (w, h))
        else:
            lo, hi = np.zeros(2, int), np.array([w, h])
        if (lo >= hi).any():  # outside the image
            continue
        v, u = np.nonzero(depth[lo[1]:hi[1], lo[0]:hi[0]] > 0)
        v, u = v + lo[1], u + lo[0]
        d = depth[v, u].astype(np.float64)
        rays = np.linalg.inv(K) @ np.stack([u, v, np.ones_like(u)]).astype(np.float64)  # (3, P), z = 1
        surf = (true_cam2keyego[:3, :3] @ (rays * d)).T + true_cam2keyego[:3, 3]  # (P, 3) key ego
        local = (surf - centre) @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])  # (P, 3) box frame
        inside = np.all(np.abs(local) <= size / 2 + MARGIN, axis=1)
        corners = _box_corners(centre, size, yaw, MARGIN) @ to_cam[:3, :3].T + to_cam[:3, 3]  # camera frame
        if inside.sum() < 5 or (corners[:, 2] < 0.3).any():
            continue
        uv = (corners @ K.T)[:, :2] / corners[:, 2:]
        hull = cv2.convexHull(uv.astype(np.float32))[:, 0].astype(np.float64)  # (V, 2)
        errors.append(float(outside_distance(np.stack([u[inside], v[inside]], 1).astype(np.float64), hull).max()))
        # reverse: rays through pixels inside the outline that enter the box must not see past it
        x0, y0 = np.floor(uv.min(0)).clip(0).astype(int)
        x1, y1 = np.minimum(np.ceil(uv.max(0)).astype(int) + 1, (w, h))
        if x0 >= x1 or y0 >= y1:
            continue
        gy, gx = np.mgrid[y0:y1, x0:x1]
        pix = np.stack([gx.ravel(), gy.ravel(), np.ones(gx.size)]).astype(np.float64)
        used = np.linalg.inv(K) @ pix  # (3, Q) camera rays, z = 1
        origin = cam2keyego_used[:3, 3] - centre
        Rb = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])
        o_b = Rb @ origin
        d_b = Rb @ (cam2keyego_used[:3, :3] @ used)  # (3, Q) rays in the box frame
        with np.errstate(divide='ignore', invalid='ignore'):
            t1 = (-size[:, None] / 2 - o_b[:, None]) / d_b
            t2 = (size[:, None] / 2 - o_b[:, None]) / d_b
        t_near = np.nanmax(np.minimum(t1, t2), axis=0)
        t_far = np.nanmin(np.maximum(t1, t2), axis=0)
        hits = (t_near < t_far) & (t_near > 0)
        if hits.sum() < 5:
            continue
        rendered = depth[gy.ravel()[hits], gx.ravel()[hits]]
        farther = (rendered == 0) | (rendered > t_near[hits] * 1.01 + 0.05)
        see_through.append(float(farther.mean()))
    return errors, see_through


def _all_errors(nusc, infos, synthetic_world, compensate: bool) -> tuple[np.ndarray, np.ndarray, dict]:
    from hybrid_depth.datasets.synthetic import load_depth_png
    errors, see_through, offsets = [], [], {}
    for info in infos:
        for cam in CAMERAS:
            cam_info = info['images'][cam]
            truth, dt = _devkit_cam2keyego(nusc, info['token'], cam)
            offsets.setdefault(cam, []).append(dt)
            used = (cam2keyego(cam_info['lidar2cam'], info['lidar_points']['lidar2ego']) if compensate
                    else np.asarray(cam_info['cam2ego'], np.float64))
            if compensate:  # the info route equals the official formula on the devkit's records
                np.testing.assert_allclose(used, truth, atol=1e-5)
            depth_file = Path(synthetic_world.nuscenes) / 'depth' / 'samples' / cam / (
                Path(cam_info['img_path']).stem + '.png')
            depth = load_depth_png(depth_file)
            e, s = silhouette_errors(depth, np.asarray(cam_info['cam2img'], np.float64)[:3, :3], truth, used,
                                     *_ego_boxes_at(info, dt))
            errors += e
            see_through += s
    return np.array(errors), np.array(see_through), offsets


def test_outside_distance_of_a_square():
    square = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]])
    points = np.array([[1.0, 1.0], [3.0, 1.0], [-1.0, -1.0], [2.0, 2.0]])
    for polygon in (square, square[::-1]):  # either orientation
        np.testing.assert_allclose(outside_distance(points, polygon), [0.0, 1.0, np.sqrt(2), 0.0])


def test_cameras_fire_staggered_through_the_lidar_revolution(nusc, infos):
    """Each camera's keyframe is earlier than the LiDAR by its trigger offset; the six span ~43 ms."""
    offsets = {cam: [] for cam in CAMERAS}
    for info in infos:
        for cam in CAMERAS:
            offsets[cam].append(_devkit_cam2keyego(nusc, info['token'], cam)[1])
    mean = {cam: float(np.mean(v)) for cam, v in offsets.items()}
    assert all(-0.05 < m < 0 for m in mean.values()), mean
    order = sorted(CAMERAS, key=mean.get)
    assert order == ['CAM_FRONT_LEFT', 'CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_BACK_RIGHT', 'CAM_BACK',
                     'CAM_BACK_LEFT'], mean
    assert max(mean.values()) - min(mean.values()) > 0.04, mean


def test_boxes_project_onto_rendered_objects_only_with_compensation(nusc, infos, synthetic_world):
    """3a: GT corners through ``cam2keyego`` enclose every rendered pixel of the object within 1 px and no
    ray through the outline sees past the box; the static ``cam2ego`` misses by more."""
    errors, see_through, _ = _all_errors(nusc, infos, synthetic_world, compensate=True)
    assert len(errors) > 80 and len(see_through) > 80, (len(errors), len(see_through))
    assert errors.max() <= 1.0, np.sort(errors)[-5:]
    assert np.quantile(see_through, 0.95) < 0.02, np.sort(see_through)[-5:]

    errors, see_through, _ = _all_errors(nusc, infos, synthetic_world, compensate=False)
    assert errors.max() > 5.0 and (errors > 1.0).mean() > 0.1, (errors.max(), (errors > 1.0).mean())
    assert np.quantile(see_through, 0.95) > 0.05
