#!/usr/bin/env python
"""OpenMP wait policy: seconds per training step with libgomp's default (spinning) policy against ``PASSIVE``.

Why: torch's CPU kernels run in OpenMP parallel regions whose threads, by default, spin before they sleep. When
the cores are shared (data-loader workers, a second training, another CI job) a spinning thread holds a core that
the thread it waits for needs, and a step that takes 0.1 s alone can take seconds. ``hybrid_depth`` therefore
sets ``OMP_WAIT_POLICY=PASSIVE`` (unless the user set it) before torch is loaded; this benchmark measures what that
buys and what it costs.

Each measurement is a fresh interpreter (libgomp reads the variable once, when torch loads it) that trains a small
conv stack (``--layers`` 3x3 convs, ``--channels``, ``--size``, batch 2) for ``--steps`` forward/backward steps with
``torch.get_num_threads()`` threads, while ``--hogs`` busy-loop processes compete for the cores (0 = idle machine;
``nproc`` - 1 = one other busy job per spare core). Variants alternate (default, passive, default, ...) ``--repeats``
times; the table prints the median seconds per variant and the ratio default / passive, in the same run.

Usage::

    python benchmarks/omp_wait_policy.py --hogs 0 1 --repeats 3
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time

CHILD = r'''
import sys, time, torch
layers, channels, size, steps = map(int, sys.argv[1:5])
torch.manual_seed(0)
m = torch.nn.Sequential(*[torch.nn.Conv2d(channels, channels, 3, padding=1) for _ in range(layers)])
x = torch.randn(2, channels, size, size)
m(x).sum().backward()  # warm-up
t0 = time.perf_counter()
for _ in range(steps):
    m(x).sum().backward()
print(time.perf_counter() - t0)
'''


def _hog(stop: mp.Event) -> None:  # a busy loop: another job on the core
    while not stop.is_set():
        sum(range(10000))


def measure(policy: str | None, args: argparse.Namespace) -> float:
    """Seconds for ``args.steps`` steps in a fresh interpreter with ``OMP_WAIT_POLICY=policy`` (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != 'OMP_WAIT_POLICY'}
    if policy is not None:
        env['OMP_WAIT_POLICY'] = policy
    out = subprocess.run([sys.executable, '-c', CHILD, str(args.layers), str(args.channels), str(args.size),
                          str(args.steps)], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--hogs', type=int, nargs='+', default=[0, 1], help='competing busy processes (default: 0 1)')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--layers', type=int, default=6)
    p.add_argument('--channels', type=int, default=64)
    p.add_argument('--size', type=int, default=64)
    args = p.parse_args(argv)
    rows = []
    for hogs in args.hogs:
        stop = mp.Event()
        procs = [mp.Process(target=_hog, args=(stop,), daemon=True) for _ in range(hogs)]
        for proc in procs:
            proc.start()
        time.sleep(0.5 if hogs else 0)
        times: dict[str, list[float]] = {'default': [], 'PASSIVE': []}
        try:
            for _ in range(args.repeats):
                times['default'].append(measure(None, args))
                times['PASSIVE'].append(measure('PASSIVE', args))
        finally:
            stop.set()
            for proc in procs:
                proc.join()
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append((hogs, med['default'], med['PASSIVE'], med['default'] / med['PASSIVE']))
    print(f'# {os.cpu_count()} cores, {args.steps} steps, {args.layers}x conv{args.channels} at {args.size}px, '
          f'median of {args.repeats}')
    print('| busy neighbours | default s | PASSIVE s | default / PASSIVE |')
    print('|---|---|---|---|')
    for hogs, d, q, r in rows:
        print(f'| {hogs} | {d:.2f} | {q:.2f} | {r:.2f}x |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
