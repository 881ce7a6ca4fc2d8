"""``master_port``: a free TCP port for a multi-process test's rendezvous, outside the ephemeral port range.

A port taken from ``bind(('127.0.0.1', 0))`` lies in the kernel's ephemeral range, the range every outgoing
connection and every listener bound to port 0 (gloo's pair listeners, other jobs' stores) draws from. Between
picking it and the launcher binding it (seconds: the workers import torch and mmdet3d first) any of those may take
it, and a worker that connects meanwhile reaches someone else's socket. Ports below the range are handed out only
to programs that ask for them by number, so a port that binds now stays ours.
"""
from __future__ import annotations

import random
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

LOWEST = 20000  # below the ports services usually claim by number (29500 is torchrun's default)


def ephemeral_range() -> tuple[int, int]:
    """The kernel's ephemeral port range (Linux's default where /proc does not say)."""
    try:
        low, high = map(int, Path('/proc/sys/net/ipv4/ip_local_port_range').read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return low, high


def port_outside_ephemeral_range() -> int:
    low, _ = ephemeral_range()
    for _ in range(200):
        port = random.SystemRandom().randrange(LOWEST, low) if low > LOWEST else random.randrange(1024, low)
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                continue
            return port
    raise RuntimeError(f'no free port in [{LOWEST}, {low})')


@pytest.fixture
def master_port() -> Callable[[], int]:
    """Call it for each launch: ``env['MASTER_PORT'] = str(master_port())``."""
    return port_outside_ephemeral_range


@pytest.fixture
def ephemeral_ports() -> tuple[int, int]:
    """The kernel's ephemeral port range (lowest, highest)."""
    return ephemeral_range()
