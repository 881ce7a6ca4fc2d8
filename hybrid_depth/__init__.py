"""hybrid_depth: Hybrid-depth (CLIP + DINOv2 with language guidance) as an OpenMMLab 2.x plugin.

``custom_imports=dict(imports=['hybrid_depth'], allow_failed_imports=False)`` in any config imports this
package, which registers every module of the project into mmdet3d's registries (so stock mmdet3d configs,
``default_scope='mmdet3d'``, find our types by name) and our runner into mmengine's ``RUNNERS``.
"""
__version__ = '0.1.0'

from . import datasets, engine, evaluation, losses, models  # noqa: E402,F401  (registration)
