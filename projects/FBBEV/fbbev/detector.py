"""The FB-BEV detector (Li et al., ICCV 2023, https://arxiv.org/abs/2308.02236) on mmdet3d 1.x.

BEVDet's template with the frame hook overridden (LSS forward projection, FRPN foreground mask, depth-aware
backward projection of the depth net's context features; optional BEVDet4D-style fusion with the previous keyframe,
``FBBEVLoadAdjacentFrame``) and the FRPN terms added to BEVDet's losses and predictions. BEV maps and FRPN masks
live in the augmented ego frame; BEVDet converts the boxes to the LiDAR frame.
"""
from __future__ import annotations

import numpy as np
import torch
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample

from projects.BEVDet.bevdet import BEVDet

from .bev_box_mask import eval_bev_mask, gt_bev_masks
from .temporal_alignment import align_adjacent_bev, split_frames

__all__ = ['FBBEV']


@MODELS.register_module()
class FBBEV(BEVDet):
    """FB-BEV: forward (LSS) + depth-aware backward projection with an FRPN foreground mask.

    Args:
        backward_projection: ``DepthAwareBackwardProjection`` config; ``grid_config``, ``embed_dims`` (LSS
            channels), ``feature_stride`` and ``depth_stride`` default to the view transformer's.
        frpn: ``ForegroundRegionProposalNet`` config (``in_channels`` defaults to the LSS channels); None: every
            BEV cell attends to the images.
        backward_in_index: None (FB-OCC): sample the depth net's context features; an int: that image level
            instead (needs the backward projection's ``in_channels``).
        union_gt_mask: Unite the FRPN mask with the ground-truth mask in training. Upstream means to but never
            does (its bool mask never requires grad): False (default) is what upstream runs.
        num_adjacent: 0 (single frame) or 1 (temporal fusion; the BEV encoder's ``in_channels`` is ``2 C``).
        Others: As :class:`BEVDet`.
    """

    def __init__(self, img_backbone: dict, img_view_transformer: dict, img_bev_encoder_backbone: dict,
                 img_bev_encoder_neck: dict, pts_bbox_head: dict, backward_projection: dict,
                 frpn: dict | None = None, img_neck: dict | None = None, backward_in_index: int | None = None,
                 union_gt_mask: bool = False, num_adjacent: int = 0, data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(img_backbone, img_view_transformer, img_bev_encoder_backbone, img_bev_encoder_neck,
                         pts_bbox_head, img_neck=img_neck, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if num_adjacent not in (0, 1):
            raise ValueError(f'num_adjacent must be 0 or 1, got {num_adjacent}')
        vt = self.img_view_transformer
        bev_channels = vt.out_channels * vt.grid_size[2]
        self.backward_projection = MODELS.build(dict(dict(grid_config=vt.grid_config, embed_dims=bev_channels,
                                                          feature_stride=vt.downsample, depth_stride=vt.downsample),
                                                     **backward_projection))
        self.frpn = MODELS.build(dict(dict(in_channels=bev_channels), **frpn)) if frpn is not None else None
        self.backward_in_index = backward_in_index
        self.union_gt_mask = union_gt_mask
        self.num_adjacent = num_adjacent

    def frame_bev(self, imgs: torch.Tensor, cams: dict[str, torch.Tensor], gt_mask: torch.Tensor | None = None
                  ) -> dict:
        """One frame ``imgs`` (B, N, 3, H, W): LSS (:meth:`BEVDet.image_to_bev`), FRPN (its mask united with
        ``gt_mask`` (B, Y, X) when given), backward projection. Returns BEVDet's outputs with ``bev`` (B, C, Y, X)
        refined, ``mask_logits`` and ``fg_mask`` (B, Y, X) (None without an FRPN)."""
        b, n = imgs.shape[:2]
        out = super().image_to_bev(imgs, cams)
        mask_logits, fg_mask = None, None
        if self.frpn is not None:
            mask_logits = self.frpn(out['bev'])
            fg_mask = self.frpn.foreground(mask_logits)
            if gt_mask is not None:
                fg_mask = fg_mask | gt_mask
        img = out['context'] if self.backward_in_index is None else out['img_feats'][self.backward_in_index]
        bev = self.backward_projection(out['bev'], img.view(b, n, *img.shape[1:]),
                                       out['depth'].view(b, n, *out['depth'].shape[1:]), fg_mask=fg_mask, **cams)
        return dict(out, bev=bev, mask_logits=mask_logits, fg_mask=fg_mask)

    def image_to_bev(self, imgs: torch.Tensor, cams: dict[str, torch.Tensor],
                     batch_data_samples: list[Det3DDataSample] | None = None) -> dict:
        """The current frame's :meth:`frame_bev`, its ``bev`` joined by the aligned previous frame's.

        ``imgs`` (B, N (1 + A), 3, H, W): current cameras first; with temporal fusion the samples carry
        ``curr2adj`` (A, 4, 4). In training with ``union_gt_mask`` the samples' GT mask joins the FRPN mask.
        """
        (cur_imgs, cur_cams), *adjacent = split_frames(imgs, cams, 1 + self.num_adjacent)
        grid = self.img_view_transformer.grid_config
        union = self.training and self.union_gt_mask and self.frpn is not None
        out = self.frame_bev(cur_imgs, cur_cams, gt_bev_masks(batch_data_samples, grid, imgs.device) if union else None)
        for adj_imgs, adj_cams in adjacent:
            with torch.no_grad():
                adj_bev = self.frame_bev(adj_imgs, adj_cams)['bev']
            curr2adj = torch.as_tensor(np.stack([np.asarray(s.metainfo['curr2adj'], dtype=np.float32)[0]
                                                 for s in batch_data_samples]), device=imgs.device)
            aligned = align_adjacent_bev(adj_bev, curr2adj, cams['bda'], grid['x'], grid['y'])
            out['bev'] = torch.cat([out['bev'], aligned], dim=1)
        return out

    def loss_by_feat(self, out: dict, batch_data_samples: list[Det3DDataSample]) -> dict:
        """BEVDet's losses plus the FRPN's (``loss_frpn_bce``, ``loss_frpn_dice``)."""
        losses = super().loss_by_feat(out, batch_data_samples)
        if self.frpn is not None:
            gt_mask = gt_bev_masks(batch_data_samples, self.img_view_transformer.grid_config, out['bev'].device)
            losses.update(self.frpn.loss(out['mask_logits'], gt_mask))
        return losses

    def predict_by_feat(self, out: dict, batch_data_samples: list[Det3DDataSample]) -> list[Det3DDataSample]:
        """BEVDet's LiDAR-frame boxes plus, with an FRPN, ``pred_bev_mask`` (Y, X) bool (``sigmoid >
        frpn.eval_threshold``, upstream's 0.5; ego frame) and, when ``eval_ann_info`` has ground truth,
        ``gt_bev_mask`` (Y, X) bool, both on the CPU."""
        samples = super().predict_by_feat(out, batch_data_samples)
        for i, sample in enumerate(samples if out['mask_logits'] is not None else []):
            sample.pred_bev_mask = self.frpn.foreground(out['mask_logits'][i], self.frpn.eval_threshold).cpu()
            gt = eval_bev_mask(sample, self.img_view_transformer.grid_config)
            if gt is not None:
                sample.gt_bev_mask = gt
        return samples
