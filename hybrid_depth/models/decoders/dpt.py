"""DPT depth decoder (Ranftl et al., ICCV 2021, https://arxiv.org/abs/2103.13413) as used by Hybrid-depth.

Reassemble: per level a 1x1 projection to ``out_channels`` ([256, 512, 1024, 1024]) then resizing by a
4x deconv, a 2x deconv, identity and a stride-2 conv; fusion: 3x3 convs to ``features`` (256) and RefineNet
blocks (two residual conv units, bilinear upsampling to the next level's size, 1x1 conv).

Output heads (``head``):

- ``'official'`` (default; ``Stage2/networks/dpt.py`` + ``depthclip_decoder.py``): one head on fusion path 1:
  3x3 conv to features/2, bilinear resize (``align_corners=True``) to 16 x the patch grid, 3x3 conv to 32, ReLU,
  1x1 conv to 1, ReLU, bilinear resize to the image, ReLU. One disparity at scale 0 (``{0: (B, 1, H, W)}``).
- ``'sigmoid'`` (ours, an option): sigmoid disparity at ``num_scales`` scales in the Monodepth2 convention (scale
  ``s`` at ``(H // 2**s, W // 2**s)``) from fusion path ``s + 1`` (paths 1..4 sit at 8, 4, 2, 1 times the grid).

Any input size (the official code hard-codes 224x672), with fusion sizes read from the inputs; the encoder's
bottom/right padding to a multiple of ``patch_size`` is cropped away when resizing to the output size. Unused
official parameters (a 5th projection 512 -> 1024 and ``refinenet4.resConfUnit1``) are not built; the checkpoint
converter drops them by name.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmdet3d.registry import MODELS
from torch import nn

__all__ = ['HybridDPTDecoder']


class _ResidualConvUnit(nn.Module):
    """``x + conv(relu(conv(relu(x))))`` with 3x3 convs (optional BatchNorm)."""

    def __init__(self, features: int, use_bn: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1, bias=not use_bn)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1, bias=not use_bn)
        self.bn1 = nn.BatchNorm2d(features) if use_bn else nn.Identity()
        self.bn2 = nn.BatchNorm2d(features) if use_bn else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn1(self.conv1(F.relu(x)))
        return x + self.bn2(self.conv2(F.relu(out)))


class _FeatureFusionBlock(nn.Module):
    """RefineNet fusion: ``conv1x1(up(rcu2(x + rcu1(skip))))``, upsampled to an explicit size."""

    def __init__(self, features: int, use_bn: bool, with_skip: bool = True) -> None:
        super().__init__()
        self.rcu1 = _ResidualConvUnit(features, use_bn) if with_skip else None
        self.rcu2 = _ResidualConvUnit(features, use_bn)
        self.out_conv = nn.Conv2d(features, features, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor:
        if self.rcu1 is not None:
            x = x + self.rcu1(skip)
        x = F.interpolate(self.rcu2(x), size=size, mode='bilinear', align_corners=True)
        return self.out_conv(x)


class _OfficialDispHead(nn.Module):
    """Official DPT output: conv3x3 -> resize to 16 x grid -> conv3x3 -> ReLU -> conv1x1 -> ReLU -> resize -> ReLU."""

    def __init__(self, features: int, head_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features // 2, 3, padding=1)
        self.conv2 = nn.Conv2d(features // 2, head_channels, 3, padding=1)
        self.conv3 = nn.Conv2d(head_channels, 1, 1)

    def forward(self, x: torch.Tensor, inner_size: tuple[int, int], padded_size: tuple[int, int],
                out_size: tuple[int, int]) -> torch.Tensor:
        x = F.interpolate(self.conv1(x), size=inner_size, mode='bilinear', align_corners=True)
        x = F.relu(self.conv3(F.relu(self.conv2(x))))
        x = F.interpolate(x, size=padded_size, mode='bilinear', align_corners=True)
        return F.relu(x[..., :out_size[0], :out_size[1]])  # drop the encoder's bottom/right padding


class _DispHead(nn.Module):
    """DPT output head with a sigmoid: conv3x3 -> resize -> conv3x3 -> ReLU -> conv1x1 -> sigmoid."""

    def __init__(self, features: int, head_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features // 2, 3, padding=1)
        self.conv2 = nn.Conv2d(features // 2, head_channels, 3, padding=1)
        self.conv3 = nn.Conv2d(head_channels, 1, 1)

    def forward(self, x: torch.Tensor, padded_size: tuple[int, int],
                out_size: tuple[int, int]) -> torch.Tensor:
        x = F.interpolate(self.conv1(x), size=padded_size, mode='bilinear', align_corners=True)
        x = x[..., :out_size[0], :out_size[1]]  # drop the encoder's bottom/right padding
        return torch.sigmoid(self.conv3(F.relu(self.conv2(x))))


@MODELS.register_module()
class HybridDPTDecoder(nn.Module):
    """DPT decoder from 4 same-resolution token-grid levels to disparity (official ReLU head by default).

    Args:
        in_channels: Channels of each input level (one int for all, or 4 ints); 256 + 1024 for the fine stage.
        features: Fusion width.
        out_channels: Reassemble widths per level.
        use_bn: BatchNorm in the residual conv units.
        head_channels: Hidden width of the output heads.
        head: ``'official'`` (one ReLU disparity at scale 0) or ``'sigmoid'`` (ours: sigmoid at ``num_scales``).
        num_scales: Output scales (``None``: 1 for ``'official'``, 4 for ``'sigmoid'``; the official head
            has exactly 1).
        patch_size: Encoder patch size: the input grid covers ``grid * patch_size`` padded pixels.
    """

    def __init__(self, in_channels: int | Sequence[int] = 1280, features: int = 256,
                 out_channels: Sequence[int] = (256, 512, 1024, 1024), use_bn: bool = False,
                 head_channels: int = 32, head: str = 'official', num_scales: int | None = None,
                 patch_size: int = 14) -> None:
        super().__init__()
        in_chs = [in_channels] * 4 if isinstance(in_channels, int) else list(in_channels)
        if head not in ('official', 'sigmoid'):
            raise ValueError(f"head must be 'official' or 'sigmoid', got {head!r}")
        if num_scales is None:
            num_scales = 1 if head == 'official' else 4
        if head == 'official' and num_scales != 1:
            raise ValueError(f'the official head predicts one scale, got num_scales={num_scales}')
        if len(in_chs) != 4 or len(out_channels) != 4 or not 1 <= num_scales <= 4:
            raise ValueError('HybridDPTDecoder expects 4 levels and 1-4 output scales')
        self.head = head
        self.num_scales = num_scales
        self.patch_size = patch_size
        self.projects = nn.ModuleList([nn.Conv2d(c, o, 1) for c, o in zip(in_chs, out_channels)])
        oc = out_channels
        self.resize_layers = nn.ModuleList([
            nn.ConvTranspose2d(oc[0], oc[0], kernel_size=4, stride=4),
            nn.ConvTranspose2d(oc[1], oc[1], kernel_size=2, stride=2),
            nn.Identity(),
            nn.Conv2d(oc[3], oc[3], kernel_size=3, stride=2, padding=1),
        ])
        self.layer_rn = nn.ModuleList([nn.Conv2d(o, features, 3, padding=1, bias=False) for o in oc])
        # the deepest block has no skip input, so no first residual unit (the official one is unused)
        self.refinenets = nn.ModuleList([_FeatureFusionBlock(features, use_bn, with_skip=i < 3)
                                         for i in range(4)])
        head_cls = _OfficialDispHead if head == 'official' else _DispHead
        self.heads = nn.ModuleList([head_cls(features, head_channels) for _ in range(num_scales)])

    def forward(self, features: Sequence[torch.Tensor], image_size: tuple[int, int],
                patch_pixels: int | None = None) -> dict[int, torch.Tensor]:
        """Decode disparity.

        Args:
            features: 4 maps (B, C_l, h, w) on the patch grid of the padded image.
            image_size: ``(H, W)`` of the unpadded input image.
            patch_pixels: Output pixels per patch side, ``k``. ``None`` (default): ``patch_size``, i.e. the
                input resolution, as the official decoder. A smaller ``k`` (ours) decodes the same map at
                ``k / patch_size`` of the input resolution: ``(H, W)`` become ``(ceil(H k / p), ceil(W k / p))``
                the official head's inner ``16 x grid`` resize becomes ``round(16 k / p) x grid``, and fusion path 1
                is upsampled to ``max(k, 4) x grid`` instead of ``8 x grid`` when ``k < 8``: the heads' convolutions
                run on about ``(k / p)^2`` of the pixels (for consumers that pool per patch anyway).

        Returns:
            ``{s: (B, 1, max(H // 2**s, 1), max(W // 2**s, 1))}`` disparity for s < num_scales (official head:
            ``{0: (B, 1, H, W)}``, ReLU, >= 0; sigmoid head: in [0, 1]), ``(H, W)`` as scaled by ``patch_pixels``.
        """
        height, width = image_size
        grid_h, grid_w = features[0].shape[-2:]
        k = self.patch_size if patch_pixels is None else int(patch_pixels)
        if not 1 <= k <= self.patch_size:
            raise ValueError(f'patch_pixels must be in [1, {self.patch_size}], got {patch_pixels}')
        if k != self.patch_size:
            height, width = -(-height * k // self.patch_size), -(-width * k // self.patch_size)
        pad_h, pad_w = grid_h * k, grid_w * k
        layers = [rs(pj(f)) for f, pj, rs in zip(features, self.projects, self.resize_layers)]
        rn = [conv(x) for conv, x in zip(self.layer_rn, layers)]
        h1, w1 = rn[0].shape[-2:]  # 4 x the grid
        # path 1 at 8 x the grid, or, when decoding at k < 8 pixels per patch, at no more than the output needs
        up1 = (max(min(2 * h1, pad_h), h1), max(min(2 * w1, pad_w), w1))
        path4 = self.refinenets[3](rn[3], None, rn[2].shape[-2:])
        path3 = self.refinenets[2](path4, rn[2], rn[1].shape[-2:])
        path2 = self.refinenets[1](path3, rn[1], rn[0].shape[-2:])
        path1 = self.refinenets[0](path2, rn[0], up1)
        paths = [path1, path2, path3, path4]
        if self.head == 'official':
            inner = max(round(16 * k / self.patch_size), 1)
            return {0: self.heads[0](path1, (inner * grid_h, inner * grid_w), (pad_h, pad_w), (height, width))}
        outputs = {}
        for s, head in enumerate(self.heads):
            oh, ow = max(height // 2 ** s, 1), max(width // 2 ** s, 1)
            padded = (max(round(pad_h * oh / height), oh), max(round(pad_w * ow / width), ow))
            outputs[s] = head(paths[s], padded, (oh, ow))
        return outputs
