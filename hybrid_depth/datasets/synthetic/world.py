"""The seeded 3D driving world: a straight road with its surroundings, traffic, and the ego trajectory.

Everything lives in the **road frame** (metres, z up): the road runs along +x, its centre line is y = 0, the
ground is the plane z = 0. Four lanes of 3.5 m (centres y = -5.25, -1.75, +1.75, +5.25); traffic on y < 0
drives towards +x, on y > 0 towards -x. Kerbs at |y| = 7 (0.15 m high), sidewalks up to |y| = 11, then
building facades (and the gaps between them) at many distances, poles and trees on the sidewalks.

The ego vehicle drives in lane y = -1.75 towards +x at a constant forward speed, optionally weaving inside its
lane (a sinusoidal lateral offset, so the heading and the yaw rate change smoothly); its frame (x forward,
y left, z up, origin on the ground) is :meth:`World.ego_pose`, analytic at any time. A writer places the
road frame in its dataset's global frame (nuScenes) or uses it directly (KITTI, TuSimple).

All geometry is a set of oriented boxes (yaw about z only) plus the ground plane, which is all the ray caster
needs. Objects move with constant velocity, so box velocities are exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .classes import CLASS_INDEX, OBJECT_CLASSES

__all__ = ['Material', 'BoxSet', 'WorldObject', 'World', 'make_world', 'LANE_CENTERS', 'EGO_LANE_Y',
           'LANE_MARKINGS', 'ROAD_HALF_WIDTH']

LANE_WIDTH = 3.5
ROAD_HALF_WIDTH = 7.0
LANE_CENTERS = (-5.25, -1.75, 1.75, 5.25)
EGO_LANE_Y = -1.75
SIDEWALK_OUTER = 11.0
KERB_HEIGHT = 0.15
# Painted lane markings: (y centre, width, kind) with kind 'solid', 'dashed' or 'yellow' (solid yellow).
LANE_MARKINGS: tuple[tuple[float, float, str], ...] = (
    (-6.8, 0.15, 'solid'), (-3.5, 0.15, 'dashed'), (0.0, 0.15, 'yellow'), (3.5, 0.15, 'dashed'),
    (6.8, 0.15, 'solid'))
DASH_PERIOD = 6.0  # metres: 4 m painted, 2 m gap
DASH_LENGTH = 4.0


class Material:
    """Material ids of the renderer (ground is not a box; objects use ``OBJECT + class index``)."""

    SKY = -1
    GROUND = 0
    SIDEWALK = 1
    BUILDING = 2
    POLE = 3
    TRUNK = 4
    CANOPY = 5
    OBJECT = 10


@dataclass
class BoxSet:
    """Oriented boxes in the road frame.

    Attributes:
        center: (K, 3) box centres in metres (z is the centre height, so the bottom is z - h / 2).
        size: (K, 3) (length along the heading, width, height) in metres.
        yaw: (K,) heading about +z in radians (0 = along +x).
        material: (K,) int material ids (:class:`Material`).
        color: (K, 3) float base colour in [0, 1].
        seed: (K,) int texture seed.
    """

    center: np.ndarray
    size: np.ndarray
    yaw: np.ndarray
    material: np.ndarray
    color: np.ndarray
    seed: np.ndarray

    def __len__(self) -> int:
        return len(self.yaw)

    @staticmethod
    def concat(sets: list[BoxSet]) -> BoxSet:
        """Concatenate box sets (order kept)."""
        return BoxSet(*(np.concatenate([getattr(s, f) for s in sets]) for f in
                        ('center', 'size', 'yaw', 'material', 'color', 'seed')))

    @staticmethod
    def from_rows(rows: list[tuple]) -> BoxSet:
        """Build from rows ``(cx, cy, cz, l, w, h, yaw, material, (r, g, b), seed)``."""
        if not rows:
            z = np.zeros((0, 3), np.float64)
            return BoxSet(z, z.copy(), np.zeros(0), np.zeros(0, np.int64), z.copy(), np.zeros(0, np.int64))
        return BoxSet(
            center=np.array([r[0:3] for r in rows], np.float64),
            size=np.array([r[3:6] for r in rows], np.float64),
            yaw=np.array([r[6] for r in rows], np.float64),
            material=np.array([r[7] for r in rows], np.int64),
            color=np.array([r[8] for r in rows], np.float64),
            seed=np.array([r[9] for r in rows], np.int64))


@dataclass
class WorldObject:
    """An annotated object moving with constant velocity.

    Attributes:
        uid: index of the object in its world (stable over time; one nuScenes instance).
        class_name: one of the 10 detection classes.
        center0: (3,) centre at t = 0 in the road frame, metres.
        size: (3,) (length, width, height) in metres.
        yaw: heading in radians in the road frame.
        speed: speed along the heading in m/s (0 for static objects).
        attribute: nuScenes attribute name, or '' for classes without attributes.
        color: (3,) base colour in [0, 1].
        seed: texture seed.
    """

    uid: int
    class_name: str
    center0: np.ndarray
    size: np.ndarray
    yaw: float
    speed: float
    attribute: str
    color: np.ndarray
    seed: int

    @property
    def velocity(self) -> np.ndarray:
        """(3,) velocity in the road frame, m/s."""
        return np.array([np.cos(self.yaw), np.sin(self.yaw), 0.0]) * self.speed

    def center(self, t: float) -> np.ndarray:
        """(3,) centre at time ``t`` seconds, road frame."""
        return self.center0 + self.velocity * t


@dataclass
class World:
    """A seeded world: static boxes, moving objects, the ego trajectory and the lighting.

    Attributes:
        seed: the seed it was made from.
        static: static scenery boxes (sidewalks, buildings, poles, trees), road frame.
        objects: annotated objects.
        ego_x0: ego x at t = 0 (road frame), metres.
        ego_speed: ego speed along +x, m/s.
        weave: ``(amplitude m, period s, phase rad)`` of the ego's lateral offset ``A sin(2 pi t / P + phi)``
            from the lane centre (amplitude 0: straight).
        sun: (3,) unit vector towards the sun, road frame.
        sky_seed: seed of the cloud texture.
        extent: (x_min, x_max) of the road section the scenery covers, road frame, metres.
    """

    seed: int
    static: BoxSet
    objects: list[WorldObject]
    ego_x0: float
    ego_speed: float
    sun: np.ndarray
    sky_seed: int
    extent: tuple[float, float] = field(default=(-100.0, 100.0))
    weave: tuple[float, float, float] = field(default=(0.0, 1.0, 0.0))

    def ego_pose(self, t: float) -> np.ndarray:
        """(4, 4) ego-to-road transform at time ``t`` s (ego frame: x forward, y left, z up, on the ground).

        The ego heads along its velocity: yaw ``atan2(dy/dt, ego_speed)``.
        """
        amp, period, phase = self.weave
        w = 2 * np.pi / period
        yaw = np.arctan2(amp * w * np.cos(w * t + phase), self.ego_speed)
        c, s = np.cos(yaw), np.sin(yaw)
        T = np.eye(4)
        T[:2, :2] = [[c, -s], [s, c]]
        T[0, 3] = self.ego_x0 + self.ego_speed * t
        T[1, 3] = EGO_LANE_Y + amp * np.sin(w * t + phase)
        return T

    def ego_velocity(self, t: float) -> np.ndarray:
        """(3,) ego velocity at time ``t`` in the road frame, m/s."""
        amp, period, phase = self.weave
        w = 2 * np.pi / period
        return np.array([self.ego_speed, amp * w * np.cos(w * t + phase), 0.0])

    def ego_yaw_rate(self, t: float) -> float:
        """Yaw rate of the ego at time ``t``, rad/s (counter-clockwise positive)."""
        amp, period, phase = self.weave
        w = 2 * np.pi / period
        vy, ay = amp * w * np.cos(w * t + phase), -amp * w * w * np.sin(w * t + phase)
        return float(self.ego_speed * ay / (self.ego_speed ** 2 + vy ** 2))

    def boxes_at(self, t: float) -> BoxSet:
        """All boxes at time ``t``: static scenery first, then the objects in ``uid`` order."""
        return BoxSet.concat([self.static, self.object_boxes(t)])

    def object_boxes(self, t: float) -> BoxSet:
        """The annotated objects' boxes at time ``t`` (row i is ``objects[i]``), road frame."""
        rows = [(*o.center(t), *o.size, o.yaw, Material.OBJECT + CLASS_INDEX[o.class_name], tuple(o.color),
                 o.seed) for o in self.objects]
        return BoxSet.from_rows(rows)


def _jitter(rng: np.random.Generator, size: tuple[float, float, float], rel: float = 0.08) -> np.ndarray:
    return np.asarray(size) * rng.uniform(1 - rel, 1 + rel, 3)


def _vehicle_color(rng: np.random.Generator, class_name: str) -> tuple[float, float, float]:
    palettes = {
        'car': [(0.75, 0.1, 0.1), (0.1, 0.2, 0.6), (0.85, 0.85, 0.85), (0.15, 0.15, 0.17), (0.2, 0.45, 0.25),
                (0.6, 0.6, 0.65), (0.9, 0.6, 0.1)],
        'truck': [(0.9, 0.9, 0.88), (0.2, 0.3, 0.55), (0.6, 0.15, 0.1)],
        'bus': [(0.9, 0.75, 0.1), (0.15, 0.45, 0.75), (0.8, 0.2, 0.15)],
        'trailer': [(0.8, 0.8, 0.78), (0.55, 0.55, 0.6)],
        'construction_vehicle': [(0.95, 0.7, 0.05), (0.9, 0.45, 0.05)],
        'pedestrian': [(0.2, 0.3, 0.7), (0.7, 0.2, 0.2), (0.2, 0.6, 0.3), (0.8, 0.8, 0.3), (0.5, 0.3, 0.6)],
        'motorcycle': [(0.1, 0.1, 0.1), (0.7, 0.1, 0.1), (0.1, 0.3, 0.7)],
        'bicycle': [(0.1, 0.5, 0.8), (0.8, 0.3, 0.1), (0.2, 0.7, 0.3)],
        'traffic_cone': [(0.95, 0.4, 0.05)],
        'barrier': [(0.85, 0.1, 0.1)],
    }
    base = np.array(palettes[class_name][rng.integers(len(palettes[class_name]))])
    return tuple(np.clip(base * rng.uniform(0.9, 1.1, 3), 0, 1))


class _ObjectFactory:
    """Creates :class:`WorldObject` rows with running uids."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.objects: list[WorldObject] = []

    def add(self, class_name: str, x: float, y: float, yaw: float, speed: float, attribute: str,
            size: np.ndarray | None = None) -> WorldObject:
        cls = OBJECT_CLASSES[CLASS_INDEX[class_name]]
        size = _jitter(self.rng, cls.size) if size is None else size
        obj = WorldObject(uid=len(self.objects), class_name=class_name,
                          center0=np.array([x, y, size[2] / 2]), size=size, yaw=float(yaw),
                          speed=float(speed), attribute=attribute, color=np.array(_vehicle_color(self.rng,
                                                                                                   class_name)),
                          seed=int(self.rng.integers(1 << 30)))
        self.objects.append(obj)
        return obj


def _fill_lane(factory: _ObjectFactory, rng: np.random.Generator, y: float, x_lo: float, x_hi: float,
               heading: float, speed: float, cycle: list[str], gap: tuple[float, float]) -> None:
    """Fill a lane from ``x_lo`` to ``x_hi`` with objects taken from ``cycle`` in order (random phase)."""
    moving = speed > 0
    x = x_lo + rng.uniform(0, gap[1])
    i = int(rng.integers(len(cycle)))
    while x < x_hi:
        name = cycle[i % len(cycle)]
        i += 1
        if name == 'workzone':  # barriers along the lane, a cone in front of and behind them
            n_bar = int(rng.integers(2, 4))
            cone = OBJECT_CLASSES[CLASS_INDEX['traffic_cone']]
            factory.add('traffic_cone', x + 0.3, y + rng.uniform(-0.4, 0.4), 0.0, 0.0, '')
            x += 1.5
            for _ in range(n_bar):
                bar = factory.add('barrier', x + 1.3, y + rng.uniform(-0.2, 0.2), np.pi / 2, 0.0, '')
                x += bar.size[1] + 0.2
            factory.add('traffic_cone', x + 0.5, y + rng.uniform(-0.4, 0.4), 0.0, 0.0, '')
            x += 1.0 + cone.size[0] + rng.uniform(*gap)
            continue
        cls = OBJECT_CLASSES[CLASS_INDEX[name]]
        size = _jitter(rng, cls.size)
        if name in ('motorcycle', 'bicycle'):
            attr = 'cycle.with_rider' if moving else 'cycle.without_rider'
            if moving:
                size[2] = rng.uniform(1.6, 1.8)
        else:
            attr = 'vehicle.moving' if moving else 'vehicle.parked'
        cx = x + size[0] / 2
        factory.add(name, cx, y + rng.uniform(-0.25, 0.25), heading + rng.uniform(-0.03, 0.03) * (not moving),
                    speed, attr, size)
        x += size[0] + rng.uniform(*gap)


def make_world(seed: int, duration: float, ego_speed: float | None = None, margin: float = 75.0,
               speed_range: tuple[float, float] = (4.0, 9.0), max_weave: float = 0.0) -> World:
    """Create a seeded world for an ego drive of ``duration`` seconds.

    Args:
        seed: world seed (same seed -> same world).
        duration: seconds the ego drives; scenery and traffic cover the drive plus ``margin`` metres.
        ego_speed: ego speed in m/s (default: drawn from U(``speed_range``)).
        margin: metres of world before the start and after the end of the drive.
        speed_range: range of the drawn ego speed, m/s.
        max_weave: largest amplitude (m) of the ego's weave inside its lane (period U(4, 8) s; 0: straight).
            Drawn from a separate stream, so 0 gives the same world as before weaving existed.

    Returns:
        The world, in the road frame.
    """
    rng = np.random.default_rng(seed)
    ego_speed = float(rng.uniform(*speed_range)) if ego_speed is None else float(ego_speed)
    weave = (0.0, 1.0, 0.0)
    if max_weave > 0:
        wrng = np.random.default_rng([seed, 7])
        weave = (float(wrng.uniform(0.5, 1.0) * max_weave), float(wrng.uniform(4.0, 8.0)),
                 float(wrng.uniform(-np.pi, np.pi)))
    ego_x0 = 0.0
    x_lo = ego_x0 - margin
    x_hi = ego_x0 + ego_speed * duration + margin
    static: list[tuple] = []

    def rnd_seed() -> int:
        return int(rng.integers(1 << 30))

    # Sidewalks (with their kerb face) in 20 m segments.
    for side in (-1, 1):
        y_c = side * (ROAD_HALF_WIDTH + SIDEWALK_OUTER) / 2
        for x0 in np.arange(x_lo - 40, x_hi + 40, 20.0):
            static.append((x0 + 10, y_c, KERB_HEIGHT / 2 - 0.5, 20.0, SIDEWALK_OUTER - ROAD_HALF_WIDTH,
                           KERB_HEIGHT + 1.0, 0.0, Material.SIDEWALK, (0.62, 0.61, 0.58), rnd_seed()))
    # Building facades: blocks of varying width, depth, height and setback, with gaps.
    for side in (-1, 1):
        x = x_lo - 60 + rng.uniform(0, 10)
        while x < x_hi + 60:
            length = rng.uniform(10, 32)
            depth = rng.uniform(8, 16)
            height = rng.uniform(6, 30)
            setback = SIDEWALK_OUTER + rng.choice([0.0, 0.0, rng.uniform(1, 8), rng.uniform(8, 25)])
            hue = rng.uniform(0.35, 0.85, 3) * np.array([1.0, 0.95, 0.9])
            static.append((x + length / 2, side * (setback + depth / 2), height / 2, length, depth, height,
                           0.0, Material.BUILDING, tuple(hue), rnd_seed()))
            x += length + rng.choice([0.0, rng.uniform(2, 10)])
    # Poles and trees on the sidewalks near the kerb.
    for side in (-1, 1):
        x = x_lo - 20 + rng.uniform(0, 10)
        while x < x_hi + 20:
            if rng.uniform() < 0.55:
                h = rng.uniform(5, 8)
                static.append((x, side * 7.35, h / 2, 0.22, 0.22, h, 0.0, Material.POLE, (0.35, 0.36, 0.38),
                               rnd_seed()))
            else:
                h = rng.uniform(2.0, 3.0)
                static.append((x, side * 7.45, h / 2, 0.35, 0.35, h, 0.0, Material.TRUNK, (0.35, 0.25, 0.15),
                               rnd_seed()))
                c = rng.uniform(2.2, 3.8)
                ch = rng.uniform(2.0, 3.5)
                static.append((x, side * 7.45 + side * 0.2, h + ch / 2, c, c, ch, rng.uniform(0, np.pi),
                               Material.CANOPY, (0.2, rng.uniform(0.4, 0.55), 0.15), rnd_seed()))
            x += rng.uniform(9, 20)

    # Traffic. Lane y=-5.25: parked vehicles and work zones (all static classes, fixed cycle so every class
    # recurs every ~70 m). Ego lane: a vehicle ahead and one behind at ego speed. Oncoming lanes: moving.
    f = _ObjectFactory(rng)
    parked_cycle = ['car', 'truck', 'workzone', 'bus', 'car', 'trailer', 'workzone', 'construction_vehicle']
    _fill_lane(f, rng, -5.6, x_lo, x_hi, 0.0, 0.0, parked_cycle, (1.5, 4.0))
    lead = f.add('car', ego_x0 + rng.uniform(12, 22), EGO_LANE_Y, 0.0, ego_speed, 'vehicle.moving')
    f.add(['car', 'truck'][int(rng.integers(2))], ego_x0 - rng.uniform(12, 18) - lead.size[0], EGO_LANE_Y,
          0.0, ego_speed, 'vehicle.moving')
    # Oncoming traffic: objects must cover the route over the whole drive, so start them further ahead.
    for y, cyc in ((1.75, ['car', 'car', 'bus', 'car', 'truck']),
                   (5.25, ['car', 'motorcycle', 'car', 'bicycle', 'truck', 'car'])):
        speed = float(rng.uniform(5.0, 9.0))
        _fill_lane(f, rng, y, x_lo, x_hi + speed * duration, np.pi, speed, cyc, (15.0, 40.0))
    # Sidewalks: walking pedestrians in two directions, standing ones, parked bicycles and motorcycles.
    for side in (-1, 1):
        for y_off, heading in ((8.3, 0.0), (9.3, np.pi)):
            speed = float(rng.uniform(1.1, 1.5))
            x = x_lo - speed * duration * (heading == 0.0) + rng.uniform(0, 5)
            while x < x_hi + speed * duration * (heading != 0.0):
                f.add('pedestrian', x, side * y_off + rng.uniform(-0.15, 0.15), heading +
                      rng.uniform(-0.05, 0.05), speed, 'pedestrian.moving')
                x += rng.uniform(9, 22)
        x = x_lo + rng.uniform(0, 6)
        k = 0
        while x < x_hi:
            kind = ['pedestrian', 'bicycle', 'motorcycle', 'pedestrian', 'traffic_cone'][k % 5]
            k += 1
            if kind == 'pedestrian':
                f.add(kind, x, side * 10.3, rng.uniform(-np.pi, np.pi), 0.0, 'pedestrian.standing')
            elif kind == 'traffic_cone':
                f.add(kind, x, side * 7.8, 0.0, 0.0, '')
            else:
                f.add(kind, x, side * 10.4, float(rng.choice([0.0, np.pi])) + rng.uniform(-0.1, 0.1), 0.0,
                      'cycle.without_rider')
            x += rng.uniform(8, 14)

    sun = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6), 1.0])
    return World(seed=seed, static=BoxSet.from_rows(static), objects=f.objects, ego_x0=ego_x0,
                 ego_speed=ego_speed, sun=sun / np.linalg.norm(sun), sky_seed=rnd_seed(), extent=(x_lo, x_hi),
                 weave=weave)
