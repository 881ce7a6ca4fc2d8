"""Write a file under a temporary name in its own folder, then rename it into place.

A reader (or a rerun) therefore sees either the previous file, or the complete new one, never half of it:
``os.replace`` within one folder is atomic on POSIX and Windows. A process killed mid-write leaves only the
temporary ``.<stem>.tmp-XXXX<suffix>`` beside the target; :func:`stale_partials` finds those for the message
that tells the user what to delete.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ['atomic_write', 'stale_partials', 'TMP_MARK']

TMP_MARK = '.tmp-'


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
    suffix = ''.join(target.suffixes[-1:])
    stem = target.name[:-len(suffix)] if suffix else target.name
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


def stale_partials(path: str | os.PathLike) -> list[Path]:
    """Temporary files (or folders) that an interrupted :func:`atomic_write` / atomic folder left for ``path``."""
    target = Path(path)
    suffix = ''.join(target.suffixes[-1:])
    stem = target.name[:-len(suffix)] if suffix else target.name
    if not target.parent.is_dir():
        return []
    return sorted(p for p in target.parent.glob(f'.{stem}{TMP_MARK}*'))
