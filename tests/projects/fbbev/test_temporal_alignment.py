"""Frame split of a sample's cameras and adjacent-frame BEV alignment by the ego motion."""
from __future__ import annotations

import math

import pytest
import torch

from projects.FBBEV.fbbev.temporal_alignment import align_adjacent_bev, split_frames

X_BOUND = Y_BOUND = (-4.0, 4.0, 1.0)


def _motion(dx: float, dy: float, yaw: float) -> torch.Tensor:
    t = torch.eye(4)
    t[:2, :2] = torch.tensor([[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]])
    t[:2, 3] = torch.tensor([dx, dy])
    return t.view(1, 4, 4)


def test_identity_motion_keeps_the_map():
    bev = torch.randn(1, 3, 8, 8)
    out = align_adjacent_bev(bev, _motion(0, 0, 0), torch.eye(3).view(1, 3, 3), X_BOUND, Y_BOUND)
    torch.testing.assert_close(out, bev)


def test_one_cell_translation_shifts_by_one_cell():
    bev = torch.randn(1, 3, 8, 8)
    # the current ego is 1 m ahead (+x) of the adjacent one: current point p is p + (1, 0) in the adjacent frame
    out = align_adjacent_bev(bev, _motion(1.0, 0, 0), torch.eye(3).view(1, 3, 3), X_BOUND, Y_BOUND)
    torch.testing.assert_close(out[..., :-1], bev[..., 1:])
    assert out[..., -1].abs().max() == 0  # fell outside the adjacent map
    out_y = align_adjacent_bev(bev, _motion(0, -2.0, 0), torch.eye(3).view(1, 3, 3), X_BOUND, Y_BOUND)
    torch.testing.assert_close(out_y[:, :, 2:], bev[:, :, :-2])


def test_rotation_and_bev_augmentation():
    bev = torch.randn(1, 2, 8, 8)
    quarter = align_adjacent_bev(bev, _motion(0, 0, math.pi / 2), torch.eye(3).view(1, 3, 3), X_BOUND, Y_BOUND)
    # current (x, y) -> adjacent (-y, x): out[iy, ix] = bev[ix, 7 - iy]
    torch.testing.assert_close(quarter[0], bev[0].transpose(1, 2).flip(1))
    # with a BEV flip applied to both frames, a +x motion shifts the flipped map the other way
    flip = torch.diag(torch.tensor([-1.0, 1.0, 1.0])).view(1, 3, 3)
    out = align_adjacent_bev(bev, _motion(1.0, 0, 0), flip, X_BOUND, Y_BOUND)
    torch.testing.assert_close(out[..., 1:], bev[..., :-1])


def test_split_frames_current_first_bda_shared():
    imgs = torch.arange(2 * 6).float().view(2, 6, 1, 1, 1).expand(2, 6, 3, 4, 5)
    cams = dict(cam2img=torch.arange(2 * 6).float().view(2, 6, 1, 1).expand(2, 6, 3, 3), bda=torch.eye(3)[None])
    (cur, cur_cams), (adj, adj_cams) = split_frames(imgs, cams, 2)
    assert torch.equal(cur, imgs[:, :3]) and torch.equal(adj, imgs[:, 3:])
    assert torch.equal(adj_cams['cam2img'], cams['cam2img'][:, 3:]) and adj_cams['bda'] is cams['bda']
    ((alone, _),) = split_frames(imgs, cams, 1)
    assert torch.equal(alone, imgs)
    with pytest.raises(ValueError, match='not 4 frames'):
        split_frames(imgs, cams, 4)
