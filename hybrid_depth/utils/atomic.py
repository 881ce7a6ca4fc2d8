"""Write a file (or a folder) under a temporary name in its own folder, then rename it into place.

A reader (or a rerun) therefore sees either the previous file, or the complete new one, never half of it:
``os.replace`` within one folder is atomic on POSIX and Windows. A process killed mid-write leaves only a
temporary ``.<stem>.tmp-XXXX<suffix>`` (a folder: ``.<name>.tmp-XXXX``) beside the target, never read by anyone;
:func:`stale_partials` finds those and :func:`stale_note` words the line that tells the user what to delete.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ['atomic_write', 'atomic_directory', 'stale_partials', 'stale_note', 'is_partial', 'TMP_MARK']

TMP_MARK = '.tmp-'


def _split(target: Path) -> tuple[str, str]:
    """``(stem, suffix)`` of a target name: the temporary name is ``.<stem>.tmp-XXXX<suffix>``."""
    suffix = ''.join(target.suffixes[-1:])
    return (target.name[:-len(suffix)] if suffix else target.name), suffix


def is_partial(path: str | os.PathLike) -> bool:
    """Whether ``path`` is named as a temporary file or folder of :func:`atomic_write` / :func:`atomic_directory`."""
    name = Path(path).name
    return name.startswith('.') and TMP_MARK in name


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    The temporary name keeps the suffix (``.nuscenes_infos_train.tmp-k2j1.pkl``), so writers that pick the
    format by extension (``mmengine.dump``, PIL, ``cv2.imwrite``) behave as for ``path``. On an exception the
    temporary file is removed and ``path`` is untouched. The file gets the usual permissions (umask), not
    ``mkstemp``'s 0600.

    Example::

        with atomic_write(out) as tmp:
            torch.save(obj, tmp)
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    stem, suffix = _split(target)
    fd, name = tempfile.mkstemp(prefix=f'.{stem}{TMP_MARK}', suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Build a folder under a temporary name beside ``target``, then rename it to ``target`` when the block succeeds.

    Args:
        target: the final folder; it must not exist, or be empty, unless ``force`` (then it is replaced: the old
            folder is first renamed to ``.<name>.tmp-old-XXXX``, then removed).
        force: replace an existing non-empty ``target``.

    Yields:
        The temporary folder ``.<name>.tmp-XXXX`` to write into (removed if the block raises).

    Raises:
        FileExistsError: ``target`` is a non-empty folder (or a file) and ``force`` is not set.
    """
    target = Path(target).absolute()
    if target.exists() and not force and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f'{target} exists and is not empty; pass --force (force=True) to replace it')
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f'.{_split(target)[0]}{TMP_MARK}'
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f'{prefix}old-', dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def stale_partials(path: str | os.PathLike) -> list[Path]:
    """Temporary files or folders that an interrupted :func:`atomic_write` / :func:`atomic_directory` left for
    ``path``."""
    target = Path(path)
    if not target.parent.is_dir():
        return []
    return sorted(target.parent.glob(f'.{_split(target)[0]}{TMP_MARK}*'))


def stale_note(targets: Iterable[str | os.PathLike]) -> str | None:
    """One line naming the temporary leftovers of interrupted earlier writes of ``targets`` (None if there are
    none): they are never read, and only the user can know no other run is still writing them."""
    stale = sorted({p for t in targets for p in stale_partials(t)})
    if not stale:
        return None
    return (f'note: an interrupted earlier run left {len(stale)} partial file(s)/folder(s), never read; delete '
            'them: ' + ' '.join(str(p) for p in stale))
