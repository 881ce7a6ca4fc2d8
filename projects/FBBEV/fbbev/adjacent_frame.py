"""Data side of the optional BEVDet4D-style temporal fusion: the previous keyframe of every sample.

- ``FBBEVNuScenesDataset``: ``NuScenesDataset`` whose infos carry ``adjacent``, the parsed info of the previous
  keyframe (the latest earlier sample within ``max_gap`` seconds; the sample itself at the start of a drive, as
  BEVDet4D does). mmdet3d's v2 infos hold no scene or ``prev`` links, so neighbours are found by timestamp.
- ``FBBEVLoadAdjacentFrame``: loads the adjacent frame's cameras with BEVDet's loader (with the key frame's image
  augmentation per camera, as BEVDet's sequential loading does), appends them after the current cameras
  (``img``, ``cam2img``, ``cam2ego``, ``post_rots``, ``post_trans``: N -> 2N) and records
  ``curr2adj`` (1, 4, 4) = ``inv(ego2global_adj) @ ego2global_curr`` (current key ego -> adjacent key ego).
  Each frame's cameras are mapped to *its own* key ego (``ego2global`` of its LiDAR timestamp) by the loader's
  per-camera ego-motion compensation, so ``curr2adj`` between the two key egos completes the chain.
"""
from __future__ import annotations

import copy

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet3d.registry import DATASETS, TRANSFORMS

from projects.BEVDet.bevdet.info_contract import BEVDetNuScenesDataset

__all__ = ['FBBEVNuScenesDataset', 'FBBEVLoadAdjacentFrame', 'previous_indices']


def previous_indices(timestamps: np.ndarray, max_gap: float) -> np.ndarray:
    """Index of each sample's previous keyframe by time.

    Args:
        timestamps: (S,) seconds.
        max_gap: Largest time step (s) still counted as the previous keyframe.

    Returns:
        (S,) int indices: the latest strictly earlier sample within ``max_gap``, else the sample itself.
    """
    order = np.argsort(timestamps, kind='stable')
    prev = np.arange(len(timestamps))
    for a, b in zip(order[:-1], order[1:]):
        if 0 < timestamps[b] - timestamps[a] <= max_gap:
            prev[b] = a
    return prev


@DATASETS.register_module()
class FBBEVNuScenesDataset(BEVDetNuScenesDataset):
    """``BEVDetNuScenesDataset`` (info contract checked) with the previous keyframe's info under ``adjacent``.

    Args:
        max_gap: Largest time step (s) between a sample and its previous keyframe (nuScenes keyframes: 0.5 s).
        **kwargs: ``NuScenesDataset`` arguments.
    """

    def __init__(self, max_gap: float = 0.75, **kwargs) -> None:
        self.max_gap = max_gap
        self._previous: np.ndarray | None = None
        super().__init__(**kwargs)

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        if self._previous is None:
            stamps = np.array([super(FBBEVNuScenesDataset, self).get_data_info(i)['timestamp']
                               for i in range(len(self))], dtype=np.float64)
            self._previous = previous_indices(stamps, self.max_gap)
        info['adjacent'] = super().get_data_info(int(self._previous[idx]))
        return info


@TRANSFORMS.register_module()
class FBBEVLoadAdjacentFrame(BaseTransform):
    """Append the adjacent keyframe's cameras (see the module docstring).

    Args:
        loader: Image loader config for the adjacent frame (``BEVDetLoadMultiViewImages`` with the same
            ``final_size`` and cameras as the current frame).
        same_augmentation: Apply the key frame's image augmentation (``img_aug_params``) to the adjacent frame's
            cameras (official); False samples its own.
    """

    def __init__(self, loader: dict, same_augmentation: bool = True) -> None:
        self.loader = TRANSFORMS.build(copy.deepcopy(loader))
        self.same_augmentation = same_augmentation

    def transform(self, results: dict) -> dict:
        adjacent = results.get('adjacent')
        if adjacent is None:
            raise KeyError(f'sample {results.get("token")}: no adjacent frame info (use FBBEVNuScenesDataset)')
        adjacent = copy.deepcopy(adjacent)
        if self.same_augmentation:
            if 'img_aug_params' not in results:
                raise KeyError(f'sample {results.get("token")}: same_augmentation needs the key frame\'s '
                               f'img_aug_params (run BEVDetLoadMultiViewImages first)')
            adjacent['img_aug_params'] = results['img_aug_params']
        adj = self.loader(adjacent)
        for key in ('cam2img', 'cam2ego', 'post_rots', 'post_trans'):
            results[key] = np.concatenate([results[key], adj[key]], axis=0)
        results['img'] = list(results['img']) + list(adj['img'])
        results['img_path'] = list(results['img_path']) + list(adj['img_path'])
        curr = np.asarray(results['ego2global'], dtype=np.float64)
        prev = np.asarray(adjacent['ego2global'], dtype=np.float64)
        results['curr2adj'] = (np.linalg.inv(prev) @ curr).astype(np.float32)[None]  # (1, 4, 4)
        return results
