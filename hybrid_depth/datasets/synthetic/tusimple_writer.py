"""Write the synthetic world as a TuSimple lane-detection set.

Layout under ``root``::

    clips/0313-1/<id>/<n>.jpg        frames of each 1 s clip (20 fps); the last one, 20.jpg, is labelled
    label_data_0313.json             one JSON object per line: lanes, h_samples, raw_file

Lanes are the painted lane lines of the road (left to right in the image); each lane lists, for every row
of ``h_samples`` (top to bottom, i.e. far to near), the x pixel of the line's centre or -2 where the line is
not visible (out of the image, beyond ``MAX_LABEL_DISTANCE``, or hidden by an object). As in TuSimple,
dashed lines are labelled continuously through their gaps.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .camera_rig import Camera, tusimple_camera
from .output import save_jpeg, token
from .presets import TuSimpleConfig
from .renderer import render_camera
from .world import LANE_MARKINGS, make_world

__all__ = ['write_tusimple', 'lane_labels', 'MAX_LABEL_DISTANCE', 'CLIP_PREFIX', 'LABEL_FILE']

MAX_LABEL_DISTANCE = 60.0
CLIP_PREFIX = 'clips/0313-1'
LABEL_FILE = 'label_data_0313.json'
FPS = 20.0


def lane_labels(cam: Camera, T_road_cam: np.ndarray, hit: np.ndarray,
                h_samples: np.ndarray) -> list[list[int]]:
    """TuSimple ``lanes`` of one image.

    Args:
        cam: the camera. T_road_cam: (4, 4) camera -> road transform.
        hit: (H, W) hit ids of the rendered image (0 = ground); a label point must see the ground.
        h_samples: (R,) image rows.

    Returns:
        Per visible lane line (left to right), R x positions in pixels or -2.
    """
    T_cam_road = np.linalg.inv(T_road_cam)
    cam_x = T_road_cam[0, 3]
    lanes = []
    for y_line, _, _ in sorted(LANE_MARKINGS, key=lambda m: -m[0]):  # +y is left
        x = cam_x + np.linspace(1.0, MAX_LABEL_DISTANCE, 4000)
        pts = np.stack([x, np.full_like(x, y_line), np.zeros_like(x)])  # (3, S) road frame
        p = T_cam_road[:3, :3] @ pts + T_cam_road[:3, 3:4]  # (3, S) camera frame
        front = p[2] > 0.5
        uv = cam.K @ p[:, front]
        u, v = uv[0] / uv[2], uv[1] / uv[2]
        order = np.argsort(v)
        xs = np.interp(h_samples, v[order], u[order], left=np.nan, right=np.nan)
        row = []
        for h, xu in zip(h_samples, xs):
            ui = int(round(xu)) if np.isfinite(xu) else -1
            ok = 0 <= ui < cam.width and 0 <= h < cam.height and hit[h, ui] == 0
            row.append(ui if ok else -2)
        if sum(r >= 0 for r in row) >= 4:
            lanes.append(row)
    return lanes


def write_tusimple(root: Path, cfg: TuSimpleConfig, seed: int,
                   progress: Callable[[int], None] | None = None) -> dict:
    """Render and write the TuSimple clips and their label file.

    Args:
        root: output folder (the TuSimple ``train_set`` root).
        cfg: writer settings.
        seed: world seed.
        progress: optional callback, called with 1 after each rendered frame.

    Returns:
        Summary counts (``clips``, ``lanes``).
    """
    root = Path(root)
    cam = tusimple_camera(cfg.scale)
    step = max(1, int(round(10 * cfg.scale)))
    h_samples = np.arange(int(round(160 * cfg.scale)), cam.height, step)
    lines, n_lanes = [], 0
    for c in range(cfg.clips):
        clip = f'{CLIP_PREFIX}/{(c + 1) * 60 + 40}'
        world = make_world(int(token(seed, 'tusimple', clip)[:8], 16), 1.0)
        for n in range(21 - cfg.frames, 21):
            t = n / FPS
            T_road_cam = world.ego_pose(t) @ cam.T_ego_cam
            r = render_camera(world, world.boxes_at(t), T_road_cam, cam)
            save_jpeg(root / clip / f'{n}.jpg', r.rgb)
            if progress:
                progress(1)
        lanes = lane_labels(cam, T_road_cam, r.hit, h_samples)
        n_lanes += len(lanes)
        lines.append(json.dumps({'lanes': lanes, 'h_samples': [int(h) for h in h_samples],
                                     'raw_file': f'{clip}/20.jpg'}))
    (root / LABEL_FILE).write_text('\n'.join(lines) + '\n')
    return {'clips': cfg.clips, 'lanes': n_lanes}
