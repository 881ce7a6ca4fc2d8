"""Depth nets of the LSS view transformer: shapes, and the camera descriptor reaching the camera-aware net."""
from __future__ import annotations

import torch
from mmdet3d.registry import MODELS

import projects.BEVDet.bevdet  # noqa: F401  (registration)


def test_camera_aware_depth_net_depends_on_camera_params():
    torch.manual_seed(0)
    net = MODELS.build(dict(type='BEVDepthCameraAwareDepthNet', in_channels=16, mid_channels=8, depth_channels=59,
                            context_channels=4)).eval()
    feats = [torch.randn(3, 16, 5, 11)]
    cams = torch.randn(3, 27)
    depth, context = net(feats, cams)
    assert depth.shape == (3, 59, 5, 11) and context.shape == (3, 4, 5, 11)
    depth2, _ = net(feats, cams + 1.0)
    assert not torch.allclose(depth, depth2)


def test_bevdet_depth_net_splits_depth_and_context():
    net = MODELS.build(dict(type='BEVDetDepthNet', in_channels=16, depth_channels=59, context_channels=4))
    depth, context = net([torch.randn(2, 16, 4, 6)], torch.zeros(2, 27))
    assert depth.shape == (2, 59, 4, 6) and context.shape == (2, 4, 4, 6)
