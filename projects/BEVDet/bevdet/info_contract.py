"""The info-file contract: mmdet3d 1.x nuScenes infos with the keys our loaders need, or one clear error.

mmdet3d 1.x (``tools/create_data.py`` + ``update_infos_to_v2``) writes ``{'metainfo': {..., 'version',
'info_version'}, 'data_list': [...]}``; each sample carries ``token``, ``timestamp``, ``ego2global``,
``lidar_points`` (``lidar_path``, ``lidar2ego``) and ``images[cam]`` (``img_path``, ``cam2img``, ``lidar2cam``;
``lidar2cam`` is built through each camera's own ego pose, see :func:`.frames.cam2keyego`). Info files of
mmdet3d 0.x or of BEVDet's own converter (``{'infos', 'metadata'}``, ``cams``/``sensor2ego_rotation``...)
hold other frames and keys; read silently, they wreck training and NDS, so they are refused here.
:class:`BEVDetNuScenesDataset` applies the contract when it loads its ``ann_file``.
"""
from __future__ import annotations

import os.path as osp
import pickle
from collections.abc import Sequence

import mmengine
from mmdet3d.datasets import NuScenesDataset
from mmdet3d.registry import DATASETS

from hybrid_depth.datasets.file_readers import DataFileError

__all__ = ['INFO_HINT', 'InfoFileError', 'check_nuscenes_infos', 'read_info_file', 'BEVDetNuScenesDataset']

INFO_HINT = ('regenerate mmdet3d 1.x infos with: python tools/create_data.py nuscenes --root-path <dataroot> '
             '--out-dir <dataroot> --version <v1.0-trainval|v1.0-mini>')
SAMPLE_KEYS = ('token', 'timestamp', 'ego2global', 'lidar_points', 'images')
LIDAR_KEYS = ('lidar_path', 'lidar2ego')
CAMERA_KEYS = ('img_path', 'cam2img', 'lidar2cam')


class InfoFileError(DataFileError):
    """An info file of another layout or without the keys our loaders need."""


def _layout(annotations: object) -> str:
    """A short description of what an info file holds."""
    if not isinstance(annotations, dict):
        return f'a {type(annotations).__name__}, not a dict'
    keys = sorted(annotations)
    if 'infos' in annotations:
        first = (annotations['infos'] or [{}])[0]
        origin = ('BEVDet converter' if 'ann_infos' in first or 'scene_token' in first and 'cams' in first
                  else 'mmdet3d 0.x')
        return f'top-level keys {keys} (the {origin} layout, metadata {annotations.get("metadata")})'
    return f'top-level keys {keys}'


def check_nuscenes_infos(annotations: object, path: str, cameras: Sequence[str] = ()) -> None:
    """Raise :class:`InfoFileError` unless ``annotations`` follow the mmdet3d 1.x nuScenes contract.

    Args:
        annotations: The loaded info file.
        path: Its path (for the message).
        cameras: Camera names every sample must carry (empty: whatever ``images`` holds).

    Raises:
        InfoFileError: naming the file, what was found and the command that regenerates it.
    """
    def fail(found: str) -> None:
        raise InfoFileError(f'{path}: not an mmdet3d 1.x nuScenes info file: {found}; {INFO_HINT}')

    if not isinstance(annotations, dict) or 'data_list' not in annotations or 'metainfo' not in annotations:
        fail(_layout(annotations))
    meta = annotations['metainfo']
    missing = [k for k in ('version', 'info_version') if k not in meta]
    if missing:
        fail(f'metainfo {sorted(meta)} lacks {missing}')
    for info in annotations['data_list']:
        token = info.get('token', '?')
        lacks = [k for k in SAMPLE_KEYS if k not in info]
        lacks += [f'lidar_points.{k}' for k in LIDAR_KEYS if k not in info.get('lidar_points', {})]
        images = info.get('images', {})
        for cam in cameras or sorted(images):
            if cam not in images:
                lacks.append(f'images.{cam}')
                continue
            lacks += [f'images.{cam}.{k}' for k in CAMERA_KEYS if k not in images[cam]]
        if lacks:
            fail(f'sample {token} lacks {lacks} (info_version {meta.get("info_version")})')


def read_info_file(path: str) -> object:
    """Unpickle an info file; an empty, truncated or non-pickle file is one :class:`InfoFileError` naming it."""
    size = osp.getsize(path)
    if size == 0:
        raise InfoFileError(f'info file is empty (0 bytes): {path}; {INFO_HINT}')
    try:
        return mmengine.load(path, file_format='pkl')
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError,
            ValueError, UnicodeDecodeError) as err:
        what = 'truncated' if isinstance(err, EOFError) or 'truncated' in str(err) else 'not a pickle or corrupt'
        raise InfoFileError(f'info file is {what} ({size} bytes): {path}: {type(err).__name__}: '
                            f'{(str(err).splitlines() or [""])[0]}; {INFO_HINT}') from err


@DATASETS.register_module()
class BEVDetNuScenesDataset(NuScenesDataset):
    """mmdet3d's ``NuScenesDataset`` that checks its ``ann_file`` against the info contract.

    A missing data root or info file is one ``FileNotFoundError`` naming the path and the command that makes it.

    Args:
        **kwargs: ``NuScenesDataset`` arguments.
    """

    def load_data_list(self) -> list[dict]:
        if not osp.isfile(self.ann_file):
            root = self.data_root
            where = f'data root {root} does not exist' if root and not osp.isdir(root) else 'no such file'
            raise FileNotFoundError(f'info file not found: {self.ann_file} ({where}); {INFO_HINT}')
        annotations = read_info_file(self.ann_file)
        check_nuscenes_infos(annotations, self.ann_file)
        for key, value in annotations['metainfo'].items():
            self._metainfo.setdefault(key, value)
        data_list = []
        for raw in annotations['data_list']:
            info = self.parse_data_info(raw)
            data_list.extend(info if isinstance(info, list) else [info])
        return data_list
