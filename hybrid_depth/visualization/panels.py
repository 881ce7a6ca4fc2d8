"""Image panels for the visualisation tools: wireframes on camera images, the 2 x 3 camera grid, a bird's-eye
view panel, depth dots and disparity stacks, and an atomic PNG writer.

All images are (H, W, 3) uint8 **RGB**; every function returns a new image and leaves its inputs untouched.
Pixel coordinates ``(u, v)`` have pixel centres at integers (as ``cam2img``). The BEV panel draws a frame with
``x`` forward and ``y`` left (ego / augmented ego): ``+x`` points up in the panel, ``+y`` to the left.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from hybrid_depth.engine.hooks.disparity_vis_hook import colorize_disparity
from hybrid_depth.utils.atomic import atomic_write

from .boxes import box_footprints

__all__ = ['GT_COLOUR', 'PRED_COLOUR', 'bev_panel', 'camera_grid', 'depth_colours', 'depth_stack', 'draw_points',
           'draw_wireframes', 'resize_to_width', 'scale_pixels', 'write_png']

GT_COLOUR = (0, 220, 0)  # ground truth: green
PRED_COLOUR = (255, 60, 40)  # predictions: red
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def resize_to_width(img: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio. Returns the image and the scale (new / old)."""
    h, w = img.shape[:2]
    scale = width / w
    return cv2.resize(img, (width, max(1, int(round(h * scale)))), interpolation=cv2.INTER_AREA), scale


def scale_pixels(uv: np.ndarray, scale: float) -> np.ndarray:
    """Pixel coordinates ``(..., 2)`` of an image resized by ``scale`` (pixel centres at integers)."""
    return (np.asarray(uv, dtype=np.float64) + 0.5) * scale - 0.5


def _label_anchor(segments: np.ndarray, visible: np.ndarray, size: tuple[int, int]) -> tuple[int, int] | None:
    """Top-most visible edge end point inside the image (where a label goes), or None."""
    pts = segments[visible].reshape(-1, 2)
    h, w = size
    inside = pts[(pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)]
    if len(inside) == 0:
        return None
    u, v = inside[np.argmin(inside[:, 1])]
    return int(round(u)), int(round(v))


def draw_wireframes(img: np.ndarray, segments: np.ndarray, visible: np.ndarray, colour: Sequence[int],
                    labels: Sequence[str] | None = None, thickness: int = 1) -> np.ndarray:
    """Draw projected box wireframes (clipped to the image) with optional text labels.

    Args:
        img: (H, W, 3) uint8 RGB.
        segments: (M, 12, 2, 2) edge end points in pixels (:func:`~.boxes.project_box_edges`).
        visible: (M, 12) edges in front of the camera.
        colour: RGB.
        labels: M strings drawn at the top of each box (None: no text).
        thickness: Line width, pixels.

    Returns:
        (H, W, 3) uint8 RGB copy with the boxes drawn.
    """
    out = np.ascontiguousarray(img).copy()
    h, w = out.shape[:2]
    colour = tuple(int(c) for c in colour)
    for m in range(len(segments)):
        for (p0, p1) in segments[m][visible[m]]:
            ok, q0, q1 = cv2.clipLine((0, 0, w, h), tuple(int(round(x)) for x in p0), tuple(int(round(x)) for x in p1))
            if ok:
                cv2.line(out, q0, q1, colour, thickness, cv2.LINE_AA)
        if labels is not None:
            anchor = _label_anchor(segments[m], visible[m], (h, w))
            if anchor is not None:
                cv2.putText(out, str(labels[m]), (anchor[0], max(anchor[1] - 3, 8)), _FONT, 0.35, colour, 1,
                            cv2.LINE_AA)
    return out


def depth_colours(depth: np.ndarray, max_depth: float = 60.0) -> np.ndarray:
    """Colour per depth (turbo map: near = red, far = blue).

    Args:
        depth: (K,) metres.
        max_depth: Depth mapped to the far end of the map.

    Returns:
        (K, 3) uint8 RGB.
    """
    norm = 1.0 - np.clip(np.asarray(depth, dtype=np.float64) / max_depth, 0, 1)
    bgr = cv2.applyColorMap((norm * 255).astype(np.uint8).reshape(-1, 1), cv2.COLORMAP_TURBO)
    return bgr.reshape(-1, 3)[:, ::-1].copy()


def draw_points(img: np.ndarray, uv: np.ndarray, colours: np.ndarray, radius: int = 1) -> np.ndarray:
    """Draw coloured dots at pixels.

    Args:
        img: (H, W, 3) uint8 RGB.
        uv: (K, 2) pixels.
        colours: (K, 3) uint8 RGB.
        radius: Dot radius, pixels (0: single pixels).

    Returns:
        (H, W, 3) uint8 RGB copy.
    """
    out = np.ascontiguousarray(img).copy()
    h, w = out.shape[:2]
    pix = np.round(np.asarray(uv)).astype(np.int64)
    for (u, v), c in zip(pix, np.asarray(colours)):
        if 0 <= u < w and 0 <= v < h:
            if radius <= 0:
                out[v, u] = c
            else:
                cv2.circle(out, (int(u), int(v)), radius, tuple(int(x) for x in c), -1)
    return out


def camera_grid(images: Sequence[np.ndarray], titles: Sequence[str], columns: int = 3) -> np.ndarray:
    """Tile equally sized camera images row by row (nuScenes layout for 6 cameras in
    ``NUSCENES_CAMERAS`` order: front-left, front, front-right / back-left, back, back-right).

    Args:
        images: N (H, W, 3) uint8 RGB images, all the same size.
        titles: N titles written in each tile's top-left corner.
        columns: Tiles per row.

    Returns:
        (ceil(N / columns) H, columns W, 3) uint8 RGB.
    """
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    grid = np.zeros((rows * h, columns * w, 3), np.uint8)
    for i, (img, title) in enumerate(zip(images, titles)):
        if img.shape[:2] != (h, w):
            raise ValueError(f'camera image {i} is {img.shape[:2]}, expected {(h, w)}')
        tile = np.ascontiguousarray(img).copy()
        cv2.putText(tile, title, (4, 14), _FONT, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, title, (4, 14), _FONT, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        r, c = divmod(i, columns)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = tile
    return grid


def bev_panel(size: int, extent: float, points: np.ndarray | None = None,
              boxes: Sequence[tuple[np.ndarray, Sequence[int]]] = (), grid_step: float = 10.0) -> np.ndarray:
    """Bird's-eye view of points and box footprints around the origin (the ego vehicle).

    Args:
        size: Panel side, pixels.
        extent: Half-width of the area shown, metres (``[-extent, extent]`` in x and y).
        points: (P, 3+) points (``x, y, z``) in the panel's frame (ego: x forward, y left, z up), coloured by
            height; None: no points.
        boxes: ``(boxes (M, 7+), RGB colour)`` groups in the same frame, drawn as footprints with a heading line
            (centre -> front face).
        grid_step: Spacing of the metre grid.

    Returns:
        (size, size, 3) uint8 RGB; ``+x`` up, ``+y`` left, origin at the centre (white triangle = ego, nose
        along ``+x``).
    """
    panel = np.full((size, size, 3), 18, np.uint8)
    s = size / (2.0 * extent)  # pixels per metre

    def to_px(xy: np.ndarray) -> np.ndarray:  # (..., 2) metres -> (..., 2) pixels (col, row)
        xy = np.asarray(xy, dtype=np.float64)
        return np.stack([size / 2 - xy[..., 1] * s, size / 2 - xy[..., 0] * s], axis=-1)

    for k in np.arange(-np.floor(extent / grid_step), np.floor(extent / grid_step) + 1):
        p = int(round(size / 2 + k * grid_step * s))
        shade = (70, 70, 70) if k == 0 else (42, 42, 42)
        cv2.line(panel, (p, 0), (p, size - 1), shade, 1)
        cv2.line(panel, (0, p), (size - 1, p), shade, 1)
    cv2.putText(panel, f'grid {grid_step:g} m', (4, size - 6), _FONT, 0.35, (150, 150, 150), 1, cv2.LINE_AA)
    if points is not None and len(points):
        pts = np.asarray(points, dtype=np.float64)
        px = np.round(to_px(pts[:, :2])).astype(np.int64)
        ok = (px[:, 0] >= 0) & (px[:, 0] < size) & (px[:, 1] >= 0) & (px[:, 1] < size)
        height = np.clip((pts[ok, 2] + 2.0) / 5.0, 0, 1)
        colour = np.stack([110 + 80 * height, 110 + 110 * height, 150 + 105 * height], axis=1).astype(np.uint8)
        panel[px[ok, 1], px[ok, 0]] = colour
    for group, colour in boxes:
        group = np.asarray(group)
        if group.size == 0:
            continue
        polygons, heading = box_footprints(group)
        colour = tuple(int(c) for c in colour)
        for poly, head in zip(to_px(polygons), to_px(heading)):
            cv2.polylines(panel, [np.round(poly).astype(np.int32)], True, colour, 1, cv2.LINE_AA)
            cv2.line(panel, *[tuple(int(round(x)) for x in p) for p in head], colour, 1, cv2.LINE_AA)
    nose = to_px(np.array([[2.0, 0.0], [-1.0, 1.0], [-1.0, -1.0]]))
    cv2.fillPoly(panel, [np.round(nose).astype(np.int32)], (255, 255, 255), cv2.LINE_AA)
    return panel


def depth_stack(image: np.ndarray, pred_disp: np.ndarray, gt_depth: np.ndarray | None = None) -> np.ndarray:
    """``[input; coloured predicted disparity (; coloured GT disparity)]`` stacked vertically.

    Disparities are coloured by :func:`~hybrid_depth.engine.hooks.colorize_disparity` (magma, bright = near),
    each normalised on its own; the GT row shows ``1 / depth`` on pixels with ground truth (dilated 3 x 3), black
    elsewhere.

    Args:
        image: (H, W, 3) uint8 RGB input.
        pred_disp: (h, w) predicted disparity (resized to (H, W)).
        gt_depth: (H', W') metres, 0 = no ground truth (resized to (H, W) with nearest neighbour), or None.

    Returns:
        (2 H or 3 H, W, 3) uint8 RGB.
    """
    h, w = image.shape[:2]
    rows = [image, cv2.resize(colorize_disparity(np.asarray(pred_disp)), (w, h), interpolation=cv2.INTER_NEAREST)]
    if gt_depth is not None:
        gt = np.asarray(gt_depth, dtype=np.float32)
        disp = np.where(gt > 0, 1.0 / np.maximum(gt, 1e-6), 0.0).astype(np.float32)
        disp = cv2.resize(cv2.dilate(disp, np.ones((3, 3), np.uint8)), (w, h), interpolation=cv2.INTER_NEAREST)
        valid = disp > 0  # sparse LiDAR: 3 x 3 dilation (nearest point wins) so the dots stay visible
        row = np.zeros((h, w, 3), np.uint8)
        if valid.any():
            row[valid] = colorize_disparity(disp[valid][None])[0]
        rows.append(row)
    return np.concatenate(rows, axis=0)


def write_png(path: str, rgb: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 RGB image as PNG atomically (temporary file in the same folder, then rename)."""
    with atomic_write(path) as tmp:
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(rgb[..., ::-1])):
            raise OSError(f'cannot write {tmp}')
