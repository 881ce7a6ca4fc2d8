"""Monodepth2-style self-supervised monocular depth training (Godard et al., ICCV 2019), shared by the fine stage
of Hybrid-depth and the Monodepth2 baseline.

Per batch: disparity of the target frame at the decoder's scales (Monodepth2: 4; Hybrid-depth's official head:
scale 0 only, ``scales=[0]``); PoseNet on each temporally ordered pair (``[I_-1, I_0]``
inverted, ``[I_0, I_+1]``) gives ``T_src_tgt``; every scale's disparity is upsampled to the input resolution,
turned into depth (``disp_to_depth``, [0.1, 100] m) and used to warp each source frame into the target view.
Loss per scale: per-pixel minimum reprojection (0.85 SSIM + 0.15 L1) with auto-masking against the unwarped
sources, plus edge-aware smoothness of the mean-normalised disparity against the target image at that
scale, weighted ``1e-3 / 2**s``; both averaged over the predicted scales (Monodepth2's defaults).

Prediction (``mode='predict'``) gives the target frame's depth (``eval_task='depth'``), or the relative pose of
a frame pair (``eval_task='pose'``, Monodepth2's ``evaluate_pose.py``).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmdet3d.registry import MODELS
from mmengine.model import BaseModel

from ...geometry import disp_to_depth, transformation_from_parameters, view_synthesis
from ..trainable import apply_trainable

__all__ = ['SelfSupervisedDepthEstimator']


class SelfSupervisedDepthEstimator(BaseModel):
    """Base of the self-supervised depth models: subclasses build ``encoder``/``decoder`` and implement
    :meth:`predict_disparity`.

    Args:
        pose_net: PoseNet config (``HybridPoseNet``): ``(img_a, img_b) -> (axis_angle, translation)``.
        photometric_loss: ``MinReprojectionLoss`` config.
        smoothness_loss: ``EdgeAwareSmoothnessLoss`` config (weight 1e-3; the ``1 / 2**s`` factor is applied here).
        frame_ids: Frame order of ``inputs['imgs']`` (target 0 first; must match the dataset).
        min_depth: Depth at disparity 1 (metres, up to the monocular scale).
        max_depth: Depth at disparity 0.
        trainable: Stage name of :data:`~hybrid_depth.models.trainable.STAGE_TRAINABLE` or explicit fnmatch
            patterns; ``None`` trains everything.
        eval_task: What ``predict`` returns: ``'depth'`` (the target frame's disparity and depth) or ``'pose'``
            (the pair's relative pose, :meth:`predict_pair_pose`; a test checkpoint must then hold the PoseNet).
        data_preprocessor: ``DepthDataPreprocessor`` config.
        init_cfg: mmengine init config.
    """

    # prediction never runs the PoseNet: a test checkpoint may lack it (released weights without pose files)
    test_unused_prefixes = ('pose_net.',)

    def __init__(self, pose_net: dict, photometric_loss: dict | None = None, smoothness_loss: dict | None = None,
                 frame_ids: Sequence[int] = (0, -1, 1), min_depth: float = 0.1, max_depth: float = 100.0,
                 trainable: str | Sequence[str] | None = None, eval_task: str = 'depth',
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = {'type': 'DepthDataPreprocessor'}
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not frame_ids or frame_ids[0] != 0:
            raise ValueError(f'frame_ids must start with the target frame 0, got {list(frame_ids)}')
        if eval_task not in ('depth', 'pose'):
            raise ValueError(f"eval_task must be 'depth' or 'pose', got {eval_task!r}")
        self.frame_ids = list(frame_ids)
        self.eval_task = eval_task
        if eval_task == 'pose':
            self.test_unused_prefixes = ()  # pose evaluation runs the PoseNet: its weights must be in the checkpoint
        self.min_depth = min_depth
        self.max_depth = max_depth
        self.pose_net = MODELS.build(pose_net)
        self.photometric_loss = MODELS.build(photometric_loss or {'type': 'MinReprojectionLoss'})
        self.smoothness_loss = MODELS.build(smoothness_loss or {'type': 'EdgeAwareSmoothnessLoss',
                                                                'loss_weight': 1e-3})
        self.trainable = trainable

    def _apply_trainable(self) -> None:
        """Freeze all parameters but the configured trainable set (call at the end of subclass ``__init__``)."""
        if self.trainable is None:
            return
        if isinstance(self.trainable, str):
            apply_trainable(self, stage=self.trainable)
        else:
            apply_trainable(self, patterns=list(self.trainable))

    def predict_disparity(self, img: torch.Tensor) -> dict[int, torch.Tensor]:
        """Sigmoid disparity of one image.

        Args:
            img: (B, 3, H, W) RGB in [0, 1].

        Returns:
            ``{s: (B, 1, H // 2**s, W // 2**s)}`` in [0, 1] for s = 0..3.
        """
        raise NotImplementedError

    def predict_poses(self, imgs: torch.Tensor) -> dict[int, torch.Tensor]:
        """``T_src_tgt`` of every source frame (Monodepth2 "pairs" pose input, temporal order).

        Args:
            imgs: (B, F, 3, H, W) frames in ``frame_ids`` order.

        Returns:
            ``{frame_id: (B, 4, 4)}`` transforms from the target camera frame to the source camera frame.
        """
        poses = {}
        for k, fid in enumerate(self.frame_ids):
            if fid == 0:
                continue
            pair = (imgs[:, k], imgs[:, 0]) if fid < 0 else (imgs[:, 0], imgs[:, k])
            axis_angle, translation = self.pose_net(*pair)
            poses[fid] = transformation_from_parameters(axis_angle[:, 0], translation[:, 0], invert=fid < 0)
        return poses

    def predict_pair_pose(self, img_a: torch.Tensor, img_b: torch.Tensor) -> torch.Tensor:
        """Relative pose of a frame pair as Monodepth2's ``evaluate_pose.py``: the PoseNet on ``[img_a, img_b]``,
        ``transformation_from_parameters(axisangle[:, 0], translation[:, 0])`` un-inverted.

        Args:
            img_a: (B, 3, H, W) frame i, RGB in [0, 1].
            img_b: (B, 3, H, W) frame i + 1.

        Returns:
            (B, 4, 4) ``T_{b, a}``: points in camera a's frame -> camera b's frame (the ``cam_T_cam`` of frame +1
            in training, see :meth:`predict_poses`), translation up to the monocular scale.
        """
        axis_angle, translation = self.pose_net(img_a, img_b)
        return transformation_from_parameters(axis_angle[:, 0], translation[:, 0])

    def forward(self, inputs: dict[str, torch.Tensor], data_samples: list | None = None,
                mode: str = 'tensor'):
        """mmengine entry: ``'loss'`` -> loss dict, ``'predict'`` -> list of dicts, ``'tensor'`` -> disparities."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.predict_disparity(inputs['imgs'][:, 0])
        raise ValueError(f'invalid mode {mode!r}; use loss, predict or tensor')

    def loss(self, inputs: dict[str, torch.Tensor], data_samples: list | None = None) -> dict[str, torch.Tensor]:
        """Self-supervised losses.

        Args:
            inputs: ``imgs`` / ``imgs_raw`` (B, F, 3, H, W) and ``cam2img`` (B, S, 3, 3) (dataset batch format).
            data_samples: Unused (self-supervision needs no labels).

        Returns:
            ``loss_photometric`` and ``loss_smoothness`` (means over scales) and the auto-mask ratio ``automask``
            (fraction of pixels where a warped source beat every unwarped source; not a loss).
        """
        imgs, raw, cam2img = inputs['imgs'], inputs['imgs_raw'], inputs['cam2img']
        h, w = imgs.shape[-2:]
        disps = self.predict_disparity(imgs[:, 0])
        poses = self.predict_poses(imgs)
        target = raw[:, 0]
        sources = [raw[:, k] for k, f in enumerate(self.frame_ids) if f != 0]
        src_ids = [f for f in self.frame_ids if f != 0]
        K = cam2img[:, 0]  # losses at the input resolution (Monodepth2 default: disparities upsampled)
        photo, smooth, masked = [], [], []
        for s, disp in sorted(disps.items()):
            disp_up = F.interpolate(disp, size=(h, w), mode='bilinear', align_corners=False)
            _, depth = disp_to_depth(disp_up, self.min_depth, self.max_depth)
            warped = [view_synthesis(src, depth, K, poses[f])[0] for src, f in zip(sources, src_ids)]
            loss, mask = self.photometric_loss(target, warped, sources)
            photo.append(loss)
            if mask is not None:
                masked.append(mask.float().mean())
            color = target if disp.shape[-2:] == (h, w) else F.interpolate(target, size=disp.shape[-2:], mode='area')
            smooth.append(self.smoothness_loss(disp, color) / 2 ** s)
        losses = {'loss_photometric': torch.stack(photo).mean(), 'loss_smoothness': torch.stack(smooth).mean()}
        if masked:
            losses['automask'] = torch.stack(masked).mean().detach()
        return losses

    def predict(self, inputs: dict[str, torch.Tensor], data_samples: list | None = None) -> list[dict]:
        """Depth of the target frame, or (``eval_task='pose'``) the relative pose of the frame pair.

        Args:
            inputs: ``imgs`` (B, F, 3, H, W); depth: frame 0 is used; pose: F = 2, the frames ``[0, 1]`` (i, i + 1).
            data_samples: B ``BaseDataElement`` (their ``to_dict()`` is copied into the outputs, e.g. ``gt_depth``).

        Returns:
            B dicts: the data sample's keys plus, for depth, ``pred_disp`` (1, H, W) scaled disparity
            ``1 / depth`` (CPU) and ``pred_depth`` (1, H, W) depth in [min_depth, max_depth] (metres up to the
            monocular scale, CPU); for pose, ``pred_pose`` (4, 4) float64 ``T_{i+1, i}`` (CPU,
            :meth:`predict_pair_pose`).
        """
        imgs = inputs['imgs']
        samples = [s.to_dict() for s in data_samples] if data_samples is not None else [{} for _ in imgs]
        if self.eval_task == 'pose':
            order = [list(s.get('frame_ids', (0, 1))) for s in samples]
            if imgs.shape[1] != 2 or any(o != [0, 1] for o in order):
                raise ValueError(f'pose evaluation needs frame pairs [0, 1], got {imgs.shape[1]} frames {order[:1]}')
            pose = self.predict_pair_pose(imgs[:, 0], imgs[:, 1]).detach().double().cpu()
            return [{**sample, 'pred_pose': pose[i]} for i, sample in enumerate(samples)]
        disp = self.predict_disparity(imgs[:, 0])[0]
        scaled, depth = disp_to_depth(disp, self.min_depth, self.max_depth)
        return [{**sample, 'pred_disp': scaled[i].detach().cpu(), 'pred_depth': depth[i].detach().cpu()}
                for i, sample in enumerate(samples)]
