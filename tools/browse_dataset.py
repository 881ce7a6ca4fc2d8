"""Draw augmented training inputs with their ground truth, to check the augmentation geometry by eye.

Examples::

    python tools/browse_dataset.py configs/demo/bevdet_hybrid_demo.py --output-dir browse --num-samples 4
    python tools/browse_dataset.py configs/bevdet_hybrid.py --output-dir browse --split val

Runs the config's **train** pipeline (image-view resize / crop / flip / rotate and BEV rotate / scale / flip,
LiDAR depth targets) on the samples of ``--split`` and the model's data preprocessor on the result, then writes
``<output-dir>/<index>_<sample token>.png``: the six augmented camera images as the network sees them
(un-normalised back to RGB), the LiDAR depth targets ``gt_depth`` as coloured dots (red = near, blue = far)
and the ground-truth boxes (green) projected with the sample's augmented matrices (``cam2img``, ``cam2ego``,
``post_rots``, ``post_trans``, ``bda``): the exact inverse of the view transformer's lift, so boxes sit on their
objects only if the matrices describe the augmented images. Right: a bird's-eye panel of the augmented ego
frame (LiDAR points moved by ``bda @ lidar2ego``, GT footprints). See ``docs/visualization.md``.
"""
from __future__ import annotations

import argparse
import copy
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # repo root: projects/ and configs

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmdet3d.structures import Det3DDataSample  # noqa: E402
from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402

from hybrid_depth.datasets.file_readers import read_points  # noqa: E402
from hybrid_depth.engine.cli import ConfigError, load_config  # noqa: E402
from hybrid_depth.geometry.camera import transform_points  # noqa: E402
from hybrid_depth.visualization import (  # noqa: E402
    GT_COLOUR,
    Projector,
    bev_panel,
    box_corners,
    camera_grid,
    depth_colours,
    draw_points,
    draw_wireframes,
    project_box_edges,
    resize_to_width,
    scale_pixels,
    write_png,
)
from projects.BEVDet.bevdet.transforms import NUSCENES_CAMERAS  # noqa: E402
from projects.BEVDet.bevdet.view_transformer import bev_to_image  # noqa: E402

SPLITS = ('train', 'val', 'test')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file')
    p.add_argument('--output-dir', required=True, help='folder for the PNGs')
    p.add_argument('--num-samples', type=int, default=5, help='first N samples of the split')
    p.add_argument('--split', choices=SPLITS, default='train', help='whose samples (always the train pipeline)')
    p.add_argument('--cam-width', type=int, default=None, help='width of each camera tile (default: network input)')
    p.add_argument('--bev-extent', type=float, default=51.2, help='half-width of the BEV panel, metres')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override settings of the config (xxx=yyy), checked against its keys')
    return p.parse_args(argv)


def _innermost(dataset_cfg: dict) -> dict:
    """The dataset config inside dataset wrappers (``CBGSDataset(dataset=...)``)."""
    while 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def browse_dataset_cfg(cfg: Config, split: str) -> ConfigDict:
    """Dataset config of ``split`` running the train pipeline with annotations (``test_mode=False``).

    Dataset wrappers (``CBGSDataset``) are dropped: samples are browsed in info-file order.
    """
    if split not in SPLITS:
        raise ConfigError(f'unknown split {split!r}; use one of {SPLITS}')
    loader = cfg.get(f'{split}_dataloader')
    if not loader or 'dataset' not in loader:
        raise ConfigError(f'the config has no {split}_dataloader.dataset')
    dataset_cfg = copy.deepcopy(_innermost(loader['dataset']))
    dataset_cfg['pipeline'] = copy.deepcopy(_innermost(cfg.train_dataloader.dataset)['pipeline'])
    dataset_cfg['test_mode'] = False
    return dataset_cfg


def augmented_projector(meta: dict, cam: int) -> Projector:
    """Projection of augmented-ego-frame points into camera ``cam``'s augmented image.

    Args:
        meta: Packed metainfo with ``cam2img`` (N, 3, 3), ``cam2ego`` (N, 4, 4) camera -> key ego (per-camera
            ego-motion compensated by the loader, ``frames.cam2keyego``), ``post_rots`` (N, 3, 3),
            ``post_trans`` (N, 3) and ``bda`` (3, 3) (see ``projects/BEVDet/bevdet/transforms.py``).
        cam: Camera index.

    Returns:
        A ``Projector``: (P, 3) points in the augmented ego frame -> ``(u', v')`` pixels of the network input
        and camera depth (``bev_to_image``, the inverse of BEVDet's ``frustum_to_bev``).
    """
    mats = {k: torch.as_tensor(np.asarray(meta[k], dtype=np.float64))[None, cam:cam + 1]
            for k in ('cam2img', 'cam2ego', 'post_rots', 'post_trans')}  # (1, 1, ...)
    bda = torch.as_tensor(np.asarray(meta['bda'], dtype=np.float64))[None]  # (1, 3, 3)

    def to_image(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pts = torch.as_tensor(np.asarray(points, dtype=np.float64).reshape(1, -1, 3))
        uv, depth = bev_to_image(pts, bda=bda, **mats)
        return uv[0, 0].numpy(), depth[0, 0].numpy()

    return to_image


def network_images(imgs: torch.Tensor, preprocessor: torch.nn.Module) -> list[np.ndarray]:
    """(N, 3, H, W) preprocessed (normalised) images -> N (H, W, 3) uint8 RGB images.

    Undoes the data preprocessor's ``(x - mean) / std``; its ``bgr_to_rgb`` already made them RGB (if it did not,
    the model sees BGR and the channels are swapped back here for display).
    """
    mean = getattr(preprocessor, 'mean', torch.zeros(3, 1, 1)).view(1, -1, 1, 1)
    std = getattr(preprocessor, 'std', torch.ones(3, 1, 1)).view(1, -1, 1, 1)
    raw = (imgs.detach().cpu().float() * std.cpu() + mean.cpu()).clamp(0, 255).round().byte()
    rgb = raw.permute(0, 2, 3, 1).numpy()  # (N, H, W, 3)
    if not getattr(preprocessor, '_channel_conversion', False):
        rgb = rgb[..., ::-1]
    return [np.ascontiguousarray(x) for x in rgb]


def load_points_in_bev(info: dict, meta: dict) -> np.ndarray:
    """(P, 3) LiDAR points of the sample in the augmented ego frame (``bda @ lidar2ego @ p``)."""
    dim = int(info['lidar_points'].get('num_pts_feats', info.get('num_pts_feats', 5)))
    pts = torch.as_tensor(read_points(info['lidar_points'].get('lidar_path', info.get('lidar_path')), dim,
                                      f'sample {info.get("token", info.get("sample_idx"))}')[:, :3].astype(np.float64))
    T = torch.eye(4, dtype=torch.float64)
    T[:3, :3] = torch.as_tensor(np.asarray(meta['bda'], dtype=np.float64))
    T = T @ torch.as_tensor(np.asarray(meta['lidar2ego'], dtype=np.float64))
    return transform_points(pts.T[None], T[None])[0].T.numpy()


def browse_figure(images: list[np.ndarray], sample: Det3DDataSample, classes: list[str],
                  points: np.ndarray | None = None, cam_width: int | None = None, bev_extent: float = 51.2,
                  cameras: tuple[str, ...] = NUSCENES_CAMERAS) -> np.ndarray:
    """One augmented sample's figure.

    Args:
        images: N (fH, fW, 3) uint8 RGB augmented network inputs.
        sample: The packed ``Det3DDataSample`` (metainfo matrices, ``gt_instances_3d`` in the augmented ego
            frame, optional ``gt_depth`` (N, fH, fW)).
        classes: Class names.
        points: (P, 3) LiDAR points in the augmented ego frame for the BEV panel (None: none).
        cam_width: Tile width (None: the network input width).
        bev_extent: Half-width of the BEV panel, metres.
        cameras: Camera names (titles), in the pipeline's order.

    Returns:
        (2 h, 3 w + 2 h, 3) uint8 RGB: camera grid, then the BEV panel (augmented ego frame).
    """
    meta = sample.metainfo
    gt = sample.gt_instances_3d
    boxes = gt.bboxes_3d.tensor.detach().cpu().numpy()
    labels = [classes[k] if 0 <= k < len(classes) else str(k) for k in gt.labels_3d.cpu().tolist()]
    corners = box_corners(boxes)
    gt_depth = sample.gt_depth.cpu().numpy() if 'gt_depth' in sample else None
    tiles = []
    for i, img in enumerate(images):
        tile, scale = resize_to_width(img, cam_width) if cam_width else (img.copy(), 1.0)
        if gt_depth is not None:
            v, u = np.nonzero(gt_depth[i])
            uv = scale_pixels(np.stack([u, v], axis=1), scale)
            tile = draw_points(tile, uv, depth_colours(gt_depth[i][v, u]), radius=0 if scale <= 1.5 else 1)
        segments, visible = project_box_edges(corners, augmented_projector(meta, i))
        tiles.append(draw_wireframes(tile, scale_pixels(segments, scale), visible, GT_COLOUR, labels))
    grid = camera_grid(tiles, [cameras[i] if i < len(cameras) else f'cam {i}' for i in range(len(tiles))])
    bev = bev_panel(grid.shape[0], bev_extent, points, [(boxes, GT_COLOUR)])
    return np.concatenate([grid, bev], axis=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config, args.cfg_options)
        dataset_cfg = browse_dataset_cfg(cfg, args.split)
    except ConfigError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    from mmdet3d.registry import DATASETS, MODELS
    dataset = DATASETS.build(dataset_cfg)
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    classes = list(dataset.metainfo.get('classes', ()))
    total = min(args.num_samples, len(dataset))
    bar = ProgressBar(total)
    written = 0
    for idx in range(total):
        data = dataset.prepare_data(idx)  # not dataset[idx]: that silently swaps in another sample on failure
        if data is None:
            print(f'\nsample {idx}: the train pipeline dropped it (e.g. no box left in range); skipped',
                  file=sys.stderr)
            bar.update()
            continue
        batch = preprocessor(pseudo_collate([data]), training=False)
        sample = batch['data_samples'][0]
        images = network_images(batch['inputs']['imgs'][0], preprocessor)
        info = dataset.get_data_info(idx)
        figure = browse_figure(images, sample, classes, load_points_in_bev(info, sample.metainfo), args.cam_width,
                               args.bev_extent)
        token = sample.metainfo.get('token', info.get('token', ''))
        write_png(osp.join(args.output_dir, f'{idx:04d}_{token}.png'), figure)
        written += 1
        bar.update()
    print(f'\nwrote {written} PNGs to {osp.abspath(args.output_dir)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
