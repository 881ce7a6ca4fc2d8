"""Self-supervised photometric losses (Monodepth2): SSIM, photometric error, min reprojection, automask."""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ['automask_min_reprojection', 'min_reprojection', 'photometric_error', 'ssim']


def ssim(x: torch.Tensor, y: torch.Tensor, c1: float = 0.01 ** 2, c2: float = 0.03 ** 2) -> torch.Tensor:
    """Per-pixel structural similarity on 3x3 windows (Monodepth2 ``SSIM``, reflection padded).

    ``SSIM = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))`` with means and
    (biased) variances from a 3x3 average pool.

    Args:
        x: (B, C, H, W) image in [0, 1].
        y: (B, C, H, W) image in [0, 1].
        c1: Stabiliser ``(0.01 L)^2`` with dynamic range ``L = 1``.
        c2: Stabiliser ``(0.03 L)^2``.

    Returns:
        (B, C, H, W) SSIM index in [-1, 1] (1 = identical windows).
    """
    x = F.pad(x, (1, 1, 1, 1), mode='reflect')
    y = F.pad(y, (1, 1, 1, 1), mode='reflect')
    mu_x, mu_y = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
    sigma_x = F.avg_pool2d(x * x, 3, 1) - mu_x ** 2
    sigma_y = F.avg_pool2d(y * y, 3, 1) - mu_y ** 2
    sigma_xy = F.avg_pool2d(x * y, 3, 1) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)
    den = (mu_x ** 2 + mu_y ** 2 + c1) * (sigma_x + sigma_y + c2)
    return num / den


def photometric_error(pred: torch.Tensor, target: torch.Tensor, alpha: float = 0.85) -> torch.Tensor:
    """Reprojection error ``pe = alpha/2 (1 - SSIM) + (1 - alpha) |pred - target|``, averaged over channels.

    As Monodepth2, the SSIM term ``(1 - SSIM) / 2`` is clamped to [0, 1].

    Args:
        pred: (B, C, H, W) reconstructed image.
        target: (B, C, H, W) target image.
        alpha: SSIM weight (0.85).

    Returns:
        (B, 1, H, W) per-pixel error.
    """
    l1 = (target - pred).abs().mean(1, keepdim=True)
    if alpha == 0:
        return l1
    dssim = ((1 - ssim(pred, target)) / 2).clamp(0, 1).mean(1, keepdim=True)
    return alpha * dssim + (1 - alpha) * l1


def min_reprojection(reprojection_errors: torch.Tensor) -> torch.Tensor:
    """Per-pixel minimum over source frames: ``L_p = min_s pe(I_t, I_{s->t})`` (handles occlusions).

    Args:
        reprojection_errors: (B, S, H, W) one error map per source frame.

    Returns:
        (B, 1, H, W) per-pixel minimum.
    """
    return reprojection_errors.min(dim=1, keepdim=True).values


def automask_min_reprojection(reprojection_errors: torch.Tensor, identity_errors: torch.Tensor,
                              noise_std: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimum reprojection with Monodepth2 auto-masking of stationary pixels.

    The identity errors ``pe(I_t, I_s)`` (unwarped sources), plus Gaussian noise of std ``noise_std`` to break
    ties, join the warped errors; the per-pixel minimum over all ``2S`` maps is taken and a pixel counts only
    when a warped source wins: ``mu = [min_s pe(I_t, I_{s->t}) < min_s pe(I_t, I_s)]``.

    Args:
        reprojection_errors: (B, S, H, W) errors of the warped sources.
        identity_errors: (B, S, H, W) errors of the unwarped sources.
        noise_std: Tie-breaking noise added to the identity errors (0 disables it).

    Returns:
        ``(loss_map, mask)``: (B, 1, H, W) per-pixel minimum over all maps (what Monodepth2 averages) and the
        (B, 1, H, W) float mask, 1 where a warped source gives the minimum.
    """
    if noise_std > 0:
        identity_errors = identity_errors + torch.randn_like(identity_errors) * noise_std
    combined = torch.cat([identity_errors, reprojection_errors], dim=1)  # (B, 2S, H, W)
    loss_map, idx = combined.min(dim=1, keepdim=True)
    mask = (idx >= identity_errors.shape[1]).to(loss_map.dtype)
    return loss_map, mask
