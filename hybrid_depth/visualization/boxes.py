"""Box geometry for drawing: corners, wireframe edges, near-plane clipping and projection into an image.

Boxes use mmdet3d's ``LiDARInstance3DBoxes`` convention ``(x, y, z, dx, dy, dz, yaw[, ...])`` (bottom centre,
yaw counter-clockwise from +x) in whatever frame they are given (LiDAR, ego or augmented ego); corners come
out in that same frame. Projection is delegated to a ``to_image`` callable mapping (P, 3) points of that frame
to pixels and camera depth, so one clipping routine serves the original images (:func:`pinhole_projector`,
``lidar2cam`` + ``cam2img``) and BEVDet's augmented network inputs (the inverse of its view transformer, see
``tools/browse_dataset.py``).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from mmdet3d.structures import LiDARInstance3DBoxes

from hybrid_depth.geometry.camera import project, transform_points

__all__ = ['BOX_EDGES', 'Projector', 'box_corners', 'box_edges', 'box_footprints', 'clip_segments_near',
           'pinhole_projector', 'project_box_edges', 'project_points']

# Corner index pairs of the 12 edges, for mmdet3d's corner order (``LiDARInstance3DBoxes.corners``): corner k has
# box-frame signs x: (-, -, -, -, +, +, +, +), y: (-, -, +, +, -, -, +, +), z (0 = bottom): (0, 1, 1, 0, 0, 1, 1, 0).
# Corners 4-7 form the front face (+x, the heading direction).
BOX_EDGES = np.array([(0, 1), (0, 3), (0, 4), (1, 2), (1, 5), (3, 2), (3, 7), (4, 5), (4, 7), (2, 6), (5, 6),
                      (6, 7)])
BOTTOM_CORNERS = (0, 3, 7, 4)  # bottom face, as a closed polygon

Projector = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``to_image(points (P, 3)) -> (uv (P, 2) pixels, depth (P,) metres along the optical axis)``.

The depth must be an affine function of the point (true for any pinhole camera behind rigid / linear frame
changes and image-plane affine augmentation); ``uv`` is only meaningful where ``depth > 0``.
"""


def box_corners(boxes: np.ndarray) -> np.ndarray:
    """Corners of 3D boxes.

    Args:
        boxes: (M, 7+) ``(x, y, z, dx, dy, dz, yaw, ...)``, bottom centre, in some frame F (extra columns ignored).

    Returns:
        (M, 8, 3) corners in F, mmdet3d's order (see :data:`BOX_EDGES`).
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        return np.zeros((0, 8, 3))
    return LiDARInstance3DBoxes(torch.from_numpy(boxes[:, :7]), box_dim=7).corners.numpy()


def box_edges(corners: np.ndarray) -> np.ndarray:
    """The 12 wireframe edges of each box.

    Args:
        corners: (M, 8, 3) from :func:`box_corners`.

    Returns:
        (M, 12, 2, 3) edge end points, same frame.
    """
    return corners[:, BOX_EDGES]


def box_footprints(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bird's-eye footprint and heading of each box.

    Args:
        boxes: (M, 7+) boxes in frame F.

    Returns:
        ``(polygons, heading)``: (M, 4, 2) bottom-face corners ``(x, y)`` in F (closed-polygon order) and
        (M, 2, 2) heading segment from the box centre to the middle of its front face.
    """
    corners = box_corners(boxes)
    polygons = corners[:, BOTTOM_CORNERS, :2]
    centre = polygons.mean(axis=1)
    front = corners[:, [4, 7], :2].mean(axis=1)
    return polygons, np.stack([centre, front], axis=1)


def clip_segments_near(start: np.ndarray, end: np.ndarray, depth_start: np.ndarray, depth_end: np.ndarray,
                       near: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clip 3D segments to the half-space ``depth >= near`` in front of a camera.

    The depth is affine along a segment, so the crossing is at ``t = (near - d0) / (d1 - d0)``; a segment with
    one end behind the near plane is shortened to the crossing, one with both ends behind is dropped.

    Args:
        start, end: (S, 3) end points in any frame F.
        depth_start, depth_end: (S,) camera depth of the end points (metres).
        near: Near-plane depth (metres).

    Returns:
        ``(start, end, keep)``: clipped (S, 3) end points in F (unchanged where both ends are in front) and the
        (S,) mask of segments with a visible part.
    """
    start, end = np.array(start, dtype=np.float64), np.array(end, dtype=np.float64)
    d0, d1 = np.asarray(depth_start, dtype=np.float64), np.asarray(depth_end, dtype=np.float64)
    in0, in1 = d0 >= near, d1 >= near
    keep = in0 | in1
    cross = keep & (in0 != in1)
    t = np.zeros_like(d0)
    t[cross] = (near - d0[cross]) / (d1[cross] - d0[cross])
    point = start + t[:, None] * (end - start)
    start[cross & ~in0] = point[cross & ~in0]
    end[cross & ~in1] = point[cross & ~in1]
    return start, end, keep


def project_box_edges(corners: np.ndarray, to_image: Projector, near: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Wireframes of 3D boxes in an image, with edges clipped at the camera's near plane.

    Args:
        corners: (M, 8, 3) box corners in the frame ``to_image`` expects.
        to_image: Projection of that frame into the image (:data:`Projector`).
        near: Near-plane depth, metres.

    Returns:
        ``(segments, visible)``: (M, 12, 2, 2) pixel end points ``(u, v)`` of every edge and the (M, 12) mask
        of edges with a part in front of the camera (others hold zeros). Edges may still leave the image.
    """
    m = len(corners)
    edges = box_edges(corners).reshape(-1, 2, 3)  # (M*12, 2, 3)
    if len(edges) == 0:
        return np.zeros((m, 12, 2, 2)), np.zeros((m, 12), dtype=bool)
    _, depth = to_image(edges.reshape(-1, 3))
    depth = depth.reshape(-1, 2)
    start, end, keep = clip_segments_near(edges[:, 0], edges[:, 1], depth[:, 0], depth[:, 1], near)
    uv, _ = to_image(np.concatenate([start, end]))
    n = len(edges)
    segments = np.stack([uv[:n], uv[n:]], axis=1)  # (M*12, 2, 2)
    segments[~keep] = 0.0
    return segments.reshape(m, 12, 2, 2), keep.reshape(m, 12)


def project_points(points: np.ndarray, to_image: Projector, image_size: tuple[int, int],
                   near: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points that land inside an image.

    Args:
        points: (P, 3) points in the frame ``to_image`` expects.
        to_image: Projection (:data:`Projector`).
        image_size: ``(H, W)``.
        near: Points closer than this (or behind the camera) are dropped.

    Returns:
        ``(uv, depth, index)``: (K, 2) pixels, (K,) depths and (K,) indices into ``points`` of the kept points.
    """
    uv, depth = to_image(np.asarray(points, dtype=np.float64).reshape(-1, 3))
    h, w = image_size
    keep = (depth >= near) & (uv[:, 0] >= -0.5) & (uv[:, 0] < w - 0.5) & (uv[:, 1] >= -0.5) & (uv[:, 1] < h - 0.5)
    index = np.flatnonzero(keep)
    return uv[index], depth[index], index


def pinhole_projector(cam2img: np.ndarray, src2cam: np.ndarray) -> Projector:
    """Projection of frame-``src`` points into an original (un-augmented) image.

    Args:
        cam2img: (3, 3) or (4, 4) intrinsics of the image, pixels (pixel centres at integers).
        src2cam: (4, 4) rigid transform ``p_cam = src2cam @ p_src`` (e.g. an info's ``lidar2cam``).

    Returns:
        A :data:`Projector` (``uv`` pixels, ``depth`` = camera z in metres).
    """
    K = torch.as_tensor(np.asarray(cam2img, dtype=np.float64)[:3, :3])[None]  # (1, 3, 3)
    T = torch.as_tensor(np.asarray(src2cam, dtype=np.float64))[None]  # (1, 4, 4)

    def to_image(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cam = transform_points(torch.as_tensor(np.asarray(points, dtype=np.float64).T)[None], T)  # (1, 3, P)
        z = cam[:, 2:3]
        safe = torch.where(z.abs() > 1e-6, z, torch.full_like(z, 1e-6))
        uv, _ = project(torch.cat([cam[:, :2], safe], dim=1), K, eps=0.0)  # safe z: no division by zero
        return uv[0].T.numpy(), z[0, 0].numpy()

    return to_image
