"""Pinhole camera: pixel grid, lift (backproject), rigid transform and project.

Lift and project are separate composable steps (Monodepth2's ``BackprojectDepth`` / ``Project3D``, written as
functions whose sizes come from the inputs): ``backproject -> transform_points -> project``.
Intrinsics are (B, 3, 3) ``cam2img`` matrices in pixels of the image they are used with.
"""
from __future__ import annotations

import torch

__all__ = ['backproject', 'pixel_grid', 'project', 'scale_intrinsics', 'transform_points']


def pixel_grid(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """Homogeneous pixel coordinates ``(u, v, 1)`` of every pixel centre, row-major.

    Pixel ``(u, v)`` is column ``u`` and row ``v`` (integer coordinates, Monodepth2 convention).

    Args:
        height: Image height H.
        width: Image width W.
        like: Any tensor; the grid takes its dtype and device.

    Returns:
        (3, H*W) homogeneous pixel coordinates.
    """
    v, u = torch.meshgrid(torch.arange(height, dtype=like.dtype, device=like.device),
                          torch.arange(width, dtype=like.dtype, device=like.device), indexing='ij')
    ones = torch.ones_like(u)
    return torch.stack([u, v, ones], dim=0).reshape(3, -1)  # (3, HW)


def backproject(depth: torch.Tensor, cam2img: torch.Tensor) -> torch.Tensor:
    """Lift every pixel to a 3-D point in the camera frame: ``X = depth * K^-1 [u, v, 1]^T``.

    Args:
        depth: (B, 1, H, W) depth along the optical axis (z), in metres.
        cam2img: (B, 3, 3) intrinsics K.

    Returns:
        (B, 3, H*W) points in the camera frame.
    """
    b, _, h, w = depth.shape
    pix = pixel_grid(h, w, depth)  # (3, HW)
    rays = torch.linalg.inv(cam2img) @ pix  # (B, 3, HW)
    return rays * depth.reshape(b, 1, h * w)


def transform_points(points: torch.Tensor, T_dst_src: torch.Tensor) -> torch.Tensor:
    """Apply a rigid transform: ``X_dst = R X_src + t``.

    Args:
        points: (B, 3, N) points in the source frame.
        T_dst_src: (B, 4, 4) homogeneous transform from source to destination frame.

    Returns:
        (B, 3, N) points in the destination frame.
    """
    return T_dst_src[:, :3, :3] @ points + T_dst_src[:, :3, 3:]


def project(points: torch.Tensor, cam2img: torch.Tensor,
            eps: float = 1e-7) -> tuple[torch.Tensor, torch.Tensor]:
    """Project camera-frame points to pixels: ``[u, v] = (K X)[:2] / (K X)[2]``.

    Args:
        points: (B, 3, N) points in the camera frame.
        cam2img: (B, 3, 3) intrinsics K.
        eps: Added to z before the division (as Monodepth2) to avoid division by zero.

    Returns:
        ``(pixels, z)``: (B, 2, N) pixel coordinates ``(u, v)`` and (B, 1, N) depth of each point.
    """
    cam = cam2img @ points  # (B, 3, N)
    z = cam[:, 2:3]
    return cam[:, :2] / (z + eps), z


def scale_intrinsics(cam2img: torch.Tensor, scale_x: float, scale_y: float) -> torch.Tensor:
    """Rescale intrinsics for an image resized by ``(scale_x, scale_y)``: rows 0 and 1 of K are scaled.

    Uses the Monodepth2 convention (``fx, cx`` times ``scale_x``; ``fy, cy`` times ``scale_y``), e.g. for a
    pyramid level ``s`` pass ``scale = 1 / 2**s``.

    Args:
        cam2img: (..., 3, 3) intrinsics.
        scale_x: New width / old width.
        scale_y: New height / old height.

    Returns:
        (..., 3, 3) rescaled intrinsics (a new tensor).
    """
    scale = cam2img.new_tensor([scale_x, scale_y, 1.0]).reshape(3, 1)
    return cam2img * scale
