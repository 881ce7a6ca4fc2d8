"""Vectorised ray casting against the ground plane z = 0 and oriented boxes (numpy, CPU).

A ray is ``origin + t * direction``; directions need not be unit length, so for pinhole rays built as
``K^-1 [u, v, 1]`` (camera z = 1) the hit parameter ``t`` *is* the camera depth, and for unit directions it
is the range. All inputs are in one frame (the road frame of :mod:`.world`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .world import BoxSet

__all__ = ['RayHits', 'intersect_box', 'box_corners', 'cast_rays']

_NEAR = 1e-3


@dataclass
class RayHits:
    """Nearest hits of M rays.

    Attributes:
        t: (M,) ray parameter of the nearest hit (inf where nothing is hit).
        hit: (M,) -1 = nothing (sky), 0 = ground plane, k + 1 = box k.
        face: (M,) face of the hit box: ``2 * axis + (normal points to +axis)``, axis 0/1/2 = box x/y/z;
            5 (= +z) for the ground, -1 for sky.
        unoccluded: (K,) number of rays of this cast that hit box k ignoring every other surface.
    """

    t: np.ndarray
    hit: np.ndarray
    face: np.ndarray
    unoccluded: np.ndarray


def box_corners(center: np.ndarray, size: np.ndarray, yaw: float) -> np.ndarray:
    """(8, 3) corners of one box (centre (3,), size (length, width, height), yaw about z)."""
    sx, sy, sz = np.meshgrid([-0.5, 0.5], [-0.5, 0.5], [-0.5, 0.5], indexing='ij')
    local = np.stack([sx.ravel(), sy.ravel(), sz.ravel()], 1) * size  # (8, 3)
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return local @ rot.T + center


def intersect_box(origin: np.ndarray, dirs: np.ndarray, center: np.ndarray, size: np.ndarray,
                  yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """Slab test of rays against one oriented box seen from outside.

    Args:
        origin: (3,) common ray origin (outside the box).
        dirs: (3, M) ray directions, one row per coordinate (contiguous rows are faster).
        center: (3,) box centre. size: (3,) (length, width, height). yaw: heading about z.

    Returns:
        t: (M,) entry parameter, inf where the ray misses the box.
        face: (M,) entered face as ``2 * axis + (normal towards +axis)`` (arbitrary where missed).
    """
    c, s = np.cos(yaw), np.sin(yaw)
    o = origin - center
    ob = (c * o[0] + s * o[1], -s * o[0] + c * o[1], o[2])  # origin in the box frame
    db = (c * dirs[0] + s * dirs[1], -s * dirs[0] + c * dirs[1], dirs[2])  # (M,) each, box frame
    half = 0.5 * np.asarray(size)
    t_in = t_out = None
    entries = []
    with np.errstate(divide='ignore', invalid='ignore'):
        for a in range(3):
            inv = 1.0 / db[a]
            t1 = (-half[a] - ob[a]) * inv
            t2 = (half[a] - ob[a]) * inv
            tn = np.minimum(t1, t2)
            tf = np.maximum(t1, t2)
            # a ray parallel to a slab: inside it -> (-inf, inf), outside -> nan/empty
            entries.append(tn)
            t_in = tn if t_in is None else np.maximum(t_in, tn)
            t_out = tf if t_out is None else np.minimum(t_out, tf)
    hit = (t_in <= t_out) & (t_in > _NEAR)
    t = np.where(hit, t_in, np.inf)
    axis = np.where(entries[0] == t_in, 0, np.where(entries[1] == t_in, 1, 2))
    d_axis = np.where(axis == 0, db[0], np.where(axis == 1, db[1], db[2]))
    face = 2 * axis + (d_axis < 0)
    return t, face


def cast_rays(origin: np.ndarray, dirs: np.ndarray, boxes: BoxSet, candidates: list | None = None,
              ground: bool = True) -> RayHits:
    """Nearest hit of each ray among the ground plane and the boxes.

    Args:
        origin: (3,) common origin of the rays (above the ground, outside every box).
        dirs: (M, 3) directions (any length; ``t`` is in units of the direction's length).
        boxes: K boxes.
        candidates: optional list of K index arrays: the rays worth testing against box k (None = all),
            e.g. the pixels inside the box's projected bounding rectangle.
        ground: also intersect the plane z = 0.

    Returns:
        The nearest hits (:class:`RayHits`).
    """
    m = len(dirs)
    cols = np.ascontiguousarray(dirs.T)  # (3, M)
    t = np.full(m, np.inf)
    hit = np.full(m, -1, np.int64)
    face = np.full(m, -1, np.int64)
    if ground and origin[2] > 0:
        down = cols[2] < 0
        t = np.where(down, -origin[2] / np.where(down, cols[2], -1.0), np.inf)
        hit[down] = 0
        face[down] = 5
    unocc = np.zeros(len(boxes), np.int64)
    for k in range(len(boxes)):
        idx = None if candidates is None else candidates[k]
        if idx is not None and len(idx) == 0:
            continue
        d = cols if idx is None else cols[:, idx]
        tk, fk = intersect_box(origin, d, boxes.center[k], boxes.size[k], boxes.yaw[k])
        finite = np.isfinite(tk)
        unocc[k] = int(finite.sum())
        if not unocc[k]:
            continue
        if idx is None:
            closer = tk < t
            t[closer] = tk[closer]
            hit[closer] = k + 1
            face[closer] = fk[closer]
        else:
            closer = tk < t[idx]
            sel = idx[closer]
            t[sel] = tk[closer]
            hit[sel] = k + 1
            face[sel] = fk[closer]
    return RayHits(t=t, hit=hit, face=face, unoccluded=unocc)
