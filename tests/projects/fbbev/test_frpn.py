"""FRPN: GT BEV mask rasterisation from rotated boxes, the BCE + Dice loss, the head, the mask-IoU metric."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from projects.FBBEV.fbbev.bev_box_mask import rasterise_box_mask
from projects.FBBEV.fbbev.frpn import ForegroundRegionProposalNet, dice_loss, frpn_mask_loss
from projects.FBBEV.fbbev.mask_iou_metric import FRPNMaskIoUMetric

X_BOUND, Y_BOUND = (-4.0, 4.0, 1.0), (-3.0, 3.0, 1.0)  # 8 x 6 cells, centres at half metres


def _box(x, y, dx, dy, yaw):
    return torch.tensor([[x, y, -1.0, dx, dy, 1.5, yaw]])


def test_axis_aligned_box_covers_exactly_its_cells():
    mask = rasterise_box_mask(_box(1.0, 0.0, 4.0, 2.0, 0.0), X_BOUND, Y_BOUND)
    assert mask.shape == (6, 8)  # (Y, X)
    expected = torch.zeros(6, 8, dtype=torch.bool)
    expected[2:4, 3:7] = True  # y centres -0.5, 0.5; x centres -0.5 .. 2.5
    assert torch.equal(mask, expected)


def test_rotated_box_follows_its_heading():
    long_x = rasterise_box_mask(_box(0.0, 0.5, 5.0, 0.6, 0.0), X_BOUND, Y_BOUND)
    long_y = rasterise_box_mask(_box(0.5, 0.0, 5.0, 0.6, math.pi / 2), X_BOUND, Y_BOUND)
    # heading along +x: a row; rotated by 90 degrees: a column (x along the last axis, y along the first)
    assert long_x.sum() == 6 and long_x[3, 1:7].all()  # x centres -2.5 .. 2.5 in row y = 0.5
    assert long_y.sum() == 6 and long_y[:, 4].all()  # y centres -2.5 .. 2.5 in column x = 0.5
    diag = rasterise_box_mask(_box(0.0, 0.0, 6.0, 0.8, math.pi / 4), X_BOUND, Y_BOUND)
    cells = diag.nonzero().tolist()  # (iy, ix): a diagonal, y growing with x
    assert [2, 3] in cells and [3, 4] in cells and [4, 5] in cells and [2, 4] not in cells


def test_small_and_outside_boxes():
    small = rasterise_box_mask(_box(1.2, -0.3, 0.3, 0.3, 0.3), X_BOUND, Y_BOUND)
    assert small.sum() == 1 and small[2, 5]  # no cell centre inside: the centre cell is kept
    assert rasterise_box_mask(_box(20.0, 0.0, 2.0, 2.0, 0.0), X_BOUND, Y_BOUND).sum() == 0
    assert rasterise_box_mask(torch.zeros(0, 7), X_BOUND, Y_BOUND).sum() == 0


def test_loss_known_values():
    logits = torch.tensor([[[2.0, -1.0], [0.0, 3.0]]])
    target = torch.tensor([[[True, False], [True, False]]])
    bce, dice = frpn_mask_loss(logits, target, pos_weight=2.13)
    t = target.float()
    manual = -(2.13 * t * F.logsigmoid(logits) + (1 - t) * F.logsigmoid(-logits)).mean()
    torch.testing.assert_close(bce, manual)
    p = logits.sigmoid()
    torch.testing.assert_close(dice, 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1))
    perfect = dice_loss(torch.where(target, 20.0, -20.0), target)
    assert perfect < 1e-6


def test_head_shapes_threshold_and_training_signal():
    torch.manual_seed(0)
    head = ForegroundRegionProposalNet(in_channels=8, threshold=0.4)
    bev = torch.randn(2, 8, 6, 8)
    gt = torch.zeros(2, 6, 8, dtype=torch.bool)
    gt[:, 1:3, 2:5] = True
    optim = torch.optim.Adam(head.parameters(), lr=0.05)
    first = None
    for _ in range(30):
        losses = head.loss(head(bev), gt)
        total = sum(losses.values())
        first = first if first is not None else float(total)
        optim.zero_grad()
        total.backward()
        optim.step()
    assert set(losses) == {'loss_frpn_bce', 'loss_frpn_dice'} and float(total) < 0.5 * first
    logits = head(bev)
    assert logits.shape == (2, 6, 8)
    fresh = ForegroundRegionProposalNet(in_channels=8, prior_prob=0.1)
    fresh.init_weights()
    torch.testing.assert_close(fresh.mask_net[-1].bias.sigmoid(), torch.tensor([0.1]))
    assert torch.equal(head.foreground(logits), logits.sigmoid() > 0.4)


def test_mask_iou_metric():
    metric = FRPNMaskIoUMetric()
    a = torch.zeros(4, 4, dtype=torch.bool)
    a[:2] = True  # 8 cells
    b = torch.zeros(4, 4, dtype=torch.bool)
    b[1:3] = True  # 8 cells, 4 shared
    metric.process({}, [dict(pred_bev_mask=a, gt_bev_mask=b), dict(pred_bev_mask=a, gt_bev_mask=a)])
    out = metric.compute_metrics(metric.results)
    assert abs(out['mask_iou'] - (4 + 8) / (12 + 8)) < 1e-9
    assert abs(out['mask_iou_per_sample'] - (4 / 12 + 1) / 2) < 1e-9
