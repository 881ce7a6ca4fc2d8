"""BEV encoder of BEVDet: ``CustomResNet`` (BasicBlocks, strided stages) and the ``FPN_LSS`` neck."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmdet3d.registry import MODELS
from torch import nn

__all__ = ['BEVDetResNet', 'BEVDetFPNLSS']


class _BasicBlock(nn.Module):
    """ResNet basic block (mmdet's ``BasicBlock``); with ``conv_shortcut`` the shortcut is BEVDet's plain strided
    3x3 conv with bias (no BN), otherwise the identity."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, conv_shortcut: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 3, stride, 1) if conv_shortcut else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x), inplace=True)


@MODELS.register_module()
class BEVDetResNet(nn.Module):
    """BEVDet's ``CustomResNet`` over the BEV map: the first block of every stage has a strided 3x3 conv (with
    bias, no BN) as its shortcut, the others the identity.

    Args:
        in_channels: Channels of the BEV input.
        num_layers: Basic blocks per stage.
        num_channels: Output channels per stage (default ``2 C, 4 C, 8 C``).
        strides: Stride of each stage.
    """

    def __init__(self, in_channels: int, num_layers: Sequence[int] = (2, 2, 2),
                 num_channels: Sequence[int] | None = None, strides: Sequence[int] = (2, 2, 2)) -> None:
        super().__init__()
        channels = list(num_channels) if num_channels else [in_channels * 2 ** (i + 1) for i in range(len(num_layers))]
        stages, prev = [], in_channels
        for n, c, s in zip(num_layers, channels, strides):
            blocks = [_BasicBlock(prev, c, s, conv_shortcut=True)]
            blocks += [_BasicBlock(c, c, 1, conv_shortcut=False) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            prev = c
        self.stages = nn.ModuleList(stages)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Args: x: (B, C_in, Y, X). Returns: one map per stage, (B, C_i, Y / s_i, X / s_i)."""
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs


@MODELS.register_module()
class BEVDetFPNLSS(nn.Module):
    """``FPN_LSS``: concat a high-level map upsampled x``scale_factor`` to a low-level one, two 3x3 convs,
    then upsample by ``extra_upsample`` back to the input BEV resolution.

    Args:
        in_channels: Sum of the channels of the two used levels.
        out_channels: Output channels.
        input_feature_index: Indices of the (low, high) levels.
        scale_factor: Upsampling of the high level onto the low one.
        extra_upsample: Final upsampling (1 or None: none).
    """

    def __init__(self, in_channels: int, out_channels: int, input_feature_index: Sequence[int] = (0, 2),
                 scale_factor: int = 4, extra_upsample: int | None = 2) -> None:
        super().__init__()
        self.index = tuple(input_feature_index)
        self.scale_factor = scale_factor
        mid = out_channels * 2 if extra_upsample and extra_upsample > 1 else out_channels
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True))
        self.up = None
        if extra_upsample and extra_upsample > 1:
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=extra_upsample, mode='bilinear', align_corners=True),
                nn.Conv2d(mid, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True), nn.Conv2d(out_channels, out_channels, 1))

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Args: feats: BEV encoder levels. Returns: (B, out_channels, Y, X) at the BEV input resolution."""
        low, high = feats[self.index[0]], feats[self.index[1]]
        high = F.interpolate(high, size=low.shape[-2:], mode='bilinear', align_corners=True)
        x = self.conv(torch.cat([low, high], dim=1))
        return self.up(x) if self.up is not None else x
