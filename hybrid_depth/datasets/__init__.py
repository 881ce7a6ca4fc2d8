"""Datasets: KITTI, TuSimple and nuScenes sequences, transforms, and the synthetic world (``synthetic``)."""
