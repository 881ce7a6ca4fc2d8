"""Procedural textures and Lambert shading of ray hits.

Every surface is textured (value noise on surface coordinates in metres) so that photometric
self-supervision has gradients everywhere; shading is view independent (Lambert + ambient), so a surface
point has the same colour in every frame. Integer hashing keeps everything deterministic.
"""
from __future__ import annotations

import numpy as np

from .classes import CLASS_INDEX
from .world import DASH_LENGTH, DASH_PERIOD, LANE_MARKINGS, ROAD_HALF_WIDTH, Material

__all__ = ['value_noise', 'fbm', 'coverage', 'stripes', 'lane_paint', 'lane_paint_coverage', 'shade_hits',
           'sky_color', 'REFLECTIVITY']

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


def fbm(u: np.ndarray, v: np.ndarray, seed: np.ndarray | int, freq: float, octaves: int = 3,
        footprint: np.ndarray | None = None) -> np.ndarray:
    """Fractal noise in about [0, 1): ``octaves`` value-noise layers from ``freq`` cycles per metre.

    Args:
        u, v: (P,) surface coordinates in metres. seed: texture seed(s).
        freq: cycles per metre of the first octave (each next octave doubles it, half the amplitude).
        footprint: optional (P,) pixel footprint in metres; octaves finer than about 3 pixels fade to their
            mean (a pre-filter against aliasing).
    """
    out = np.zeros_like(u, dtype=np.float64)
    amp, tot = 1.0, 0.0
    for o in range(octaves):
        layer = value_noise(u * freq, v * freq, np.asarray(seed) + 7919 * o)
        if footprint is not None:
            keep = np.clip(1.5 - 3.0 * freq * footprint, 0.0, 1.0)
            layer = 0.5 + keep * (layer - 0.5)
        out += amp * layer
        tot += amp
        amp *= 0.5
        freq *= 2.0
    return out / tot


def coverage(x: np.ndarray, lo: float, hi: float, fw: np.ndarray) -> np.ndarray:
    """Fraction of the pixel footprint ``[x - fw / 2, x + fw / 2]`` inside ``[lo, hi]`` (box-filtered step)."""
    return np.clip((np.minimum(x + fw / 2, hi) - np.maximum(x - fw / 2, lo)) / fw, 0.0, 1.0)


def stripes(x: np.ndarray, period: float, lo: float, hi: float, fw: np.ndarray) -> np.ndarray:
    """Box-filtered coverage of the periodic stripes ``[lo, hi] + k * period`` (0 <= lo < hi <= period)."""
    m = np.mod(x, period)
    return np.clip(coverage(m, lo, hi, fw) + coverage(m, lo - period, hi - period, fw)
                   + coverage(m, lo + period, hi + period, fw), 0.0, 1.0)


def lane_paint_coverage(x: np.ndarray, y: np.ndarray, fw_x: np.ndarray, fw_y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Anti-aliased :func:`lane_paint`: (P,) white and yellow paint coverage in [0, 1].

    Args:
        x, y: (P,) ground points, road frame, metres. fw_x, fw_y: (P,) pixel footprint along x and y, metres.
    """
    white = np.zeros(x.shape)
    yellow = np.zeros(x.shape)
    for yc, width, kind in LANE_MARKINGS:
        on = coverage(y, yc - width / 2, yc + width / 2, fw_y)
        if kind == 'dashed':
            on = on * stripes(x, DASH_PERIOD, 0.0, DASH_LENGTH, fw_x)
        if kind == 'yellow':
            yellow = np.maximum(yellow, on)
        else:
            white = np.maximum(white, on)
    return white, yellow


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


def _mix(col: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Blend (P, 3) ``col`` towards ``target`` ((3,) or (P, 3)) by (P,) ``weight`` in [0, 1], in place."""
    idx = np.flatnonzero(weight > 0)
    if len(idx):
        w = weight[idx, None]
        col[idx] = col[idx] * (1 - w) + (target[idx] if np.ndim(target) == 2 else target) * w
    return col


def _object_texture(cls: np.ndarray, v_abs: np.ndarray, height: np.ndarray, face_len: np.ndarray,
                    u: np.ndarray, v: np.ndarray, axis: np.ndarray, color: np.ndarray, seed: np.ndarray,
                    fw_u: np.ndarray, fw_v: np.ndarray) -> np.ndarray:
    """Albedo (P, 3) of object hits: class-typical patterns, box-filtered with the pixel footprint.

    Args:
        cls: (P,) class index. v_abs: (P,) height above the box bottom, metres. height: (P,) box height.
        face_len: (P,) horizontal extent of the hit face (box length on the long sides), metres.
        u, v: (P,) face coordinates, metres. axis: (P,) face axis. color: (P, 3). seed: (P,).
        fw_u, fw_v: (P,) pixel footprint along u and v (for side faces v is the height), metres.
    """
    n = fbm(u, v, seed, 2.0, 3, np.maximum(fw_u, fw_v))[:, None]
    col = color * (0.65 + 0.7 * n)
    dark = np.array([0.08, 0.09, 0.1])
    glass = np.array([0.15, 0.2, 0.28])
    side = (axis != 2).astype(np.float64)
    fz = np.where(axis != 2, fw_v, 1e-3)  # footprint along the height on side faces

    def band(lo: float, hi: float) -> np.ndarray:  # coverage of relative heights [lo, hi] on side faces
        return coverage(v_abs, lo * height, hi * height, fz) * side

    def is_(name: str) -> np.ndarray:
        return (cls == CLASS_INDEX[name]).astype(np.float64)

    vehicle = (cls <= CLASS_INDEX['construction_vehicle']).astype(np.float64)
    long_side = (axis == 1).astype(np.float64)
    col = _mix(col, dark * (0.8 + 0.4 * n), vehicle * band(-1.0, 0.12))  # bumper / sill band
    pillars = 1.0 - stripes(u, 2.4, 0.0, 0.25, fw_u)
    car = is_('car')
    # glass: cars have a cabin (middle of the long sides, inset on the ends), others a full window band
    cabin = np.where(axis == 1, coverage(u, 0.28 * face_len, 0.78 * face_len, fw_u),
                     coverage(u, 0.1 * face_len, 0.9 * face_len, fw_u))
    glass_w = vehicle * (1 - is_('trailer')) * band(0.58, 0.9) * np.where(car > 0, cabin, pillars)
    col = _mix(col, glass * (0.8 + 0.6 * n), glass_w)
    # wheels on the long sides of vehicles and cycles
    radius = np.minimum(0.4, 0.25 * height)
    fr = np.maximum(fw_u, fw_v)
    wheeled = (vehicle + is_('bicycle') + is_('motorcycle')) * long_side
    for at in (0.18, 0.82):
        dist = np.hypot(u - at * face_len, v_abs - radius)
        col = _mix(col, np.array([0.04, 0.04, 0.045]), wheeled * coverage(dist, -1.0, radius, fr))
        col = _mix(col, np.array([0.55, 0.55, 0.58]), wheeled * coverage(dist, -1.0, 0.4 * radius, fr))
    col = _mix(col, col * 0.6, is_('trailer') * side * stripes(u, 0.6, 0.0, 0.08, np.maximum(fw_u, 1e-3)))
    hazard = stripes(u + v, 0.8, 0.0, 0.4, np.maximum(fw_u, fw_v))
    col = _mix(col, dark, is_('construction_vehicle') * band(0.22, 0.35) * hazard)
    # pedestrians: skin head, shirt, trousers
    ped = is_('pedestrian')
    col = _mix(col, np.array([0.85, 0.65, 0.5]), ped * band(0.87, 2.0))
    col = _mix(col, np.array([0.15, 0.17, 0.3]) * (0.8 + 0.4 * n), ped * band(-1.0, 0.48))
    # cycles: a dark frame bar between the wheels, the rider (if tall) above
    col = _mix(col, dark, (is_('bicycle') + is_('motorcycle')) * band(0.3, 0.4))
    # cones: white reflective band; barriers: red/white diagonal stripes
    col = _mix(col, np.array([0.95, 0.95, 0.95]), is_('traffic_cone') * band(0.45, 0.65))
    col = _mix(col, np.array([0.95, 0.95, 0.93]), is_('barrier') * hazard)
    return col


def shade_hits(points: np.ndarray, normals: np.ndarray, material: np.ndarray, box_uvz: np.ndarray,
               box_size: np.ndarray, face_axis: np.ndarray, color: np.ndarray, seed: np.ndarray,
               sun: np.ndarray, fw_u: np.ndarray, fw_v: np.ndarray) -> np.ndarray:
    """Colour of surface hits, with patterns and noise box-filtered over the pixel footprint.

    Args:
        points: (P, 3) hit points, road frame, metres.
        normals: (P, 3) unit outward normals, road frame.
        material: (P,) material ids (:class:`.world.Material`; ``OBJECT + class`` for objects).
        box_uvz: (P, 3) hit point in its box's frame, shifted so the box spans [0, size] (unused for ground).
        box_size: (P, 3) size (length, width, height) of the hit box in metres (unused for ground).
        face_axis: (P,) box axis of the hit face (0, 1, 2; 2 for the ground).
        color: (P, 3) base colour of the hit box. seed: (P,) texture seed of the hit box.
        sun: (3,) unit vector towards the sun, road frame.
        fw_u, fw_v: (P,) pixel footprint in metres along the face coordinates u, v (ground: along x, y).

    Returns:
        (P, 3) linear RGB in [0, 1].
    """
    p = len(points)
    albedo = np.zeros((p, 3))
    # face coordinates: horizontal coordinate along the face and height (top faces: box x, y)
    u = np.where(face_axis == 0, box_uvz[:, 1], box_uvz[:, 0])
    v = np.where(face_axis == 2, box_uvz[:, 1], box_uvz[:, 2])
    fw_u = np.maximum(fw_u, 1e-4)
    fw_v = np.maximum(fw_v, 1e-4)
    fw = np.maximum(fw_u, fw_v)

    g = material == Material.GROUND
    if g.any():
        x, y, fx, fy = points[g, 0], points[g, 1], fw_u[g], fw_v[g]
        road = (np.abs(y) < ROAD_HALF_WIDTH).astype(np.float64)
        n1 = fbm(x, y, 11, 0.35, 2, fw[g])
        n2 = fbm(x, y, 12, 2.0, 3, fw[g])
        asphalt = (0.1 + 0.16 * n1 + 0.32 * n2)[:, None] * np.array([1.0, 0.98, 0.95])
        tiles = np.maximum(stripes(x, 2.0, 0.0, 0.06, fx), stripes(y, 2.0, 0.0, 0.06, fy))
        plaza = (0.42 + 0.18 * n2)[:, None] * np.array([0.75, 0.65, 0.5]) * (1 - 0.3 * tiles)[:, None]
        col = _mix(plaza.copy(), asphalt, road)
        white, yellow = lane_paint_coverage(x, y, fx, fy)
        col = _mix(col, (0.85 + 0.1 * n2)[:, None] * np.array([1.0, 1.0, 1.0]), white * road)
        col = _mix(col, (0.85 + 0.1 * n2)[:, None] * np.array([0.95, 0.78, 0.2]), yellow * road)
        albedo[g] = col
    sw = material == Material.SIDEWALK
    if sw.any():
        uu, vv, fu, fv = u[sw], v[sw], fw_u[sw], fw_v[sw]
        n = fbm(uu, vv, seed[sw], 2.0, 3, fw[sw])
        top = face_axis[sw] == 2
        joint = np.maximum(stripes(uu, 1.5, 0.0, 0.04, fu), stripes(vv, 1.5, 0.0, 0.04, fv))
        slab = 0.6 + 0.6 * n
        shade = np.where(top, slab + (0.55 - slab) * joint, 0.85 + 0.3 * n)
        albedo[sw] = color[sw] * shade[:, None]
    b = material == Material.BUILDING
    if b.any():
        uu, vv, fu, fv = u[b], v[b], fw_u[b], fw_v[b]
        n = fbm(uu, vv, seed[b], 1.5, 3, fw[b])
        side = (face_axis[b] != 2).astype(np.float64)
        win = side * stripes(uu, 2.8, 0.8, 2.2, fu) * stripes(vv, 3.2, 1.0, 2.5, fv) * coverage(vv, 1.0, 1e9, fv)
        col = color[b] * (0.55 + 0.9 * n)[:, None]
        wcol = np.array([0.2, 0.25, 0.32]) * (0.6 + 0.9 * fbm(uu, vv, seed[b] + 1, 0.7, 2, fw[b]))[:, None]
        albedo[b] = _mix(col, wcol, win)
    for mat, freq in ((Material.POLE, 6.0), (Material.TRUNK, 5.0), (Material.CANOPY, 2.5)):
        m = material == mat
        if m.any():
            albedo[m] = color[m] * (0.6 + 0.7 * fbm(u[m], v[m], seed[m], freq, 3, fw[m]))[:, None]
    o = material >= Material.OBJECT
    if o.any():
        face_len = np.where(face_axis[o] == 0, box_size[o, 1], box_size[o, 0])
        albedo[o] = _object_texture(material[o] - Material.OBJECT, box_uvz[o, 2], box_size[o, 2], face_len,
                                    u[o], v[o], face_axis[o], color[o], seed[o], fw_u[o], fw_v[o])
    lambert = np.clip(normals @ sun, 0, 1)
    return np.clip(albedo * (0.5 + 0.6 * lambert)[:, None], 0, 1)
