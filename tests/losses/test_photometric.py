import numpy as np
import pytest
import torch

from hybrid_depth.losses.photometric import (
    automask_min_reprojection,
    min_reprojection,
    photometric_error,
    ssim,
)


def _ssim_reference(x: np.ndarray, y: np.ndarray, i: int, j: int) -> float:
    """Hand-computed SSIM of the 3x3 window centred at (i, j) of reflect-padded 2-D arrays."""
    xp, yp = np.pad(x, 1, mode='reflect'), np.pad(y, 1, mode='reflect')
    wx, wy = xp[i:i + 3, j:j + 3], yp[i:i + 3, j:j + 3]
    mx, my = wx.mean(), wy.mean()
    vx, vy = (wx ** 2).mean() - mx ** 2, (wy ** 2).mean() - my ** 2
    cxy = (wx * wy).mean() - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))


def test_ssim_identical_is_one():
    x = torch.rand(2, 3, 5, 6)
    assert torch.allclose(ssim(x, x), torch.ones_like(x), atol=1e-5)


def test_ssim_matches_hand_computation():
    rng = np.random.default_rng(0)
    x, y = rng.random((4, 5)), rng.random((4, 5))
    out = ssim(torch.from_numpy(x)[None, None], torch.from_numpy(y)[None, None])[0, 0].numpy()
    for i, j in [(0, 0), (1, 2), (3, 4), (2, 0)]:
        assert out[i, j] == pytest.approx(_ssim_reference(x, y, i, j), rel=1e-10)


def test_ssim_constant_images_known_value():
    # constant windows: only the luminance term remains, (2ab + C1) / (a^2 + b^2 + C1)
    a, b = 0.2, 0.6
    out = ssim(torch.full((1, 1, 3, 3), a, dtype=torch.float64),
               torch.full((1, 1, 3, 3), b, dtype=torch.float64))
    c1 = 0.01 ** 2
    assert torch.allclose(out, torch.full_like(out, (2 * a * b + c1) / (a * a + b * b + c1)))


def test_photometric_error_known_value():
    a, b = 0.2, 0.6
    x = torch.full((1, 3, 3, 3), a, dtype=torch.float64)
    y = torch.full((1, 3, 3, 3), b, dtype=torch.float64)
    c1 = 0.01 ** 2
    s = (2 * a * b + c1) / (a * a + b * b + c1)
    expected = 0.85 * (1 - s) / 2 + 0.15 * abs(a - b)
    out = photometric_error(x, y)
    assert out.shape == (1, 1, 3, 3)
    assert torch.allclose(out, torch.full_like(out, expected))
    assert torch.allclose(photometric_error(x, y, alpha=0.0), torch.full_like(out, 0.4))


def test_min_reprojection_and_automask_known_values():
    reproj = torch.tensor([[[[0.5, 0.1]], [[0.3, 0.4]]]])  # (1, 2, 1, 2)
    identity = torch.tensor([[[[0.2, 0.9]], [[0.8, 0.7]]]])
    assert min_reprojection(reproj).flatten().tolist() == pytest.approx([0.3, 0.1])
    loss_map, mask = automask_min_reprojection(reproj, identity, noise_std=0.0)
    # pixel 0: identity 0.2 beats warped 0.3 -> masked out; pixel 1: warped 0.1 wins
    assert loss_map.flatten().tolist() == pytest.approx([0.2, 0.1])
    assert mask.flatten().tolist() == [0.0, 1.0]
    _, mask_noisy = automask_min_reprojection(reproj, identity)
    assert mask_noisy.flatten().tolist() == [0.0, 1.0]
