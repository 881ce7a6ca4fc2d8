"""Channel/size contracts between sub-modules built from sub-configs (``num_ch_enc``, ``in_channels``, ...)."""
from __future__ import annotations

from typing import Any

__all__ = ['with_upstream_value']


def with_upstream_value(cfg: dict, key: str, value: Any, owner: str) -> dict:
    """A copy of ``cfg`` with ``key`` set to the value the upstream module dictates.

    Args:
        cfg: A sub-config (not modified).
        key: Constructor argument fixed by the upstream module (e.g. a decoder's ``in_channels``).
        value: The upstream value.
        owner: Name of the sub-config, for the error message.

    Raises:
        ValueError: ``cfg`` sets ``key`` to a different value.
    """
    def norm(v: Any) -> Any:
        return list(v) if isinstance(v, (list, tuple)) else v

    out = dict(cfg)
    if key in out and norm(out[key]) != norm(value):
        raise ValueError(f'{owner}.{key}={out[key]} but the upstream module gives {value}')
    out[key] = value
    return out
