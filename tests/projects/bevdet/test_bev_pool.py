"""bev_pool: the fast path and the index_add_ port equal a brute-force loop, forward and gradients."""
from __future__ import annotations

import pytest
import torch

from projects.BEVDet.bevdet.bev_pool import (
    bev_pool,
    bev_pool_index_add,
    bev_pool_reference,
    plan_bev_pool,
    voxel_ranks,
)


def _geometry(b: int = 2, n: int = 2, d: int = 5, h: int = 3, w: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    # points in [-3, 3]^2 x [-1, 1]: a 4 x 4 x 2 grid of 1 m voxels over [-2, 2]^2 x [-1, 1] -> many
    # collisions (up to tens of points per voxel) and about half the points outside
    points = torch.rand(b, n, d, h, w, 3, generator=g) * torch.tensor([6.0, 6.0, 2.0]) - torch.tensor([3.0, 3, 1])
    lower, interval, size = torch.tensor([-2.0, -2, -1]), torch.tensor([1.0, 1, 1]), torch.tensor([4, 4, 2])
    ranks = voxel_ranks(points, lower, interval, size)
    return ranks, b * n * h * w, d, b * 4 * 4 * 2


def test_voxel_ranks_known_values():
    points = torch.tensor([[0.5, -1.5, 0.2], [-2.5, 0.0, 0.0], [1.9, 1.9, -0.9]]).view(1, 1, 3, 1, 1, 3)
    args = (torch.tensor([-2.0, -2, -1]), torch.tensor([1.0, 1, 1]), torch.tensor([4, 4, 2]))
    # x=2, y=0, z=1 -> (1*4 + 0)*4 + 2 = 18; x=3, y=3, z=0 -> 15; x = -2.5 is half a cell below the grid:
    # official truncation (-0.5 -> 0) pools it into x=0, y=2, z=1 -> (1*4 + 2)*4 + 0 = 24, floor leaves it out (32)
    assert voxel_ranks(points, *args).tolist() == [18, 24, 15]
    assert voxel_ranks(points, *args, index='floor').tolist() == [18, 32, 15]
    with pytest.raises(ValueError, match='voxel index'):
        voxel_ranks(points, *args, index='round')


@pytest.mark.parametrize('seed', [0, 1])
def test_fast_and_index_add_equal_brute_force(seed):
    ranks, f, d, r = _geometry(seed=seed)
    plan = plan_bev_pool(ranks, f, d, r)
    assert plan.col.numel() < ranks.numel()  # some points are outside
    assert int(torch.bincount(ranks[ranks < r]).max()) > 3  # collisions
    g = torch.Generator().manual_seed(seed + 10)
    depth = torch.rand(f, d, generator=g, dtype=torch.float64).softmax(-1)
    feat = torch.randn(f, 6, generator=g, dtype=torch.float64)
    grad_out = torch.randn(r, 6, generator=g, dtype=torch.float64)
    results = {}
    for name, fn in (('fast', lambda a, b: bev_pool(a, b, plan)),
                     ('index_add', lambda a, b: bev_pool_index_add(a, b, ranks, r)),
                     ('reference', lambda a, b: bev_pool_reference(a, b, ranks, r))):
        a, b = depth.clone().requires_grad_(), feat.clone().requires_grad_()
        out = fn(a, b)
        out.backward(grad_out)
        results[name] = (out.detach(), a.grad, b.grad)
    ref = results['reference']
    assert ref[0].abs().sum() > 0 and ref[1].abs().sum() > 0
    for name in ('fast', 'index_add'):
        for got, want in zip(results[name], ref):
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_fast_gradcheck():
    ranks, f, d, r = _geometry(b=1, n=1, d=3, h=2, w=2, seed=3)
    plan = plan_bev_pool(ranks, f, d, r)
    depth = torch.rand(f, d, dtype=torch.float64, requires_grad=True)
    feat = torch.randn(f, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: bev_pool(a, b, plan), (depth, feat))


def test_plan_rejects_wrong_size():
    with pytest.raises(ValueError, match='expected 3 x 2'):
        plan_bev_pool(torch.zeros(5, dtype=torch.long), 3, 2, 10)
