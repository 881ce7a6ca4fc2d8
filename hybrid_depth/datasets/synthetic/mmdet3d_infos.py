"""Run mmdet3d 1.4's own nuScenes info creation on a nuScenes dataroot (synthetic or real).

The pip package of mmdet3d does not expose ``tools/`` as an importable package, but it ships the converter
scripts under ``mmdet3d/.mim/tools/dataset_converters/`` (``nuscenes_converter.py`` with
``create_nuscenes_infos`` and ``update_infos_to_v2.py`` with ``update_pkl_infos``). They import only
installed packages, so we load those two files by path and call them exactly as ``tools/create_data.py``
does (``nuscenes_data_prep``). ``update_nuscenes_infos`` hard-codes ``dataroot='./data/nuscenes'``, so both
steps run with the working directory set to a temporary folder whose ``data/nuscenes`` links to the root;
the written infos therefore hold the standard ``./data/nuscenes/...`` relative paths.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import tempfile
from pathlib import Path
from types import ModuleType

__all__ = ['mmdet3d_converter_dir', 'load_mmdet3d_converter', 'create_mmdet3d_nuscenes_infos']


def mmdet3d_converter_dir() -> Path:
    """The ``dataset_converters`` folder shipped inside the installed mmdet3d package."""
    import mmdet3d
    path = Path(mmdet3d.__file__).parent / '.mim' / 'tools' / 'dataset_converters'
    if not (path / 'nuscenes_converter.py').is_file():
        raise FileNotFoundError(f'mmdet3d {mmdet3d.__version__} has no {path}/nuscenes_converter.py')
    return path


def load_mmdet3d_converter(name: str) -> ModuleType:
    """Import ``<converter dir>/<name>.py`` (e.g. ``'nuscenes_converter'``) as a module."""
    path = mmdet3d_converter_dir() / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'_mmdet3d_converters_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def create_mmdet3d_nuscenes_infos(data_root: str | Path, info_prefix: str = 'nuscenes',
                                  version: str = 'v1.0-mini', max_sweeps: int = 10,
                                  quiet: bool = True) -> dict[str, Path]:
    """Write ``<root>/<prefix>_infos_{train,val}.pkl`` in mmdet3d's v2 info format.

    Args:
        data_root: nuScenes dataroot (with ``<version>/`` and ``samples/``).
        info_prefix: file name prefix, as ``--extra-tag`` of ``tools/create_data.py``.
        version: nuScenes version.
        max_sweeps: LiDAR sweeps per sample kept in the infos.
        quiet: swallow the converters' prints and progress bars.

    Returns:
        ``{'train': path, 'val': path}``.
    """
    root = Path(data_root).absolute()
    converter = load_mmdet3d_converter('nuscenes_converter')
    updater = load_mmdet3d_converter('update_infos_to_v2')
    cwd = os.getcwd()
    sink = io.StringIO()
    with tempfile.TemporaryDirectory(prefix='mmdet3d_infos_') as tmp:
        (Path(tmp) / 'data').mkdir()
        os.symlink(root, Path(tmp) / 'data' / 'nuscenes')
        try:
            os.chdir(tmp)
            with contextlib.ExitStack() as stack:
                if quiet:
                    stack.enter_context(contextlib.redirect_stdout(sink))
                    stack.enter_context(contextlib.redirect_stderr(sink))
                converter.create_nuscenes_infos('./data/nuscenes', info_prefix, version=version,
                                                max_sweeps=max_sweeps)
                out = {}
                for split in ('train', 'val'):
                    pkl = f'./data/nuscenes/{info_prefix}_infos_{split}.pkl'
                    updater.update_pkl_infos('nuscenes', out_dir='./data/nuscenes', pkl_path=pkl)
                    out[split] = root / f'{info_prefix}_infos_{split}.pkl'
        finally:
            os.chdir(cwd)
    return out
