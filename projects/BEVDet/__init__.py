"""BEVDet on mmdet3d 1.x: the code lives in :mod:`projects.BEVDet.bevdet`."""
