"""LSS view transformer of BEVDet (lift with a depth distribution, splat with :func:`bev_pool`).

Frames: the frustum lives in the *augmented* image (pixels ``u, v`` of the network input, metric depth ``d``
along the optical axis); :func:`frustum_to_bev` undoes the image augmentation (``post_rots``,
``post_trans``), back-projects with ``cam2img``, moves to the **key ego** frame (the ego at the LiDAR timestamp) with
``cam2ego`` = :func:`.frames.cam2keyego` (per-camera ego-motion compensation) and applies the
BEV augmentation ``bda`` (identity at test time). The BEV grid is therefore in the (augmented) ego frame:
``x`` forward, ``y`` left, ``z`` up.

BEVDepth variant: with ``loss_depth_weight > 0`` the predicted depth distribution is supervised by LiDAR
depth maps projected into the augmented images (``gt_depth``, see ``BEVDetMultiViewDepthTargets``): the
minimum valid depth per feature cell becomes a one-hot bin, BCE on cells with a LiDAR return. A depth net whose
forward also returns a scale-free ``prior_depth`` (``HybridLSSDepthNet``: a monocular prior of unknown scale) is
median-scaled by the depth loss on the first training step, from that output and those per-cell depths.
"""
from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmdet3d.registry import MODELS
from torch import nn

from .bev_pool import VOXEL_INDEX, bev_pool, plan_bev_pool, voxel_ranks

__all__ = ['BEVDetLSSViewTransformer', 'BEV_CHANNEL_ORDER', 'FRUSTUM_PIXELS', 'bev_to_image', 'create_frustum',
           'frustum_to_bev', 'camera_params_vector', 'depth_targets_to_bins', 'nearest_depth_per_cell']


FRUSTUM_PIXELS = ('linspace', 'cell_centres')
BEV_CHANNEL_ORDER = ('z_major', 'c_major')


def create_frustum(feature_size: Sequence[int], depth_bound: Sequence[float], stride: int,
                   pixels: str = 'cell_centres', input_size: Sequence[int] | None = None) -> torch.Tensor:
    """Frustum points ``(u, v, d)`` of every feature cell and depth bin.

    Pixel coordinates (pixel centres at integers) of cell ``(i, j)``:

    - ``'linspace'`` (BEVDet, FB-BEV): ``u = linspace(0, W - 1, w)[j]``, ``v = linspace(0, H - 1, h)[i]`` with
      ``(H, W) = input_size``; cell ``j`` sits at ``j (W - 1) / (w - 1)``, i.e. 16.35 j px at 704 / 44.
    - ``'cell_centres'``: cell ``(i, j)`` of a stride-``s`` map covers pixels ``[s j, s j + s)``, so its centre
      is ``u = s (j + 0.5) - 0.5`` (likewise ``v``). Exact for patch encoders (a stride-14 ViT patch ``j`` sees
      exactly those pixels) and for maps padded past the image (``w s > W``); up to 7.5 px from ``'linspace'``
      at the image edges for a stride-16 CNN.

    Depths are the bin lower edges ``d_min + k step``.

    Args:
        feature_size: ``(h, w)`` of the feature map.
        depth_bound: ``(d_min, d_max, step)`` in metres.
        stride: Pixels per feature cell.
        pixels: ``'linspace'`` or ``'cell_centres'``.
        input_size: ``(H, W)`` of the network input (needed by ``'linspace'``).

    Returns:
        (D, h, w, 3) frustum in augmented-image pixels and metres.
    """
    if pixels not in FRUSTUM_PIXELS:
        raise ValueError(f'frustum pixels must be one of {FRUSTUM_PIXELS}, got {pixels!r}')
    h, w = feature_size
    depths = torch.arange(*depth_bound, dtype=torch.float32)
    d = depths.view(-1, 1, 1).expand(-1, h, w)
    if pixels == 'linspace':
        if input_size is None:
            raise ValueError("frustum pixels 'linspace' need the input_size (H, W)")
        vs = torch.linspace(0, input_size[0] - 1, h, dtype=torch.float32)
        us = torch.linspace(0, input_size[1] - 1, w, dtype=torch.float32)
    else:
        vs = stride * (torch.arange(h, dtype=torch.float32) + 0.5) - 0.5
        us = stride * (torch.arange(w, dtype=torch.float32) + 0.5) - 0.5
    v = vs.view(1, h, 1).expand_as(d)
    u = us.view(1, 1, w).expand_as(d)
    return torch.stack([u, v, d], dim=-1)


@torch.autocast('cuda', enabled=False)  # geometry in fp32 under AMP: bf16 metres move points by voxels
@torch.autocast('cpu', enabled=False)
def frustum_to_bev(frustum: torch.Tensor, cam2img: torch.Tensor, cam2ego: torch.Tensor,
                   post_rots: torch.Tensor, post_trans: torch.Tensor, bda: torch.Tensor) -> torch.Tensor:
    """Frustum points in the BEV frame.

    Args:
        frustum: (D, h, w, 3) ``(u, v, d)`` in augmented-image pixels / metres.
        cam2img: (B, N, 3, 3) intrinsics of the original image.
        cam2ego: (B, N, 4, 4) camera -> key ego (each camera at its capture time, :func:`.frames.cam2keyego`).
        post_rots: (B, N, 3, 3) image augmentation ``p_aug = post_rot @ p + post_tran`` (pixels).
        post_trans: (B, N, 3) image augmentation translation.
        bda: (B, 3, 3) BEV augmentation applied to ego points.

    Returns:
        (B, N, D, h, w, 3) points ``(x, y, z)`` in the augmented ego frame, metres.
    """
    b, n = cam2img.shape[:2]
    pts = frustum.view(1, 1, *frustum.shape) - post_trans.view(b, n, 1, 1, 1, 3)  # (B, N, D, h, w, 3)
    pts = torch.einsum('bnij,bndhwj->bndhwi', torch.inverse(post_rots), pts)
    pts = torch.cat([pts[..., :2] * pts[..., 2:3], pts[..., 2:3]], dim=-1)  # (u d, v d, d)
    combine = cam2ego[..., :3, :3] @ torch.inverse(cam2img)  # (B, N, 3, 3)
    pts = torch.einsum('bnij,bndhwj->bndhwi', combine, pts) + cam2ego[..., :3, 3].view(b, n, 1, 1, 1, 3)
    return torch.einsum('bij,bndhwj->bndhwi', bda, pts)


@torch.autocast('cuda', enabled=False)  # geometry in fp32 under AMP: bf16 metres move points by voxels
@torch.autocast('cpu', enabled=False)
def bev_to_image(points: torch.Tensor, cam2img: torch.Tensor, cam2ego: torch.Tensor, post_rots: torch.Tensor,
                 post_trans: torch.Tensor, bda: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Project BEV-frame points into every camera's augmented image: the exact inverse of :func:`frustum_to_bev`.

    Args:
        points: (B, P, 3) points in the BEV (augmented ego) frame, metres.
        cam2img: (B, N, 3, 3) intrinsics of the original image.
        cam2ego: (B, N, 4, 4) camera -> key ego (each camera at its capture time, :func:`.frames.cam2keyego`).
        post_rots: (B, N, 3, 3) image augmentation rotation/scale (``p_aug = post_rot @ p + post_tran``).
        post_trans: (B, N, 3) image augmentation translation, pixels.
        bda: (B, 3, 3) BEV augmentation applied to ego points.

    Returns:
        ``(uv, depth)``: (B, N, P, 2) pixel coordinates ``(u', v')`` in the augmented image (pixel centres at
        integers) and (B, N, P) depth along the camera's optical axis, metres (<= 0 behind the camera; ``uv``
        is then meaningless).
    """
    ego = torch.einsum('bij,bpj->bpi', torch.inverse(bda), points)  # (B, P, 3) un-augmented ego frame
    ego2cam = torch.inverse(cam2ego)  # (B, N, 4, 4)
    cam = torch.einsum('bnij,bpj->bnpi', ego2cam[..., :3, :3], ego) + ego2cam[:, :, None, :3, 3]  # (B, N, P, 3)
    img = torch.einsum('bnij,bnpj->bnpi', cam2img, cam)  # (B, N, P, 3) = (u d, v d, d)
    depth = img[..., 2]
    safe = torch.where(depth.abs() > 1e-5, depth, torch.full_like(depth, 1e-5))
    uvd = torch.cat([img[..., :2] / safe[..., None], depth[..., None]], dim=-1)  # (u, v, d)
    aug = torch.einsum('bnij,bnpj->bnpi', post_rots, uvd) + post_trans[:, :, None, :]
    return aug[..., :2], depth


def camera_params_vector(cam2img: torch.Tensor, cam2ego: torch.Tensor, post_rots: torch.Tensor,
                         post_trans: torch.Tensor, bda: torch.Tensor) -> torch.Tensor:
    """BEVDepth's 27-d camera descriptor per camera, in the official order (``get_mlp_input``).

    ``[fx, fy, cx, cy, post_rot 00 01, post_tran x, post_rot 10 11, post_tran y, bda 00 01 10 11 22,
    cam2ego[:3, :4]]``.

    Returns:
        (B, N, 27).
    """
    b, n = cam2img.shape[:2]
    bda = bda.view(b, 1, 3, 3).expand(b, n, 3, 3)
    return torch.cat([
        cam2img[..., 0, 0:1], cam2img[..., 1, 1:2], cam2img[..., 0, 2:3], cam2img[..., 1, 2:3],
        post_rots[..., 0, :2], post_trans[..., 0:1], post_rots[..., 1, :2], post_trans[..., 1:2],
        bda[..., 0, :2], bda[..., 1, :2], bda[..., 2, 2:3],
        cam2ego[..., :3, :4].reshape(b, n, 12)], dim=-1)


def nearest_depth_per_cell(gt_depth: torch.Tensor, stride: int, feature_size: Sequence[int]) -> torch.Tensor:
    """The nearest LiDAR return of every feature cell.

    Args:
        gt_depth: (BN, H, W) metric depth in the augmented image, 0 where there is no LiDAR return.
        stride: Pixels per feature cell.
        feature_size: ``(h, w)``; the depth map is zero-padded at the bottom/right to ``(h s, w s)``.

    Returns:
        (BN, h, w) depth in metres, ``inf`` for cells without a return.
    """
    h, w = feature_size
    pad_h, pad_w = h * stride - gt_depth.shape[1], w * stride - gt_depth.shape[2]
    depth = F.pad(gt_depth, (0, max(pad_w, 0), 0, max(pad_h, 0)))[:, :h * stride, :w * stride]
    depth = torch.where(depth > 0, depth, torch.full_like(depth, float('inf')))
    bn = depth.shape[0]
    patches = depth.view(bn, h, stride, w, stride).permute(0, 1, 3, 2, 4).reshape(bn, h, w, -1)
    return patches.min(dim=-1).values


def depth_targets_to_bins(gt_depth: torch.Tensor, stride: int, depth_bound: Sequence[float],
                          feature_size: Sequence[int]) -> torch.Tensor:
    """One-hot depth-bin targets per feature cell from sparse depth maps.

    Args:
        gt_depth: (BN, H, W) metric depth in the augmented image, 0 where there is no LiDAR return.
        stride: Pixels per feature cell.
        depth_bound: ``(d_min, d_max, step)``.
        feature_size: ``(h, w)``; the depth map is zero-padded at the bottom/right to ``(h s, w s)``.

    Returns:
        (BN, h, w, D) one-hot targets (all zero for cells without a valid return in range).
    """
    d_min, d_max, step = depth_bound
    num_bins = len(torch.arange(d_min, d_max, step))
    nearest = nearest_depth_per_cell(gt_depth, stride, feature_size)  # (BN, h, w)
    bins = ((nearest - d_min) / step).floor()
    valid = torch.isfinite(nearest) & (bins >= 0) & (bins < num_bins)
    bins = torch.where(valid, bins, torch.zeros_like(bins)).long()
    return F.one_hot(bins, num_bins).to(gt_depth.dtype) * valid[..., None].to(gt_depth.dtype)


@MODELS.register_module()
class BEVDetLSSViewTransformer(nn.Module):
    """Lift-splat view transformer: image features -> BEV features in the ego frame.

    Args:
        depth_net: Config of the depth net (``BEVDetDepthNet``, ``BEVDepthCameraAwareDepthNet``,
            ``HybridLSSDepthNet``): maps image levels to ``D`` depth logits and ``out_channels`` context.
            ``depth_channels`` and ``context_channels`` are filled in here, and ``depth_bound`` (the grid's depth
            bins) for a depth net whose constructor takes it.
        grid_config: ``dict(x=(lo, hi, step), y=..., z=..., depth=(d_min, d_max, step))``, metres.
        input_size: ``(H, W)`` of the network input.
        downsample: Stride of the feature map the depth net predicts on.
        out_channels: Context channels C (the BEV map has ``C * Z`` channels).
        loss_depth_weight: Weight of the BEVDepth depth loss (0: BEVDet, no depth supervision).
        frustum_pixels: Pixel coordinates of the feature cells, ``'linspace'`` (official) or
            ``'cell_centres'`` (patch encoders, padded maps); see :func:`create_frustum`.
        voxel_index: ``'trunc'`` (official: points up to one cell below each lower bound are pooled into the
            first cell) or ``'floor'`` (only points inside the grid); see :func:`.bev_pool.voxel_ranks`.
        depth_loss_clamp: ``None`` (official: plain BCE, torch clamps the log at -100) or ``eps``: probabilities
            clamped to ``[eps, 1 - eps]`` before the BCE (bounded loss, zero gradient past the clamp).
        bev_channel_order: Channel ``k`` of the BEV map for height cell ``z`` and context channel ``c``:
            ``'z_major'`` ``k = z C + c`` (official ``torch.cat(bev.unbind(2), 1)``) or ``'c_major'``
            ``k = c Z + z``. Equal for ``Z = 1``; matters for ``Z > 1`` checkpoints.
    """

    def __init__(self, depth_net: dict, grid_config: dict, input_size: Sequence[int], downsample: int = 16,
                 out_channels: int = 64, loss_depth_weight: float = 0.0, frustum_pixels: str = 'linspace',
                 voxel_index: str = 'trunc', depth_loss_clamp: float | None = None,
                 bev_channel_order: str = 'z_major') -> None:
        super().__init__()
        if voxel_index not in VOXEL_INDEX:
            raise ValueError(f'voxel_index must be one of {VOXEL_INDEX}, got {voxel_index!r}')
        if bev_channel_order not in BEV_CHANNEL_ORDER:
            raise ValueError(f'bev_channel_order must be one of {BEV_CHANNEL_ORDER}, got {bev_channel_order!r}')
        self.voxel_index = voxel_index
        self.depth_loss_clamp = depth_loss_clamp
        self.bev_channel_order = bev_channel_order
        self.grid_config = {k: tuple(float(x) for x in v) for k, v in grid_config.items()}
        self.input_size = tuple(input_size)
        self.downsample = downsample
        self.out_channels = out_channels
        self.loss_depth_weight = loss_depth_weight
        feature_size = (-(-self.input_size[0] // downsample), -(-self.input_size[1] // downsample))
        self.feature_size = feature_size
        frustum = create_frustum(feature_size, self.grid_config['depth'], downsample, frustum_pixels, self.input_size)
        self.register_buffer('frustum', frustum, persistent=False)
        self.num_depth = frustum.shape[0]
        axes = [self.grid_config[k] for k in ('x', 'y', 'z')]
        self.register_buffer('grid_lower', torch.tensor([a[0] for a in axes]), persistent=False)
        self.register_buffer('grid_interval', torch.tensor([a[2] for a in axes]), persistent=False)
        self.grid_size = tuple(int(round((a[1] - a[0]) / a[2])) for a in axes)  # (X, Y, Z)
        depth_net = dict(depth_net, depth_channels=self.num_depth, context_channels=out_channels)
        net_type = depth_net['type']
        net_cls = net_type if isinstance(net_type, type) else MODELS.get(net_type)  # None: the build says why
        if net_cls is not None and 'depth_bound' in inspect.signature(net_cls).parameters:
            depth_net['depth_bound'] = self.grid_config['depth']  # depth nets that place a prior over the bins
        self.depth_net = MODELS.build(depth_net)

    def forward(self, feats: Sequence[torch.Tensor], cam2img: torch.Tensor, cam2ego: torch.Tensor,
                post_rots: torch.Tensor, post_trans: torch.Tensor, bda: torch.Tensor,
                images: torch.Tensor | None = None, return_context: bool = False, return_dict: bool = False
                ) -> tuple[torch.Tensor, ...] | dict[str, torch.Tensor]:
        """Lift and splat.

        Args:
            feats: Image levels (B * N, C_l, h, w) on the ``downsample`` grid.
            cam2img, cam2ego, post_rots, post_trans, bda: As :func:`frustum_to_bev`.
            images: (B * N, 3, H, W) network input (used by depth nets that decode full-resolution depth).
            return_context: Also return the depth net's context features (what FB-BEV's backward
                projection samples).
            return_dict: Return every output by name (what the detectors use): ``bev``, ``depth``, ``context``
                and, from a depth net that returns one, ``prior_depth`` (B * N, 1, h, w) (the input of the depth
                loss's scale calibration, see :meth:`loss_depth`).

        Returns:
            ``(bev, depth)``: (B, Z * C, Y, X) BEV features (ego frame, ``x`` along the last axis, channel order
            ``bev_channel_order``) and
            (B * N, D, h, w) depth probabilities; with ``return_context`` also (B * N, C, h, w) context; with
            ``return_dict`` the dict above.
        """
        b, n = cam2img.shape[:2]
        h, w = feats[0].shape[-2:]
        if (h, w) != self.feature_size:
            raise ValueError(f'feature map {h}x{w} does not match input_size {self.input_size} / '
                             f'{self.downsample} = {self.feature_size}')
        cam_params = camera_params_vector(cam2img, cam2ego, post_rots, post_trans, bda).flatten(0, 1)
        depth_logits, context, *prior_depth = self.depth_net(feats, cam_params, images)
        depth = depth_logits.softmax(dim=1)  # (BN, D, h, w)
        points = frustum_to_bev(self.frustum, cam2img, cam2ego, post_rots, post_trans, bda)
        grid_size = torch.tensor(self.grid_size)
        ranks = voxel_ranks(points, self.grid_lower, self.grid_interval, grid_size, self.voxel_index)
        nx, ny, nz = self.grid_size
        plan = plan_bev_pool(ranks, b * n * h * w, self.num_depth, b * nx * ny * nz)
        depth_flat = depth.permute(0, 2, 3, 1).reshape(-1, self.num_depth)  # (BNhw, D)
        ctx_flat = context.permute(0, 2, 3, 1).reshape(-1, self.out_channels)  # (BNhw, C)
        pooled = bev_pool(depth_flat, ctx_flat, plan)  # (B Z Y X, C)
        bev = pooled.view(b, nz, ny, nx, self.out_channels)  # (B, Z, Y, X, C)
        bev = bev.permute(0, 1, 4, 2, 3) if self.bev_channel_order == 'z_major' else bev.permute(0, 4, 1, 2, 3)
        bev = bev.reshape(b, -1, ny, nx)  # (B, Z C, Y, X) or (B, C Z, Y, X)
        if return_dict:
            out = dict(bev=bev, depth=depth, context=context)
            if prior_depth:  # a depth net with a monocular prior: (BN, 1, h, w) scale-free depth
                out['prior_depth'] = prior_depth[0]
            return out
        return (bev, depth, context) if return_context else (bev, depth)

    @torch.autocast('cuda', enabled=False)  # official get_depth_loss: fp32 (BCE is refused under autocast)
    @torch.autocast('cpu', enabled=False)
    def loss_depth(self, depth: torch.Tensor, gt_depth: torch.Tensor,
                   prior_depth: torch.Tensor | None = None) -> torch.Tensor:
        """BEVDepth depth loss: BCE between predicted bins and one-hot LiDAR bins on cells with a return.

        Computed in fp32 with autocast disabled (as the official ``get_depth_loss``); ``--amp`` inputs are cast.

        Args:
            depth: (B * N, D, h, w) predicted probabilities.
            gt_depth: (B * N, H, W) LiDAR depth in the augmented images (0 = none).
            prior_depth: (B * N, 1, h, w) scale-free depth of a monocular prior (the ``prior_depth`` output of
                :meth:`forward`), or None. Given in training before the depth net's scale is calibrated, it sets
                that scale once by median scaling against the LiDAR cells (``HybridLSSDepthNet.calibrate_scale``)
                before the loss is computed (the forward that made ``depth`` used the scale before).

        Returns:
            Scalar loss times ``loss_depth_weight``.
        """
        depth, gt_depth = depth.float(), gt_depth.float()
        net = self.depth_net
        if prior_depth is not None and self.training and not bool(net.scale_calibrated):
            lidar = nearest_depth_per_cell(gt_depth, self.downsample, depth.shape[-2:])  # (BN, h, w)
            scale = net.calibrate_scale(prior_depth[:, 0], lidar)
            if scale is not None:
                net.set_scale(scale)
        target = depth_targets_to_bins(gt_depth, self.downsample, self.grid_config['depth'],
                                       depth.shape[-2:])  # (BN, h, w, D)
        fg = target.sum(-1) > 0
        pred = depth.permute(0, 2, 3, 1)[fg]  # (K, D) cells with a LiDAR return
        if self.depth_loss_clamp is not None:
            pred = pred.clamp(self.depth_loss_clamp, 1 - self.depth_loss_clamp)
        loss = F.binary_cross_entropy(pred, target[fg], reduction='sum') / max(int(fg.sum()), 1)
        return self.loss_depth_weight * loss
