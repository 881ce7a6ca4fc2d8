"""Shared pytest fixtures: the synthetic world, generated once per test session.

``synthetic_world`` renders the ``tiny`` preset (seed 0) into a session temp folder and returns its
:class:`~hybrid_depth.datasets.synthetic.SyntheticPaths`:

- ``.nuscenes``: a nuScenes ``v1.0-mini`` dataroot (``NuScenes('v1.0-mini', str(paths.nuscenes))``),
- ``.kitti``: a KITTI raw ``data_path`` with ``splits/eigen_zhou`` and ``splits/eigen`` (``gt_depths.npz``),
- ``.tusimple``: a TuSimple root with ``label_data_0313.json``.

``synthetic_nuscenes_infos`` additionally runs mmdet3d's own info creation on it and returns
``{'train': pkl, 'val': pkl}`` (v2 info format, ``./data/nuscenes``-relative paths; about 20 s).
Treat both as read-only.
"""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope='session')
def synthetic_world(tmp_path_factory: pytest.TempPathFactory):
    from hybrid_depth.datasets.synthetic import generate_synthetic
    root = tmp_path_factory.mktemp('synthetic') / 'world'
    return generate_synthetic(root, 'tiny', seed=0, progress=False)


@pytest.fixture(scope='session')
def synthetic_nuscenes_infos(synthetic_world) -> dict[str, Path]:
    from hybrid_depth.datasets.synthetic.mmdet3d_infos import create_mmdet3d_nuscenes_infos
    return create_mmdet3d_nuscenes_infos(synthetic_world.nuscenes)
