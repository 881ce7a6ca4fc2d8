import pytest
import torch

from hybrid_depth.losses.ranking import distance_weighted_repulsion, rank_loss
from hybrid_depth.losses.smoothness import edge_aware_smoothness


def test_rank_loss_known_value():
    # s[i, j]: point i on prompt j. Pairs (i<j): (0,1), (0,2), (1,2).
    s = torch.tensor([[[0.0, 5.0, 1.0],
                       [0.0, 2.0, 4.0],
                       [0.0, 0.0, 3.0]]])
    # prompt 1: s[1,1]=2 vs s[0,1]=5 -> 3 ; prompt 2: s[2,2]=3 vs s[0,2]=1 -> 0, vs s[1,2]=4 -> 1
    assert rank_loss(s).item() == pytest.approx(4.0 / 3.0)
    assert rank_loss(s, margin=1.0).item() == pytest.approx((4 + 0 + 2) / 3.0)
    valid = torch.tensor([[True, True, False]])
    assert rank_loss(s, valid).item() == pytest.approx(3.0)


def test_rank_loss_zero_when_ordered():
    s = torch.eye(7)[None] * 10
    assert rank_loss(s).item() == 0.0


def test_repulsion_known_value():
    f = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]])
    c = 2 ** -0.5
    # ordered pairs i != j: (0,1),(1,2) weight 1/2 cos c; (0,2) weight 1 cos 0; 6 pairs
    expected = 2 * (0.5 * c + 0.5 * c + 1.0 * 0.0) / 6
    assert distance_weighted_repulsion(f).item() == pytest.approx(expected)
    valid = torch.tensor([[1.0, 1.0, 0.0]])
    assert distance_weighted_repulsion(f, valid).item() == pytest.approx(0.5 * c)


def test_repulsion_gradient_pushes_apart():
    f = torch.tensor([[[1.0, 0.1], [1.0, 0.2], [1.0, 0.3]]], requires_grad=True)
    loss = distance_weighted_repulsion(f)
    loss.backward()
    f2 = (f - 0.5 * f.grad).detach()
    assert distance_weighted_repulsion(f2) < loss


def test_smoothness_known_value():
    disp = torch.tensor([[[[1.0, 3.0], [1.0, 3.0]]]])  # mean 2 -> normalised [[0.5, 1.5], ...]
    img = torch.zeros(1, 3, 2, 2)
    img[:, :, :, 1] = 1.0  # colour edge along x, none along y
    # x: |0.5 - 1.5| * exp(-1) for both rows, mean = exp(-1); y: 0
    assert edge_aware_smoothness(disp, img).item() == pytest.approx(float(torch.exp(torch.tensor(-1.0))))
    assert edge_aware_smoothness(disp, img, normalize=False).item() == pytest.approx(
        2 * float(torch.exp(torch.tensor(-1.0))))
    assert edge_aware_smoothness(torch.ones(1, 1, 4, 4), torch.rand(1, 3, 4, 4)).item() == 0.0


def test_official_rank_reduction_sums_pairs_and_lanes_per_image():
    """Official: MarginRankingLoss(margin=0) summed over the 21 pairs and the lanes, divided by the images."""
    torch.manual_seed(0)
    logits = torch.randn(4, 7, 7)  # 4 lanes of 2 images
    margin = torch.nn.MarginRankingLoss(margin=0.0)
    one = torch.ones(1)
    total = sum(margin(lg[j, j][None], lg[i, j][None], one) for lg in logits for i in range(7) for j in range(i + 1, 7))
    assert rank_loss(logits, reduction='official', num_images=2).item() == pytest.approx(total.item() / 2, rel=1e-6)
    assert rank_loss(logits, reduction='mean').item() == pytest.approx(total.item() / (4 * 21), rel=1e-6)
    with pytest.raises(ValueError, match='reduction'):
        rank_loss(logits, reduction='sum')


def test_official_repulsion_reduction_divides_by_p_squared_per_lane():
    torch.manual_seed(0)
    f = torch.randn(3, 7, 5)
    fn = torch.nn.functional.normalize(f, dim=-1)
    w = (torch.arange(7)[:, None] - torch.arange(7)[None]).abs().float() / 6
    per_lane = [(w * (x @ x.T)).sum() / 49 for x in fn]
    expected = sum(per_lane) / 3
    assert distance_weighted_repulsion(f, reduction='official').item() == pytest.approx(expected.item(), rel=1e-5)
    valid = torch.ones(3, 7, dtype=torch.bool)
    valid[2] = False  # a padded lane does not count
    got = distance_weighted_repulsion(f, valid, reduction='official').item()
    assert got == pytest.approx(((per_lane[0] + per_lane[1]) / 2).item(), rel=1e-5)
    assert distance_weighted_repulsion(f, reduction='mean').item() == pytest.approx(expected.item() * 49 / 42, rel=1e-5)
