"""Depth-aware backward projection: projection round trip against BEVDet's lift, hand-computed depth weights,
the weighting is live, foreground restriction, rebatching."""
from __future__ import annotations

import math

import pytest
import torch

from projects.BEVDet.bevdet.view_transformer import frustum_to_bev
from projects.FBBEV.fbbev.depth_aware_backward_projection import (
    DepthAwareBackwardProjection,
    pillar_weights,
    rebatch_indices,
)
from projects.FBBEV.fbbev.pillar_projection import (
    bev_to_image,
    depth_bin_one_hot,
    pillar_reference_points,
    sample_depth_consistency,
    sample_depth_consistency_reference,
)

# camera looking along ego +x: camera x -> ego -y, camera y -> ego -z, camera z -> ego +x
FORWARD = torch.tensor([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def _rig(num_cams: int, height: float = 1.5) -> torch.Tensor:
    """(1, N, 4, 4) cam2ego of N cameras evenly spread in yaw."""
    cam2ego = torch.eye(4).repeat(1, num_cams, 1, 1)
    for i in range(num_cams):
        a = 2 * math.pi * i / num_cams
        yaw = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
        cam2ego[0, i, :3, :3] = yaw @ FORWARD
        cam2ego[0, i, :3, 3] = torch.tensor([0.3 * math.cos(a), 0.3 * math.sin(a), height])
    return cam2ego


def _bda(angle_deg: float, scale: float, flip_x: bool) -> torch.Tensor:
    a = math.radians(angle_deg)
    rot = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    return torch.diag(torch.tensor([-1.0 if flip_x else 1.0, 1.0, 1.0])) @ (scale * rot)


def test_projection_inverts_bevdet_lift_with_augmentation():
    """bev_to_image followed by BEVDet's frustum_to_bev (the LSS lift) returns the original BEV points."""
    g = torch.Generator().manual_seed(0)
    cam2ego = _rig(1)
    cam2img = torch.tensor([[[[400.0, 0.0, 350.0], [0.0, 410.0, 130.0], [0.0, 0.0, 1.0]]]])
    a = math.radians(4.0)
    post_rots = torch.eye(3).view(1, 1, 3, 3).clone()
    post_rots[0, 0, :2, :2] = 0.46 * torch.tensor([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    post_trans = torch.tensor([[[-12.0, -40.0, 0.0]]])
    bda = _bda(17.0, 1.03, True).view(1, 3, 3)
    ego = torch.rand(1, 50, 3, generator=g) * torch.tensor([30.0, 20.0, 4.0]) + torch.tensor([5.0, -10.0, -2.0])
    bev = torch.einsum('ij,bpj->bpi', bda[0], ego)
    uv, depth = bev_to_image(bev, cam2img, cam2ego, post_rots, post_trans, bda)
    assert (depth > 0).all()
    frustum = torch.cat([uv[0, 0], depth[0, 0, :, None]], dim=-1).view(1, 1, 50, 3)  # (D=1, h=1, w=50, 3)
    lifted = frustum_to_bev(frustum, cam2img, cam2ego, post_rots, post_trans, bda)  # (1, 1, 1, 1, 50, 3)
    torch.testing.assert_close(lifted.view(1, 50, 3), bev, atol=1e-3, rtol=1e-4)


def test_reference_points_are_cell_centres_at_pillar_heights():
    ref = pillar_reference_points((-2.0, 2.0, 1.0), (-1.0, 1.0, 0.5), (-1.0, 3.0), 4)
    assert ref.shape == (4, 4, 4, 3)  # (Y, X, K, 3)
    torch.testing.assert_close(ref[0, 0, :, 2], torch.tensor([-0.5, 0.5, 1.5, 2.5]))
    torch.testing.assert_close(ref[2, 3, 0, :2], torch.tensor([1.5, 0.25]))  # x along the last BEV axis


def test_depth_bin_one_hot_matches_bevdet_binning():
    depth = torch.tensor([1.0, 1.99, 2.0, 59.9, 60.0, 0.5, -3.0])
    oh = depth_bin_one_hot(depth, (1.0, 60.0, 1.0), clip=False)
    assert oh.shape == (7, 59)
    assert oh[:4].argmax(-1).tolist() == [0, 0, 1, 58]
    assert oh[:4].sum(-1).tolist() == [1, 1, 1, 1]
    assert oh[4:].sum().item() == 0  # outside [d_min, d_max) or behind the camera: no bin
    # FB-OCC (the default): clip(floor((d - d_min) / step), 0, D - 1), every depth has a bin
    clipped = depth_bin_one_hot(depth, (1.0, 60.0, 1.0))
    assert clipped.argmax(-1).tolist() == [0, 0, 1, 58, 58, 0, 0] and clipped.sum(-1).tolist() == [1] * 7


def test_bin_gather_equals_full_grid_sample_definition():
    g = torch.Generator().manual_seed(5)
    prob = torch.rand(3, 19, 4, 8, generator=g).softmax(1)
    loc = torch.rand(3, 40, 2, generator=g) * 1.3 - 0.15  # some outside the map
    depth = torch.rand(3, 40, generator=g) * 24 - 2  # some outside [1, 20)
    for clip in (True, False):
        fast = sample_depth_consistency(prob, loc, depth, (1.0, 20.0, 1.0), clip)
        torch.testing.assert_close(fast, sample_depth_consistency_reference(prob, loc, depth, (1.0, 20.0, 1.0), clip))
        assert (fast == 0).any() and (fast > 0).any()


def _single_camera():
    """One forward camera at the ego origin, 16x8 image, 2-pixel feature cells (w=8, h=4)."""
    cam2ego = torch.eye(4).view(1, 1, 4, 4).clone()
    cam2ego[0, 0, :3, :3] = FORWARD
    cam2img = torch.tensor([[[[10.0, 0.0, 7.5], [0.0, 10.0, 3.5], [0.0, 0.0, 1.0]]]])
    eye = torch.eye(3).view(1, 1, 3, 3)
    return cam2img, cam2ego, eye, torch.zeros(1, 1, 3), torch.eye(3).view(1, 3, 3)


def test_depth_weights_equal_hand_computed_dot_product():
    cam2img, cam2ego, post_rots, post_trans, bda = _single_camera()
    depth_prob = torch.rand(1, 1, 19, 4, 8, generator=torch.Generator().manual_seed(3)).softmax(2)  # D=19
    # ego points: image centre at 10 m; (u, v) = (8.5, 3.0) at 10 m; 25 m (beyond d_max); behind the camera
    ego = torch.tensor([[[10.0, 0.0, 0.0], [10.0, -1.0, 0.5], [25.0, 0.0, 0.0], [-5.0, 0.0, 0.0]]])
    uv, depth = bev_to_image(ego, cam2img, cam2ego, post_rots, post_trans, bda)
    torch.testing.assert_close(uv[0, 0, :2], torch.tensor([[7.5, 3.5], [8.5, 3.0]]))
    ours = dict(pixel_centres=True, weight_visibility=True)  # our convention: pixel centres at integers
    loc, w = pillar_weights(uv.view(1, 1, 4, 1, 2), depth.view(1, 1, 4, 1), depth_prob, (8, 16), (1.0, 20.0, 1.0),
                            **ours)
    p = depth_prob[0, 0, 9]  # bin of 10 m: [10, 11)
    # point 0 lands on the corner of feature cells rows 1-2, cols 3-4 (normalised (0.5, 0.5)): mean of the four
    expected0 = (p[1, 3] + p[1, 4] + p[2, 3] + p[2, 4]) / 4
    # point 1: x = (8.5 + 0.5) / 16 -> column 4 exactly; y = (3 + 0.5) / 8 -> row 1.25
    expected1 = 0.75 * p[1, 4] + 0.25 * p[2, 4]
    # point 2 (25 m, beyond the last bin [19, 20)) reads the last bin at the image centre, as FB-OCC clips it
    last = depth_prob[0, 0, 18]
    expected2 = (last[1, 3] + last[1, 4] + last[2, 3] + last[2, 4]) / 4
    torch.testing.assert_close(w[0, 0, :, 0], torch.stack([expected0, expected1, expected2, p.new_tensor(0.0)]))
    _, unclipped = pillar_weights(uv.view(1, 1, 4, 1, 2), depth.view(1, 1, 4, 1), depth_prob, (8, 16),
                                  (1.0, 20.0, 1.0), clip_depth_bins=False, **ours)
    torch.testing.assert_close(unclipped[0, 0, :, 0], torch.stack([expected0, expected1, p.new_tensor(0.0),
                                                                   p.new_tensor(0.0)]))
    _, visible = pillar_weights(uv.view(1, 1, 4, 1, 2), depth.view(1, 1, 4, 1), depth_prob, (8, 16),
                                (1.0, 20.0, 1.0), depth_aware=False, **ours)
    assert visible[0, 0, :, 0].tolist() == [1.0, 1.0, 1.0, 0.0]  # the 25 m point is visible, just out of range


def _module_inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    grid = dict(x=(-16.0, 16.0, 2.0), y=(-16.0, 16.0, 2.0), z=(-3.0, 3.0, 6.0), depth=(1.0, 33.0, 1.0))
    num_cams = 4
    cam2img = torch.tensor([[60.0, 0.0, 31.5], [0.0, 60.0, 15.5], [0.0, 0.0, 1.0]]).repeat(1, num_cams, 1, 1)
    cams = dict(cam2img=cam2img, cam2ego=_rig(num_cams), post_rots=torch.eye(3).repeat(1, num_cams, 1, 1),
                post_trans=torch.zeros(1, num_cams, 3), bda=torch.eye(3).view(1, 3, 3))
    bev = torch.randn(1, 16, 16, 16, generator=g)
    feats = torch.randn(1, num_cams, 8, 4, 8, generator=g)  # 64x32 images, stride 8
    depth = torch.randn(1, num_cams, 32, 4, 8, generator=g).softmax(2)
    return grid, bev, feats, depth, cams


def _module(grid: dict, depth_aware: bool = True) -> DepthAwareBackwardProjection:
    torch.manual_seed(0)
    m = DepthAwareBackwardProjection(in_channels=8, embed_dims=16, grid_config=grid, feature_stride=8,
                                     num_heights=2, num_heads=2, num_points=4, ffn_channels=32,
                                     depth_aware=depth_aware)
    with torch.no_grad():  # non-trivial attention so that every weight matters
        m.attention_weights.weight.normal_(0, 0.5)
        m.sampling_offsets.weight.normal_(0, 0.1)
    return m.eval()


def test_depth_weighting_is_live_and_multiplies_the_attention():
    grid, bev, feats, depth, cams = _module_inputs()
    m = _module(grid)
    query = bev.flatten(2).transpose(1, 2) + m.bev_embedding.weight[None]
    slots = m.cross_attention(query, feats, depth, **cams)
    assert slots.abs().sum() > 0
    # the output is linear in the depth weights: halving the distribution halves the attention output
    torch.testing.assert_close(m.cross_attention(query, feats, depth * 0.5, **cams), slots * 0.5)
    # turning the weighting off changes the output
    m.depth_aware = False
    assert not torch.allclose(m.cross_attention(query, feats, depth, **cams), slots, atol=1e-4)
    m.depth_aware = True
    out_on = m(bev, feats, depth, **cams)
    m.depth_aware = False
    out_off = m(bev, feats, depth, **cams)
    assert (out_on - out_off).abs().max() > 1e-3
    # a distribution with no mass in any point's bin makes the cross-attention output vanish
    m.depth_aware = True
    assert m.cross_attention(query, feats, torch.zeros_like(depth), **cams).abs().max() == 0


def test_foreground_mask_restricts_refinement_and_gradients_flow():
    """``update_background=False``: only foreground cells change (the official every-cell behaviour:
    test_official_structure.py)."""
    grid, bev, feats, depth, cams = _module_inputs(1)
    m = _module(grid).train()
    m.update_background = False
    m.dropout.p = 0.0
    fg = torch.zeros(1, 16, 16, dtype=torch.bool)
    fg[0, 3:6, 9:12] = True
    bev.requires_grad_(True)
    feats.requires_grad_(True)
    out = m(bev, feats, depth, fg_mask=fg, **cams)
    changed = (out - bev).abs().sum(1)[0] > 0
    assert torch.equal(changed, fg[0])
    out.square().sum().backward()
    assert feats.grad.abs().sum() > 0 and m.sampling_offsets.weight.grad.abs().sum() > 0
    # no foreground: the BEV passes through unchanged, yet every attention parameter stays in the graph
    m.zero_grad()
    empty = m(bev, feats, depth, fg_mask=torch.zeros_like(fg), **cams)
    torch.testing.assert_close(empty, bev)
    empty.sum().backward()
    assert all(p.grad is not None for p in (m.sampling_offsets.weight, m.attention_weights.weight,
                                            m.value_proj.weight, m.input_proj.weight))


def test_rebatch_indices_pack_hits_first():
    hit = torch.tensor([[False, True, False, True], [False, False, False, False], [True, True, True, False]])
    index, valid = rebatch_indices(hit)
    assert index.shape == (3, 3)
    assert valid.tolist() == [[True, True, False], [False, False, False], [True, True, True]]
    assert index[0, :2].tolist() == [1, 3] and index[2].tolist() == [0, 1, 2]


def test_rejects_mismatched_bev():
    grid, bev, feats, depth, cams = _module_inputs()
    with pytest.raises(ValueError, match='does not match'):
        _module(grid)(bev[:, :, :8], feats, depth, **cams)
