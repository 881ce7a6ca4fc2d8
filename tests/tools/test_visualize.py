"""tools/visualize.py and the box-projection helpers it shares with tools/browse_dataset.py.

Geometry is checked against hand-computed pixels and against the synthetic world's exact depth maps (a GT box
projected into an original image must cover pixels whose rendered depth lies within the box's depth range);
the tool itself runs end to end on the synthetic nuScenes and KITTI with random-init demo models.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
import torch

from hybrid_depth.visualization import (
    GT_COLOUR,
    box_corners,
    clip_segments_near,
    pinhole_projector,
    project_box_edges,
)

ROOT = Path(__file__).resolve().parents[2]
BEVDET_DEMO = ROOT / 'configs/demo/bevdet_hybrid_demo.py'
DEPTH_DEMO = ROOT / 'configs/demo/depth_fine_kitti.py'

# LiDAR-like source frame (x forward, y left, z up) -> camera (x right, y down, z forward)
SRC2CAM = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
K = np.array([[100.0, 0, 50], [0, 100, 40], [0, 0, 1]])


def green_pixels(img: np.ndarray) -> int:
    """Pixels of the GT colour (green channel > 120 above red and blue; anti-aliased lines included)."""
    rgb = img.astype(np.int64)
    assert GT_COLOUR[1] - max(GT_COLOUR[0], GT_COLOUR[2]) > 120
    return int((rgb[..., 1] - np.maximum(rgb[..., 0], rgb[..., 2]) > 120).sum())


def load_tool(name: str) -> ModuleType:
    """Import ``tools/<name>.py`` as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nuscenes_options(root: Path, loader: str = 'test') -> dict[str, object]:
    return {f'{loader}_dataloader.dataset.data_root': f'{root}/', f'{loader}_dataloader.num_workers': 0,
            f'{loader}_dataloader.persistent_workers': False}


def cli_options(options: dict[str, object]) -> list[str]:
    return [f'{k}={v}' for k, v in options.items()]


def random_init_checkpoint(config: Path, path: Path) -> Path:
    """Save the config's model with its initial weights as an mmengine-style checkpoint."""
    from mmengine.registry import init_default_scope

    from hybrid_depth.engine.cli import load_config
    cfg = load_config(str(config))
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    from mmengine.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def hull_mask(uv: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool mask of the convex hull of (P, 2) pixels."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(uv).astype(np.int32)), 1)
    return mask > 0


def test_box_corners_project_to_hand_computed_pixels():
    to_image = pinhole_projector(K, SRC2CAM)
    box = np.array([[10.0, 0.0, -1.0, 2.0, 2.0, 2.0, 0.0]])  # bottom centre 10 m ahead, 1 m below the camera
    uv, depth = to_image(box_corners(box)[0])
    # corner k: x in {9, 11}, y in {-1, 1}, z in {-1, 1}; u = 50 + 100 (-y) / x, v = 40 + 100 (-z) / x
    a, b = 100 / 9, 100 / 11
    expected = np.array([[50 + a, 40 + a], [50 + a, 40 - a], [50 - a, 40 - a], [50 - a, 40 + a],
                         [50 + b, 40 + b], [50 + b, 40 - b], [50 - b, 40 - b], [50 - b, 40 + b]])
    np.testing.assert_allclose(uv, expected, atol=1e-6)
    np.testing.assert_allclose(depth, [9, 9, 9, 9, 11, 11, 11, 11], atol=1e-9)
    # heading: rotated by 90 deg, the front face (corners 4-7) points to +y (left, smaller u)
    turned = box_corners(np.array([[10.0, 0.0, -1.0, 4.0, 2.0, 2.0, np.pi / 2]]))[0]
    np.testing.assert_allclose(turned[4], [11.0, 2.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(to_image(turned[4:5])[0][0], [50 - 200 / 11, 40 + 100 / 11], atol=1e-6)


def test_segment_crossing_near_plane_is_clipped():
    start = np.array([[-5.0, 1.0, 0.0], [-5.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    end = np.array([[5.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [4.0, 0.0, 0.0]])
    to_image = pinhole_projector(K, SRC2CAM)
    d0, d1 = to_image(start)[1], to_image(end)[1]
    s, e, keep = clip_segments_near(start, end, d0, d1, near=0.1)
    assert keep.tolist() == [True, False, True]
    np.testing.assert_allclose(s[0], [0.1, 1.0, 0.0])  # moved to the near plane, on the segment
    np.testing.assert_allclose(e[0], end[0])
    np.testing.assert_allclose(s[2], start[2])  # in front: untouched
    np.testing.assert_allclose(e[2], end[2])

    # a box around the camera: edges crossing the camera plane are kept, shortened to the near plane
    box = np.array([[0.0, 0.0, -1.0, 4.0, 2.0, 2.0, 0.0]])  # x from -2 to 2
    segments, visible = project_box_edges(box_corners(box), to_image, near=0.5)
    corners = box_corners(box)[0]
    assert visible.sum() == 8  # 4 edges along x cross the plane, 4 edges of the front face are in front
    for (i, j), seg, vis in zip([(0, 1), (0, 3), (0, 4), (1, 2), (1, 5), (3, 2), (3, 7), (4, 5), (4, 7), (2, 6),
                                 (5, 6), (6, 7)], segments[0], visible[0]):
        if corners[i][0] < 0 and corners[j][0] < 0:
            assert not vis
        elif corners[i][0] < 0 < corners[j][0]:  # crossing: start at x = 0.5 on the edge
            clipped = corners[i] + (0.5 - corners[i][0]) / (corners[j][0] - corners[i][0]) * (corners[j] - corners[i])
            np.testing.assert_allclose(seg[0], to_image(clipped[None])[0][0], atol=1e-6)
            np.testing.assert_allclose(seg[1], to_image(corners[j][None])[0][0], atol=1e-6)


def test_bev_panel_puts_forward_up_and_left_left():
    from hybrid_depth.visualization import bev_panel
    colour = (0, 0, 255)
    ahead = bev_panel(200, 50.0, boxes=[(np.array([[30.0, 0, 0, 4, 2, 1.5, 0]]), colour)])
    left = bev_panel(200, 50.0, boxes=[(np.array([[0.0, 30, 0, 4, 2, 1.5, 0]]), colour)])
    blue = lambda img: np.nonzero(img[..., 2].astype(int) - img[..., :2].max(-1) > 100)  # noqa: E731
    rows, cols = blue(ahead)
    assert rows.max() < 100 and abs(cols.mean() - 99.5) < 3  # +x: above the centre (1 px = 0.5 m: row 40)
    assert abs(rows.mean() - 40) < 3
    rows, cols = blue(left)
    assert cols.max() < 100 and abs(rows.mean() - 99.5) < 3  # +y: left of the centre
    points = bev_panel(200, 50.0, points=np.array([[-25.0, -25.0, 0.0]]))
    assert (points[150, 150] != points[0, 0]).any()  # behind-right point drawn at (row 150, col 150)


@pytest.fixture(scope='module')
def nuscenes_test_dataset(synthetic_world, synthetic_nuscenes_infos):
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from hybrid_depth.engine.cli import load_config
    cfg = load_config(str(BEVDET_DEMO), nuscenes_options(synthetic_world.nuscenes))
    init_default_scope('mmdet3d')
    return Runner.build_dataloader(cfg.test_dataloader).dataset


def _depth_fractions(dataset, tool: ModuleType, shift: float = 0.0, tol: float = 0.05) -> list[tuple[int, float]]:
    """(hull pixels, fraction of them at the box's depth) for every car fully inside an original image.

    Each camera fires up to ~43 ms before the LiDAR (key) time of the boxes: the boxes are moved by their
    velocity to the camera's time first (an oncoming car travels ~0.4 m meanwhile; the ego's own motion is
    compensated by ``lidar2cam``).
    """
    from hybrid_depth.datasets.synthetic import load_depth_png
    out = []
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        boxes, labels = tool.ground_truth(dataset, info)
        velocity = dataset.parse_ann_info(info)['gt_bboxes_3d'].tensor.numpy()[:, 7:9]  # LiDAR frame, m/s
        boxes = boxes.copy()
        boxes[:, :2] *= 1 + shift / np.linalg.norm(boxes[:, :2], axis=1, keepdims=True)  # radially away
        for cam in info['images'].values():
            moved = boxes.copy()
            moved[:, :2] += velocity * (cam['timestamp'] - info['timestamp'])
            corners = box_corners(moved)
            depth = load_depth_png(cam['img_path'].replace('/samples/', '/depth/samples/').replace('.jpg', '.png'))
            h, w = depth.shape
            to_image = pinhole_projector(cam['cam2img'], cam['lidar2cam'])
            for k in np.flatnonzero(labels == 0):  # car
                uv, z = to_image(corners[k])
                if z.min() < 1 or uv.min() < 0 or uv[:, 0].max() > w - 1 or uv[:, 1].max() > h - 1:
                    continue
                d = depth[hull_mask(uv, (h, w))]
                out.append((len(d), float(np.mean((d >= z.min() - tol) & (d <= z.max() + tol)))))
    return out


def test_gt_boxes_cover_pixels_at_their_exact_depth(nuscenes_test_dataset):
    """Every pixel inside a projected box sees the box (depth within its range) unless something occludes it."""
    tool = load_tool('visualize')
    found = _depth_fractions(nuscenes_test_dataset, tool)
    big = [f for n, f in found if n >= 150]
    assert len(big) >= 5, found
    assert np.median(big) > 0.85, found
    assert max(found)[1] > 0.95  # the largest car in view (nearest, unoccluded)
    # control: the same boxes 3 m further away are not on their objects
    shifted = [f for n, f in _depth_fractions(nuscenes_test_dataset, tool, shift=3.0) if n >= 150]
    assert np.median(shifted) < 0.2, shifted


def test_visualize_detection_writes_one_png_per_sample(synthetic_world, synthetic_nuscenes_infos, tmp_path):
    import mmcv
    ckpt = random_init_checkpoint(BEVDET_DEMO, tmp_path / 'bevdet_init.pth')
    out_dir = tmp_path / 'vis'
    tool = load_tool('visualize')
    rc = tool.main([str(BEVDET_DEMO), str(ckpt), '--out-dir', str(out_dir), '--num-samples', '2', '--score-thr',
                    '0.0', '--cam-width', '240', '--cfg-options', *cli_options(nuscenes_options(
                        synthetic_world.nuscenes))])
    assert rc == 0
    pngs = sorted(out_dir.glob('*.png'))
    assert len(pngs) == 2, pngs
    from mmengine import load
    val_tokens = [d['token'] for d in load(synthetic_nuscenes_infos['val'])['data_list']][:2]
    assert sorted(p.stem for p in pngs) == sorted(val_tokens)
    assert not list(out_dir.glob('.*tmp*'))  # atomic writes leave no temporary file
    tile_h = round(225 * 240 / 400)  # tiny preset: 400 x 225 cameras
    for png in pngs:
        img = mmcv.imread(str(png), channel_order='rgb')
        assert img.shape == (2 * tile_h, 3 * 240 + 2 * tile_h, 3)
        assert green_pixels(img) > 1000  # GT wireframes / footprints (no camera image has such a green)


def test_visualize_depth_model_stacks_image_and_disparity(synthetic_world, tmp_path):
    import mmcv
    ckpt = random_init_checkpoint(DEPTH_DEMO, tmp_path / 'depth_init.pth')
    out_dir = tmp_path / 'vis'
    rc = load_tool('visualize').main([str(DEPTH_DEMO), str(ckpt), '--out-dir', str(out_dir), '--num-samples', '2',
                                      '--cfg-options', f'test_dataloader.dataset.data_root={synthetic_world.kitti}/'])
    assert rc == 0
    pngs = sorted(out_dir.glob('*.png'))
    assert len(pngs) == 2, pngs
    img = mmcv.imread(str(pngs[0]), channel_order='rgb')
    h, w = 150, 497  # tiny preset KITTI: 1242 x 375 at 0.4
    assert img.shape == (3 * h, w, 3)  # input, predicted disparity, GT disparity (Eigen test set has gt_depth)
    assert img[h:2 * h].std() > 0  # a disparity map, not a blank panel
    assert (img[2 * h:] > 0).any(-1).mean() > 0.01  # sparse GT drawn


def _run_tool(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_visualize_bad_paths_exit_2(tmp_path, capsys):
    res = _run_tool('tools/visualize.py', str(BEVDET_DEMO), str(tmp_path / 'missing.pth'), '--out-dir', str(tmp_path))
    assert res.returncode == 2
    assert f'checkpoint not found: {tmp_path / "missing.pth"}' in res.stderr
    ckpt = tmp_path / 'exists.pth'
    ckpt.write_bytes(b'')
    rc = load_tool('visualize').main([str(tmp_path / 'nope.py'), str(ckpt), '--out-dir', str(tmp_path)])
    assert rc == 2
    assert f'config file not found: {tmp_path / "nope.py"}' in capsys.readouterr().err
