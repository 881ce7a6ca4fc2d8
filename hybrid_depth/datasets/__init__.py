"""Datasets: KITTI, TuSimple and nuScenes sequences, transforms, and the synthetic world (``synthetic``)."""
from . import (  # noqa: F401
    depth_transforms,
    ground_prior,
    kitti_eigen,
    kitti_odom,
    kitti_raw,
    nuscenes_sweeps,
    tusimple_lanes,
)
