"""Monodepth2 depth decoder (Godard et al., ICCV 2019, https://arxiv.org/abs/1806.01260): the baseline.

U-Net decoder over a 5-level ResNet encoder (``num_ch_enc`` = [64, 64, 128, 256, 512] for ResNet-18):
per level two 3x3 reflection-padded conv + ELU blocks around a nearest 2x upsampling and a skip concat,
sigmoid disparity heads at scales 0-3. Upsampling goes to the skip's size (and to ``image_size`` at the end
when given), so odd input sizes work (the original requires multiples of 32).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmdet3d.registry import MODELS
from torch import nn

__all__ = ['Monodepth2DepthDecoder']


class _ConvBlock(nn.Sequential):
    """Reflection-padded 3x3 conv followed by ELU (Monodepth2 ``ConvBlock``)."""

    def __init__(self, in_channels: int, out_channels: int, activate: bool = True) -> None:
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, 3)]
        if activate:
            layers.append(nn.ELU(inplace=True))
        super().__init__(*layers)


@MODELS.register_module()
class Monodepth2DepthDecoder(nn.Module):
    """Monodepth2 disparity decoder.

    Args:
        num_ch_enc: Encoder channels per level, finest first (read from the encoder's ``num_ch_enc``).
        num_ch_dec: Decoder channels per level.
        scales: Output scales (0 = input resolution).
        use_skips: Concatenate encoder skips.
    """

    def __init__(self, num_ch_enc: Sequence[int] = (64, 64, 128, 256, 512),
                 num_ch_dec: Sequence[int] = (16, 32, 64, 128, 256), scales: Sequence[int] = (0, 1, 2, 3),
                 use_skips: bool = True) -> None:
        super().__init__()
        self.num_ch_enc = list(num_ch_enc)
        self.num_ch_dec = list(num_ch_dec)
        self.scales = tuple(scales)
        self.use_skips = use_skips
        self.upconvs_0 = nn.ModuleList()
        self.upconvs_1 = nn.ModuleList()
        for i in range(4, -1, -1):
            in_ch = self.num_ch_enc[-1] if i == 4 else self.num_ch_dec[i + 1]
            self.upconvs_0.append(_ConvBlock(in_ch, self.num_ch_dec[i]))
            skip_ch = self.num_ch_enc[i - 1] if (use_skips and i > 0) else 0
            self.upconvs_1.append(_ConvBlock(self.num_ch_dec[i] + skip_ch, self.num_ch_dec[i]))
        self.dispconvs = nn.ModuleDict({str(s): _ConvBlock(self.num_ch_dec[s], 1, activate=False)
                                        for s in self.scales})

    def forward(self, features: Sequence[torch.Tensor],
                image_size: tuple[int, int] | None = None) -> dict[int, torch.Tensor]:
        """Decode disparity.

        Args:
            features: 5 encoder maps, finest (stride 2) first.
            image_size: ``(H, W)`` of the input; default twice the finest feature size.

        Returns:
            ``{s: (B, 1, H_s, W_s)}`` sigmoid disparity: scale 0 at ``image_size``, scale s at the size of
            the stride-2**s encoder level.
        """
        outputs = {}
        x = features[-1]
        for k, i in enumerate(range(4, -1, -1)):
            x = self.upconvs_0[k](x)
            if i > 0:
                x = F.interpolate(x, size=features[i - 1].shape[-2:], mode='nearest')
                if self.use_skips:
                    x = torch.cat([x, features[i - 1]], dim=1)
            else:
                size = image_size if image_size is not None else tuple(2 * d for d in features[0].shape[-2:])
                x = F.interpolate(x, size=size, mode='nearest')
            x = self.upconvs_1[k](x)
            if i in self.scales:
                outputs[i] = torch.sigmoid(self.dispconvs[str(i)](x))
        return outputs
