import numpy as np
import pytest

from hybrid_depth.evaluation import (
    aggregate_depth_metrics,
    compute_depth_errors,
    eigen_depth_metrics,
    garg_crop_mask,
)


def test_compute_depth_errors_hand_values():
    gt = np.array([2.0, 4.0, 10.0])
    pred = np.array([1.0, 5.0, 10.0])
    m = compute_depth_errors(gt, pred)
    assert m['abs_rel'] == pytest.approx((0.5 + 0.25 + 0) / 3)
    assert m['sq_rel'] == pytest.approx((1 / 2 + 1 / 4 + 0) / 3)
    assert m['rmse'] == pytest.approx(np.sqrt(2 / 3))
    assert m['rmse_log'] == pytest.approx(np.sqrt((np.log(2) ** 2 + np.log(0.8) ** 2) / 3))
    # ratios: 2, 1.25, 1 -> a1 counts only 1 (1.25 is not < 1.25); a2 (1.5625) counts 2; a3 (1.953) counts 2
    assert m['a1'] == pytest.approx(1 / 3)
    assert m['a2'] == pytest.approx(2 / 3)
    assert m['a3'] == pytest.approx(2 / 3)


def test_perfect_prediction():
    rng = np.random.default_rng(0)
    gt = rng.uniform(1, 70, size=(30, 40))
    m, ratio = eigen_depth_metrics(gt.copy(), gt)
    assert m['abs_rel'] == 0 and m['rmse'] == 0 and m['a1'] == 1 and ratio == pytest.approx(1.0)
    m, ratio = eigen_depth_metrics(gt * 0.1, gt)  # scale-free: median scaling recovers it
    assert m['abs_rel'] == pytest.approx(0, abs=1e-12) and m['a1'] == 1 and ratio == pytest.approx(10.0)


def test_garg_crop_bounds():
    mask = garg_crop_mask(375, 1242)
    rows, cols = np.where(mask)
    assert (rows.min(), rows.max() + 1) == (153, 371)
    assert (cols.min(), cols.max() + 1) == (44, 1197)


def test_eigen_protocol_valid_range_crop_and_cap():
    gt = np.zeros((10, 10))
    gt[5, 5] = 10.0
    gt[6, 5] = 90.0   # beyond the 80 m cap: ignored
    gt[0, 0] = 10.0   # outside the Garg crop (row 0): ignored
    pred = np.full((10, 10), 1000.0)
    pred[5, 5] = 20.0
    m, ratio = eigen_depth_metrics(pred, gt, median_scaling=False)
    assert m['abs_rel'] == pytest.approx(1.0) and ratio == 1.0
    m_nocrop, _ = eigen_depth_metrics(pred, gt, use_garg_crop=False, median_scaling=False)
    # (0, 0) has pred 1000 -> clamped to 80: |10 - 80| / 10 = 7
    assert m_nocrop['abs_rel'] == pytest.approx((1.0 + 7.0) / 2)
    with pytest.raises(ValueError):
        eigen_depth_metrics(pred[:5], gt)


def test_aggregate_is_per_image_mean():
    a = {'abs_rel': 0.1, 'sq_rel': 1, 'rmse': 2, 'rmse_log': 0.2, 'a1': 0.8, 'a2': 0.9, 'a3': 1.0}
    b = {'abs_rel': 0.3, 'sq_rel': 3, 'rmse': 4, 'rmse_log': 0.4, 'a1': 0.6, 'a2': 0.7, 'a3': 0.8}
    out = aggregate_depth_metrics([a, b])
    assert out['abs_rel'] == pytest.approx(0.2) and out['a1'] == pytest.approx(0.7)
