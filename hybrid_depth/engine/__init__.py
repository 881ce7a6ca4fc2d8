"""Training infrastructure: the project's Runner (resume on torch>=2.6, gloo on CPU) and CLI helpers."""
from . import hooks  # noqa: F401  (registers the hooks)
from .runner import HybridDepthRunner, checkpoint_safe_globals, trusted_checkpoint_loading

__all__ = ['HybridDepthRunner', 'checkpoint_safe_globals', 'trusted_checkpoint_loading']
