"""Procedural textures and Lambert shading of ray hits.

Every surface is textured (value noise on surface coordinates in metres) so that photometric
self-supervision has gradients everywhere; shading is view independent (Lambert + ambient), so a surface
point has the same colour in every frame. Integer hashing keeps everything deterministic.
"""
from __future__ import annotations

import numpy as np

from .classes import CLASS_INDEX
from .world import DASH_LENGTH, DASH_PERIOD, LANE_MARKINGS, ROAD_HALF_WIDTH, Material

__all__ = ['value_noise', 'fbm', 'lane_paint', 'shade_hits', 'sky_color', 'REFLECTIVITY']

# LiDAR intensity (nuScenes-like 0..100 scale) per material; objects use REFLECTIVITY[Material.OBJECT].
REFLECTIVITY = {Material.GROUND: 8.0, Material.SIDEWALK: 20.0, Material.BUILDING: 30.0, Material.POLE: 45.0,
                Material.TRUNK: 15.0, Material.CANOPY: 12.0, Material.OBJECT: 35.0}


def _hash(ix: np.ndarray, iy: np.ndarray, seed: np.ndarray | int) -> np.ndarray:
    """Uniform [0, 1) hash of integer lattice points (int64 arrays of equal shape, 32-bit arithmetic)."""
    mask = 0xFFFFFFFF
    h = ((ix * 73856093) ^ (iy * 19349663) ^ (np.asarray(seed, np.int64) * 83492791)) & mask
    h ^= h >> 13
    h = (h * 0x5BD1E995) & mask
    h ^= h >> 15
    return (h & 0xFFFFFF) * (1.0 / (1 << 24))


def value_noise(u: np.ndarray, v: np.ndarray, seed: np.ndarray | int) -> np.ndarray:
    """Smooth value noise in [0, 1) with unit lattice spacing; u, v: (P,) coordinates."""
    fl_u, fl_v = np.floor(u), np.floor(v)
    fu, fv = u - fl_u, v - fl_v
    iu, iv = fl_u.astype(np.int64), fl_v.astype(np.int64)
    fu = fu * fu * (3 - 2 * fu)
    fv = fv * fv * (3 - 2 * fv)
    a = _hash(iu, iv, seed)
    b = _hash(iu + 1, iv, seed)
    c = _hash(iu, iv + 1, seed)
    d = _hash(iu + 1, iv + 1, seed)
    return (a * (1 - fu) + b * fu) * (1 - fv) + (c * (1 - fu) + d * fu) * fv


def fbm(u: np.ndarray, v: np.ndarray, seed: np.ndarray | int, freq: float, octaves: int = 3) -> np.ndarray:
    """Fractal noise in about [0, 1): ``octaves`` value-noise layers from ``freq`` cycles per metre."""
    out = np.zeros_like(u, dtype=np.float64)
    amp, tot = 1.0, 0.0
    for o in range(octaves):
        out += amp * value_noise(u * freq, v * freq, np.asarray(seed) + 7919 * o)
        tot += amp
        amp *= 0.5
        freq *= 2.0
    return out / tot


def lane_paint(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Painted lane markings on the road surface.

    Args:
        x, y: (P,) ground points in the road frame, metres.

    Returns:
        white: (P,) bool, white paint. yellow: (P,) bool, yellow paint.
    """
    white = np.zeros(x.shape, bool)
    yellow = np.zeros(x.shape, bool)
    for yc, width, kind in LANE_MARKINGS:
        on = np.abs(y - yc) <= width / 2
        if kind == 'dashed':
            on &= np.mod(x, DASH_PERIOD) < DASH_LENGTH
        if kind == 'yellow':
            yellow |= on
        else:
            white |= on
    return white, yellow


def sky_color(dirs: np.ndarray, seed: int) -> np.ndarray:
    """(P, 3) sky colour in [0, 1] for (P, 3) viewing directions (road frame): gradient plus clouds."""
    d = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    elev = np.clip(d[:, 2], -0.2, 1.0)
    horizon = np.array([0.78, 0.84, 0.9])
    zenith = np.array([0.35, 0.55, 0.85])
    base = horizon + (zenith - horizon) * np.sqrt(np.clip(elev, 0, 1))[:, None]
    # clouds on a plane at 1 km
    s = 1000.0 / np.maximum(d[:, 2], 0.05)
    cloud = fbm(d[:, 0] * s, d[:, 1] * s, seed, 1 / 300.0, 4)
    cloud = np.clip((cloud - 0.45) * 2.5, 0, 1)[:, None]
    return base * (1 - cloud) + np.array([0.95, 0.95, 0.96]) * cloud


def _object_texture(cls: np.ndarray, zr: np.ndarray, u: np.ndarray, v: np.ndarray, axis: np.ndarray,
                    color: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Albedo (P, 3) of object hits: class-typical patterns on relative height ``zr`` in [0, 1] and face
    coordinates ``u, v`` (metres)."""
    n = fbm(u, v, seed, 2.0, 3)[:, None]
    col = color * (0.65 + 0.7 * n)
    dark = np.array([0.08, 0.09, 0.1])
    glass = np.array([0.15, 0.2, 0.28])
    side = axis != 2
    vehicle = cls <= CLASS_INDEX['construction_vehicle']
    # vehicles: dark tyres/bumper band, glass band, lighter roof
    low = vehicle & side & (zr < 0.22)
    col[low] = dark * (0.8 + 0.4 * n[low])
    win = vehicle & side & (zr > 0.58) & (zr < 0.9) & (cls != CLASS_INDEX['trailer'])
    win &= np.mod(u, 2.4) > 0.25  # window pillars
    col[win] = glass * (0.8 + 0.6 * n[win])
    ribs = (cls == CLASS_INDEX['trailer']) & side & (np.mod(u, 0.6) < 0.08)
    col[ribs] *= 0.6
    hazard = (cls == CLASS_INDEX['construction_vehicle']) & side & (zr > 0.22) & (zr < 0.35) & \
        (np.mod(u + v, 0.8) < 0.4)
    col[hazard] = dark
    # pedestrians: skin head, shirt, trousers
    ped = cls == CLASS_INDEX['pedestrian']
    col[ped & (zr > 0.87)] = np.array([0.85, 0.65, 0.5])
    legs = ped & (zr < 0.48)
    col[legs] = (np.array([0.15, 0.17, 0.3]) * (0.8 + 0.4 * n))[legs]
    # cycles: dark frame and wheels, rider (if tall) shirt above
    cyc = (cls == CLASS_INDEX['bicycle']) | (cls == CLASS_INDEX['motorcycle'])
    col[cyc & (zr < 0.35)] = dark
    # cones: white reflective band; barriers: red/white diagonal stripes
    cone = cls == CLASS_INDEX['traffic_cone']
    col[cone & (zr > 0.45) & (zr < 0.65)] = np.array([0.95, 0.95, 0.95])
    bar = (cls == CLASS_INDEX['barrier']) & (np.mod(u + v, 0.8) < 0.4)
    col[bar] = np.array([0.95, 0.95, 0.93])
    return col


def shade_hits(points: np.ndarray, normals: np.ndarray, material: np.ndarray, box_uvz: np.ndarray,
               rel_height: np.ndarray, face_axis: np.ndarray, color: np.ndarray, seed: np.ndarray,
               sun: np.ndarray) -> np.ndarray:
    """Colour of surface hits.

    Args:
        points: (P, 3) hit points, road frame, metres.
        normals: (P, 3) unit outward normals, road frame.
        material: (P,) material ids (:class:`.world.Material`; ``OBJECT + class`` for objects).
        box_uvz: (P, 3) hit point in its box's frame, shifted so the box spans [0, size] (unused for ground).
        rel_height: (P,) height of the hit above the box bottom divided by the box height, in [0, 1].
        face_axis: (P,) box axis of the hit face (0, 1, 2; 2 for the ground).
        color: (P, 3) base colour of the hit box. seed: (P,) texture seed of the hit box.
        sun: (3,) unit vector towards the sun, road frame.

    Returns:
        (P, 3) linear RGB in [0, 1].
    """
    p = len(points)
    albedo = np.zeros((p, 3))
    # face coordinates: horizontal coordinate along the face and height
    u = np.where(face_axis == 0, box_uvz[:, 1], box_uvz[:, 0])
    v = np.where(face_axis == 2, box_uvz[:, 1], box_uvz[:, 2])

    g = material == Material.GROUND
    if g.any():
        x, y = points[g, 0], points[g, 1]
        road = np.abs(y) < ROAD_HALF_WIDTH
        n1 = fbm(x, y, 11, 0.35, 2)
        n2 = fbm(x, y, 12, 2.0, 3)
        asphalt = (0.1 + 0.16 * n1 + 0.32 * n2)[:, None] * np.array([1.0, 0.98, 0.95])
        tiles = ((np.mod(x, 2.0) < 0.06) | (np.mod(y, 2.0) < 0.06))[:, None]
        plaza = (0.42 + 0.18 * n2)[:, None] * np.array([0.75, 0.65, 0.5]) * np.where(tiles, 0.7, 1.0)
        col = np.where(road[:, None], asphalt, plaza)
        white, yellow = lane_paint(x, y)
        white &= road
        yellow &= road
        col[white] = (0.85 + 0.1 * n2[white])[:, None] * np.array([1.0, 1.0, 1.0])
        col[yellow] = (0.85 + 0.1 * n2[yellow])[:, None] * np.array([0.95, 0.78, 0.2])
        albedo[g] = col
    sw = material == Material.SIDEWALK
    if sw.any():
        uu, vv = u[sw], v[sw]
        n = fbm(uu, vv, seed[sw], 2.0, 3)
        top = face_axis[sw] == 2
        joint = (np.mod(uu, 1.5) < 0.04) | (np.mod(vv, 1.5) < 0.04)
        shade = np.where(top, np.where(joint, 0.55, 0.6 + 0.6 * n), 0.85 + 0.3 * n)
        albedo[sw] = color[sw] * shade[:, None]
    b = material == Material.BUILDING
    if b.any():
        uu, vv = u[b], v[b]
        n = fbm(uu, vv, seed[b], 1.5, 3)
        side = face_axis[b] != 2
        win = side & (np.mod(uu, 2.8) > 0.8) & (np.mod(uu, 2.8) < 2.2) & (np.mod(vv, 3.2) > 1.0) & \
            (np.mod(vv, 3.2) < 2.5) & (vv > 1.0)
        col = color[b] * (0.55 + 0.9 * n)[:, None]
        wcol = np.array([0.2, 0.25, 0.32]) * (0.6 + 0.9 * fbm(uu, vv, seed[b] + 1, 0.7, 2))[:, None]
        col[win] = wcol[win]
        albedo[b] = col
    for mat, freq in ((Material.POLE, 6.0), (Material.TRUNK, 5.0), (Material.CANOPY, 2.5)):
        m = material == mat
        if m.any():
            albedo[m] = color[m] * (0.6 + 0.7 * fbm(u[m], v[m], seed[m], freq, 3))[:, None]
    o = material >= Material.OBJECT
    if o.any():
        albedo[o] = _object_texture(material[o] - Material.OBJECT, rel_height[o], u[o], v[o], face_axis[o],
                                    color[o], seed[o])
    lambert = np.clip(normals @ sun, 0, 1)
    return np.clip(albedo * (0.5 + 0.6 * lambert)[:, None], 0, 1)

