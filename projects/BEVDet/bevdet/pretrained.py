"""``torchvision://NAME`` checkpoints (BEVDet's ``pretrained='torchvision://resnet50'``) from the local torch hub
cache only: this project never downloads weights at run time.

Importing this module re-registers mmengine's ``torchvision://`` scheme: the file is the one torchvision's URL
names, in ``torch.hub.get_dir()/checkpoints`` (where ``torch.hub`` and mmengine would have downloaded it;
``$TORCH_HOME`` moves it). A missing file raises one ``FileNotFoundError`` naming the path and how to train from
scratch instead.
"""
from __future__ import annotations

import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader, get_torchvision_models

__all__ = ['TORCHVISION_PREFIX', 'load_torchvision_from_hub_cache', 'torchvision_cache_path']

TORCHVISION_PREFIX = 'torchvision://'


def torchvision_cache_path(name: str) -> str:
    """Local path of torchvision's checkpoint ``name`` (e.g. ``resnet50`` -> ``.../resnet50-0676ba61.pth``)."""
    urls = get_torchvision_models()
    if name not in urls:
        raise KeyError(f'{TORCHVISION_PREFIX}{name}: not a torchvision checkpoint name')
    return osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(urls[name]))


@CheckpointLoader.register_scheme(prefixes=TORCHVISION_PREFIX, force=True)
def load_torchvision_from_hub_cache(filename: str, map_location: str | torch.device | None = None) -> dict:
    """Load ``torchvision://NAME`` from the local torch hub cache.

    Raises:
        FileNotFoundError: the file is not there (with the path and the ``init_cfg=None`` way to start from
            scratch).
    """
    path = torchvision_cache_path(filename[len(TORCHVISION_PREFIX):])
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{filename}: ImageNet weights are read from the local torch hub cache only, and {path} does not exist. '
            f'Put the file there (torch.hub.get_dir() follows $TORCH_HOME), or train the image backbone from scratch '
            f'with --cfg-options model.img_backbone.init_cfg=None')
    return torch.load(path, map_location=map_location, weights_only=True)
