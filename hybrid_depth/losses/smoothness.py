"""Edge-aware disparity smoothness (Monodepth2 ``get_smooth_loss``)."""
from __future__ import annotations

import torch

__all__ = ['edge_aware_smoothness']


def edge_aware_smoothness(disp: torch.Tensor, image: torch.Tensor, normalize: bool = True,
                          eps: float = 1e-7) -> torch.Tensor:
    """``L_s = mean(|dx d*| exp(-|dx I|)) + mean(|dy d*| exp(-|dy I|))`` with ``d* = d / mean(d)``.

    Image gradients are averaged over channels; ``mean(d)`` is per image (mean-normalised disparity
    discourages shrinking the disparity to reduce the loss).

    Args:
        disp: (B, 1, H, W) disparity.
        image: (B, C, H, W) colour image at the same resolution.
        normalize: Divide the disparity by its per-image mean first.
        eps: Added to the mean before dividing.

    Returns:
        Scalar loss.
    """
    if normalize:
        disp = disp / (disp.mean(dim=(2, 3), keepdim=True) + eps)
    grad_disp_x = (disp[:, :, :, :-1] - disp[:, :, :, 1:]).abs()
    grad_disp_y = (disp[:, :, :-1, :] - disp[:, :, 1:, :]).abs()
    grad_img_x = (image[:, :, :, :-1] - image[:, :, :, 1:]).abs().mean(1, keepdim=True)
    grad_img_y = (image[:, :, :-1, :] - image[:, :, 1:, :]).abs().mean(1, keepdim=True)
    return (grad_disp_x * torch.exp(-grad_img_x)).mean() + (grad_disp_y * torch.exp(-grad_img_y)).mean()
