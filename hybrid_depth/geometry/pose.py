"""Pose parameterisation: axis-angle + translation <-> 4x4 rigid transforms."""
from __future__ import annotations

import torch

__all__ = ['axis_angle_to_matrix', 'matrix_to_axis_angle', 'matrix_to_pose_vec', 'pose_vec_to_matrix',
           'transformation_from_parameters', 'translation_matrix']


def axis_angle_to_matrix(axis_angle: torch.Tensor, small_angle: float = 1e-4) -> torch.Tensor:
    """Rodrigues' formula: ``R = I + sin(a)/a [r]x + (1 - cos(a))/a^2 [r]x^2`` with ``a = |r|``.

    Written with ``[r]x`` instead of the unit axis (Monodepth2 divides by ``a + 1e-7``, which biases small
    rotations); below ``small_angle`` the two factors use their Taylor series ``1 - a^2/6`` and
    ``1/2 - a^2/24``, so the result and its gradient are exact and finite at ``r = 0``.

    Args:
        axis_angle: (B, 3) rotation vectors (radians).
        small_angle: Angle below which the Taylor series are used.

    Returns:
        (B, 4, 4) homogeneous rotation matrices.
    """
    angle = axis_angle.norm(dim=-1)[:, None, None]  # (B, 1, 1)
    small = angle < small_angle
    safe = torch.where(small, torch.ones_like(angle), angle)
    sin_term = torch.where(small, 1 - angle ** 2 / 6, safe.sin() / safe)
    cos_term = torch.where(small, 0.5 - angle ** 2 / 24, (1 - safe.cos()) / safe ** 2)
    rx, ry, rz = axis_angle.unbind(-1)
    zero = torch.zeros_like(rx)
    skew = torch.stack([zero, -rz, ry, rz, zero, -rx, -ry, rx, zero], -1).reshape(-1, 3, 3)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand_as(skew)
    rot = eye + sin_term * skew + cos_term * (skew @ skew)
    bottom = axis_angle.new_tensor([0.0, 0.0, 0.0, 1.0]).expand(axis_angle.shape[0], 1, 4)
    return torch.cat([torch.cat([rot, torch.zeros_like(rot[:, :, :1])], dim=2), bottom], dim=1)


def matrix_to_axis_angle(matrix: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Inverse of Rodrigues: ``a = acos((tr R - 1) / 2)``, ``k = vee(R - R^T) / (2 sin a)``.

    Valid for angles in [0, pi) (relative poses between video frames are far from pi).

    Args:
        matrix: (B, 3, 3) or (B, 4, 4) rotation (the top-left 3x3 block is used).
        eps: Guards the division for tiny angles, where ``vee(R - R^T) / 2`` is returned.

    Returns:
        (B, 3) rotation vectors.
    """
    rot = matrix[:, :3, :3]
    cos = ((rot.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1.0, 1.0)
    angle = torch.acos(cos)[:, None]  # (B, 1)
    vee = torch.stack([rot[:, 2, 1] - rot[:, 1, 2], rot[:, 0, 2] - rot[:, 2, 0],
                       rot[:, 1, 0] - rot[:, 0, 1]], -1)
    sin = angle.sin()
    factor = torch.where(sin.abs() > eps, angle / (2 * sin.clamp_min(eps)), torch.full_like(sin, 0.5))
    return vee * factor


def translation_matrix(translation: torch.Tensor) -> torch.Tensor:
    """Homogeneous translation ``[[I, t], [0, 1]]``.

    Args:
        translation: (B, 3) translation vectors.

    Returns:
        (B, 4, 4) transforms.
    """
    out = torch.eye(4, dtype=translation.dtype, device=translation.device).repeat(translation.shape[0], 1, 1)
    out[:, :3, 3] = translation
    return out


def transformation_from_parameters(axis_angle: torch.Tensor, translation: torch.Tensor,
                                   invert: bool = False) -> torch.Tensor:
    """PoseNet output -> 4x4 transform (Monodepth2): ``M = T(t) R(r)``, or ``R^T T(-t)`` if ``invert``.

    Note: the inverted form is Monodepth2's ``R^T T(-t)`` (translation negated before the inverse rotation),
    which is exactly ``(T(t) R)^-1``.

    Args:
        axis_angle: (B, 3) rotation vectors.
        translation: (B, 3) translations.
        invert: Return the inverse transform (used for source frames before the target, frame id < 0).

    Returns:
        (B, 4, 4) ``T_dst_src``.
    """
    rot = axis_angle_to_matrix(axis_angle)
    if invert:
        rot = rot.transpose(1, 2)
        return rot @ translation_matrix(-translation)
    return translation_matrix(translation) @ rot


def pose_vec_to_matrix(pose_vec: torch.Tensor) -> torch.Tensor:
    """6-DoF vector ``[r (axis-angle), t]`` -> ``[[R(r), t], [0, 1]]``.

    Args:
        pose_vec: (B, 6) axis-angle (first 3) and translation (last 3).

    Returns:
        (B, 4, 4) transforms.
    """
    return transformation_from_parameters(pose_vec[:, :3], pose_vec[:, 3:])


def matrix_to_pose_vec(matrix: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`pose_vec_to_matrix`.

    Args:
        matrix: (B, 4, 4) rigid transforms with rotation angle < pi.

    Returns:
        (B, 6) ``[axis-angle, translation]``.
    """
    return torch.cat([matrix_to_axis_angle(matrix), matrix[:, :3, 3]], dim=-1)
