"""Size of each BEVDet option that deviates from the official dev2.0 code (numbers for the README tables).

Geometry: ``configs/bevdet_r50.py``'s grid and depth bins (0.8 m cells, Z = 1, depth 1-60 m) at 256x704 on the
6-camera rig of ``tools/record_official_bevdet.py`` (image and BEV augmentation); context features N(0, 1).

    python benchmarks/bevdet_official_deviations.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / 'tools')]

from record_official_bevdet import rig  # noqa: E402

from projects.BEVDet.bevdet.bev_pool import bev_pool_index_add, voxel_ranks  # noqa: E402
from projects.BEVDet.bevdet.view_transformer import create_frustum, frustum_to_bev  # noqa: E402

GRID = dict(x=(-51.2, 51.2, 0.8), y=(-51.2, 51.2, 0.8), z=(-5.0, 3.0, 8.0), depth=(1.0, 60.0, 1.0))


def voxel_index() -> None:
    r = rig()
    r['post_rots'][..., :2, :] *= 4.0  # the rig's 176x64 input -> 704x256
    r['post_trans'] *= 4.0
    frustum = create_frustum((16, 44), GRID['depth'], 16, 'linspace', (256, 704))
    points = frustum_to_bev(frustum, r['cam2img'], r['cam2ego'], r['post_rots'], r['post_trans'], r['bda'])
    lower = torch.tensor([GRID[k][0] for k in 'xyz'])
    step = torch.tensor([GRID[k][2] for k in 'xyz'])
    size = torch.tensor([128, 128, 1])
    trunc, floor = (voxel_ranks(points, lower, step, size, i) for i in ('trunc', 'floor'))
    r_out = 128 * 128
    f, d = trunc.numel() // points.shape[2], points.shape[2]
    print(f'voxel index: {(trunc != floor).float().mean():.1%} of frustum points pooled differently '
          f'({(trunc < r_out).float().mean():.1%} inside with trunc, {(floor < r_out).float().mean():.1%} with floor)')
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(f, 64, generator=g)
    for name, logits in (('uniform', torch.zeros(f, d)), ('broad', torch.randn(f, d, generator=g)),
                         ('sharp', torch.randn(f, d, generator=g) * 8)):
        depth = logits.softmax(-1)
        a, b = (bev_pool_index_add(depth, feat, ranks, r_out) for ranks in (trunc, floor))
        diff = (a - b).abs()
        print(f'  {name} depth: max |diff| {diff.max():.2f} (max |bev| {a.abs().max():.2f}), '
              f'{(diff.sum(1) > 1e-6).float().mean():.1%} of BEV cells differ, '
              f'{diff.sum() / a.abs().sum():.1%} of the L1 mass')


def depth_loss_clamp() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4096, 59, generator=g) * 12  # confident, often wrong
    target = torch.nn.functional.one_hot(torch.randint(0, 59, (4096,), generator=g), 59).float()
    for clamp in (None, 1e-6):
        p = logits.softmax(-1).requires_grad_(True)
        q = p if clamp is None else p.clamp(clamp, 1 - clamp)
        loss = torch.nn.functional.binary_cross_entropy(q, target, reduction='sum') / 4096
        loss.backward()
        hit = p.detach()[target.bool()] < 1e-6
        print(f'depth loss clamp={clamp}: loss {loss.item():.2f}, target bins below 1e-6: {hit.float().mean():.1%}, '
              f'gradient there: mean |g| {p.grad[target.bool()][hit].abs().mean():.3g}')


if __name__ == '__main__':
    voxel_index()
    depth_loss_clamp()
