"""Monodepth2 ResNet encoder (Godard et al., ICCV 2019) on timm ResNets, also the PoseNet backbone.

Five feature levels (after the stem ReLU and after each residual stage; strides 2-32, channels
[64, 64, 128, 256, 512] for ResNet-18). Input RGB in [0, 1] is normalised as Monodepth2,
``(x - 0.45) / 0.225`` (``normalize_input=False``: fed raw, as the official Hybrid-depth pose encoder, where
that line is commented out). With ``num_input_images = k`` the first conv takes ``3k`` channels; pretrained
3-channel weights are repeated k times and divided by k (timm's ``adapt_input_conv``, as Monodepth2's
multi-image encoder).
"""
from __future__ import annotations

import copy

import timm
import torch
from mmdet3d.registry import MODELS
from torch import nn

from .pretrained import resolve_timm_weights

__all__ = ['Monodepth2ResNetEncoder', 'build_timm_resnet']


def build_timm_resnet(depth: int = 18, pretrained: str | None = 'tv_in1k', in_chans: int = 3,
                      cache_dir: str | None = None, **kwargs) -> nn.Module:
    """A timm ``resnet{depth}`` feature extractor (5 levels), weights from a local file only.

    Args:
        depth: 18, 34 or 50.
        pretrained: ``None``, a timm tag of ``resnet{depth}`` in the local HF cache (``'tv_in1k'``), or a
            path.
        in_chans: Input channels (3 per image).
        cache_dir: HF hub cache dir used to resolve tags.
        **kwargs: Passed to ``timm.create_model`` (e.g. ``out_indices``).

    Returns:
        timm ``features_only`` model returning a list of 5 maps.
    """
    name = f'resnet{depth}'
    # zero_init_last=False: torchvision's init (Monodepth2), not timm's zeroed last BN per block
    args = {'features_only': True, 'in_chans': in_chans, 'zero_init_last': False}
    args.update(copy.deepcopy(kwargs))
    if pretrained is None:
        return timm.create_model(name, pretrained=False, **args)
    path = resolve_timm_weights(name, pretrained, cache_dir)
    return timm.create_model(name, pretrained=True, pretrained_cfg_overlay={'file': path, 'source': ''},
                             **args)


@MODELS.register_module()
class Monodepth2ResNetEncoder(nn.Module):
    """Monodepth2 ``ResnetEncoder``: 5-level features of one image (or k stacked images).

    Args:
        depth: ResNet depth (18 in the paper's baseline).
        pretrained: ``'tv_in1k'`` (torchvision ImageNet weights via timm's local cache), a path, or ``None``.
        num_input_images: Images stacked along channels.
        cache_dir: HF hub cache dir used to resolve tags.
        normalize_input: Apply Monodepth2's ``(x - 0.45) / 0.225``.
    """

    def __init__(self, depth: int = 18, pretrained: str | None = 'tv_in1k', num_input_images: int = 1,
                 cache_dir: str | None = None, normalize_input: bool = True) -> None:
        super().__init__()
        self.normalize_input = normalize_input
        self.model = build_timm_resnet(depth, pretrained, in_chans=3 * num_input_images, cache_dir=cache_dir)
        self.num_input_images = num_input_images
        self.feature_info = [{'num_chs': i['num_chs'], 'reduction': i['reduction'],
                              'module': f"model.{i['module']}"} for i in self.model.feature_info.get_dicts()]
        self.num_ch_enc = [i['num_chs'] for i in self.feature_info]

    def forward(self, img: torch.Tensor) -> list[torch.Tensor]:
        """Encode.

        Args:
            img: (B, 3 * num_input_images, H, W) RGB in [0, 1].

        Returns:
            5 maps (B, num_ch_enc[i], ~H / 2**(i+1), ~W / 2**(i+1)).
        """
        return self.model((img - 0.45) / 0.225 if self.normalize_input else img)
