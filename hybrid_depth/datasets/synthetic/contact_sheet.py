"""A contact sheet of the synthetic world: the nuScenes camera ring, a depth map, the LiDAR from above,
KITTI's left camera and a TuSimple frame with its lane labels drawn on top."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from hybrid_depth.utils.atomic import atomic_write

from .camera_rig import kitti_cameras, nuscenes_cameras, nuscenes_lidar, tusimple_camera
from .output import token
from .renderer import render_camera, render_lidar
from .tusimple_writer import lane_labels
from .world import make_world

__all__ = ['make_contact_sheet']


def _depth_rgb(depth: np.ndarray, max_depth: float = 80.0) -> np.ndarray:
    """(H, W, 3) uint8 inverse-depth colouring (near = yellow, far = purple, sky = black)."""
    inv = np.where(depth > 0, 1.0 / np.maximum(depth, 1e-3), 0.0) / (1.0 / 2.0)
    x = np.clip(inv, 0, 1) ** 0.5
    stops = np.array([[0.05, 0.03, 0.2], [0.45, 0.1, 0.55], [0.9, 0.35, 0.3], [1.0, 0.9, 0.2]])
    pos = x * (len(stops) - 1)
    i = np.clip(np.floor(pos).astype(int), 0, len(stops) - 2)
    f = (pos - i)[..., None]
    rgb = stops[i] * (1 - f) + stops[i + 1] * f
    rgb[depth <= 0] = 0
    return (rgb * 255).astype(np.uint8)


def _lidar_bev(points: np.ndarray, size: int, extent: float = 40.0) -> np.ndarray:
    """(size, size, 3) uint8 top view of (N, 3+) lidar-frame points; lidar +y (ego forward) is up."""
    img = np.full((size, size, 3), 20, np.uint8)
    s = size / (2 * extent)
    u = (points[:, 0] * s + size / 2).astype(int)  # lidar x: ego right -> image right
    v = (size / 2 - points[:, 1] * s).astype(int)
    ok = (u >= 0) & (u < size) & (v >= 0) & (v < size)
    h = np.clip((points[ok, 2] + 2.0) / 4.0, 0, 1)
    img[v[ok], u[ok]] = (np.stack([0.3 + 0.7 * h, 0.9 - 0.5 * h, 1.0 - 0.8 * h], 1) * 255).astype(np.uint8)
    return img


def make_contact_sheet(path: str | Path, seed: int = 0, width: int = 1500) -> Path:
    """Render a contact sheet PNG straight from the world model (no generated dataset needed).

    Args:
        path: output PNG.
        seed: world seed.
        width: sheet width in pixels.

    Returns:
        The written path.
    """
    col_w = width // 3
    scale = col_w / 1600
    world = make_world(int(token(seed, 'contact-nuscenes')[:8], 16), 2.0)
    t = 1.0
    T_road_ego = world.ego_pose(t)
    boxes = world.boxes_at(t)
    cams = {c.name: c for c in nuscenes_cameras(scale)}
    renders = {n: render_camera(world, boxes, T_road_ego @ c.T_ego_cam, c) for n, c in cams.items()}
    ring = np.concatenate([
        np.concatenate([renders[n].rgb for n in ('CAM_FRONT_LEFT', 'CAM_FRONT', 'CAM_FRONT_RIGHT')], 1),
        np.concatenate([renders[n].rgb for n in ('CAM_BACK_LEFT', 'CAM_BACK', 'CAM_BACK_RIGHT')], 1)], 0)
    h = ring.shape[0] // 2
    lidar = nuscenes_lidar(1440)
    scan = render_lidar(boxes, T_road_ego @ lidar.T_ego_lidar, lidar)
    bev = np.zeros((h, col_w, 3), np.uint8)
    side = min(h, col_w)
    bev[:side, (col_w - side) // 2:(col_w - side) // 2 + side] = _lidar_bev(scan.points, side)
    # a TuSimple frame with its lane labels, KITTI's left camera with its depth
    tcam = tusimple_camera(col_w / 1280)
    tworld = make_world(int(token(seed, 'contact-tusimple')[:8], 16), 1.0)
    T_road_cam = tworld.ego_pose(0.0) @ tcam.T_ego_cam
    tr = render_camera(tworld, tworld.boxes_at(0.0), T_road_cam, tcam)
    h_samples = np.arange(int(160 * tcam.height / 720), tcam.height, max(1, tcam.height // 72))
    timg = Image.fromarray(tr.rgb)
    draw = ImageDraw.Draw(timg)
    colours = [(255, 0, 0), (0, 255, 0), (0, 120, 255), (255, 0, 255), (0, 255, 255)]
    for i, lane in enumerate(lane_labels(tcam, T_road_cam, tr.hit, h_samples)):
        for x, y in zip(lane, h_samples):
            if x >= 0:
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colours[i % len(colours)])
    tus = np.zeros((h, col_w, 3), np.uint8)
    tus[:min(h, tcam.height)] = np.asarray(timg)[:h]
    row2 = np.concatenate([_depth_rgb(renders['CAM_FRONT'].depth), bev, tus], 1)
    kcam = kitti_cameras(2 * col_w / 1242)['image_02']
    kworld = make_world(int(token(seed, 'contact-kitti')[:8], 16), 1.0)
    kr = render_camera(kworld, kworld.boxes_at(0.0), kworld.ego_pose(0.0) @ kcam.T_ego_cam, kcam)
    kdepth = np.zeros((kcam.height, col_w, 3), np.uint8)
    kd = _depth_rgb(kr.depth)[::2, ::2]
    kdepth[:kd.shape[0], :min(col_w, kd.shape[1])] = kd[:, :col_w]
    row3 = np.concatenate([kr.rgb[:, :2 * col_w], kdepth], 1)
    sheet = np.concatenate([ring, row2, row3], 0)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(sheet)
    d = ImageDraw.Draw(img)
    labels = [(0, 0, 'nuScenes CAM_FRONT_LEFT / FRONT / FRONT_RIGHT'),
              (0, h, 'CAM_BACK_LEFT / BACK / BACK_RIGHT'),
              (0, 2 * h, 'CAM_FRONT exact depth'), (col_w, 2 * h, 'LIDAR_TOP (top view, 40 m)'),
              (2 * col_w, 2 * h, 'TuSimple frame + lane labels'), (0, 3 * h, 'KITTI image_02'),
              (2 * col_w, 3 * h, 'KITTI image_02 depth')]
    for x, y, text in labels:
        d.rectangle([x, y, x + 7 * len(text) + 6, y + 14], fill=(0, 0, 0))
        d.text((x + 3, y + 2), text, fill=(255, 255, 255))
    with atomic_write(out) as tmp:
        img.save(tmp, format='PNG')
    return out
