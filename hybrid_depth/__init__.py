"""hybrid_depth: Hybrid-depth (CLIP + DINOv2 with language guidance) as an OpenMMLab 2.x plugin.

``custom_imports=dict(imports=['hybrid_depth'], allow_failed_imports=False)`` in any config imports this
package, which registers every module of the project into mmdet3d's registries (so stock mmdet3d configs,
``default_scope='mmdet3d'``, find our types by name) and our runner into mmengine's ``RUNNERS``.
"""
import os

__version__ = '0.1.0'

# OpenMP threads that spin while waiting stall for seconds when the cores are shared (data-loader workers, a
# second job, CI neighbours): measured on the 2-core VM, 10 conv forward/backward steps with 2 threads under load
# took 10.5-11.9 s with libgomp's default policy and 1.3 s with PASSIVE (benchmarks/omp_wait_policy.py). libgomp
# reads the variable once, when torch loads it, so this only acts when hybrid_depth is imported before torch
# (every tool here does); a value set by the user wins. Subprocesses (loader workers, launched tools) inherit it.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

from . import datasets, engine, evaluation, losses, models  # noqa: E402,F401  (registration)
