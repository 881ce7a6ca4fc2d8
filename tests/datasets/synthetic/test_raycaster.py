"""The ray caster: known hits, and the screen-rectangle culling agrees with testing every box on every ray."""
from __future__ import annotations

import numpy as np

from hybrid_depth.datasets.synthetic import make_world, nuscenes_cameras
from hybrid_depth.datasets.synthetic.raycaster import cast_rays, intersect_box
from hybrid_depth.datasets.synthetic.renderer import _screen_rects, pixel_rays
from hybrid_depth.datasets.synthetic.world import BoxSet


def test_known_hits():
    origin = np.array([0.0, 0.0, 1.0])
    dirs = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, -0.5], [0.0, 1.0, 0.0], [1.0, 0.0, 0.1], [1.0, 0.0, 0.2]])
    # a 2 x 2 x 2 box centred 10 m ahead, rotated 90 deg (a square: same faces)
    t, face = intersect_box(origin, np.ascontiguousarray(dirs.T), np.array([10.0, 0.0, 1.0]),
                            np.array([2.0, 2.0, 2.0]), np.pi / 2)
    assert np.isclose(t[0], 9.0) and np.isinf(t[2])
    assert np.isclose(t[3], 9.0) and face[3] // 2 in (0, 1)  # front face at height 1.9
    assert np.isinf(t[4])  # passes above the box (height 2.8 at its front face)
    boxes = BoxSet.from_rows([(10.0, 0.0, 1.0, 2.0, 2.0, 2.0, 0.0, 2, (0.5, 0.5, 0.5), 1)])
    hits = cast_rays(origin, dirs, boxes)
    assert hits.hit[0] == 1 and np.isclose(hits.t[0], 9.0) and hits.face[0] == 0  # normal -x
    assert hits.hit[1] == 0 and np.isclose(hits.t[1], 2.0)  # the ground at x = 2
    assert hits.hit[2] == -1 and np.isinf(hits.t[2])  # sky


def test_screen_culling_matches_brute_force():
    world = make_world(5, 1.0)
    boxes = world.boxes_at(0.3)
    for cam in nuscenes_cameras(0.08):
        T = world.ego_pose(0.3) @ cam.T_ego_cam
        dirs = pixel_rays(cam) @ T[:3, :3].T
        fast = cast_rays(T[:3, 3], dirs, boxes, _screen_rects(boxes, T, cam))
        slow = cast_rays(T[:3, 3], dirs, boxes)
        assert np.array_equal(fast.hit, slow.hit)
        assert np.array_equal(fast.t, slow.t)
        assert np.array_equal(fast.unoccluded, slow.unoccluded)
