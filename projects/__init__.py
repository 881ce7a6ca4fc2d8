"""mmdet3d-style projects built on hybrid_depth (``projects.BEVDet.bevdet``, ...)."""
