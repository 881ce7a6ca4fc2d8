"""Training infrastructure: the project's Runner (resume on torch>=2.6, gloo on CPU) and CLI helpers."""
from .runner import HybridDepthRunner, checkpoint_safe_globals, trusted_checkpoint_loading

__all__ = ['HybridDepthRunner', 'checkpoint_safe_globals', 'trusted_checkpoint_loading']
