"""Single-image depth inference (the official ``Stage2/test_simple.py``, as functions).

:func:`init_depth_model` builds a self-supervised depth model (Hybrid-depth fine stage or Monodepth2) from its
config and loads a checkpoint of it (ours, or converted official weights); :func:`infer_depth` runs the config's
own test pipeline on one image file, so the image is read and resized exactly as in ``tools/test.py --task
depth``; :func:`colorize_disparity` is the official colour map (magma, from the minimum to the 95th percentile
of the disparity upsampled bilinearly to the image's size).

Differences from the official script: the official one resizes with PIL's Lanczos filter and feeds
``ToTensor`` output; here the config's ``ResizeDepthFrames`` (OpenCV area when shrinking, what training saw)
is used. The official script saves the scaled disparity (``*_disp.npy``) unless ``--pred_metric_depth``
(then ``5.4 x depth``); :func:`infer_depth` returns both and the tool saves depth times the chosen scale.
"""
from __future__ import annotations

import os
import pickle
import zipfile

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

from hybrid_depth.utils.checkpoint import load_torch_file

__all__ = ['init_depth_model', 'infer_depth', 'colorize_disparity']


def init_depth_model(cfg: Config, checkpoint: str, device: str = 'cpu') -> tuple[torch.nn.Module, Compose]:
    """The config's depth model with ``checkpoint`` loaded (eval mode) and its test pipeline.

    Raises:
        ValueError: the config's model does not predict dense depth (e.g. the coarse stage).
        FileNotFoundError / CheckpointFileError: the checkpoint is missing, unreadable or not of this model.
    """
    from mmdet3d.registry import MODELS
    from mmengine.runner import load_checkpoint

    import hybrid_depth  # noqa: F401  (registers the models and transforms)
    from hybrid_depth.engine.runner import check_checkpoint_fits, trusted_checkpoint_loading

    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    model = MODELS.build(cfg.model)
    if not hasattr(model, 'predict_disparity'):
        raise ValueError(f'the model of this config ({type(model).__name__}) predicts no dense depth; '
                         'use a fine-stage or Monodepth2 config')
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    with trusted_checkpoint_loading():
        try:
            ckpt = load_checkpoint(model, checkpoint, map_location='cpu', strict=False, logger='silent')
        except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile):
            load_torch_file(checkpoint, 'checkpoint', weights_only=True)  # names the file and what is wrong
            raise
    check_checkpoint_fits(model, ckpt, checkpoint, complete=True)
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    return model.to(device).eval(), pipeline


@torch.no_grad()
def infer_depth(model: torch.nn.Module, pipeline: Compose, path: str) -> dict:
    """Depth of one image file.

    Returns:
        ``disp`` (h, w) scaled disparity ``1 / depth`` and ``depth`` (h, w) in ``[min_depth, max_depth]``
        (metres up to the monocular scale), both at the model's input size (the config's resize), float32;
        ``image_size`` (H, W) of the file.

    Raises:
        FileNotFoundError / OSError: the image is missing, empty, truncated or not an image (one line naming it).
    """
    results = pipeline({'frame_paths': {0: path}, 'sample_idx': path})
    data = model.data_preprocessor(pseudo_collate([results]))
    pred = model.predict(data['inputs'], data['data_samples'])[0]
    disp, depth = pred['pred_disp'][0].numpy(), pred['pred_depth'][0].numpy()
    size = results['data_samples'].metainfo.get('ori_shape', disp.shape)  # PackDepthInputs keeps it by default
    return {'disp': disp.astype(np.float32), 'depth': depth.astype(np.float32), 'image_size': tuple(size)}


def colorize_disparity(disp: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Official colour map of a disparity: upsample to ``size`` (H, W) bilinearly, magma from its minimum to its
    95th percentile. Returns (H, W, 3) uint8 RGB. Any positive affine map of ``disp`` gives the same picture."""
    import matplotlib as mpl

    up = F.interpolate(torch.from_numpy(disp)[None, None], size=tuple(int(s) for s in size), mode='bilinear',
                       align_corners=False)[0, 0].numpy()
    norm = mpl.colors.Normalize(vmin=float(up.min()), vmax=float(np.percentile(up, 95)))
    mapper = mpl.cm.ScalarMappable(norm=norm, cmap='magma')
    return (mapper.to_rgba(up)[:, :, :3] * 255).astype(np.uint8)


