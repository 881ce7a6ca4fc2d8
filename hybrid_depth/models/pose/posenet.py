"""PoseNet: Monodepth2's "separate ResNet" pose network (Godard et al., ICCV 2019).

A ResNet-18 on the channel-stacked frame pair (6 channels) and the Monodepth2 pose decoder
(1x1 squeeze to 256, two 3x3 convs of 256, 1x1 conv to 6 per frame, ReLUs between, spatial mean, x 0.01)
give an axis-angle rotation and a translation. The network only predicts parameters: turning them into a
transform (and inverting for frames before the target) is
:func:`hybrid_depth.geometry.transformation_from_parameters`.
"""
from __future__ import annotations

import torch
from mmdet3d.registry import MODELS
from torch import nn

from ..encoders.resnet_encoder import Monodepth2ResNetEncoder

__all__ = ['HybridPoseNet', 'PoseDecoder']


class PoseDecoder(nn.Module):
    """Monodepth2 pose decoder on the last encoder level.

    Args:
        in_channels: Channels of the last encoder level (512 for ResNet-18).
        num_frames: Transforms predicted per input (1: the pair's relative pose).
        scale: Output scaling (0.01 as Monodepth2, keeps initial poses near identity).
    """

    def __init__(self, in_channels: int = 512, num_frames: int = 1, scale: float = 0.01) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.scale = scale
        self.squeeze = nn.Conv2d(in_channels, 256, 1)
        self.conv1 = nn.Conv2d(256, 256, 3, padding=1)
        self.conv2 = nn.Conv2d(256, 256, 3, padding=1)
        self.conv3 = nn.Conv2d(256, 6 * num_frames, 1)
        self.relu = nn.ReLU()

    def forward(self, feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Args: feature (B, C, h, w). Returns axis-angle (B, F, 3) and translation (B, F, 3)."""
        x = self.relu(self.squeeze(feature))
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        out = self.scale * self.conv3(x).mean(dim=(2, 3)).view(-1, self.num_frames, 6)
        return out[..., :3], out[..., 3:]


@MODELS.register_module()
class HybridPoseNet(nn.Module):
    """Relative camera pose of a frame pair.

    Args:
        depth: ResNet depth of the pose encoder (18).
        pretrained: Encoder weights: ``'tv_in1k'`` from timm's local cache, a path, or ``None``; the first
            conv takes 6 channels (pretrained weights repeated and halved).
        num_frames: Transforms predicted per pair (2 as Monodepth2's and Hybrid-depth's ``PoseDecoder``
            ``num_frames_to_predict_for=2``; the first is used).
        cache_dir: HF hub cache dir used to resolve tags.
        normalize_input: Monodepth2's ``(x - 0.45) / 0.225`` on the pair (official Monodepth2); ``False``
            (default): raw [0, 1] as the official Hybrid-depth Stage 2.
    """

    def __init__(self, depth: int = 18, pretrained: str | None = 'tv_in1k', num_frames: int = 2,
                 cache_dir: str | None = None, normalize_input: bool = False) -> None:
        super().__init__()
        self.encoder = Monodepth2ResNetEncoder(depth, pretrained, num_input_images=2, cache_dir=cache_dir,
                                               normalize_input=normalize_input)
        self.decoder = PoseDecoder(self.encoder.num_ch_enc[-1], num_frames)

    def forward(self, img_a: torch.Tensor, img_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict the relative pose of a temporally ordered pair (``[I_-1, I_0]`` or ``[I_0, I_1]``).

        Args:
            img_a: (B, 3, H, W) earlier frame, RGB in [0, 1].
            img_b: (B, 3, H, W) later frame.

        Returns:
            ``(axis_angle, translation)``, each (B, num_frames, 3).
        """
        return self.decoder(self.encoder(torch.cat([img_a, img_b], dim=1))[-1])
