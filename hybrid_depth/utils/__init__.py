"""Small file utilities shared by the tools and writers: atomic writes, checksums."""
from .atomic import atomic_directory, atomic_write, is_partial, stale_note, stale_partials
from .checksum import ChecksumError, verify_sha256

__all__ = ['ChecksumError', 'atomic_directory', 'atomic_write', 'is_partial', 'stale_note', 'stale_partials',
           'verify_sha256']
