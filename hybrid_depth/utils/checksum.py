"""SHA-256 check of a downloaded or shipped file (model-zoo checkpoints): one error naming file and digests."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ['ChecksumError', 'sha256sum', 'verify_sha256']


class ChecksumError(ValueError):
    """A file whose SHA-256 differs from the expected one (truncated, corrupted or another file)."""


def sha256sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in ``chunk``-byte blocks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    """Check ``path`` against an expected SHA-256 (full hex digest, or a prefix of at least 8 hex digits, as zoo
    file names carry).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ChecksumError: naming the file, its size, the expected and the actual digest.
        ValueError: ``expected`` is not a hex string of 8-64 digits.
    """
    expected = expected.lower()
    if not 8 <= len(expected) <= 64 or any(c not in '0123456789abcdef' for c in expected):
        raise ValueError(f'expected SHA-256 must be 8-64 hex digits, got {expected!r}')
    if not Path(path).is_file():
        raise FileNotFoundError(f'file not found: {path}')
    actual = sha256sum(path)
    if not actual.startswith(expected):
        raise ChecksumError(f'{path}: SHA-256 mismatch ({Path(path).stat().st_size} bytes): expected '
                            f'{expected}, got {actual[:len(expected)]} (truncated, corrupted or another file; '
                            f'delete it and copy it again)')
