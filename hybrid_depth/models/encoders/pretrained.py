"""Local-only resolution of pretrained weights for open_clip and timm models.

No function here downloads anything: a tag such as ``'openai'`` (open_clip) or ``'lvd142m'`` (timm) is
resolved to the file the library itself would have cached (HF hub cache, or open_clip's ``~/.cache/clip``
for URL weights), and a missing file raises :class:`WeightsNotFoundError` naming every path that was checked.
The resolved path is then handed to the library as a file (``open_clip.load_checkpoint``, timm's
``pretrained_cfg_overlay=dict(file=...)``), so the library never reaches its download code.
"""
from __future__ import annotations

import os
import zipfile

__all__ = ['WeightsNotFoundError', 'is_torchscript_archive', 'resolve_open_clip_weights',
           'resolve_timm_weights']

_WEIGHT_SUFFIXES = ('.pt', '.pth', '.bin', '.safetensors', '.ckpt', '.npz')


class WeightsNotFoundError(FileNotFoundError):
    """Raised when configured pretrained weights are not on disk (no download is ever attempted)."""


def _looks_like_path(value: str) -> bool:
    return (os.sep in value or value.startswith('.') or value.endswith(_WEIGHT_SUFFIXES)
            or os.path.exists(value))


def _check_file(path: str, what: str) -> str:
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise WeightsNotFoundError(f'{what} weights not found: {path} (no download is attempted)')
    return path


def _hf_cached(repo_id: str, filenames: tuple[str, ...],
               cache_dir: str | None) -> tuple[str | None, list[str]]:
    """Return a cached HF hub file (or None) and the locations looked at, without network access."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.constants import HF_HUB_CACHE

    looked = []
    for name in filenames:
        found = try_to_load_from_cache(repo_id, name, cache_dir=cache_dir)
        looked.append(f'{cache_dir or HF_HUB_CACHE}/models--{repo_id.replace("/", "--")}/.../{name}')
        if isinstance(found, str) and os.path.isfile(found):
            return found, looked
    return None, looked


def resolve_open_clip_weights(model_name: str, pretrained: str, cache_dir: str | None = None) -> str:
    """Resolve an open_clip ``pretrained`` tag or file path to an existing local file.

    Args:
        model_name: open_clip model name, e.g. ``'RN50'``.
        pretrained: A tag (``'openai'``) or a path to a checkpoint file.
        cache_dir: open_clip's ``cache_dir`` (URL weights) / HF hub cache dir; default locations otherwise.

    Returns:
        Path of the weight file.

    Raises:
        WeightsNotFoundError: if the file (or every cache location of the tag) is missing.
    """
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model_name, pretrained) if not _looks_like_path(pretrained) else {}
    if not cfg:
        return _check_file(pretrained, f'open_clip {model_name}')
    looked: list[str] = []
    if cfg.get('hf_hub'):
        hub = cfg['hf_hub']
        repo_id, filename = (hub.rstrip('/'), '') if hub.endswith('/') else os.path.split(hub)
        names = (filename,) if filename else ('open_clip_model.safetensors', 'open_clip_pytorch_model.bin')
        found, looked = _hf_cached(repo_id, names, cache_dir)
        if found:
            return found
    if cfg.get('url'):
        path = os.path.join(os.path.expanduser(cache_dir or '~/.cache/clip'), os.path.basename(cfg['url']))
        if os.path.isfile(path):
            return path
        looked.append(path)
    raise WeightsNotFoundError(f'open_clip {model_name} pretrained={pretrained!r} weights not found; '
                               'looked at: ' + ', '.join(looked)
                               + ' (no download is attempted; pass a file path instead)')


def resolve_timm_weights(model_name: str, pretrained: str, cache_dir: str | None = None) -> str:
    """Resolve a timm tag (``'lvd142m'`` or a full ``'model.tag'`` name) or a file path to a local file.

    Args:
        model_name: timm architecture name, e.g. ``'vit_base_patch14_dinov2'``.
        pretrained: Tag of that model or a path to a checkpoint (timm, original DINOv2 or torchvision).
        cache_dir: HF hub cache dir; the default cache otherwise.

    Returns:
        Path of the weight file.

    Raises:
        WeightsNotFoundError: if the file (or the cached hub file of the tag) is missing.
    """
    import timm

    if _looks_like_path(pretrained):
        return _check_file(pretrained, f'timm {model_name}')
    full_name = pretrained if '.' in pretrained else f'{model_name}.{pretrained}'
    try:
        cfg = timm.models.get_pretrained_cfg(full_name)
    except RuntimeError:  # known architecture, unknown tag
        cfg = None
    if cfg is None:
        return _check_file(pretrained, f'timm {model_name}')
    looked: list[str] = []
    if cfg.hf_hub_id:
        hub_file = getattr(cfg, 'hf_hub_filename', None)
        names = (hub_file,) if hub_file else ('model.safetensors', 'pytorch_model.bin')
        found, looked = _hf_cached(cfg.hf_hub_id, names, cache_dir)
        if found:
            return found
    if cfg.url:
        torch_home = os.path.expanduser(os.getenv('TORCH_HOME', '~/.cache/torch'))
        path = os.path.join(torch_home, 'hub', 'checkpoints', os.path.basename(cfg.url))
        if os.path.isfile(path):
            return path
        looked.append(path)
    raise WeightsNotFoundError(f'timm {full_name} weights not found; looked at: ' + ', '.join(looked)
                               + ' (no download is attempted; pass a file path instead)')


def is_torchscript_archive(path: str) -> bool:
    """True for a TorchScript zip (OpenAI's original CLIP ``.pt``), which needs ``weights_only=False``."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith('constants.pkl') for n in zf.namelist())
