"""Hybrid-depth coarse stage (Zhang et al., ICCV 2025): language-guided depth ordering of image points.

Ordered point groups (near to far; TuSimple lanes or flat-ground points) are sampled from the 4 fused encoder
levels (nearest cell), reduced to the CLIP text width (official: every 4th channel, no parameters; option: the
prompt bank's learned linear layer), and scored against the 7 depth words (``100 x f_hat @ T`` with the official
matrix-normalised text). Losses (weights 1 and 1): the margin ranking loss (on prompt j the point of rank j beats
every nearer point; summed over pairs and lanes, divided by the images) and the rank-distance-weighted repulsion
of the reduced features (per lane ``/ 49``, mean over lanes). Trainable by default (``trainable='coarse'``):
CLIP image tower and align convs (and the point projection when it exists).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmdet3d.registry import MODELS
from mmengine.model import BaseModel

from ..language import sample_point_features
from ..trainable import apply_trainable
from .contracts import with_upstream_value

__all__ = ['HybridCoarseDepthEstimator']


@MODELS.register_module()
class HybridCoarseDepthEstimator(BaseModel):
    """Coarse-stage model: ordered points -> depth-word logits.

    Args:
        encoder: ``HybridEncoder`` config.
        prompt_bank: ``DepthPromptBank`` config (``num_depth_tokens=0`` is enough; ``feature_channels`` defaults
            to the encoder's); its number of depth words must equal the points per group.
        rank_loss: ``DepthRankLoss`` config.
        repulsion_loss: ``DistanceWeightedRepulsionLoss`` config.
        sample_mode: ``'nearest'`` feature cell (official) or ``'bilinear'``.
        trainable: Stage name or patterns (default ``'coarse'``); ``None`` trains everything.
        data_preprocessor: ``DepthDataPreprocessor`` config.
        init_cfg: mmengine init config.
    """

    def __init__(self, encoder: dict, prompt_bank: dict, rank_loss: dict | None = None,
                 repulsion_loss: dict | None = None, sample_mode: str = 'nearest',
                 trainable: str | Sequence[str] | None = 'coarse', data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or {'type': 'DepthDataPreprocessor'},
                         init_cfg=init_cfg)
        self.encoder = MODELS.build(encoder)
        self.prompt_bank = MODELS.build(with_upstream_value(prompt_bank, 'feature_channels', self.encoder.out_channels,
                                                      'prompt_bank'))
        self.rank_loss = MODELS.build(rank_loss or {'type': 'DepthRankLoss'})
        self.repulsion_loss = MODELS.build(repulsion_loss or {'type': 'DistanceWeightedRepulsionLoss'})
        self.sample_mode = sample_mode
        if trainable is not None:
            if isinstance(trainable, str):
                apply_trainable(self, stage=trainable)
            else:
                apply_trainable(self, patterns=list(trainable))

    def point_logits(self, img: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Depth-word logits of ordered points.

        Args:
            img: (B, 3, H, W) RGB in [0, 1].
            points: (B, G, P, 2) pixel ``(u, v)``, each group ordered near to far.

        Returns:
            ``(logits, projected)``: (B, G, P, K) logits of point p on depth word k (K = 7, nearest word first)
            and (B, G, P, D) projected point features.
        """
        b, g, p, _ = points.shape
        levels = self.encoder(img)
        feats = sample_point_features(levels, points.reshape(b, g * p, 2), stride=self.encoder.patch_size,
                                      mode=self.sample_mode)  # (B, G*P, 4C)
        logits, projected = self.prompt_bank.point_logits(feats)
        return logits.reshape(b, g, p, -1), projected.reshape(b, g, p, -1)

    def forward(self, inputs: dict[str, torch.Tensor], data_samples: list | None = None,
                mode: str = 'tensor'):
        """mmengine entry point: ``'loss'`` -> loss dict, ``'predict'`` -> list of dicts, ``'tensor'`` -> logits."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.point_logits(inputs['imgs'][:, 0], inputs['points'])[0]
        raise ValueError(f'invalid mode {mode!r}; use loss, predict or tensor')

    def loss(self, inputs: dict[str, torch.Tensor], data_samples: list | None = None) -> dict[str, torch.Tensor]:
        """Rank and repulsion losses over all valid groups.

        Args:
            inputs: ``imgs`` (B, 1, 3, H, W), ``points`` (B, G, P, 2), ``points_valid`` (B, G, P).
            data_samples: Unused.

        Returns:
            ``loss_rank`` and ``loss_repulsion``.
        """
        logits, projected = self.point_logits(inputs['imgs'][:, 0], inputs['points'])
        b, g, p, k = logits.shape
        if p != k:
            raise ValueError(f'{p} points per group but {k} depth words: the rank loss pairs point j with word j')
        valid = inputs['points_valid'].reshape(b * g, p)
        return {'loss_rank': self.rank_loss(logits.reshape(b * g, p, k), valid, num_images=b),
                'loss_repulsion': self.repulsion_loss(projected.reshape(b * g, p, -1), valid)}

    def predict(self, inputs: dict[str, torch.Tensor], data_samples: list | None = None) -> list[dict]:
        """Expected depth-word rank of every point.

        Returns:
            B dicts: the data sample's keys plus ``point_rank`` (G, P) expected word index
            ``sum_k k softmax(logits)_k`` (0 = "very close"), ``point_logits`` (G, P, K) and ``points_valid`` (G, P),
            all on CPU.
        """
        logits, _ = self.point_logits(inputs['imgs'][:, 0], inputs['points'])
        words = torch.arange(logits.shape[-1], dtype=logits.dtype, device=logits.device)
        rank = (logits.softmax(-1) * words).sum(-1)
        samples = [s.to_dict() for s in data_samples] if data_samples is not None else [{} for _ in logits]
        return [{**sample, 'point_rank': rank[i].detach().cpu(), 'point_logits': logits[i].detach().cpu(),
                 'points_valid': inputs['points_valid'][i].cpu()} for i, sample in enumerate(samples)]
