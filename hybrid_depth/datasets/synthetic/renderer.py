"""Render the world: pinhole cameras to RGB + exact depth, spinning LiDARs to point clouds.

Both cast one ray per pixel / firing with :func:`.raycaster.cast_rays`. Cameras test each box only against
the pixels inside its projected bounding rectangle (near-plane clipped), which keeps the cost proportional
to the covered image area.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera_rig import Camera, Lidar
from .materials import REFLECTIVITY, lane_paint, shade_hits, sky_color, value_noise
from .raycaster import RayHits, cast_rays
from .world import ROAD_HALF_WIDTH, BoxSet, Material, World

__all__ = ['CameraRender', 'LidarScan', 'render_camera', 'render_lidar', 'render_lidar_sweep', 'pixel_rays']

_NEAR = 0.05


@dataclass
class CameraRender:
    """One rendered camera image.

    Attributes:
        rgb: (H, W, 3) uint8 image.
        depth: (H, W) float32 camera-frame z depth in metres at each pixel centre; 0 where the sky is seen.
        hit: (H, W) int32: -1 sky, 0 ground, k + 1 box k of the rendered :class:`BoxSet`.
        unoccluded: (K,) pixels box k would cover if nothing occluded it.
    """

    rgb: np.ndarray
    depth: np.ndarray
    hit: np.ndarray
    unoccluded: np.ndarray


@dataclass
class LidarScan:
    """One LiDAR revolution.

    Attributes:
        points: (N, 5) float32 ``x, y, z`` (lidar frame, metres), intensity (0..100), ring index.
        hit: (N,) int64: 0 ground, k + 1 box k.
    """

    points: np.ndarray
    hit: np.ndarray


_RAY_CACHE: dict = {}


def pixel_rays(cam: Camera) -> np.ndarray:
    """(H * W, 3) camera-frame rays ``K^-1 [u, v, 1]`` through the pixel centres (row-major, z = 1)."""
    key = (cam.width, cam.height, cam.K.tobytes())
    if key not in _RAY_CACHE:
        if len(_RAY_CACHE) > 32:
            _RAY_CACHE.clear()
        _RAY_CACHE[key] = _pixel_rays(cam)
        _RAY_CACHE[key].setflags(write=False)
    return _RAY_CACHE[key]


def _pixel_rays(cam: Camera) -> np.ndarray:
    v, u = np.meshgrid(np.arange(cam.height, dtype=np.float64), np.arange(cam.width, dtype=np.float64),
                       indexing='ij')
    K = cam.K
    x = (u - K[0, 2] - K[0, 1] * (v - K[1, 2]) / K[1, 1]) / K[0, 0]
    y = (v - K[1, 2]) / K[1, 1]
    return np.stack([x.ravel(), y.ravel(), np.ones(u.size)], 1)


def _screen_rects(boxes: BoxSet, T_road_cam: np.ndarray, cam: Camera, max_dist: float = 150.0) -> list:
    """Per box, the flat pixel indices of its projected bounding rectangle (empty if not in view)."""
    R, o = T_road_cam[:3, :3], T_road_cam[:3, 3]
    W, H = cam.width, cam.height
    k = len(boxes)
    unit = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])  # (8, 3)
    c, s = np.cos(boxes.yaw)[:, None], np.sin(boxes.yaw)[:, None]
    loc = unit[None] * boxes.size[:, None]  # (K, 8, 3) box frame
    corners = np.stack([c * loc[..., 0] - s * loc[..., 1], s * loc[..., 0] + c * loc[..., 1], loc[..., 2]],
                       -1)
    corners = (corners + boxes.center[:, None] - o) @ R  # (K, 8, 3) camera frame
    front = corners[..., 2] >= _NEAR  # (K, 8)
    dist = np.linalg.norm(boxes.center[:, :2] - o[:2], axis=1) - 0.5 * np.linalg.norm(boxes.size[:, :2],
                                                                                        axis=1)
    uvw = corners @ cam.K.T
    uv = uvw[..., :2] / np.maximum(uvw[..., 2:3], _NEAR)
    big = 1e9
    umin = np.where(front, uv[..., 0], big).min(1)
    umax = np.where(front, uv[..., 0], -big).max(1)
    vmin = np.where(front, uv[..., 1], big).min(1)
    vmax = np.where(front, uv[..., 1], -big).max(1)
    edges = [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count('1') == 1]
    out = []
    for i in range(k):
        if not front[i].any() or dist[i] > max_dist:
            out.append(np.zeros(0, np.int64))
            continue
        u0, u1, v0, v1 = umin[i], umax[i], vmin[i], vmax[i]
        if not front[i].all():  # add the near-plane crossings of the edges
            cr = corners[i]
            for a, b in edges:
                if front[i, a] != front[i, b]:
                    za, zb = cr[a, 2], cr[b, 2]
                    q = cr[a] + (_NEAR - za) / (zb - za) * (cr[b] - cr[a])
                    qu = cam.K @ q
                    u0, u1 = min(u0, qu[0] / qu[2]), max(u1, qu[0] / qu[2])
                    v0, v1 = min(v0, qu[1] / qu[2]), max(v1, qu[1] / qu[2])
        j0, j1 = max(int(np.floor(u0)), 0), min(int(np.ceil(u1)), W - 1)
        i0, i1 = max(int(np.floor(v0)), 0), min(int(np.ceil(v1)), H - 1)
        if j0 > j1 or i0 > i1:
            out.append(np.zeros(0, np.int64))
            continue
        out.append(np.add.outer(np.arange(i0, i1 + 1) * W, np.arange(j0, j1 + 1)).ravel())
    return out


def _surface(hits: RayHits, origin: np.ndarray, cols: np.ndarray, boxes: BoxSet,
             ray_du: np.ndarray | None = None, ray_dv: np.ndarray | None = None) -> dict:
    """Hit points, normals, box-frame coordinates and pixel footprints of the rays that hit something.

    Args:
        hits: nearest hits of M rays. origin: (3,) ray origin. cols: (3, M) ray directions (road frame).
        boxes: the K boxes the hit ids refer to.
        ray_du, ray_dv: (3,) change of a ray direction per pixel step in u and v (road frame), for the
            footprints; None gives zero footprints.

    Returns:
        Per hit ray (P of them, ``mask`` (M,) selects them): ``points`` (P, 3) road frame, ``normal`` (P, 3),
        ``uvz`` (P, 3) box-frame coordinates from the box's min corner, ``size`` (P, 3) box size,
        ``axis`` (P,) face axis (2 for the ground), ``material`` / ``color`` / ``seed`` of the hit box, and
        ``fw_u`` / ``fw_v`` (P,) the pixel footprint in metres along the face coordinates (ground: x, y).
    """
    m = hits.hit >= 0
    t = hits.t[m]
    d = cols[:, m].T  # (P, 3)
    p = origin + d * t[:, None]  # (P, 3)
    k = hits.hit[m] - 1
    face = hits.face[m]
    isbox = k >= 0
    kb = k[isbox]
    n = len(t)
    axis = np.full(n, 2)
    axis[isbox] = face[isbox] // 2
    yaw = np.zeros(n)
    yaw[isbox] = boxes.yaw[kb]
    c, s = np.cos(yaw), np.sin(yaw)
    sign = np.where(isbox, np.where(face % 2 == 1, 1.0, -1.0), 1.0)
    nb = np.zeros((n, 3))
    nb[np.arange(n), axis] = sign
    normal = np.stack([c * nb[:, 0] - s * nb[:, 1], s * nb[:, 0] + c * nb[:, 1], nb[:, 2]], 1)
    uvz = np.zeros((n, 3))
    bsize = np.ones((n, 3))
    material = np.full(n, Material.GROUND)
    color = np.zeros((n, 3))
    seed = np.zeros(n, np.int64)
    if isbox.any():
        q = p[isbox] - boxes.center[kb]
        size = boxes.size[kb]
        ci, si = c[isbox], s[isbox]
        uvz[isbox] = np.stack([ci * q[:, 0] + si * q[:, 1], -si * q[:, 0] + ci * q[:, 1], q[:, 2]], 1) + size / 2
        bsize[isbox] = size
        material[isbox] = boxes.material[kb]
        color[isbox] = boxes.color[kb]
        seed[isbox] = boxes.seed[kb]
    fw_u = np.zeros(n)
    fw_v = np.zeros(n)
    if ray_du is not None:
        nd = np.minimum(np.einsum('ij,ij->i', normal, d), -1e-3)  # (P,) cosine term, front faces < 0
        span = []
        for dd in (ray_du, ray_dv):  # ray differential of the hit point on its plane, box frame
            dp = t[:, None] * (dd - d * ((normal @ dd) / nd)[:, None])  # (P, 3) road frame
            span.append(np.stack([c * dp[:, 0] + s * dp[:, 1], -s * dp[:, 0] + c * dp[:, 1], dp[:, 2]], 1))
        ext = np.abs(span[0]) + np.abs(span[1])  # (P, 3) footprint extent along the box axes
        fw_u = np.where(axis == 0, ext[:, 1], ext[:, 0])
        fw_v = np.where(axis == 2, ext[:, 1], ext[:, 2])
    return {'mask': m, 'points': p, 'normal': normal, 'uvz': uvz, 'size': bsize, 'axis': axis,
            'material': material, 'color': color, 'seed': seed, 'fw_u': fw_u, 'fw_v': fw_v}


def render_camera(world: World, boxes: BoxSet, T_road_cam: np.ndarray, cam: Camera) -> CameraRender:
    """Ray-cast one camera image.

    Args:
        world: the world (lighting, sky).
        boxes: the K boxes at the render time (:meth:`World.boxes_at`), road frame.
        T_road_cam: (4, 4) camera -> road transform.
        cam: the camera (intrinsics and size).

    Returns:
        The image, its depth and hit ids (:class:`CameraRender`).
    """
    R, o = T_road_cam[:3, :3], T_road_cam[:3, 3].copy()
    cols = R @ pixel_rays(cam).T  # (3, HW) road frame, camera z component = 1
    hits = cast_rays(o, cols.T, boxes, _screen_rects(boxes, T_road_cam, cam))
    K = cam.K
    surf = _surface(hits, o, cols, boxes, R[:, 0] / K[0, 0], R[:, 1] / K[1, 1])
    rgb = np.zeros((hits.t.shape[0], 3))
    m = surf['mask']
    rgb[m] = shade_hits(surf['points'], surf['normal'], surf['material'], surf['uvz'], surf['size'],
                        surf['axis'], surf['color'], surf['seed'], world.sun, surf['fw_u'], surf['fw_v'])
    rgb[~m] = sky_color(cols[:, ~m].T, world.sky_seed)
    img = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8).reshape(cam.height, cam.width, 3)
    depth = np.where(m, hits.t, 0.0).astype(np.float32).reshape(cam.height, cam.width)
    return CameraRender(rgb=img, depth=depth, hit=hits.hit.astype(np.int32).reshape(cam.height, cam.width),
                        unoccluded=hits.unoccluded)


def _boxes_in_wedge(boxes: BoxSet, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """(K,) bool: boxes whose azimuth extent seen from ``origin`` overlaps that of the rays ``dirs`` (F, 3).

    The rays must span less than half a turn (one time slice of a revolution).
    """
    mean = dirs[:, :2].sum(0)
    centre = np.arctan2(mean[1], mean[0])
    half = np.abs(np.angle(np.exp(1j * (np.arctan2(dirs[:, 1], dirs[:, 0]) - centre)))).max()
    rel = boxes.center[:, :2] - origin[:2]
    dist = np.linalg.norm(rel, axis=1)
    radius = 0.5 * np.linalg.norm(boxes.size[:, :2], axis=1)
    spread = np.arcsin(np.clip(radius / np.maximum(dist, 1e-9), 0.0, 1.0))
    off = np.abs(np.angle(np.exp(1j * (np.arctan2(rel[:, 1], rel[:, 0]) - centre))))
    return (dist <= radius) | (off <= half + spread + 1e-3)


def _cast_lidar(boxes: BoxSet, T_road_lidar: np.ndarray, lidar: Lidar, d_lidar: np.ndarray, wedge: bool = False
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cast LiDAR firings ``d_lidar`` (F, 3) (lidar frame) into ``boxes`` from the pose ``T_road_lidar``.

    ``wedge``: the firings span a narrow azimuth range; boxes outside it are skipped (same result, faster).

    Returns:
        ``(valid, p_road, hit, intensity)``: (F,) bool returns within range, (V, 3) hit points in the road
        frame, (V,) ids (0 ground, k + 1 box k), (V,) intensity.
    """
    R, o = T_road_lidar[:3, :3], T_road_lidar[:3, 3].copy()
    dirs = d_lidar @ R.T
    reach = np.linalg.norm(boxes.center[:, :2] - o[:2], axis=1) - 0.5 * np.linalg.norm(boxes.size[:, :2],
                                                                                         axis=1)
    near = reach < lidar.max_range
    if wedge:
        near &= _boxes_in_wedge(boxes, o, dirs)
    keep = np.flatnonzero(near)
    sub = BoxSet(*(getattr(boxes, f)[keep] for f in ('center', 'size', 'yaw', 'material', 'color', 'seed')))
    hits = cast_rays(o, dirs, sub)
    valid = (hits.hit >= 0) & (hits.t <= lidar.max_range)
    t = hits.t[valid]
    hit_sub = hits.hit[valid]
    hit = np.where(hit_sub > 0, keep[np.maximum(hit_sub - 1, 0)] + 1, 0)
    # intensity: material reflectivity, bright paint, some texture
    p_road = o + dirs[valid] * t[:, None]
    mat = np.where(hit > 0, boxes.material[np.maximum(hit - 1, 0)], Material.GROUND)
    base = np.array([REFLECTIVITY.get(mm, 30.0) for mm in range(Material.OBJECT + 1)])
    inten = base[np.minimum(mat, Material.OBJECT)]
    white, yellow = lane_paint(p_road[:, 0], p_road[:, 1])
    paint = (hit == 0) & (white | yellow) & (np.abs(p_road[:, 1]) < ROAD_HALF_WIDTH)
    inten = np.where(paint, 60.0, inten) * (0.75 + 0.5 * value_noise(p_road[:, 0] * 3, p_road[:, 1] * 3 +
                                                                    p_road[:, 2] * 5, 3))
    return valid, p_road, hit, inten


def render_lidar(boxes: BoxSet, T_road_lidar: np.ndarray, lidar: Lidar) -> LidarScan:
    """Ray-cast one LiDAR revolution as one instant (KITTI's velodyne; see :func:`render_lidar_sweep`).

    Args:
        boxes: the K boxes at the scan time, road frame.
        T_road_lidar: (4, 4) lidar -> road transform.
        lidar: the LiDAR model.

    Returns:
        Points in the lidar frame with intensity and ring index, and the id of what each point hit.
    """
    d_lidar, ring = lidar.directions()
    valid, p_road, hit, inten = _cast_lidar(boxes, T_road_lidar, lidar, d_lidar)
    pts = (p_road - T_road_lidar[:3, 3]) @ T_road_lidar[:3, :3]  # (V, 3) lidar frame
    points = np.concatenate([pts, np.round(inten)[:, None], ring[valid][:, None]], 1).astype(np.float32)
    return LidarScan(points=points, hit=hit)


def render_lidar_sweep(world: World, lidar: Lidar, t_end: float, firing_time_before_end: np.ndarray,
                       chunks: int = 24) -> LidarScan:
    """Ray-cast one revolution of a moving LiDAR, motion-compensated to its end as nuScenes' ``.pcd.bin``.

    Each firing is cast from the LiDAR pose at its own time into the world at that time (the revolution is
    split into ``chunks`` equal time slices, each cast at its mid time: 2 ms at 20 Hz and 24 chunks). The hit
    points are then written in the LiDAR frame at ``t_end``: static surfaces land exactly where they are,
    moving objects are smeared by their own motion during the sweep, as in real data.

    Args:
        world: the world (ego trajectory and boxes at any time).
        lidar: the LiDAR model (``T_ego_lidar`` its mounting).
        t_end: end of the revolution (the sample timestamp), seconds.
        firing_time_before_end: (A,) seconds before ``t_end`` at which azimuth column ``a`` of
            :meth:`Lidar.directions` fires.
        chunks: time slices of the revolution.

    Returns:
        Points in the lidar frame at ``t_end`` with intensity and ring index, and hit ids of
        :meth:`World.boxes_at` (the static boxes and objects keep their indices at every time).
    """
    d_lidar, ring = lidar.directions()  # azimuth-major: column a holds rows a * B ... a * B + B - 1
    n_beams = len(lidar.elevations)
    dt = np.repeat(np.asarray(firing_time_before_end, np.float64), n_beams)  # (A B,)
    edges = np.linspace(0.0, dt.max() + 1e-9, chunks + 1)
    T_end_road = np.linalg.inv(world.ego_pose(t_end) @ lidar.T_ego_lidar)
    pts, hits, intens, rings = [], [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = np.flatnonzero((dt >= lo) & (dt < hi))
        if not len(sel):
            continue
        t = t_end - 0.5 * (lo + hi)
        valid, p_road, hit, inten = _cast_lidar(world.boxes_at(t), world.ego_pose(t) @ lidar.T_ego_lidar,
                                                lidar, d_lidar[sel], wedge=True)
        pts.append(p_road @ T_end_road[:3, :3].T + T_end_road[:3, 3])
        hits.append(hit)
        intens.append(inten)
        rings.append(ring[sel][valid])
    points = np.concatenate([np.concatenate(pts), np.round(np.concatenate(intens))[:, None],
                             np.concatenate(rings)[:, None]], 1).astype(np.float32)
    return LidarScan(points=points, hit=np.concatenate(hits))
