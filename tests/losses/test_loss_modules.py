import pytest
import torch
from mmdet3d.registry import MODELS

from hybrid_depth.losses import (
    DepthRankLoss,
    DistanceWeightedRepulsionLoss,
    EdgeAwareSmoothnessLoss,
    MinReprojectionLoss,
    edge_aware_smoothness,
    photometric_error,
)


def test_min_reprojection_module_known_values():
    target = torch.full((1, 3, 4, 4), 0.5)
    good, bad = target.clone(), torch.full_like(target, 0.9)
    loss_fn = MinReprojectionLoss(use_automask=False, ssim_weight=0.0)
    loss, mask = loss_fn(target, [bad, good])
    assert loss.item() == pytest.approx(0.0) and mask is None
    loss, _ = MinReprojectionLoss(use_automask=False, ssim_weight=0.0, loss_weight=2.0)(target, [bad])
    assert loss.item() == pytest.approx(2 * 0.4)
    per_pixel, _ = MinReprojectionLoss(use_automask=False, reduction='none')(target, [bad])
    assert per_pixel.shape == (1, 1, 4, 4)
    assert torch.allclose(per_pixel, photometric_error(bad, target))


def test_min_reprojection_module_automask():
    torch.manual_seed(0)
    target = torch.rand(1, 3, 6, 6)
    static_source = target.clone()  # identical source: every pixel is explained without motion
    warped = torch.rand(1, 3, 6, 6)
    loss, mask = MinReprojectionLoss(automask_noise_std=0.0)(target, [warped], [static_source])
    assert mask.sum() == 0 and loss.item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match='sources'):
        MinReprojectionLoss()(target, [warped])
    with pytest.raises(ValueError):
        MinReprojectionLoss(reduction='avg')


def test_thin_modules_match_functions_and_build_from_registry():
    disp, img = torch.rand(2, 1, 5, 5), torch.rand(2, 3, 5, 5)
    smooth = MODELS.build({'type': 'EdgeAwareSmoothnessLoss'})
    assert isinstance(smooth, EdgeAwareSmoothnessLoss)
    assert smooth(disp, img).item() == pytest.approx(1e-3 * edge_aware_smoothness(disp, img).item())
    logits = torch.tensor([[[0.0, 5.0], [0.0, 2.0]]])
    assert DepthRankLoss(loss_weight=0.5)(logits).item() == pytest.approx(0.5 * 3.0)
    feats = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    # official: sum over the P^2 = 4 ordered pairs (2 off-diagonal, weight 1, cos 1) / 4; option 'mean': / 2
    assert DistanceWeightedRepulsionLoss()(feats).item() == pytest.approx(0.5)
    assert DistanceWeightedRepulsionLoss(reduction='mean')(feats).item() == pytest.approx(1.0)
    assert DepthRankLoss(reduction='official')(logits.expand(3, 2, 2), num_images=2).item() == pytest.approx(4.5)
    with pytest.raises(ValueError, match='reduction'):
        DepthRankLoss(reduction='sum')
    for name in ('MinReprojectionLoss', 'DepthRankLoss', 'DistanceWeightedRepulsionLoss'):
        assert MODELS.get(name) is not None
