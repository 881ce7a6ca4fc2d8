"""Depth nets of the LSS view transformer: image levels -> depth-bin logits and context features.

Every depth net has the same call: ``forward(feats, cam_params, images) -> (depth_logits, context)`` with
``feats`` the image levels (B N, C_l, h, w) on one grid, ``cam_params`` (B N, 27) (see
``camera_params_vector``) and ``images`` the (B N, 3, H, W) network input; outputs (B N, D, h, w) and
(B N, C, h, w). ``depth_channels`` and ``context_channels`` are filled in by the view transformer. A depth net
built on a monocular depth prior (``HybridLSSDepthNet``) returns a third output, the prior's scale-free depth
(B N, 1, h, w), which the view transformer hands to its depth loss for the scale calibration. No depth net stores
anything on ``self`` in ``forward``.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer
from mmdet.models.backbones.resnet import BasicBlock
from mmdet3d.registry import MODELS
from torch import nn

__all__ = ['ASPP', 'BEVDetDepthNet', 'BEVDepthCameraAwareDepthNet']


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


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=dilation * (kernel_size // 2), dilation=dilation,
                  bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling of BEVDepth's depth net (DeepLab v3).

    Branches: 1x1 conv, 3x3 convs at dilations 6 / 12 / 18, global average pool + 1x1 conv (each conv-BN-ReLU);
    concatenated -> 1x1 conv-BN-ReLU back to ``in_channels`` -> dropout 0.5. Kaiming-normal conv weights.

    Args:
        in_channels: Input and output channels.
        mid_channels: Channels of every branch.
        dilations: Dilations of the four spatial branches.
    """

    def __init__(self, in_channels: int, mid_channels: int, dilations: Sequence[int] = (1, 6, 12, 18)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [_conv_bn_relu(in_channels, mid_channels, 1 if d == 1 else 3, d) for d in dilations])
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), _conv_bn_relu(in_channels, mid_channels, 1))
        self.project = _conv_bn_relu(mid_channels * (len(dilations) + 1), in_channels, 1)
        self.dropout = nn.Dropout(0.5)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, C_in, h, w). Returns: (B, C_in, h, w)."""
        pooled = F.interpolate(self.image_pool(x), size=x.shape[-2:], mode='bilinear', align_corners=True)
        return self.dropout(self.project(torch.cat([b(x) for b in self.branches] + [pooled], dim=1)))


def _camera_mlp(num_cam_params: int, channels: int) -> nn.Sequential:
    """BEVDepth's ``Mlp``: Linear -> ReLU -> Linear (its dropouts are 0)."""
    return nn.Sequential(nn.Linear(num_cam_params, channels), nn.ReLU(inplace=True), nn.Linear(channels, channels))


@MODELS.register_module()
class BEVDepthCameraAwareDepthNet(nn.Module):
    """BEVDepth's camera-aware depth net (BEVDet's ``DepthNet``, FB-OCC's ``CM_DepthNet``).

    ``x = reduce(feat)`` (3x3 conv-BN-ReLU); the batch-normalised 27-d camera descriptor goes through an MLP to
    an SE gate on each branch; context = 1x1 conv of the gated ``x``; depth = 3 BasicBlocks -> ASPP ->
    (deformable 3x3 conv) -> 1x1 conv to D logits.

    Args:
        in_channels: Channels of the input level.
        mid_channels: Hidden width (BEVDet / FB-BEV: the neck's width, 512).
        depth_channels: D (set by the view transformer).
        context_channels: C (set by the view transformer).
        num_cam_params: Length of the camera descriptor (27).
        use_aspp: ASPP after the BasicBlocks (official: True).
        use_dcn: A deformable 3x3 conv (mmcv ``DCN``, 4 groups) before the last conv (official configs: False).
        in_index: Which input level is used.
        aspp_mid_channels: Branch width of the ASPP (None: ``mid_channels``; official
            ``bevdet-r50-4d-depth-cbgs.py``: 96).
    """

    def __init__(self, in_channels: int, mid_channels: int, depth_channels: int, context_channels: int,
                 num_cam_params: int = 27, use_aspp: bool = True, use_dcn: bool = False, in_index: int = 0,
                 aspp_mid_channels: int | None = None) -> None:
        super().__init__()
        self.in_index = in_index
        self.reduce = nn.Sequential(nn.Conv2d(in_channels, mid_channels, 3, padding=1),
                                    nn.BatchNorm2d(mid_channels), nn.ReLU(inplace=True))
        self.cam_bn = nn.BatchNorm1d(num_cam_params)
        self.depth_mlp = _camera_mlp(num_cam_params, mid_channels)
        self.context_mlp = _camera_mlp(num_cam_params, mid_channels)
        self.depth_se = _SELayer(mid_channels)
        self.context_se = _SELayer(mid_channels)
        self.context_conv = nn.Conv2d(mid_channels, context_channels, 1)
        layers: list[nn.Module] = [BasicBlock(mid_channels, mid_channels) for _ in range(3)]
        if use_aspp:
            layers.append(ASPP(mid_channels, aspp_mid_channels or mid_channels))
        if use_dcn:
            layers.append(build_conv_layer(dict(type='DCN', in_channels=mid_channels, out_channels=mid_channels,
                                                kernel_size=3, padding=1, groups=4, im2col_step=128)))
        layers.append(nn.Conv2d(mid_channels, depth_channels, 1))
        self.depth_conv = nn.Sequential(*layers)

    def forward(self, feats: Sequence[torch.Tensor], cam_params: torch.Tensor,
                images: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Args: feats: levels (BN, C_in, h, w); cam_params: (BN, 27).
        Returns: depth logits (BN, D, h, w) and context (BN, C, h, w)."""
        x = self.reduce(feats[self.in_index])  # (BN, M, h, w)
        cam = self.cam_bn(cam_params)  # (BN, 27)
        depth_gate = self.depth_mlp(cam)[..., None, None]  # (BN, M, 1, 1)
        context_gate = self.context_mlp(cam)[..., None, None]
        depth = self.depth_conv(self.depth_se(x, depth_gate))
        context = self.context_conv(self.context_se(x, context_gate))
        return depth, context
