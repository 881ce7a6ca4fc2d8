"""Camera geometry of the LSS view transformer and of the transforms: project/lift round trips."""
from __future__ import annotations

import math

import numpy as np
import torch

from projects.BEVDet.bevdet.transforms import image_aug_matrix
from projects.BEVDet.bevdet.view_transformer import create_frustum, depth_targets_to_bins, frustum_to_bev


def _camera():
    cam2img = torch.tensor([[300.0, 0, 200], [0, 300, 110], [0, 0, 1]])
    yaw = 0.7
    base = torch.tensor([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])
    rz = torch.tensor([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
    cam2ego = torch.eye(4)
    cam2ego[:3, :3] = rz @ base
    cam2ego[:3, 3] = torch.tensor([1.2, 0.3, 1.6])
    return cam2img, cam2ego


def test_frustum_to_bev_inverts_projection_through_augmentation():
    """Project an ego point into the augmented image, lift that pixel at the point's depth: same point."""
    cam2img, cam2ego = _camera()
    aug = torch.from_numpy(image_aug_matrix(0.44, (10, 60), True, 4.0, (128, 352))).float()
    post_rot = torch.eye(3)
    post_rot[:2, :2] = aug[:2, :2]
    post_tran = torch.tensor([aug[0, 2], aug[1, 2], 0.0])
    angle = 0.3
    bda = torch.tensor([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]])
    bda = torch.diag(torch.tensor([1.0, -1.0, 1.0])) @ (1.05 * bda)
    p_ego = torch.tensor([12.0, 7.0, 0.5])
    p_cam = torch.inverse(cam2ego)[:3, :3] @ p_ego + torch.inverse(cam2ego)[:3, 3]
    uvd = cam2img @ p_cam
    uv = uvd[:2] / uvd[2]
    uv_aug = post_rot[:2, :2] @ uv + post_tran[:2]
    frustum = torch.tensor([[uv_aug[0], uv_aug[1], p_cam[2]]]).view(1, 1, 1, 3)
    pts = frustum_to_bev(frustum, cam2img.view(1, 1, 3, 3), cam2ego.view(1, 1, 4, 4), post_rot.view(1, 1, 3, 3),
                         post_tran.view(1, 1, 3), bda.view(1, 3, 3))
    torch.testing.assert_close(pts.view(3), bda @ p_ego, atol=1e-3, rtol=1e-4)


def test_frustum_cell_centres():
    f = create_frustum((2, 3), (1.0, 4.0, 1.0), 16)
    assert f.shape == (3, 2, 3, 3)
    assert f[0, 0, 0].tolist() == [7.5, 7.5, 1.0]
    assert f[2, 1, 2].tolist() == [39.5, 23.5, 3.0]


def test_image_aug_matrix_moves_pixels_like_warp_affine():
    import cv2
    img = np.zeros((90, 160), np.uint8)
    img[30, 100] = 255
    m = image_aug_matrix(0.8, (5, 20), True, 6.0, (48, 112))
    out = cv2.warpAffine(img.astype(np.float32), m[:2], (112, 48))
    v, u = np.unravel_index(out.argmax(), out.shape)
    expected = m @ np.array([100.0, 30.0, 1.0])
    assert abs(u - expected[0]) <= 1 and abs(v - expected[1]) <= 1


def test_depth_targets_take_nearest_return_per_cell():
    gt = torch.zeros(1, 4, 8)
    gt[0, 0, 0] = 5.2
    gt[0, 1, 1] = 3.7  # same 2x2 cell, nearer
    gt[0, 2, 6] = 70.0  # out of range
    bins = depth_targets_to_bins(gt, 2, (1.0, 60.0, 1.0), (2, 4))
    assert bins.shape == (1, 2, 4, 59)
    assert bins[0, 0, 0].argmax() == 2 and bins[0, 0, 0].sum() == 1  # 3.7 m -> bin 2
    assert bins.sum() == 1
