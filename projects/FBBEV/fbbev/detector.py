"""The FB-BEV detector (Li et al., ICCV 2023, https://arxiv.org/abs/2308.02236) on mmdet3d 1.x.

BEVDet's pipeline (image backbone + neck -> LSS forward projection with the camera-aware depth net) followed by
FB-BEV's FRPN (BEV foreground mask) and depth-aware backward projection (which samples the depth net's context
features; only foreground cells attend to the images), then BEVDet's BEV encoder and CenterHead with Scale-NMS.
Everything shared is imported from :mod:`projects.BEVDet.bevdet`.

Optional BEVDet4D-style temporal fusion (``num_adjacent=1``): the sample carries ``N`` current cameras followed
by ``N`` cameras of the previous keyframe (see ``FBBEVLoadAdjacentFrame``) and ``curr2adj`` (the ego motion);
the previous frame's BEV is computed without gradients, warped into the current BEV frame
(:func:`.temporal_alignment.align_adjacent_bev`) and concatenated to the current BEV before the BEV encoder.

Frames: BEV maps live in the augmented ego frame; predictions are converted to the LiDAR frame for
``NuScenesMetric`` (BEVDet's ``ego_to_lidar_boxes``); FRPN masks stay in the BEV frame.
"""
from __future__ import annotations

import numpy as np
import torch
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample

from projects.BEVDet.bevdet import BEVDet, ego_to_lidar_boxes, lidar_to_ego_boxes

from .bev_box_mask import rasterise_box_mask
from .temporal_alignment import align_adjacent_bev

__all__ = ['FBBEV']


@MODELS.register_module()
class FBBEV(BEVDet):
    """FB-BEV: forward (LSS) + depth-aware backward projection with an FRPN foreground mask.

    Args:
        img_backbone, img_view_transformer, img_bev_encoder_backbone, img_bev_encoder_neck, pts_bbox_head,
            img_neck, data_preprocessor, init_cfg: As :class:`BEVDet` (the BEV encoder's ``in_channels`` is
            ``C * (1 + num_adjacent)`` with temporal fusion).
        backward_projection: ``DepthAwareBackwardProjection`` config; ``grid_config``, ``embed_dims`` (LSS
            channels), ``feature_stride`` and ``depth_stride`` default to the view transformer's.
        frpn: ``ForegroundRegionProposalNet`` config (``in_channels`` defaults to the LSS channels); None: every
            BEV cell attends to the images.
        backward_in_index: None (FB-OCC): the backward projection samples the depth net's context features (the
            features LSS lifts); an int: that image level (of the neck outputs) instead, which needs the
            backward projection's ``in_channels``.
        union_gt_mask: Unite the FRPN mask with the ground-truth mask during training. Upstream's code means to
            (``gt_bev_mask | bev_mask`` under ``if bev_mask.requires_grad``) but a thresholded bool tensor never
            requires grad, so the union never happens there: False (default) is what upstream runs.
        num_adjacent: 0 (single frame) or 1 (BEVDet4D-style fusion with the previous keyframe).
    """

    def __init__(self, img_backbone: dict, img_view_transformer: dict, img_bev_encoder_backbone: dict,
                 img_bev_encoder_neck: dict, pts_bbox_head: dict, backward_projection: dict,
                 frpn: dict | None = None, img_neck: dict | None = None, backward_in_index: int | None = None,
                 union_gt_mask: bool = False, num_adjacent: int = 0, data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(img_backbone=img_backbone, img_view_transformer=img_view_transformer,
                         img_bev_encoder_backbone=img_bev_encoder_backbone,
                         img_bev_encoder_neck=img_bev_encoder_neck, pts_bbox_head=pts_bbox_head, img_neck=img_neck,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if num_adjacent not in (0, 1):
            raise ValueError(f'num_adjacent must be 0 or 1, got {num_adjacent}')
        vt = self.img_view_transformer
        bev_channels = vt.out_channels * vt.grid_size[2]
        bp = dict(grid_config=vt.grid_config, embed_dims=bev_channels, feature_stride=vt.downsample,
                  depth_stride=vt.downsample)
        bp.update(backward_projection)
        self.backward_projection = MODELS.build(bp)
        self.frpn = MODELS.build(dict(dict(in_channels=bev_channels), **frpn)) if frpn is not None else None
        self.backward_in_index = backward_in_index
        self.union_gt_mask = union_gt_mask
        self.num_adjacent = num_adjacent

    # ------------------------------------------------------------------ features
    def gt_bev_masks(self, batch_data_samples: list[Det3DDataSample], device: torch.device) -> torch.Tensor:
        """Training targets of the FRPN from ``gt_instances_3d`` (boxes already in the augmented ego frame).

        Returns:
            (B, Y, X) bool.
        """
        grid = self.img_view_transformer.grid_config
        masks = [rasterise_box_mask(s.gt_instances_3d.bboxes_3d.tensor.to(device), grid['x'], grid['y'])
                 for s in batch_data_samples]
        return torch.stack(masks)

    def eval_bev_mask(self, sample: Det3DDataSample) -> torch.Tensor | None:
        """GT mask of a test sample from ``eval_ann_info`` (LiDAR-frame boxes -> ego frame), or None.

        Returns:
            (Y, X) bool on the CPU, or None when the sample has no annotations.
        """
        ann = getattr(sample, 'eval_ann_info', None)
        if not ann or 'gt_bboxes_3d' not in ann:
            return None
        boxes = ann['gt_bboxes_3d']
        labels = torch.as_tensor(np.asarray(ann['gt_labels_3d']))
        boxes = lidar_to_ego_boxes(boxes[labels >= 0], sample.metainfo['lidar2ego'])
        grid = self.img_view_transformer.grid_config
        return rasterise_box_mask(boxes.tensor.float().cpu(), grid['x'], grid['y'])

    def frame_bev(self, imgs: torch.Tensor, cams: dict[str, torch.Tensor], gt_mask: torch.Tensor | None = None
                  ) -> dict[str, torch.Tensor | None]:
        """One frame: forward projection, FRPN, depth-aware backward projection.

        Args:
            imgs: (B, N, 3, H, W) normalised images of one frame.
            cams: Camera tensors of that frame (see :meth:`BEVDet.camera_tensors`).
            gt_mask: (B, Y, X) bool GT mask united with the FRPN mask when ``union_gt_mask`` (training), or None.

        Returns:
            ``bev`` (B, C, Y, X) BEV frame, ``depth`` (B * N, D, h, w), ``mask_logits`` (B, Y, X) or None,
            ``fg_mask`` (B, Y, X) bool or None.
        """
        b, n = imgs.shape[:2]
        feats = self.extract_img_feat(imgs)
        lss_bev, depth, context = self.img_view_transformer(feats, images=imgs.flatten(0, 1), return_context=True,
                                                            **cams)
        mask_logits, fg_mask = None, None
        if self.frpn is not None:
            mask_logits = self.frpn(lss_bev)
            fg_mask = self.frpn.foreground(mask_logits)
            if gt_mask is not None and self.union_gt_mask:
                fg_mask = fg_mask | gt_mask
        img = context if self.backward_in_index is None else feats[self.backward_in_index]
        bev = self.backward_projection(lss_bev, img.view(b, n, *img.shape[1:]), depth.view(b, n, *depth.shape[1:]),
                                       fg_mask=fg_mask, **cams)
        return dict(bev=bev, depth=depth, mask_logits=mask_logits, fg_mask=fg_mask)

    def extract_feat(self, batch_inputs_dict: dict, batch_data_samples: list[Det3DDataSample],
                     gt_mask: torch.Tensor | None = None) -> dict:
        """Images -> encoded BEV (current frame plus, with ``num_adjacent``, the aligned previous frame).

        Args:
            batch_inputs_dict: ``imgs`` (B, N (1 + A), 3, H, W): current cameras first.
            batch_data_samples: Samples with the camera matrices (N (1 + A) cameras) and, with temporal fusion,
                ``curr2adj`` (A, 4, 4) ego transforms.
            gt_mask: As :meth:`frame_bev` (current frame only).

        Returns:
            ``feats`` ([(B, C', Y', X')] encoded BEV for the head) plus :meth:`frame_bev`'s outputs of the
            current frame.
        """
        imgs = batch_inputs_dict['imgs']
        cams = self.camera_tensors(batch_data_samples, imgs.device)
        frames = 1 + self.num_adjacent
        n = imgs.shape[1] // frames
        if n * frames != imgs.shape[1]:
            raise ValueError(f'{imgs.shape[1]} images are not {frames} frames of the same cameras')
        current = {k: (v[:, :n] if k != 'bda' else v) for k, v in cams.items()}
        out = self.frame_bev(imgs[:, :n], current, gt_mask)
        bevs = [out['bev']]
        if self.num_adjacent:
            adjacent = {k: (v[:, n:] if k != 'bda' else v) for k, v in cams.items()}
            with torch.no_grad():
                adj_bev = self.frame_bev(imgs[:, n:], adjacent)['bev']
            curr2adj = torch.as_tensor(np.stack([np.asarray(s.metainfo['curr2adj'], dtype=np.float32)[0]
                                                 for s in batch_data_samples]), device=imgs.device)
            grid = self.img_view_transformer.grid_config
            bevs.append(align_adjacent_bev(adj_bev, curr2adj, cams['bda'], grid['x'], grid['y']))
        bev = self.img_bev_encoder_neck(self.img_bev_encoder_backbone(torch.cat(bevs, dim=1)))
        return dict(out, feats=[bev])

    # ------------------------------------------------------------------ heads
    def loss(self, batch_inputs_dict: dict, batch_data_samples: list[Det3DDataSample], **kwargs) -> dict:
        """Head losses, FRPN losses (``loss_frpn_bce``, ``loss_frpn_dice``) and the BEVDepth depth loss."""
        device = batch_inputs_dict['imgs'].device
        gt_mask = self.gt_bev_masks(batch_data_samples, device) if self.frpn is not None else None
        out = self.extract_feat(batch_inputs_dict, batch_data_samples, gt_mask)
        losses = self.pts_bbox_head.loss(out['feats'], batch_data_samples)
        if self.frpn is not None:
            losses.update(self.frpn.loss(out['mask_logits'], gt_mask))
        if self.img_view_transformer.loss_depth_weight > 0:
            gt_depth = torch.stack([s.gt_depth for s in batch_data_samples]).flatten(0, 1)  # (BN, H, W)
            losses['loss_depth'] = self.img_view_transformer.loss_depth(out['depth'], gt_depth)
        return losses

    def predict(self, batch_inputs_dict: dict, batch_data_samples: list[Det3DDataSample],
                **kwargs) -> list[Det3DDataSample]:
        """Detect and return LiDAR-frame boxes and the FRPN masks.

        Returns:
            The samples with ``pred_instances_3d``: ``bboxes_3d`` (``LiDARInstance3DBoxes``, (K, 9) bottom
            centre, size, yaw, velocity, **LiDAR frame**), ``scores_3d`` (K,), ``labels_3d`` (K,); with an FRPN
            also ``pred_bev_mask`` (Y, X) bool (``sigmoid > frpn.eval_threshold``, 0.5 as upstream's
            evaluation; BEV = ego frame) and, when ``eval_ann_info`` holds ground truth,
            ``gt_bev_mask`` (Y, X) bool, both on the CPU.

        Raises:
            ValueError: if a sample carries a BEV augmentation (``bda`` not identity).
        """
        out = self.extract_feat(batch_inputs_dict, batch_data_samples)
        results = self.pts_bbox_head.predict(out['feats'], batch_data_samples)
        for i, (sample, res) in enumerate(zip(batch_data_samples, results)):
            if not np.allclose(np.asarray(sample.metainfo['bda']), np.eye(3)):
                raise ValueError(f'sample {sample.metainfo.get("token")}: predict expects no BEV augmentation')
            res.bboxes_3d = ego_to_lidar_boxes(res.bboxes_3d, sample.metainfo['lidar2ego'])
            if out['mask_logits'] is not None:
                sample.pred_bev_mask = self.frpn.foreground(out['mask_logits'][i], self.frpn.eval_threshold).cpu()
                gt = self.eval_bev_mask(sample)
                if gt is not None:
                    sample.gt_bev_mask = gt
        return self.add_pred_to_datasample(batch_data_samples, data_instances_3d=results)

    def _forward(self, batch_inputs_dict: dict, batch_data_samples: list[Det3DDataSample] | None = None, **kwargs):
        """Raw head outputs (tuple over tasks of lists of dicts of (B, *, Y, X) maps)."""
        return self.pts_bbox_head(self.extract_feat(batch_inputs_dict, batch_data_samples)['feats'])
