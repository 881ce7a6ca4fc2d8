"""Training infrastructure: the project's Runner (resume on torch>=2.6, gloo on CPU), AMP on CPU and GPU, CLI
helpers and the start-up checks."""
from . import hooks  # noqa: F401  (registers the hooks)
from .amp import HybridDepthAmpOptimWrapper
from .runner import HybridDepthRunner, checkpoint_safe_globals, trusted_checkpoint_loading

__all__ = ['HybridDepthAmpOptimWrapper', 'HybridDepthRunner', 'checkpoint_safe_globals', 'trusted_checkpoint_loading']
