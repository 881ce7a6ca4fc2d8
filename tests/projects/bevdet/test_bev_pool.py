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


def _assert_canonical(crow: torch.Tensor, col: torch.Tensor, num_rows: int, num_cols: int) -> None:
    """cuSPARSE's CSR contract: monotone row pointers, column indices in range, strictly increasing per row."""
    assert crow.shape == (num_rows + 1,) and int(crow[0]) == 0 and int(crow[-1]) == col.numel()
    assert bool((crow[1:] >= crow[:-1]).all())
    assert col.numel() == 0 or (int(col.min()) >= 0 and int(col.max()) < num_cols)
    row = torch.repeat_interleave(torch.arange(num_rows), crow[1:] - crow[:-1])
    same_row = row[1:] == row[:-1]
    assert bool((col[1:][same_row] > col[:-1][same_row]).all()), 'unsorted or repeated column in a CSR row'


def _real_config_geometry() -> tuple[torch.Tensor, int, int, int]:
    """Ranks of configs/bevdet_hybrid.py's view transformer (grid, 256x704, stride 14, cell centres) for a
    nuScenes-like rig of 6 cameras (the frustum from the view transformer's own functions)."""
    import math
    from pathlib import Path

    from mmengine.config import Config

    from projects.BEVDet.bevdet.view_transformer import create_frustum, frustum_to_bev
    cfg = Config.fromfile(str(Path(__file__).resolve().parents[3] / 'configs/bevdet_hybrid.py'))
    vt = cfg.model.img_view_transformer
    grid = {k: tuple(float(x) for x in v) for k, v in vt.grid_config.items()}
    h, w = (-(-vt.input_size[0] // vt.downsample), -(-vt.input_size[1] // vt.downsample))
    frustum = create_frustum((h, w), grid['depth'], vt.downsample, vt.frustum_pixels, vt.input_size)
    cam2img = torch.tensor([[1266.0, 0, 816], [0, 1266.0, 491], [0, 0, 1]]).expand(1, 6, 3, 3)
    base = torch.tensor([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])  # camera (x right, y down, z fwd) -> ego
    cam2ego = torch.zeros(1, 6, 4, 4)
    for i, yaw in enumerate((0.0, -55.0, 55.0, 180.0, 110.0, -110.0)):
        c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
        cam2ego[0, i, :3, :3] = torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ base
        cam2ego[0, i, :3, 3] = torch.tensor([1.5 * c, 0.5 * s, 1.6])
        cam2ego[0, i, 3, 3] = 1
    post_rot = torch.diag(torch.tensor([0.44, 0.44, 1.0])).expand(1, 6, 3, 3)
    post_tran = torch.tensor([0.0, -140.0, 0.0]).expand(1, 6, 3)
    points = frustum_to_bev(frustum, cam2img, cam2ego, post_rot, post_tran, torch.eye(3).expand(1, 3, 3))
    axes = [grid[k] for k in 'xyz']
    size = [round((a[1] - a[0]) / a[2]) for a in axes]
    ranks = voxel_ranks(points, torch.tensor([a[0] for a in axes]), torch.tensor([a[2] for a in axes]),
                        torch.tensor(size))
    return ranks, 6 * h * w, frustum.shape[0], size[0] * size[1] * size[2]


def test_plans_are_canonical_csr_on_the_real_config_geometry():
    ranks, f, d, r = _real_config_geometry()
    assert (f, d, r) == (6 * 19 * 51, 118, 128 * 128)
    plan = plan_bev_pool(ranks, f, d, r)
    inside = int((ranks < r).sum())
    entries = plan.col.numel()
    assert entries < 0.9 * inside  # the geometry has many duplicates (several bins of a pixel in one voxel)
    _assert_canonical(plan.crow, plan.col, r, f)  # forward S
    _assert_canonical(plan.crow_t, plan.col_t, f, r)  # backward S^T and the sampled_addmm pattern
    _assert_canonical(plan.crow_sum, plan.col_sum, entries, f * d)  # summation of duplicates
    # S and S^T hold the same entries
    rows = torch.repeat_interleave(torch.arange(r), plan.crow[1:] - plan.crow[:-1])
    rows_t = torch.repeat_interleave(torch.arange(f), plan.crow_t[1:] - plan.crow_t[:-1])
    assert torch.equal(rows, plan.col_t[plan.fwd_entry]) and torch.equal(plan.col, rows_t[plan.fwd_entry])

    g = torch.Generator().manual_seed(0)
    depth = torch.rand(f, d, generator=g, dtype=torch.float64).softmax(-1)
    feat = torch.randn(f, 4, generator=g, dtype=torch.float64)
    grad_out = torch.randn(r, 4, generator=g, dtype=torch.float64)
    got, want = [], []
    for fn, acc in ((lambda a, b: bev_pool(a, b, plan), got),
                    (lambda a, b: bev_pool_index_add(a, b, ranks, r), want)):
        a, b = depth.clone().requires_grad_(), feat.clone().requires_grad_()
        out = fn(a, b)
        out.backward(grad_out)
        acc += [out.detach(), a.grad, b.grad]
    for x, y in zip(got, want):
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-10)


def test_gradcheck_with_duplicate_entries():
    """Several bins of one pixel in one voxel: the summed entry's gradient reaches every bin."""
    ranks, f, d, r = _geometry(b=1, n=1, d=6, h=2, w=2, seed=4)
    plan = plan_bev_pool(ranks, f, d, r)
    assert plan.col.numel() < int((ranks < r).sum())  # duplicates present
    depth = torch.rand(f, d, dtype=torch.float64, requires_grad=True)
    feat = torch.randn(f, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: bev_pool(a, b, plan), (depth, feat))
    out_ref = bev_pool_reference(depth, feat, ranks, r)
    torch.testing.assert_close(bev_pool(depth, feat, plan), out_ref, rtol=1e-12, atol=1e-12)


def test_bf16_autocast_pools_in_fp32():
    """Under CPU bf16 autocast with bf16 inputs: fp32 result equal to the fp32 pool of the same (bf16) values,
    and gradients in the inputs' dtype."""
    ranks, f, d, r = _geometry(seed=0)
    plan = plan_bev_pool(ranks, f, d, r)
    depth = torch.rand(f, d).softmax(-1).bfloat16().requires_grad_()
    feat = torch.randn(f, 6).bfloat16().requires_grad_()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = bev_pool(depth, feat, plan)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, bev_pool_index_add(depth.float(), feat.float(), ranks, r), rtol=1e-5, atol=1e-5)
    out.sum().backward()
    assert depth.grad.dtype == torch.bfloat16 and feat.grad.dtype == torch.bfloat16
    assert depth.grad.abs().sum() > 0 and feat.grad.abs().sum() > 0
