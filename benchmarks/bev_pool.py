#!/usr/bin/env python
"""Speed and memory of BEVDet voxel pooling at bevdet-r50 size, against references measured in the same run.

Setting: 6 nuScenes-like cameras (1600 x 900 resized by 0.44 and cropped to 256 x 704), features 16 x 44
(stride 16), D = 59 depth bins (1-60 m), C = 64 channels, 128 x 128 x 1 BEV grid (0.8 m, +-51.2 m).

Methods (each: forward + backward of ``out.sum()`` w.r.t. depth and features):

- ``fast``: :func:`bev_pool` (CSR forward, hand-written collision-free backward), geometry plan built in
  every iteration (training: image augmentation changes the geometry per sample);
- ``fast (cached plan)``: same with the plan built once (fixed geometry, e.g. test time);
- ``cumsum``: the Lift-Splat-Shoot cumulative-sum trick (sort by voxel each call, ``cumsum``, differences at
  voxel boundaries, its ``QuickCumsum`` custom backward, scatter into the grid);
- ``index_add``: the plain port (gather, multiply, ``index_add_``, autograd backward);
- ``naive loop``: one ``index_add`` per depth bin (59 small scatters), autograd backward.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated``; on CPU the peak resident-set growth of a fresh
interpreter that runs one forward + backward (``ru_maxrss`` minus the RSS just before the call).

Usage::

    python benchmarks/bev_pool.py [--iters 10] [--device cpu|cuda] [--batch 1]
"""
from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from projects.BEVDet.bevdet.bev_pool import (  # noqa: E402
    bev_pool,
    bev_pool_index_add,
    plan_bev_pool,
    voxel_ranks,
)
from projects.BEVDet.bevdet.view_transformer import create_frustum, frustum_to_bev  # noqa: E402

GRID = dict(x=(-51.2, 51.2, 0.8), y=(-51.2, 51.2, 0.8), z=(-5.0, 3.0, 8.0), depth=(1.0, 60.0, 1.0))
CAM_YAWS_DEG = (0.0, -55.0, 55.0, 180.0, 110.0, -110.0)


def nuscenes_like_geometry(batch: int, device: torch.device) -> tuple[torch.Tensor, int, int, int]:
    """Voxel ranks of the bevdet-r50 frustum for 6 surround cameras; returns (ranks, F, D, R)."""
    frustum = create_frustum((16, 44), GRID['depth'], 16)
    cam2img = torch.tensor([[1266.0, 0, 816], [0, 1266.0, 491], [0, 0, 1]])
    base = torch.tensor([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])  # camera (x right, y down, z fwd) -> ego
    cam2ego = torch.zeros(6, 4, 4)
    for i, yaw in enumerate(CAM_YAWS_DEG):
        c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
        rz = torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        cam2ego[i, :3, :3] = rz @ base
        cam2ego[i, :3, 3] = torch.tensor([1.5 * c, 0.5 * s, 1.6])
        cam2ego[i, 3, 3] = 1
    post_rot = torch.diag(torch.tensor([0.44, 0.44, 1.0]))
    post_tran = torch.tensor([0.0, -140.0, 0.0])
    rep = (batch, 6)
    points = frustum_to_bev(frustum, cam2img.expand(*rep, 3, 3), cam2ego.expand(*rep, 4, 4),
                            post_rot.expand(*rep, 3, 3), post_tran.expand(*rep, 3), torch.eye(3).expand(batch, 3, 3))
    lower = torch.tensor([GRID[k][0] for k in 'xyz'])
    interval = torch.tensor([GRID[k][2] for k in 'xyz'])
    size = torch.tensor([128, 128, 1])
    ranks = voxel_ranks(points, lower, interval, size).to(device)
    return ranks, batch * 6 * 16 * 44, 59, batch * 128 * 128


class _QuickCumsum(torch.autograd.Function):
    """Lift-Splat-Shoot's cumulative-sum trick with its custom backward (reference implementation)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, ranks: torch.Tensor):
        x = x.cumsum(0)
        kept = torch.ones(x.shape[0], device=x.device, dtype=torch.bool)
        kept[:-1] = ranks[1:] != ranks[:-1]
        x = x[kept]
        x = torch.cat([x[:1], x[1:] - x[:-1]])
        ctx.save_for_backward(kept)
        return x, ranks[kept]

    @staticmethod
    def backward(ctx, grad_x: torch.Tensor, grad_ranks):
        (kept,) = ctx.saved_tensors
        back = torch.cumsum(kept, 0)
        back[kept] -= 1
        return grad_x[back], None


def pool_cumsum(depth: torch.Tensor, feat: torch.Tensor, ranks: torch.Tensor, num_voxels: int) -> torch.Tensor:
    """LSS ``voxel_pooling``: filter, sort by voxel, cumsum trick, scatter into the grid."""
    c = feat.shape[1]
    x = (depth[:, :, None] * feat[:, None, :]).reshape(-1, c)
    inside = ranks < num_voxels
    x, r = x[inside], ranks[inside]
    order = r.argsort()
    x, r = _QuickCumsum.apply(x[order], r[order])
    out = feat.new_zeros(num_voxels, c)
    out[r] = x
    return out


def pool_naive_loop(depth: torch.Tensor, feat: torch.Tensor, ranks: torch.Tensor, num_voxels: int) -> torch.Tensor:
    """One ``index_add`` per depth bin (out-of-grid points go to a dropped extra row)."""
    f, d = depth.shape
    r = ranks.view(f, d)
    out = feat.new_zeros(num_voxels + 1, feat.shape[1])
    for k in range(d):
        out = out.index_add(0, r[:, k], depth[:, k:k + 1] * feat)
    return out[:num_voxels]


def methods(ranks: torch.Tensor, f: int, d: int, r: int) -> dict[str, Callable]:
    cached = plan_bev_pool(ranks, f, d, r)
    return {
        'fast': lambda a, b: bev_pool(a, b, plan_bev_pool(ranks, f, d, r)),
        'fast (cached plan)': lambda a, b: bev_pool(a, b, cached),
        'cumsum': lambda a, b: pool_cumsum(a, b, ranks, r),
        'index_add': lambda a, b: bev_pool_index_add(a, b, ranks, r),
        'naive loop': lambda a, b: pool_naive_loop(a, b, ranks, r),
    }


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize()


def time_fwd_bwd(fn: Callable, depth: torch.Tensor, feat: torch.Tensor, iters: int,
                 device: torch.device) -> tuple[float, float]:
    """Median forward and forward+backward times (seconds)."""
    fwd, total = [], []
    for i in range(iters + 1):
        a, b = depth.detach().requires_grad_(), feat.detach().requires_grad_()
        _sync(device)
        t0 = time.perf_counter()
        out = fn(a, b)
        _sync(device)
        t1 = time.perf_counter()
        out.sum().backward()
        _sync(device)
        t2 = time.perf_counter()
        if i:  # first call warms up
            fwd.append(t1 - t0)
            total.append(t2 - t0)
    return statistics.median(fwd), statistics.median(total)


def _rss_bytes() -> int:
    with open('/proc/self/statm') as fh:
        return int(fh.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def peak_memory(name: str, batch: int, device: torch.device) -> float:
    """Peak extra memory (bytes) of one forward + backward of method ``name``.

    CPU: measured in a fresh interpreter (forking a process that has used OpenMP threads can hang).
    """
    if device.type == 'cuda':
        depth, feat, fns = setup(batch, device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fns[name](depth.requires_grad_(), feat.requires_grad_()).sum().backward()
        return float(torch.cuda.max_memory_allocated() - base)
    out = subprocess.run([sys.executable, __file__, '--batch', str(batch), '--memory-of', name],
                         check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def _measure_memory_here(name: str, batch: int) -> None:
    depth, feat, fns = setup(batch, torch.device('cpu'))
    fn = fns[name]
    start = _rss_bytes()
    fn(depth.requires_grad_(), feat.requires_grad_()).sum().backward()
    print(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start, 0))


def setup(batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, dict[str, Callable]]:
    """Geometry, random inputs (seed 0) and the methods."""
    torch.manual_seed(0)
    ranks, f, d, r = nuscenes_like_geometry(batch, device)
    depth = torch.randn(f, d, device=device).softmax(-1)
    feat = torch.randn(f, 64, device=device)
    return depth, feat, methods(ranks, f, d, r)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--methods', nargs='+', default=None,
                        help='methods to measure (default: all); the reference cumsum is always measured')
    parser.add_argument('--memory-of', help=argparse.SUPPRESS)  # internal: one CPU memory measurement
    args = parser.parse_args(argv)
    if args.memory_of:
        _measure_memory_here(args.memory_of, args.batch)
        return 0
    device = torch.device(args.device)
    depth, feat, fns = setup(args.batch, device)
    if args.methods:
        unknown = sorted(set(args.methods) - set(fns))
        if unknown:
            parser.error(f'unknown method(s) {unknown}; choose from {sorted(fns)}')
        fns = {name: fn for name, fn in fns.items() if name in args.methods or name == 'cumsum'}
    ranks, f, d, r = nuscenes_like_geometry(args.batch, device)
    ref = fns['cumsum'](depth, feat)
    for name, fn in fns.items():  # all methods compute the same thing
        torch.testing.assert_close(fn(depth, feat), ref, rtol=1e-4, atol=1e-4, msg=f'{name} differs')
    inside = int((ranks < r).sum())
    print(f'bev_pool at bevdet-r50 size: batch {args.batch} x 6 cams, D={d}, 16x44, C=64, 128x128 BEV; '
          f'{inside}/{ranks.numel()} frustum points inside; device {device}, {torch.get_num_threads()} threads, '
          f'median of {args.iters}')
    rows = {}
    for name, fn in fns.items():
        fwd, total = time_fwd_bwd(fn, depth, feat, args.iters, device)
        rows[name] = (fwd, total, peak_memory(name, args.batch, device))
    base_t, base_m = rows['cumsum'][1], rows['cumsum'][2]
    print(f'{"method":<20}{"fwd ms":>9}{"fwd+bwd ms":>12}{"peak MiB":>10}{"speed-up vs cumsum":>20}'
          f'{"memory vs cumsum":>18}')
    for name, (fwd, total, mem) in rows.items():
        print(f'{name:<20}{fwd * 1e3:>9.1f}{total * 1e3:>12.1f}{mem / 2**20:>10.1f}{base_t / total:>19.2f}x'
              f'{mem / max(base_m, 1):>17.2f}x')
    return 0


if __name__ == '__main__':
    sys.exit(main())
