"""The BEVDet detector (Huang et al., https://arxiv.org/abs/2112.11790) on mmdet3d 1.x.

Image backbone (+ neck) -> LSS view transformer (ego-frame BEV) -> BEV encoder (ResNet + FPN_LSS) ->
CenterHead with Scale-NMS. Predictions are made in the ego frame and converted to the LiDAR frame (the frame
of mmdet3d's infos and of ``NuScenesMetric``) with each sample's ``lidar2ego``.

The detector is a template for its variants (as mmdet3d's BEVFusion): :meth:`BEVDet.extract_feat` returns a dict,
a variant overrides :meth:`BEVDet.image_to_bev` (the frame's BEV) and extends :meth:`BEVDet.loss_by_feat` /
:meth:`BEVDet.predict_by_feat` with ``super()`` (FB-BEV: FRPN losses and masks).
"""
from __future__ import annotations

import numpy as np
import torch
from mmdet3d.models.detectors import Base3DDetector
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample

from .frames import ego_to_lidar_boxes

__all__ = ['BEVDet']


@MODELS.register_module()
class BEVDet(Base3DDetector):
    """BEVDet: multi-camera images -> 3D boxes.

    Args:
        img_backbone: Image backbone config (``mmdet.ResNet``, ``HybridDepthBackbone``, ...).
        img_view_transformer: ``BEVDetLSSViewTransformer`` config.
        img_bev_encoder_backbone: ``BEVDetResNet`` config.
        img_bev_encoder_neck: ``BEVDetFPNLSS`` config.
        pts_bbox_head: ``BEVDetCenterHead`` config (with its ``train_cfg`` / ``test_cfg``).
        img_neck: Optional image neck (``CustomFPN``-like; ``None`` passes the backbone levels through).
        data_preprocessor: ``Det3DDataPreprocessor`` config.
        init_cfg: mmengine init config.
    """

    def __init__(self, img_backbone: dict, img_view_transformer: dict, img_bev_encoder_backbone: dict,
                 img_bev_encoder_neck: dict, pts_bbox_head: dict, img_neck: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.img_backbone = MODELS.build(img_backbone)
        self.img_neck = MODELS.build(img_neck) if img_neck is not None else None
        self.img_view_transformer = MODELS.build(img_view_transformer)
        self.img_bev_encoder_backbone = MODELS.build(img_bev_encoder_backbone)
        self.img_bev_encoder_neck = MODELS.build(img_bev_encoder_neck)
        self.pts_bbox_head = MODELS.build(pts_bbox_head)

    @staticmethod
    def camera_tensors(batch_data_samples: list[Det3DDataSample], device: torch.device) -> dict[str, torch.Tensor]:
        """Stack the per-sample camera matrices of the metainfo.

        Returns:
            ``cam2img`` (B, N, 3, 3), ``cam2ego`` (B, N, 4, 4), ``post_rots`` (B, N, 3, 3), ``post_trans``
            (B, N, 3), ``bda`` (B, 3, 3), float32 on ``device``.
        """
        keys = ('cam2img', 'cam2ego', 'post_rots', 'post_trans', 'bda')
        return {k: torch.as_tensor(np.stack([np.asarray(s.metainfo[k], dtype=np.float32) for s in batch_data_samples]),
                                   device=device) for k in keys}

    def extract_img_feat(self, imgs: torch.Tensor) -> list[torch.Tensor]:
        """Args: imgs: (B, N, 3, H, W). Returns: image levels (B * N, C_l, h, w) for the depth net."""
        x = self.img_backbone(imgs.flatten(0, 1))
        if self.img_neck is not None:
            x = self.img_neck(x)
        return list(x) if isinstance(x, (list, tuple)) else [x]

    def image_to_bev(self, imgs: torch.Tensor, cams: dict[str, torch.Tensor],
                     batch_data_samples: list[Det3DDataSample] | None = None) -> dict:
        """The frame's BEV, before the BEV encoder: the hook a variant overrides (FB-BEV: FRPN, backward projection,
        temporal fusion).

        Args:
            imgs: (B, N, 3, H, W) normalised images.
            cams: Camera tensors of those images (see :meth:`camera_tensors`).
            batch_data_samples: The samples (unused here; a variant's targets or ego motion).

        Returns:
            ``bev`` (B, C, Y, X) (augmented ego frame), ``depth`` (B * N, D, h, w) probabilities, ``context``
            (B * N, C, h, w), ``img_feats`` (the image levels) and, from a depth net with a monocular prior,
            ``prior_depth`` (B * N, 1, h, w) (see ``BEVDetLSSViewTransformer.forward``).
        """
        feats = self.extract_img_feat(imgs)
        out = self.img_view_transformer(feats, images=imgs.flatten(0, 1), return_dict=True, **cams)
        return dict(out, img_feats=feats)

    def extract_feat(self, batch_inputs_dict: dict, batch_data_samples: list[Det3DDataSample]) -> dict:
        """Images -> encoded BEV.

        Args:
            batch_inputs_dict: ``imgs`` (B, N, 3, H, W) normalised images.
            batch_data_samples: Samples with the camera matrices in their metainfo.

        Returns:
            ``feats`` ([(B, C', Y', X')] encoded BEV for the head) plus :meth:`image_to_bev`'s outputs.
        """
        imgs = batch_inputs_dict['imgs']
        cams = self.camera_tensors(batch_data_samples, imgs.device)
        out = self.image_to_bev(imgs, cams, batch_data_samples)
        return dict(out, feats=[self.img_bev_encoder_neck(self.img_bev_encoder_backbone(out['bev']))])

    def loss(self, batch_inputs_dict: dict, batch_data_samples: list[Det3DDataSample], **kwargs) -> dict:
        """Losses of :meth:`loss_by_feat` on :meth:`extract_feat`'s outputs."""
        return self.loss_by_feat(self.extract_feat(batch_inputs_dict, batch_data_samples), batch_data_samples)

    def loss_by_feat(self, out: dict, batch_data_samples: list[Det3DDataSample]) -> dict:
        """Head losses (ego-frame targets) plus the BEVDepth depth loss when enabled.

        Args:
            out: :meth:`extract_feat`'s outputs.
            batch_data_samples: Samples with ``gt_instances_3d`` and, for the depth loss, ``gt_depth`` (N, H, W).
        """
        losses = self.pts_bbox_head.loss(out['feats'], batch_data_samples)
        if self.img_view_transformer.loss_depth_weight > 0:
            gt_depth = torch.stack([s.gt_depth for s in batch_data_samples]).flatten(0, 1)  # (BN, H, W)
            losses['loss_depth'] = self.img_view_transformer.loss_depth(out['depth'], gt_depth,
                                                                        out.get('prior_depth'))
        return losses

    def predict(self, batch_inputs_dict: dict, batch_data_samples: list[Det3DDataSample],
                **kwargs) -> list[Det3DDataSample]:
        """Detect and return LiDAR-frame boxes (:meth:`predict_by_feat` on :meth:`extract_feat`'s outputs)."""
        return self.predict_by_feat(self.extract_feat(batch_inputs_dict, batch_data_samples), batch_data_samples)

    def predict_by_feat(self, out: dict, batch_data_samples: list[Det3DDataSample]) -> list[Det3DDataSample]:
        """Decode the head and convert the boxes to the LiDAR frame.

        Returns:
            The samples with ``pred_instances_3d``: ``bboxes_3d`` (``LiDARInstance3DBoxes``, (K, 9) bottom
            centre, size, yaw, velocity, **LiDAR frame**), ``scores_3d`` (K,), ``labels_3d`` (K,).

        Raises:
            ValueError: if a sample carries a BEV augmentation (``bda`` not identity).
        """
        results = self.pts_bbox_head.predict(out['feats'], batch_data_samples)
        for sample, res in zip(batch_data_samples, results):
            if not np.allclose(np.asarray(sample.metainfo['bda']), np.eye(3)):
                raise ValueError(f'sample {sample.metainfo.get("token")}: predict expects no BEV augmentation')
            res.bboxes_3d = ego_to_lidar_boxes(res.bboxes_3d, sample.metainfo['lidar2ego'])
        return self.add_pred_to_datasample(batch_data_samples, data_instances_3d=results)

    def _forward(self, batch_inputs_dict: dict, batch_data_samples: list[Det3DDataSample] | None = None, **kwargs):
        """Raw head outputs (tuple over tasks of lists of dicts of (B, *, Y, X) maps)."""
        return self.pts_bbox_head(self.extract_feat(batch_inputs_dict, batch_data_samples)['feats'])
