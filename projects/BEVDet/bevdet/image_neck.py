"""BEVDet's image neck (``CustomFPN``): fuse the last two ResNet stages into one stride-16 map."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmdet3d.registry import MODELS
from torch import nn

__all__ = ['BEVDetCustomFPN']


@MODELS.register_module()
class BEVDetCustomFPN(nn.Module):
    """Lateral 1x1 convs, top-down nearest upsampling onto the first used level, one 3x3 output conv.

    As BEVDet's ``CustomFPN`` (``norm_cfg=None``, ``act_cfg=None``): every conv is a plain conv with bias.

    Args:
        in_channels: Channels of the used backbone levels, low to high (1024, 2048 for ResNet-50 stages 3-4).
        out_channels: Output channels (256; 512 in depth variants).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int) -> None:
        super().__init__()
        self.lateral = nn.ModuleList([nn.Conv2d(c, out_channels, 1) for c in in_channels])
        self.out_conv = nn.Conv2d(out_channels, out_channels, 3, padding=1)

    def forward(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Args: feats: the levels named by the backbone's ``out_indices``. Returns: [(B, C, h0, w0)]."""
        x = self.lateral[-1](feats[-1])
        for lateral, feat in zip(list(self.lateral)[-2::-1], list(feats)[-2::-1]):
            x = lateral(feat) + F.interpolate(x, size=feat.shape[-2:], mode='nearest')
        return [self.out_conv(x)]
