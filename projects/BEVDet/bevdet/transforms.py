"""Data transforms of BEVDet: multi-view loading with image-view augmentation, the LiDAR -> ego frame change
of the ground truth, BEV augmentation, LiDAR depth targets and packing.

Keys written (``N`` cameras, ``(fH, fW)`` network input):

- ``img``: list of N (fH, fW, 3) uint8 BGR images (augmented);
- ``cam2img`` (N, 3, 3) original intrinsics; ``cam2ego`` (N, 4, 4) camera -> **key** ego, compensated for the
  ego motion between the camera's and the LiDAR's timestamps (:func:`~.frames.cam2keyego`; the static
  calibrated mounting would misplace every BEV feature by the ego's travel, up to ~1 m); ``lidar2cam``
  (N, 4, 4) key LiDAR -> camera;
- ``post_rots`` (N, 3, 3) and ``post_trans`` (N, 3): image augmentation, ``p_aug = post_rot @ (u, v, d) +
  post_tran`` in pixels (``d`` unchanged); ``img_aug_params``: per camera ``(resize, crop, flip, rotate)``;
- ``lidar2ego`` (4, 4); ``bda`` (3, 3) BEV augmentation acting on ego points (identity unless augmented);
- ``gt_bboxes_3d`` in the (augmented) **ego** frame after ``BEVDetLidarBoxesToEgo``;
- ``gt_depth`` (N, fH, fW) LiDAR depth in the augmented images (0 = no return).
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet3d.datasets.transforms import Pack3DDetInputs
from mmdet3d.registry import TRANSFORMS
from PIL import Image

from hybrid_depth.datasets.file_readers import read_image

from .frames import cam2keyego, lidar_to_ego_boxes
from .info_contract import INFO_HINT

__all__ = ['NUSCENES_CAMERAS', 'BEVDetLoadMultiViewImages', 'BEVDetLidarBoxesToEgo', 'BEVDetBEVAugmentation',
           'BEVDetMultiViewDepthTargets', 'BEVDetPackInputs', 'AUG_MATRICES', 'IMAGE_RESAMPLING', 'augment_image',
           'image_aug_matrix', 'official_image_aug_matrix']

NUSCENES_CAMERAS = ('CAM_FRONT_LEFT', 'CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_BACK_LEFT', 'CAM_BACK', 'CAM_BACK_RIGHT')


def image_aug_matrix(resize: float, crop: tuple[int, int], flip: bool, rotate_deg: float,
                     final_size: tuple[int, int]) -> np.ndarray:
    """Affine map of image-view augmentation (pixel centres at integer coordinates).

    ``p_aug = R (s p - crop) (+ horizontal flip) `` with the rotation about the centre of the output.

    Args:
        resize: Scale s.
        crop: ``(x0, y0)`` top-left of the crop in the resized image.
        flip: Horizontal flip of the crop.
        rotate_deg: Counter-clockwise rotation (as displayed), degrees.
        final_size: ``(fH, fW)``.

    Returns:
        (3, 3) homogeneous 2D affine matrix.
    """
    fh, fw = final_size
    m = np.array([[resize, 0, -crop[0]], [0, resize, -crop[1]], [0, 0, 1]], dtype=np.float64)
    if flip:
        m = np.array([[-1, 0, fw - 1], [0, 1, 0], [0, 0, 1]]) @ m
    a = np.deg2rad(rotate_deg)
    c, s = np.cos(a), np.sin(a)
    centre = np.array([(fw - 1) / 2, (fh - 1) / 2])
    rot = np.eye(3)
    rot[:2, :2] = [[c, s], [-s, c]]
    rot[:2, 2] = centre - rot[:2, :2] @ centre
    return rot @ m


IMAGE_RESAMPLING = ('pil', 'warp_affine')
AUG_MATRICES = ('exact', 'official')


def official_image_aug_matrix(resize: float, crop: tuple[int, int], flip: bool, rotate_deg: float,
                              final_size: tuple[int, int]) -> np.ndarray:
    """BEVDet's ``post_rot`` / ``post_tran`` (``PrepareImageInputs.img_transform``) as a (3, 3) affine map.

    ``s p - crop``, flip ``u -> fW - u``, rotation about ``(fW / 2, fH / 2)``: PIL's corner conventions applied to
    pixel-centre coordinates, and the nominal scale ``s`` instead of ``int(W s) / W``. It differs from the pixels
    :func:`augment_image` produces by up to about a pixel (1 px after a flip).
    """
    fh, fw = final_size
    m = np.array([[resize, 0, -crop[0]], [0, resize, -crop[1]], [0, 0, 1]], dtype=np.float64)
    if flip:
        m = np.array([[-1, 0, fw], [0, 1, 0], [0, 0, 1]]) @ m
    a = np.deg2rad(rotate_deg)
    c, s = np.cos(a), np.sin(a)
    centre = np.array([fw / 2, fh / 2])
    rot = np.eye(3)
    rot[:2, :2] = [[c, s], [-s, c]]
    rot[:2, 2] = centre - rot[:2, :2] @ centre
    return rot @ m


def augment_image(img: np.ndarray, resize: float, crop: tuple[int, int], flip: bool, rotate_deg: float,
                  final_size: tuple[int, int], resampling: str = 'pil') -> tuple[np.ndarray, np.ndarray]:
    """Apply BEVDet's image-view augmentation to one image and return the exact pixel map it applied.

    - ``'pil'`` (BEVDet's ``img_transform_core``): PIL ``resize`` to ``(int(W s), int(H s))`` with its default
      bicubic filter, which widens with the downscale (antialiased), then crop, flip and PIL ``rotate`` about
      the centre (nearest). The map of that resize is ``u' = s_x u + (s_x - 1) / 2`` with ``s_x = int(W s) / W``
      (pixel centres at integers).
    - ``'warp_affine'``: the whole map in one ``cv2.warpAffine`` (bilinear, no antialiasing: a 0.44x downscale
      aliases).

    Args:
        img: (H, W, 3) uint8 image.
        resize, crop, flip, rotate_deg, final_size: As :func:`image_aug_matrix`.
        resampling: ``'pil'`` or ``'warp_affine'``.

    Returns:
        ``(out, aug)``: (fH, fW, 3) uint8 image and the (3, 3) map ``p_aug = aug @ p`` of its pixels.
    """
    fh, fw = final_size
    if resampling == 'warp_affine':
        aug = image_aug_matrix(resize, crop, flip, rotate_deg, final_size)
        return cv2.warpAffine(img, aug[:2], (fw, fh), flags=cv2.INTER_LINEAR), aug
    if resampling != 'pil':
        raise ValueError(f'image resampling must be one of {IMAGE_RESAMPLING}, got {resampling!r}')
    h, w = img.shape[:2]
    new_w, new_h = int(w * resize), int(h * resize)
    sx, sy = new_w / w, new_h / h
    scale = np.array([[sx, 0, (sx - 1) / 2], [0, sy, (sy - 1) / 2], [0, 0, 1]])
    pil = Image.fromarray(img).resize((new_w, new_h), Image.Resampling.BICUBIC)
    pil = pil.crop((crop[0], crop[1], crop[0] + fw, crop[1] + fh))
    if flip:
        pil = pil.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    pil = pil.rotate(rotate_deg)
    return np.asarray(pil), image_aug_matrix(1.0, crop, flip, rotate_deg, final_size) @ scale


@TRANSFORMS.register_module()
class BEVDetLoadMultiViewImages(BaseTransform):
    """Load the 6 camera images of a sample and apply BEVDet's image-view augmentation.

    Resize by ``fW / W + U(resize_lim)`` (test: ``fW / W + test_resize``), crop ``fH x fW`` (rows chosen by
    ``bot_pct_lim``, columns random; test: centred), horizontal flip, rotation ``U(rot_lim)`` degrees.

    Args:
        final_size: ``(fH, fW)`` network input.
        cameras: Camera names, in output order.
        is_train: Random augmentation (training) or the deterministic test transform.
        resize_lim: Added to the base scale ``fW / W`` (training).
        bot_pct_lim: Fraction of the resized height dropped below the crop.
        rot_lim: Rotation range, degrees.
        flip: Random horizontal flips (training).
        test_resize: Added to the base scale at test time.
        resampling: ``'pil'`` (official: antialiased resize, crop, flip, rotate) or ``'warp_affine'`` (one
            bilinear warp); see :func:`augment_image`.
        aug_matrix: ``post_rots`` / ``post_trans`` from the exact map of the produced pixels (``'exact'``) or
            BEVDet's formula (``'official'``, :func:`official_image_aug_matrix`, up to ~1 px off).

    ``results['img_aug_params']``, when present before this transform (one ``(resize, crop, flip, rotate)`` per
    camera), is applied instead of sampling new ones (BEVDet's sequential frames reuse the key frame's).
    """

    def __init__(self, final_size: Sequence[int], cameras: Sequence[str] = NUSCENES_CAMERAS, is_train: bool = False,
                 resize_lim: Sequence[float] = (-0.06, 0.11), bot_pct_lim: Sequence[float] = (0.0, 0.0),
                 rot_lim: Sequence[float] = (-5.4, 5.4), flip: bool = True, test_resize: float = 0.0,
                 resampling: str = 'pil', aug_matrix: str = 'exact') -> None:
        if resampling not in IMAGE_RESAMPLING:
            raise ValueError(f'image resampling must be one of {IMAGE_RESAMPLING}, got {resampling!r}')
        if aug_matrix not in AUG_MATRICES:
            raise ValueError(f'aug_matrix must be one of {AUG_MATRICES}, got {aug_matrix!r}')
        self.aug_matrix = aug_matrix
        self.final_size = tuple(int(x) for x in final_size)
        self.cameras = tuple(cameras)
        self.is_train = is_train
        self.resize_lim = tuple(resize_lim)
        self.bot_pct_lim = tuple(bot_pct_lim)
        self.rot_lim = tuple(rot_lim)
        self.flip = flip
        self.test_resize = test_resize
        self.resampling = resampling

    def _sample_aug(self, height: int, width: int) -> tuple[float, tuple[int, int], bool, float]:
        fh, fw = self.final_size
        base = fw / width
        if self.is_train:
            resize = base + np.random.uniform(*self.resize_lim)
            new_h, new_w = int(height * resize), int(width * resize)
            crop_h = int((1 - np.random.uniform(*self.bot_pct_lim)) * new_h) - fh
            crop_w = int(np.random.uniform(0, max(0, new_w - fw)))
            flip = self.flip and bool(np.random.choice([0, 1]))
            rotate = float(np.random.uniform(*self.rot_lim))
        else:
            resize = base + self.test_resize
            new_h, new_w = int(height * resize), int(width * resize)
            crop_h = int((1 - np.mean(self.bot_pct_lim)) * new_h) - fh
            crop_w = int(max(0, new_w - fw) / 2)
            flip, rotate = False, 0.0
        return resize, (crop_w, crop_h), flip, rotate

    def transform(self, results: dict) -> dict:
        token = results.get('token', results.get('sample_idx'))
        images, cam2img, cam2ego, lidar2cam, post_rots, post_trans, paths = [], [], [], [], [], [], []
        given = results.get('img_aug_params')
        aug_params = []
        for i, cam in enumerate(self.cameras):
            info = results['images'].get(cam)
            missing = [k for k in ('img_path', 'cam2img', 'lidar2cam') if info is None or k not in info]
            if missing or 'lidar2ego' not in results.get('lidar_points', {}):
                raise KeyError(f'sample {token}: camera {cam} lacks {missing or ["lidar_points.lidar2ego"]} in '
                               f'the info file ({INFO_HINT})')
            path = info['img_path']
            img = read_image(path, f'sample {token}: camera {cam}')  # BGR uint8
            h, w = img.shape[:2]
            resize, crop, flip, rotate = given[i] if given is not None else self._sample_aug(h, w)
            aug_params.append((resize, crop, flip, rotate))
            out, aug = augment_image(img, resize, crop, flip, rotate, self.final_size, self.resampling)
            if self.aug_matrix == 'official':
                aug = official_image_aug_matrix(resize, crop, flip, rotate, self.final_size)
            images.append(out)
            post_rot = np.eye(3, dtype=np.float32)
            post_rot[:2, :2] = aug[:2, :2]
            post_rots.append(post_rot)
            post_trans.append(np.array([aug[0, 2], aug[1, 2], 0.0], dtype=np.float32))
            cam2img.append(np.asarray(info['cam2img'], dtype=np.float32)[:3, :3])
            cam2ego.append(cam2keyego(info['lidar2cam'], results['lidar_points']['lidar2ego']).astype(np.float32))
            lidar2cam.append(np.asarray(info['lidar2cam'], dtype=np.float32))
            paths.append(path)
        results.update(img=images, img_path=paths, cam2img=np.stack(cam2img), cam2ego=np.stack(cam2ego),
                       lidar2cam=np.stack(lidar2cam), post_rots=np.stack(post_rots), post_trans=np.stack(post_trans),
                       img_aug_params=aug_params, img_shape=self.final_size, ori_shape=(h, w),
                       pad_shape=self.final_size)
        results.setdefault('bda', np.eye(3, dtype=np.float32))
        return results


@TRANSFORMS.register_module()
class BEVDetLidarBoxesToEgo(BaseTransform):
    """Move ``gt_bboxes_3d`` from the LiDAR frame of the infos to the ego frame; record ``lidar2ego``."""

    def transform(self, results: dict) -> dict:
        lidar2ego = np.asarray(results['lidar_points']['lidar2ego'], dtype=np.float32)
        results['lidar2ego'] = lidar2ego
        if 'gt_bboxes_3d' in results:
            results['gt_bboxes_3d'] = lidar_to_ego_boxes(results['gt_bboxes_3d'], lidar2ego)
        return results


@TRANSFORMS.register_module()
class BEVDetBEVAugmentation(BaseTransform):
    """BEV data augmentation of ego-frame boxes: rotate ``U(rot_lim)`` deg, scale ``U(scale_lim)``, flip x/y.

    The same map acts on the camera geometry through ``bda`` (3, 3): ``p_bev = bda @ p_ego`` with
    ``bda = flip @ scale @ rot``.

    Args:
        rot_lim: Rotation range, degrees (counter-clockwise about z).
        scale_lim: Scale range.
        flip_dx_ratio: Probability of flipping x (``'vertical'`` in mmdet3d's naming).
        flip_dy_ratio: Probability of flipping y (``'horizontal'``).
        is_train: Augment (otherwise ``bda`` = identity).
    """

    def __init__(self, rot_lim: Sequence[float] = (-22.5, 22.5), scale_lim: Sequence[float] = (0.95, 1.05),
                 flip_dx_ratio: float = 0.5, flip_dy_ratio: float = 0.5, is_train: bool = True) -> None:
        self.rot_lim = tuple(rot_lim)
        self.scale_lim = tuple(scale_lim)
        self.flip_dx_ratio = flip_dx_ratio
        self.flip_dy_ratio = flip_dy_ratio
        self.is_train = is_train

    def transform(self, results: dict) -> dict:
        if not self.is_train:
            results['bda'] = np.eye(3, dtype=np.float32)
            return results
        angle = np.deg2rad(np.random.uniform(*self.rot_lim))
        scale = float(np.random.uniform(*self.scale_lim))
        flip_dx = np.random.rand() < self.flip_dx_ratio
        flip_dy = np.random.rand() < self.flip_dy_ratio
        c, s = np.cos(angle), np.sin(angle)
        rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        flip = np.diag([-1.0 if flip_dx else 1.0, -1.0 if flip_dy else 1.0, 1.0])
        results['bda'] = (flip @ (scale * rot)).astype(np.float32)
        boxes = results.get('gt_bboxes_3d')
        if boxes is not None:
            boxes.rotate(angle)
            boxes.scale(scale)
            if flip_dx:
                boxes.flip('vertical')
            if flip_dy:
                boxes.flip('horizontal')
        return results


@TRANSFORMS.register_module()
class BEVDetMultiViewDepthTargets(BaseTransform):
    """Project LiDAR ``points`` (LiDAR frame) into every augmented image: ``gt_depth`` (N, fH, fW).

    Through each camera's ``lidar2cam``, which mmdet3d's converter builds through the camera's own ego pose:
    the same per-camera ego-motion compensation as the lift's ``cam2ego`` (:func:`~.frames.cam2keyego`).

    Nearest return per pixel; 0 where there is none or the depth is outside ``depth_range``.

    Args:
        depth_range: ``(d_min, d_max)`` metres kept.
    """

    def __init__(self, depth_range: Sequence[float] = (1.0, 60.0)) -> None:
        self.depth_range = tuple(depth_range)

    def transform(self, results: dict) -> dict:
        points = results['points'].tensor[:, :3].numpy().astype(np.float64)  # (P, 3) LiDAR frame
        fh, fw = results['img_shape']
        n = len(results['lidar2cam'])
        depth = np.zeros((n, fh, fw), dtype=np.float32)
        homo = np.concatenate([points, np.ones((len(points), 1))], axis=1)
        for i in range(n):
            cam = (homo @ results['lidar2cam'][i].T)[:, :3]  # (P, 3) camera frame
            d = cam[:, 2]
            uv = (cam @ results['cam2img'][i].T)[:, :2] / np.maximum(d, 1e-6)[:, None]
            uvd = np.concatenate([uv, d[:, None]], axis=1) @ results['post_rots'][i].T + results['post_trans'][i]
            u, v = np.round(uvd[:, 0]).astype(np.int64), np.round(uvd[:, 1]).astype(np.int64)
            keep = ((d >= self.depth_range[0]) & (d < self.depth_range[1]) & (u >= 0) & (u < fw) & (v >= 0)
                    & (v < fh))
            u, v, d = u[keep], v[keep], d[keep]
            order = np.argsort(-d)  # far first, so the nearest return is written last
            depth[i, v[order], u[order]] = d[order]
        results['gt_depth'] = depth
        return results


@TRANSFORMS.register_module()
class BEVDetPackInputs(Pack3DDetInputs):
    """``Pack3DDetInputs`` that also packs ``gt_depth`` as ``data_sample.gt_depth`` (N, fH, fW) tensor.

    Camera matrices travel as meta keys (``cam2img``, ``cam2ego``, ``post_rots``, ``post_trans``, ``bda``,
    ``lidar2ego``); the detector stacks them into tensors.
    """

    def pack_single_results(self, results: dict) -> dict:
        packed = super().pack_single_results(results)
        if 'gt_depth' in results:
            packed['data_samples'].gt_depth = torch.from_numpy(results['gt_depth'])
        return packed
