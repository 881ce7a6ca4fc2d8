import math

import pytest
import torch

from hybrid_depth.geometry import (
    axis_angle_to_matrix,
    backproject,
    depth_to_disp,
    disp_to_depth,
    matrix_to_axis_angle,
    matrix_to_pose_vec,
    pixel_grid,
    pose_vec_to_matrix,
    project,
    scale_intrinsics,
    transform_points,
    transformation_from_parameters,
    view_synthesis,
)


def _intrinsics(b: int, h: int, w: int) -> torch.Tensor:
    k = torch.tensor([[0.58 * w, 0, 0.5 * w], [0, 1.92 * h, 0.5 * h], [0, 0, 1.0]], dtype=torch.float64)
    return k.expand(b, 3, 3).clone()


def test_disp_to_depth_bounds_and_inverse():
    disp = torch.tensor([0.0, 1.0, 0.3], dtype=torch.float64).reshape(1, 1, 1, 3)
    scaled, depth = disp_to_depth(disp, 0.1, 100.0)
    assert depth[0, 0, 0, 0].item() == pytest.approx(100.0)
    assert depth[0, 0, 0, 1].item() == pytest.approx(0.1)
    assert torch.allclose(scaled * depth, torch.ones_like(depth))
    assert torch.allclose(depth_to_disp(depth, 0.1, 100.0), disp)


def test_pixel_grid_order():
    grid = pixel_grid(2, 3, torch.zeros(1))
    assert grid.shape == (3, 6)
    assert grid[:, 4].tolist() == [1.0, 1.0, 1.0]  # row 1, col 1
    assert grid[:, 2].tolist() == [2.0, 0.0, 1.0]


def test_backproject_then_project_is_identity():
    torch.manual_seed(0)
    b, h, w = 2, 5, 7
    depth = torch.rand(b, 1, h, w, dtype=torch.float64) * 50 + 1
    k = _intrinsics(b, h, w)
    points = backproject(depth, k)
    assert torch.allclose(points[:, 2], depth.reshape(b, -1))
    pixels, z = project(points, k, eps=0.0)
    assert torch.allclose(pixels, pixel_grid(h, w, depth)[:2].expand(b, 2, h * w))
    assert torch.allclose(z[:, 0], depth.reshape(b, -1))


def test_transform_points_translation():
    pts = torch.zeros(1, 3, 1)
    t = pose_vec_to_matrix(torch.tensor([[0.0, 0.0, 0.0, 1.0, 2.0, 3.0]]))
    assert transform_points(pts, t)[0, :, 0].tolist() == [1.0, 2.0, 3.0]


def test_axis_angle_known_rotation():
    r = axis_angle_to_matrix(torch.tensor([[0.0, 0.0, math.pi / 2]], dtype=torch.float64))
    x = r[0, :3, :3] @ torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    assert torch.allclose(x, torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), atol=1e-7)


def test_pose_vector_matrix_round_trip():
    torch.manual_seed(0)
    vec = torch.randn(16, 6, dtype=torch.float64)
    angles = torch.rand(16, 1, dtype=torch.float64) * 3  # < pi
    vec[:, :3] = vec[:, :3] / vec[:, :3].norm(dim=1, keepdim=True) * angles
    mat = pose_vec_to_matrix(vec)
    rot = mat[:, :3, :3]
    assert torch.allclose(rot @ rot.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(16, 3, 3))
    assert torch.allclose(torch.linalg.det(rot), torch.ones(16, dtype=torch.float64))
    assert torch.allclose(matrix_to_pose_vec(mat), vec, atol=1e-6)
    tiny = torch.tensor([[1e-9, 0.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(matrix_to_axis_angle(axis_angle_to_matrix(tiny)), tiny, atol=1e-12)


def test_transformation_invert_is_inverse():
    torch.manual_seed(1)
    aa, t = torch.randn(4, 3, dtype=torch.float64) * 0.3, torch.randn(4, 3, dtype=torch.float64)
    fwd = transformation_from_parameters(aa, t)
    inv = transformation_from_parameters(aa, t, invert=True)
    assert torch.allclose(fwd @ inv, torch.eye(4, dtype=torch.float64).expand(4, 4, 4), atol=1e-10)


def test_scale_intrinsics():
    k = _intrinsics(1, 8, 16)
    k2 = scale_intrinsics(k, 0.5, 0.25)
    assert k2[0, 0, 0] == k[0, 0, 0] * 0.5 and k2[0, 0, 2] == k[0, 0, 2] * 0.5
    assert k2[0, 1, 1] == k[0, 1, 1] * 0.25 and k2[0, 2, 2] == 1


def test_view_synthesis_identity_pose_reproduces_image():
    torch.manual_seed(0)
    b, h, w = 2, 6, 9
    img = torch.rand(b, 3, h, w, dtype=torch.float64)
    depth = torch.rand(b, 1, h, w, dtype=torch.float64) * 20 + 1
    eye = torch.eye(4, dtype=torch.float64).expand(b, 4, 4)
    warped, grid = view_synthesis(img, depth, _intrinsics(b, h, w), eye)
    assert grid.shape == (b, h, w, 2)
    assert torch.allclose(warped, img, atol=1e-6)


def test_view_synthesis_lateral_shift_moves_pixels():
    # fronto-parallel plane at depth d, camera moved by t along x: disparity fx * t / d pixels exactly.
    b, h, w = 1, 4, 10
    img = torch.arange(w, dtype=torch.float64).expand(b, 3, h, w).clone()
    k = torch.tensor([[[2.0, 0, 4.5], [0, 2.0, 1.5], [0, 0, 1]]], dtype=torch.float64)
    depth = torch.full((b, 1, h, w), 4.0, dtype=torch.float64)
    t_src_tgt = pose_vec_to_matrix(torch.tensor([[0.0, 0, 0, 2.0, 0, 0]], dtype=torch.float64))
    warped, _ = view_synthesis(img, depth, k, t_src_tgt)
    # u_src = u + fx * tx / d = u + 1 -> value u + 1 (border-clamped at the right edge)
    assert torch.allclose(warped[0, 0, 0], torch.clamp(torch.arange(w, dtype=torch.float64) + 1, max=w - 1))


def test_axis_angle_gradient_finite_at_zero():
    r = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    axis_angle_to_matrix(r).sum().backward()
    assert torch.isfinite(r.grad).all()
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (torch.randn(3, 3, dtype=torch.float64,
                                                                        requires_grad=True),))
