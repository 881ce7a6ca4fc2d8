"""Hybrid depth branch: the LSS depth net initialised from the pretrained Hybrid-depth decoder and depth tokens.

On the 4 hybrid levels (1/14 grid) the branch runs the fine stage of Hybrid-depth: the depth-token logits of
the ``DepthPromptBank`` are added to every level and the ``HybridDPTDecoder`` predicts a disparity (the official
ReLU head by default; the authors' released Stage-2 weights load through ``tools/convert_official_checkpoint.py``).
Its (scale-free, self-supervised) depth becomes a prior over the LSS depth bins,

    ``logits_k = w * max(-0.5 ((d_k - s * depth) / sigma)^2, -20) + residual_k``,

with a learned log-scale ``s`` (monocular depth has no metric scale; see below), a learned width ``sigma``, a learned
prior weight ``w`` (1 when pretrained weights are loaded, else 0: a random decoder is no prior) and a
residual conv over ``[last level || token logits]`` that is zero at initialisation: the untrained detector
starts from the pretrained depth. Context features come from a conv on the last level.

Metric scale: a self-supervised depth model predicts depth up to an unknown scale (the Eigen evaluation
median-scales every image for that reason); the exported demo model, for instance, predicts about 0.2 where the
LiDAR says 6 m. Started at ``s = 1`` the prior would put all mass in the first bin, and the clamp makes the
gradient of ``s`` vanish exactly where it is wrong. So on its first training step with LiDAR targets the branch
sets ``s`` by median scaling, ``s = median(d_lidar / depth)`` over the feature cells with a return; ``s`` is
learned from there on. The branch keeps no state between calls for this: ``forward`` returns the scale-free
depth as its third output, the view transformer's depth loss computes the scale with :meth:`calibrate_scale` (a
function of that depth and the LiDAR cells) and sets it with :meth:`set_scale`. The buffer ``scale_calibrated``
(saved in checkpoints) makes this happen once per training run, not on resume.
Weights: ``checkpoint`` = the output of ``tools/export_backbone.py`` (``depth_branch.prompt_bank.*`` and
``depth_branch.decoder.*``).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmdet3d.registry import MODELS
from torch import nn

from ...geometry import disp_to_depth
from ..backbones.weights import load_exported_weights

__all__ = ['HybridLSSDepthNet', 'depth_bin_prior']


def depth_bin_prior(depth: torch.Tensor, bin_depths: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Gaussian log-prior over depth bins around a depth map.

    Args:
        depth: (B, 1, h, w) metric depth.
        bin_depths: (D,) depth of every bin, metres.
        sigma: Scalar width, metres.

    Returns:
        (B, D, h, w) logits ``max(-0.5 ((bin - depth) / sigma)^2, -20)`` (bounded far from the depth).
    """
    return (-0.5 * ((bin_depths.view(1, -1, 1, 1) - depth) / sigma) ** 2).clamp(min=-20.0)


@MODELS.register_module()
class HybridLSSDepthNet(nn.Module):
    """LSS depth net over the Hybrid-depth levels (``forward(feats, cam_params, images)``, as every depth net).

    Args:
        in_channels: Channels C of each hybrid level.
        depth_channels: D (set by the view transformer).
        context_channels: Context channels (set by the view transformer).
        prompt_bank: ``DepthPromptBank`` config (``feature_channels`` = C, ``num_depth_tokens`` = N > 0).
        decoder: ``HybridDPTDecoder`` config (``in_channels`` = C + N).
        depth_bound: ``(d_min, d_max, step)`` of the LSS bins (as the view transformer's ``grid_config``).
        mid_channels: Hidden width of the context and residual convs.
        min_depth: Depth at disparity 1 (Monodepth2 convention of the decoder).
        max_depth: Depth at disparity 0.
        init_scale: Initial metric scale of the decoder's depth.
        init_sigma_bins: Initial prior width, in bins.
        checkpoint: Exported weights (``tools/export_backbone.py``) for the prompt bank and decoder.
        decoder_grad: ``True`` (default): the DPT decoder trains with the detector and passes gradients to the
            levels. ``False`` (ours, for CPU budgets): the decoder runs without autograd on detached levels, so the
            pretrained prior stays as exported and its backward pass (the decoder works at the input resolution)
            is skipped: about a third of a demo training iteration on a 2-core CPU (fwd+bwd 2.1 -> 1.4 s, batch 2,
            ``configs/demo/bevdet_hybrid_demo.py``). The prior's scale, width and weight and the residual still
            learn.
        decode_pixels: Pixels per cell side at which the decoder's output head runs before the per-cell average
            (``HybridDPTDecoder(patch_pixels=...)``). ``None`` (default): the decoder's patch size, i.e. the
            network input resolution, as the depth model decodes. A smaller value (ours) decodes only what the
            prior consumes, one average per cell, from ``decode_pixels^2`` samples instead of ``patch^2``: the
            head's convolutions run on ``(decode_pixels / patch)^2`` of the pixels.
    """

    def __init__(self, in_channels: int, depth_channels: int, context_channels: int, prompt_bank: dict,
                 decoder: dict, depth_bound: Sequence[float] = (1.0, 60.0, 1.0), mid_channels: int = 256,
                 min_depth: float = 0.1, max_depth: float = 100.0, init_scale: float = 1.0,
                 init_sigma_bins: float = 2.0, checkpoint: str | None = None, decoder_grad: bool = True,
                 decode_pixels: int | None = None) -> None:
        super().__init__()
        self.decoder_grad = decoder_grad
        self.decode_pixels = decode_pixels
        self.prompt_bank = MODELS.build(dict(prompt_bank, feature_channels=in_channels))
        num_tokens = self.prompt_bank.num_depth_tokens
        if num_tokens <= 0:
            raise ValueError('HybridLSSDepthNet needs a prompt bank with depth tokens (num_depth_tokens > 0)')
        self.decoder = MODELS.build(dict(decoder, in_channels=in_channels + num_tokens, num_scales=1))
        if decode_pixels is not None and not 1 <= decode_pixels <= self.decoder.patch_size:
            raise ValueError(f'decode_pixels must be in [1, {self.decoder.patch_size}] (the decoder patch size), '
                             f'got {decode_pixels}')
        self.min_depth, self.max_depth = min_depth, max_depth
        d_min, d_max, step = (float(x) for x in depth_bound)
        bins = torch.arange(d_min, d_max, step)
        if len(bins) != depth_channels:
            raise ValueError(f'depth_bound {tuple(depth_bound)} gives {len(bins)} bins, view transformer has '
                             f'{depth_channels}')
        self.register_buffer('bin_depths', bins, persistent=False)
        self.log_scale = nn.Parameter(torch.tensor(math.log(init_scale)))
        self.register_buffer('scale_calibrated', torch.tensor(False))
        self.log_sigma = nn.Parameter(torch.tensor(math.log(init_sigma_bins * step)))
        self.prior_weight = nn.Parameter(torch.tensor(1.0 if checkpoint else 0.0))
        self.residual = nn.Sequential(
            nn.Conv2d(in_channels + num_tokens, mid_channels, 3, padding=1, bias=False), nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True), nn.Conv2d(mid_channels, depth_channels, 1))
        nn.init.zeros_(self.residual[-1].weight)
        nn.init.zeros_(self.residual[-1].bias)
        self.context = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, 3, padding=1, bias=False), nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True), nn.Conv2d(mid_channels, context_channels, 1))
        self.missing_from_checkpoint = []
        if checkpoint:
            self.missing_from_checkpoint = (
                load_exported_weights(self.prompt_bank, checkpoint, 'depth_branch.prompt_bank.')
                + load_exported_weights(self.decoder, checkpoint, 'depth_branch.decoder.',
                                        ignore=('heads.[123].*',)))  # the depth model's coarser scales

    def decoder_depth(self, levels: Sequence[torch.Tensor], image_size: tuple[int, int]) -> torch.Tensor:
        """Pretrained depth on the level grid.

        Args:
            levels: 4 maps (BN, C + N, h, w) with token logits.
            image_size: ``(H, W)`` of the network input.

        Returns:
            (BN, 1, h, w) depth (decoder scale, before ``log_scale``), averaged per cell in disparity; cell
            ``(i, j)`` is the patch of input pixels ``[p i, p i + p) x [p j, p j + p)`` (``p`` the patch size; the
            bottom/right padding of the encoder repeats the last decoded row/column).
        """
        k = self.decoder.patch_size if self.decode_pixels is None else self.decode_pixels
        if self.decoder_grad:
            disp = self.decoder(levels, image_size, patch_pixels=k)[0]  # (BN, 1, ~H k/p, ~W k/p) disparity
        else:
            with torch.no_grad():
                disp = self.decoder([lv.detach() for lv in levels], image_size, patch_pixels=k)[0]
        h, w = levels[0].shape[-2:]
        disp = F.pad(disp, (0, w * k - disp.shape[-1], 0, h * k - disp.shape[-2]), mode='replicate')
        disp = F.avg_pool2d(disp, k)
        return disp_to_depth(disp, self.min_depth, self.max_depth)[1]

    def forward(self, feats: Sequence[torch.Tensor], cam_params: torch.Tensor, images: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Depth logits, context and the prior's scale-free depth.

        Args:
            feats: 4 hybrid levels (BN, C, h, w).
            cam_params: (BN, 27) camera descriptor (unused: the prior carries the geometry).
            images: (BN, 3, H, W) network input (only its size is used).

        Returns:
            ``(depth_logits (BN, D, h, w), context (BN, context_channels, h, w), prior_depth (BN, 1, h, w))``;
            ``prior_depth`` is the decoder's depth before ``log_scale`` (detached), the input of
            :meth:`calibrate_scale`.
        """
        if images is None:
            raise ValueError('HybridLSSDepthNet needs the network input size (images)')
        levels = self.prompt_bank(feats)  # 4 x (BN, C + N, h, w)
        prior_depth = self.decoder_depth(levels, tuple(images.shape[-2:]))
        prior = depth_bin_prior(prior_depth * self.log_scale.exp(), self.bin_depths, self.log_sigma.exp())
        logits = self.prior_weight * prior + self.residual(levels[-1])
        return logits, self.context(feats[-1]), prior_depth.detach()

    @staticmethod
    @torch.no_grad()
    def calibrate_scale(prior_depth: torch.Tensor, lidar_depth: torch.Tensor) -> float | None:
        """Median scale of the prior: ``median(lidar_depth / prior_depth)`` over the cells with a return.

        A function of its inputs (the log scale is averaged over processes when distributed, so that every replica
        starts from the same scale: every process reaches this point on its first step).

        Args:
            prior_depth: (BN, h, w) scale-free depth of the prior (``forward``'s third output, channel squeezed).
            lidar_depth: (BN, h, w) metric LiDAR depth per feature cell (the nearest return in the cell; 0 or
                non-finite where there is none), camera frame, metres.

        Returns:
            The scale, or ``None`` when no process has a valid cell.
        """
        if prior_depth.shape != lidar_depth.shape:
            raise ValueError(f'LiDAR cells {tuple(lidar_depth.shape)} do not match the depth cells '
                             f'{tuple(prior_depth.shape)}')
        valid = torch.isfinite(lidar_depth) & (lidar_depth > 0) & (prior_depth > 0)
        stats = torch.zeros(2, dtype=torch.float64, device=prior_depth.device)  # [sum of log scales, processes]
        if bool(valid.any()):
            stats[0] = math.log(float((lidar_depth[valid] / prior_depth[valid]).median()))
            stats[1] = 1.0
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(stats)
        if stats[1] == 0:
            return None
        return math.exp(float(stats[0] / stats[1]))

    @torch.no_grad()
    def set_scale(self, scale: float) -> None:
        """Set the prior's metric scale (``log_scale = log(scale)``) and mark it calibrated (a training step)."""
        self.log_scale.fill_(math.log(scale))
        self.scale_calibrated.fill_(True)
