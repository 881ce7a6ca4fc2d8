"""Batch collation of the depth datasets: stack per-sample tensors, move them to the model's device."""
from __future__ import annotations

from typing import Any

import torch
from mmdet3d.registry import MODELS
from mmengine.model import BaseDataPreprocessor

__all__ = ['DepthDataPreprocessor']


@MODELS.register_module()
class DepthDataPreprocessor(BaseDataPreprocessor):
    """Stack the ``inputs`` tensors of a ``pseudo_collate`` batch; keep ``data_samples`` as a list of dicts.

    Input (mmengine's default ``pseudo_collate``): ``{'inputs': {key: [B tensors]}, 'data_samples': [B
    BaseDataElement]}`` (or already stacked tensors). Output: ``{'inputs': {key: (B, ...) tensor on the model
    device}, 'data_samples': [B BaseDataElement]}`` (left on the CPU); the keys and shapes are documented in
    :class:`hybrid_depth.datasets.kitti_raw.KittiRawDepthDataset`. Images stay RGB in [0, 1]: each network
    normalises its own input (CLIP, DINOv2 and Monodepth2 statistics differ).
    """

    def forward(self, data: dict, training: bool = False) -> dict[str, Any]:
        inputs = {k: torch.stack(v) if isinstance(v, (list, tuple)) else v for k, v in data['inputs'].items()}
        samples = data.get('data_samples')
        if samples is not None and not isinstance(samples, list):
            samples = list(samples)
        return {'inputs': self.cast_data(inputs), 'data_samples': samples}
