"""Run mmdet3d 1.4's own nuScenes info creation on a nuScenes dataroot (synthetic or real).

The pip package of mmdet3d does not expose ``tools/`` as an importable package, but it ships the converter
scripts under ``mmdet3d/.mim/tools/dataset_converters/`` (``nuscenes_converter.py`` with
``create_nuscenes_infos`` and ``update_infos_to_v2.py`` with ``update_pkl_infos``). They import only
installed packages, so we load those two files by path and call them exactly as ``tools/create_data.py``
does (``nuscenes_data_prep``). ``update_nuscenes_infos`` hard-codes ``dataroot='./data/nuscenes'``, so both
steps run with the working directory set to a temporary folder whose ``data/nuscenes`` links every entry of the
root; the written infos therefore hold the standard ``./data/nuscenes/...`` relative paths. The converters write
there, and each finished info file is then copied into the root under a temporary name and renamed
(:func:`~hybrid_depth.utils.atomic.atomic_write`): an interrupted run leaves no info file behind, not even half of
one.

With ``workers > 1`` the second step (70 % of the time: mmdet3d projects every annotation into every camera
for ``cam_instances``) runs on contiguous chunks of each split in a process pool, each chunk through the same
``update_pkl_infos``; the chunks are concatenated in order and ``sample_idx`` renumbered to the split's running
index, which is the only per-sample field that depends on the position in the file. The result equals the
serial file entry for entry (``tests/datasets/synthetic/test_mmdet3d_infos_parallel.py``). The chunking and merge are
ours: mmdet3d has no parallel updater.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import pickle
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType

from hybrid_depth.utils.atomic import atomic_write

from .output import pool_context

__all__ = ['mmdet3d_converter_dir', 'load_mmdet3d_converter', 'create_mmdet3d_nuscenes_infos',
           'merge_updated_chunks']


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


@contextlib.contextmanager
def _quiet(enabled: bool):
    """Silence the converters: Python-level prints and, at the file-descriptor level, mmengine's progress bars
    (``mmengine.track_iter_progress`` binds ``sys.stdout`` as a default argument at import, so redirecting
    ``sys.stdout`` alone does not reach them)."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        sys.__stdout__.flush()
        sys.__stderr__.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def _update_chunk(workdir: str, pkl_path: str, out_dir: str, quiet: bool) -> str:
    """Pool task: mmdet3d's ``update_pkl_infos`` on one chunk, run from ``workdir`` (``./data/nuscenes``)."""
    os.chdir(workdir)
    updater = load_mmdet3d_converter('update_infos_to_v2')
    with _quiet(quiet):
        updater.update_pkl_infos('nuscenes', out_dir=out_dir, pkl_path=pkl_path)
    return str(Path(out_dir) / Path(pkl_path).name)


def _split_v1_infos(pkl_path: Path, chunks: int, out_dir: Path) -> list[Path]:
    """Write contiguous chunks of a v1 info file (``{'infos': [...], 'metadata': ...}``); returns their paths."""
    data = pickle.loads(pkl_path.read_bytes())
    infos = data['infos']
    chunks = max(1, min(chunks, len(infos)))
    bounds = [round(k * len(infos) / chunks) for k in range(chunks + 1)]
    paths = []
    for k in range(chunks):
        path = out_dir / f'{pkl_path.stem}.chunk{k:03d}.pkl'
        path.write_bytes(pickle.dumps({'infos': infos[bounds[k]:bounds[k + 1]], 'metadata': data['metadata']}))
        paths.append(path)
    return paths


def merge_updated_chunks(parts: list[dict]) -> dict:
    """Concatenate v2 info dicts of consecutive chunks of one split, as one serial update would write them.

    Args:
        parts: ``{'metainfo': ..., 'data_list': [...]}`` per chunk, in file order.

    Returns:
        One v2 info dict: ``data_list`` concatenated with ``sample_idx`` = the running index, and ``metainfo``
        of the first chunk with every chunk's ignored classes (category -1) added.

    Raises:
        ValueError: no parts, or chunks of different datasets / versions.
    """
    if not parts:
        raise ValueError('merge_updated_chunks: no chunks to merge')
    metainfo = dict(parts[0]['metainfo'])
    metainfo['categories'] = dict(metainfo['categories'])
    data_list = []
    for part in parts:
        other = part['metainfo']
        for key in ('dataset', 'version', 'info_version'):
            if other.get(key) != metainfo.get(key):
                raise ValueError(f'merge_updated_chunks: chunks disagree on metainfo[{key!r}]: '
                                 f'{metainfo.get(key)!r} vs {other.get(key)!r}')
        for name, label in other['categories'].items():
            metainfo['categories'].setdefault(name, label)
        for info in part['data_list']:
            info['sample_idx'] = len(data_list)
            data_list.append(info)
    return {'metainfo': metainfo, 'data_list': data_list}


def create_mmdet3d_nuscenes_infos(data_root: str | Path, info_prefix: str = 'nuscenes',
                                  version: str = 'v1.0-mini', max_sweeps: int = 10,
                                  quiet: bool = True, workers: int = 1) -> dict[str, Path]:
    """Write ``<root>/<prefix>_infos_{train,val}.pkl`` in mmdet3d's v2 info format.

    Args:
        data_root: nuScenes dataroot (with ``<version>/`` and ``samples/``).
        info_prefix: file name prefix, as ``--extra-tag`` of ``tools/create_data.py``.
        version: nuScenes version.
        max_sweeps: LiDAR sweeps per sample kept in the infos.
        quiet: swallow the converters' prints and progress bars.
        workers: processes for the v1 -> v2 update (1: mmdet3d's serial call in this process); the infos are
            the same for any value.

    Returns:
        ``{'train': path, 'val': path}``.

    Raises:
        ValueError: ``workers`` < 1.
    """
    if workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    root = Path(data_root).absolute()
    converter = load_mmdet3d_converter('nuscenes_converter')
    cwd = os.getcwd()
    splits = ('train', 'val')
    out = {split: root / f'{info_prefix}_infos_{split}.pkl' for split in splits}
    with tempfile.TemporaryDirectory(prefix='mmdet3d_infos_') as tmp:
        work_root = Path(tmp) / 'data' / 'nuscenes'  # the root's entries linked; the infos are written here
        work_root.mkdir(parents=True)
        for entry in root.iterdir():
            if entry.name not in {p.name for p in out.values()}:
                os.symlink(entry, work_root / entry.name)
        work = {split: work_root / path.name for split, path in out.items()}
        try:
            os.chdir(tmp)
            with _quiet(quiet):
                converter.create_nuscenes_infos('./data/nuscenes', info_prefix, version=version,
                                                max_sweeps=max_sweeps)
                if workers == 1:
                    updater = load_mmdet3d_converter('update_infos_to_v2')
                    for split in splits:
                        updater.update_pkl_infos('nuscenes', out_dir='./data/nuscenes',
                                                 pkl_path=f'./data/nuscenes/{info_prefix}_infos_{split}.pkl')
        finally:
            os.chdir(cwd)
        if workers > 1:
            _update_parallel(Path(tmp), work, workers, quiet)
        for split, path in out.items():
            with atomic_write(path) as part:
                shutil.copyfile(work[split], part)
    return out


def _update_parallel(tmp: Path, out: dict[str, Path], workers: int, quiet: bool) -> None:
    """The v1 -> v2 update of every split, chunked over ``workers`` processes, then merged in order."""
    import mmengine
    (tmp / 'chunks_in').mkdir()
    (tmp / 'chunks_out').mkdir()
    chunks = {split: _split_v1_infos(path, workers, tmp / 'chunks_in') for split, path in out.items()}
    ctx = pool_context()
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {split: [pool.submit(_update_chunk, str(tmp), str(p), str(tmp / 'chunks_out'), quiet)
                           for p in paths] for split, paths in chunks.items()}
        done = {split: [f.result() for f in fs] for split, fs in futures.items()}
    for split, paths in done.items():
        merged = merge_updated_chunks([pickle.loads(Path(p).read_bytes()) for p in paths])
        part = out[split].with_name(out[split].name + '.part')  # written whole, then renamed over the v1 file
        mmengine.dump(merged, str(part), file_format='pkl')
        part.replace(out[split])
