"""Transforms of the depth datasets (Monodepth2 conventions): load frames, resize, flip, colour jitter, pack.

A sample moving through the pipeline is a dict (mmcv ``BaseTransform`` convention). Keys read / written:

- ``frame_paths``: ``{frame_id: image path}`` (frame 0 = target; -1 / +1 = previous / next frame);
- ``frames``: ``{frame_id: (H, W, 3) uint8 RGB}``, the un-augmented images (used by the photometric loss);
- ``frames_aug``: ``{frame_id: (H, W, 3) uint8 RGB}``, the colour-jittered images (network input); absent
  when no jitter was applied (then the network sees ``frames``);
- ``intrinsics``: (3, 3) float32 ``cam2img`` **normalised** by the image size (``fx / W``, ``cx / W``,
  ``fy / H``, ``cy / H``; pixel-centre coordinates, 0-based), independent of resizing;
- ``points``: optional (G, P, 2) float32 pixel ``(u, v)`` of ordered point groups (coarse stage), kept in
  step with resizing and flipping; ``points_valid``: (G, P) bool;
- ``flip``: whether the frames were mirrored left-right (the normalised ``cx`` is mirrored too);
- ``ori_shape`` / ``img_shape``: ``(H, W)`` before / after resizing.

:class:`PackDepthInputs` turns this into ``{'inputs': {...}, 'data_samples': {...}}``; the batch format is
documented in :class:`hybrid_depth.datasets.kitti_raw.KittiRawDepthDataset`.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from mmcv.transforms import BaseTransform
from mmdet3d.registry import TRANSFORMS
from mmengine.structures import BaseDataElement

from .file_readers import read_image

__all__ = ['ColorJitterDepthFrames', 'LoadDepthFrames', 'PackDepthInputs', 'RandomFlipDepthFrames',
           'ResizeDepthFrames', 'scaled_intrinsics']


def scaled_intrinsics(intrinsics: np.ndarray, height: int, width: int, num_scales: int) -> np.ndarray:
    """Pixel intrinsics of every pyramid scale from normalised intrinsics (Monodepth2 ``K`` per scale).

    Args:
        intrinsics: (3, 3) normalised ``cam2img`` (first row divided by W, second by H).
        height: Image height H at scale 0.
        width: Image width W at scale 0.
        num_scales: S pyramid scales; scale ``s`` has size ``(H // 2**s, W // 2**s)``.

    Returns:
        (S, 3, 3) float32 ``cam2img`` in pixels of each scale's image.
    """
    out = np.repeat(intrinsics[None].astype(np.float32), num_scales, axis=0)
    for s in range(num_scales):
        out[s, 0] *= width // 2 ** s
        out[s, 1] *= height // 2 ** s
    return out


@TRANSFORMS.register_module()
class LoadDepthFrames(BaseTransform):
    """Read every image of ``frame_paths`` as RGB uint8 into ``frames`` (sets ``ori_shape``/``img_shape``)."""

    def transform(self, results: dict) -> dict:
        frames = {}
        what = f'sample {results.get("sample_idx")}'
        for fid, path in results['frame_paths'].items():
            frames[fid] = read_image(path, f'{what} frame {fid:+d}', channel_order='rgb')
        results['frames'] = frames
        results['ori_shape'] = results['img_shape'] = frames[0].shape[:2]
        return results


@TRANSFORMS.register_module()
class ResizeDepthFrames(BaseTransform):
    """Resize all frames (area when shrinking, as PIL's antialiased resize).

    Either to a fixed ``(height, width)``, or, with ``short_side``, keeping the aspect ratio: the short side
    becomes ``short_side`` and the long side the nearest multiple of ``size_divisor`` (official coarse stage:
    ``short_side=224, size_divisor=14``, 1280x720 TuSimple -> 392x224). Normalised intrinsics need no change;
    ``points`` are rescaled (pixel centres kept: ``u' = (u + .5) sx - .5``).

    Args:
        height: Output height (fixed-size mode).
        width: Output width (fixed-size mode).
        short_side: Output short side (aspect-preserving mode; a multiple of ``size_divisor``).
        size_divisor: The long side is rounded to a multiple of it (aspect-preserving mode).
    """

    def __init__(self, height: int | None = None, width: int | None = None, short_side: int | None = None,
                 size_divisor: int = 1) -> None:
        if (short_side is None) == (height is None or width is None):
            raise ValueError('ResizeDepthFrames: give either height and width, or short_side')
        if short_side is not None and short_side % size_divisor:
            raise ValueError(f'ResizeDepthFrames: short_side={short_side} is not a multiple of '
                             f'size_divisor={size_divisor}')
        self.height = height
        self.width = width
        self.short_side = short_side
        self.size_divisor = size_divisor

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        """``(height, width)`` of the output for an ``h x w`` input."""
        if self.short_side is None:
            return self.height, self.width
        d = self.size_divisor
        if h <= w:
            return self.short_side, max(d, int(round(w * self.short_side / h / d)) * d)
        return max(d, int(round(h * self.short_side / w / d)) * d), self.short_side

    @staticmethod
    def _resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
        h, w = img.shape[:2]
        interp = cv2.INTER_AREA if (height < h and width < w) else cv2.INTER_LINEAR
        return cv2.resize(img, (width, height), interpolation=interp)

    def transform(self, results: dict) -> dict:
        h, w = results['img_shape']
        height, width = self.output_size(h, w)
        for key in ('frames', 'frames_aug'):
            if key in results:
                results[key] = {fid: self._resize(img, height, width) for fid, img in results[key].items()}
        if 'points' in results:
            scale = np.array([width / w, height / h], np.float32)
            results['points'] = (results['points'] + 0.5) * scale - 0.5
        results['img_shape'] = (height, width)
        return results


@TRANSFORMS.register_module()
class RandomFlipDepthFrames(BaseTransform):
    """Mirror all frames left-right together with probability ``prob`` (Monodepth2: 0.5).

    The normalised principal point becomes ``1 - cx - 1 / W`` (0-based pixel centres: ``cx' = W - 1 - cx``);
    ``points`` become ``u' = W - 1 - u``. The relative poses then mirror too, which PoseNet learns from the
    mirrored pair.

    Args:
        prob: Flip probability.
    """

    def __init__(self, prob: float = 0.5) -> None:
        self.prob = prob

    def transform(self, results: dict) -> dict:
        flip = bool(np.random.rand() < self.prob)
        results['flip'] = flip
        if not flip:
            return results
        for key in ('frames', 'frames_aug'):
            if key in results:
                results[key] = {fid: np.ascontiguousarray(img[:, ::-1]) for fid, img in results[key].items()}
        h, w = results['img_shape']
        if 'intrinsics' in results:
            k = results['intrinsics'].copy()
            k[0, 2] = 1.0 - k[0, 2] - 1.0 / w
            results['intrinsics'] = k
        if 'points' in results:
            pts = results['points'].copy()
            pts[..., 0] = w - 1 - pts[..., 0]
            results['points'] = pts
        return results


@TRANSFORMS.register_module()
class ColorJitterDepthFrames(BaseTransform):
    """Colour jitter with one random draw shared by all frames, applied with probability ``prob``.

    Writes ``frames_aug`` (the network input); ``frames`` stay un-augmented for the photometric loss, as in
    Monodepth2 (brightness, contrast, saturation 0.2, hue 0.1, probability 0.5).

    Args:
        brightness: Factor drawn from ``[1 - b, 1 + b]``.
        contrast: Factor drawn from ``[1 - c, 1 + c]``.
        saturation: Factor drawn from ``[1 - s, 1 + s]``.
        hue: Shift drawn from ``[-h, h]`` (fraction of a turn).
        prob: Probability of jittering a sample.
    """

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2, saturation: float = 0.2,
                 hue: float = 0.1, prob: float = 0.5) -> None:
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        b = np.random.uniform(1 - self.brightness, 1 + self.brightness)
        c = np.random.uniform(1 - self.contrast, 1 + self.contrast)
        s = np.random.uniform(1 - self.saturation, 1 + self.saturation)
        h = np.random.uniform(-self.hue, self.hue)
        order = np.random.permutation(4)
        aug = {}
        for fid, img in results['frames'].items():
            x = torch.from_numpy(img).permute(2, 0, 1)  # (3, H, W) uint8
            for op in order:
                if op == 0:
                    x = TF.adjust_brightness(x, b)
                elif op == 1:
                    x = TF.adjust_contrast(x, c)
                elif op == 2:
                    x = TF.adjust_saturation(x, s)
                else:
                    x = TF.adjust_hue(x, h)
            aug[fid] = x.permute(1, 2, 0).contiguous().numpy()
        results['frames_aug'] = aug
        return results


@TRANSFORMS.register_module()
class PackDepthInputs(BaseTransform):
    """Pack a sample into ``{'inputs': {...}, 'data_samples': BaseDataElement}`` (format: ``KittiRawDepthDataset``).

    Args:
        frame_ids: Frame order of the packed ``imgs`` (first = target 0).
        num_scales: Pyramid scales S of ``cam2img``.
        max_groups: Pad (or cut) ``points`` to this many groups (coarse datasets), so samples stack.
        meta_keys: Keys copied to the data sample when present (``gt_depth`` as a data field, the rest as
            metainfo).
    """

    def __init__(self, frame_ids: Sequence[int] = (0, -1, 1), num_scales: int = 4, max_groups: int = 8,
                 meta_keys: Sequence[str] = ('sample_idx', 'img_path', 'frame_ids', 'flip', 'ori_shape',
                                             'img_shape', 'gt_depth', 'camera', 'intrinsics')) -> None:
        self.frame_ids = list(frame_ids)
        self.num_scales = num_scales
        self.max_groups = max_groups
        self.meta_keys = tuple(meta_keys)

    @staticmethod
    def _stack(frames: dict, frame_ids: list[int]) -> torch.Tensor:
        arr = np.stack([frames[f] for f in frame_ids])  # (F, H, W, 3) uint8
        return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0).contiguous()  # (F, 3, H, W)

    def transform(self, results: dict) -> dict:
        h, w = results['img_shape']
        raw = self._stack(results['frames'], self.frame_ids)
        aug = self._stack(results['frames_aug'], self.frame_ids) if 'frames_aug' in results else raw.clone()
        inputs = {'imgs': aug, 'imgs_raw': raw}
        if 'intrinsics' in results:
            inputs['cam2img'] = torch.from_numpy(scaled_intrinsics(results['intrinsics'], h, w, self.num_scales))
        if 'points' in results:
            g = min(len(results['points']), self.max_groups)
            p = results['points'].shape[1] if len(results['points']) else 0
            pts = np.zeros((self.max_groups, max(p, 1), 2), np.float32)
            valid = np.zeros((self.max_groups, max(p, 1)), bool)
            pts[:g, :p] = results['points'][:g]
            valid[:g, :p] = results['points_valid'][:g]
            # a point outside the resized image has no feature: invalid
            inside = (pts[..., 0] >= 0) & (pts[..., 0] <= w - 1) & (pts[..., 1] >= 0) & (pts[..., 1] <= h - 1)
            inputs['points'] = torch.from_numpy(pts)
            inputs['points_valid'] = torch.from_numpy(valid & inside)
        meta = {k: results[k] for k in self.meta_keys if k in results and k != 'gt_depth'}
        meta['frame_ids'] = self.frame_ids
        sample = BaseDataElement(metainfo=meta)
        if 'gt_depth' in results and 'gt_depth' in self.meta_keys:
            sample.gt_depth = results['gt_depth']
        return {'inputs': inputs, 'data_samples': sample}
