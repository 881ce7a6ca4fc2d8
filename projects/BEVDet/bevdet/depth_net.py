"""Depth nets of the LSS view transformer: image levels -> depth-bin logits and context features.

Every depth net has the same call: ``forward(feats, cam_params, images) -> (depth_logits, context)`` with
``feats`` the image levels (B N, C_l, h, w) on one grid, ``cam_params`` (B N, 27) (see
``camera_params_vector``) and ``images`` the (B N, 3, H, W) network input; outputs (B N, D, h, w) and
(B N, C, h, w). ``depth_channels`` and ``context_channels`` are filled in by the view transformer.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmdet3d.registry import MODELS
from torch import nn

__all__ = ['BEVDetDepthNet', 'BEVDepthCameraAwareDepthNet']


@MODELS.register_module()
class BEVDetDepthNet(nn.Module):
    """BEVDet's depth net: one 1x1 conv from the neck feature to ``D + C`` channels.

    Args:
        in_channels: Channels of the input level.
        depth_channels: D (set by the view transformer).
        context_channels: C (set by the view transformer).
        in_index: Which input level is used.
    """

    def __init__(self, in_channels: int, depth_channels: int, context_channels: int, in_index: int = 0) -> None:
        super().__init__()
        self.depth_channels = depth_channels
        self.in_index = in_index
        self.conv = nn.Conv2d(in_channels, depth_channels + context_channels, kernel_size=1)

    def forward(self, feats: Sequence[torch.Tensor], cam_params: torch.Tensor,
                images: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.conv(feats[self.in_index])
        return out[:, :self.depth_channels], out[:, self.depth_channels:]


class _SELayer(nn.Module):
    """``x * sigmoid(conv(relu(conv(cam_embedding))))`` (BEVDepth's camera-aware squeeze-excitation)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, channels, 1)
        self.expand = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.expand(torch.relu(self.reduce(gate))))


@MODELS.register_module()
class BEVDepthCameraAwareDepthNet(nn.Module):
    """BEVDepth's camera-aware depth net: the 27-d camera descriptor modulates depth and context branches.

    Args:
        in_channels: Channels of the input level.
        mid_channels: Hidden width.
        depth_channels: D (set by the view transformer).
        context_channels: C (set by the view transformer).
        num_cam_params: Length of the camera descriptor (27).
        in_index: Which input level is used.
    """

    def __init__(self, in_channels: int, mid_channels: int, depth_channels: int, context_channels: int,
                 num_cam_params: int = 27, in_index: int = 0) -> None:
        super().__init__()
        self.in_index = in_index
        self.reduce = nn.Sequential(nn.Conv2d(in_channels, mid_channels, 3, padding=1, bias=False),
                                    nn.BatchNorm2d(mid_channels), nn.ReLU(inplace=True))
        self.cam_bn = nn.BatchNorm1d(num_cam_params)
        self.depth_mlp = nn.Sequential(nn.Linear(num_cam_params, mid_channels), nn.ReLU(inplace=True),
                                       nn.Linear(mid_channels, mid_channels))
        self.context_mlp = nn.Sequential(nn.Linear(num_cam_params, mid_channels), nn.ReLU(inplace=True),
                                         nn.Linear(mid_channels, mid_channels))
        self.depth_se = _SELayer(mid_channels)
        self.context_se = _SELayer(mid_channels)
        self.depth_conv = nn.Sequential(
            nn.Conv2d(mid_channels, mid_channels, 3, padding=1, bias=False), nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True), nn.Conv2d(mid_channels, depth_channels, 1))
        self.context_conv = nn.Conv2d(mid_channels, context_channels, 1)

    def forward(self, feats: Sequence[torch.Tensor], cam_params: torch.Tensor,
                images: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.reduce(feats[self.in_index])  # (BN, M, h, w)
        cam = self.cam_bn(cam_params)  # (BN, 27)
        depth_gate = self.depth_mlp(cam)[..., None, None]  # (BN, M, 1, 1)
        context_gate = self.context_mlp(cam)[..., None, None]
        depth = self.depth_conv(self.depth_se(x, depth_gate))
        context = self.context_conv(self.context_se(x, context_gate))
        return depth, context
