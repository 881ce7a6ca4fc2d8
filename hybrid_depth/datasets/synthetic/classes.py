"""The 10 nuScenes detection classes as the synthetic world uses them.

One record per class: the nuScenes category name it is written under, a class-typical size (the mean
nuScenes box, ``(length, width, height)`` in metres), the evaluation range used by nuscenes-devkit's
``detection_cvpr_2019`` config, and a material id for the renderer.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ['ObjectClass', 'OBJECT_CLASSES', 'CLASS_NAMES', 'CLASS_INDEX', 'NUSCENES_CATEGORIES',
           'NUSCENES_ATTRIBUTES', 'NUSCENES_VISIBILITY']


@dataclass(frozen=True)
class ObjectClass:
    """A detection class of the synthetic world.

    Attributes:
        name: nuScenes detection name (``'car'``, ``'traffic_cone'``...).
        category: nuScenes category written to ``category.json`` (``'vehicle.car'``...).
        size: typical ``(length, width, height)`` in metres (length along the heading).
        eval_range: nuScenes class range in metres (ego distance beyond which boxes are ignored).
    """

    name: str
    category: str
    size: tuple[float, float, float]
    eval_range: float


OBJECT_CLASSES: tuple[ObjectClass, ...] = (
    ObjectClass('car', 'vehicle.car', (4.62, 1.95, 1.73), 50.0),
    ObjectClass('truck', 'vehicle.truck', (6.93, 2.51, 2.84), 50.0),
    ObjectClass('bus', 'vehicle.bus.rigid', (11.2, 2.94, 3.47), 50.0),
    ObjectClass('trailer', 'vehicle.trailer', (12.29, 2.90, 3.87), 50.0),
    ObjectClass('construction_vehicle', 'vehicle.construction', (6.37, 2.73, 3.19), 50.0),
    ObjectClass('pedestrian', 'human.pedestrian.adult', (0.73, 0.67, 1.77), 40.0),
    ObjectClass('motorcycle', 'vehicle.motorcycle', (2.11, 0.77, 1.47), 40.0),
    ObjectClass('bicycle', 'vehicle.bicycle', (1.70, 0.60, 1.28), 40.0),
    ObjectClass('traffic_cone', 'movable_object.trafficcone', (0.42, 0.41, 1.07), 30.0),
    ObjectClass('barrier', 'movable_object.barrier', (0.50, 2.53, 0.98), 30.0),
)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in OBJECT_CLASSES)
CLASS_INDEX: dict[str, int] = {n: i for i, n in enumerate(CLASS_NAMES)}

# The 23 nuScenes v1.0 categories (name, description); the world only instantiates those of the 10
# detection classes, the others are listed so that the table reads like the real one.
NUSCENES_CATEGORIES: tuple[tuple[str, str], ...] = (
    ('animal', 'All animals, e.g. cats, rats, dogs, deer, birds.'),
    ('human.pedestrian.adult', 'Adult subcategory.'),
    ('human.pedestrian.child', 'Child subcategory.'),
    ('human.pedestrian.construction_worker', 'Construction worker'),
    ('human.pedestrian.personal_mobility', 'A small electric or self-propelled vehicle.'),
    ('human.pedestrian.police_officer', 'Police officer.'),
    ('human.pedestrian.stroller', 'Strollers.'),
    ('human.pedestrian.wheelchair', 'Wheelchairs.'),
    ('movable_object.barrier', 'Temporary road barrier placed in the scene in order to redirect traffic.'),
    ('movable_object.debris', 'Movable object that is left on the driveable surface.'),
    ('movable_object.pushable_pullable', 'Objects that a pedestrian may push or pull.'),
    ('movable_object.trafficcone', 'All types of traffic cone.'),
    ('static_object.bicycle_rack', 'Area or device intended to park or secure the bicycles in a row.'),
    ('vehicle.bicycle', 'Human or electric powered 2-wheeled vehicle designed to travel at lower speeds.'),
    ('vehicle.bus.bendy', 'Bendy bus subcategory.'),
    ('vehicle.bus.rigid', 'Rigid bus subcategory.'),
    ('vehicle.car', 'Vehicle designed primarily for personal use, e.g. sedans, hatch-backs, wagons.'),
    ('vehicle.construction', 'Vehicles primarily designed for construction. Typically very slow moving.'),
    ('vehicle.emergency.ambulance', 'All types of ambulances.'),
    ('vehicle.emergency.police', 'All types of police vehicles.'),
    ('vehicle.motorcycle', 'Gasoline or electric powered 2-wheeled vehicle designed to move rapidly.'),
    ('vehicle.trailer', 'Any vehicle trailer, both for trucks, cars and bikes.'),
    ('vehicle.truck', 'Vehicles primarily designed to haul cargo including pick-ups, lorrys, trucks.'),
)

NUSCENES_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ('vehicle.moving', 'Vehicle is moving.'),
    ('vehicle.stopped', 'Vehicle, with a driver/rider in/on it, is currently stationary but has an intent to '
                        'move.'),
    ('vehicle.parked', 'Vehicle is stationary (usually for a longer duration) with no immediate intent to '
                       'move.'),
    ('cycle.with_rider', 'There is a rider on the bicycle or motorcycle.'),
    ('cycle.without_rider', 'There is NO rider on the bicycle or motorcycle.'),
    ('pedestrian.sitting_lying_down', 'The human is sitting or lying down.'),
    ('pedestrian.standing', 'The human is standing.'),
    ('pedestrian.moving', 'The human is moving.'),
)

# (token, level, description): the token is the visibility bin id the converters filter on.
NUSCENES_VISIBILITY: tuple[tuple[str, str, str], ...] = (
    ('1', 'v0-40', 'visibility of whole object is between 0 and 40%'),
    ('2', 'v40-60', 'visibility of whole object is between 40 and 60%'),
    ('3', 'v60-80', 'visibility of whole object is between 60 and 80%'),
    ('4', 'v80-100', 'visibility of whole object is between 80 and 100%'),
)
