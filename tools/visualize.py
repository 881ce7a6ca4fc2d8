"""Draw a model's test-set results as PNGs.

Examples::

    python tools/visualize.py configs/demo/bevdet_hybrid_demo.py work_dirs/bevdet_hybrid_demo/epoch_2.pth \\
        --out-dir vis --num-samples 4
    python tools/visualize.py configs/demo/depth_fine_kitti.py work_dirs/depth_fine/epoch_35.pth --out-dir vis

Builds the model and the **test** dataloader from the config as ``tools/test.py`` does and runs
``model.test_step`` on the first ``--num-samples`` samples.

- 3D detection (BEVDet, FB-BEV): ``<out-dir>/<sample token>.png``: the six cameras (original image files,
  nuScenes layout) with predicted boxes (score >= ``--score-thr``, red, class names) and ground-truth boxes
  (green) as 3D wireframes clipped at the near plane, beside a bird's-eye panel in the ego frame (LiDAR points
  of the sample, box footprints with heading lines, the ego as a white triangle, a metre grid).
- Depth (``hybrid_depth.models.estimators``): ``<out-dir>/<sample_idx>_<image name>.png``: the input image
  above the coloured disparity (and the ground-truth disparity where the batch carries ``gt_depth``).

See ``docs/visualization.md``.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # repo root: projects/ and configs

import mmcv  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmdet3d.structures import LiDARInstance3DBoxes  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dataset import BaseDataset  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner, load_checkpoint  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402

from hybrid_depth.datasets.file_readers import read_image, read_points  # noqa: E402
from hybrid_depth.engine.cli import ConfigError, load_config  # noqa: E402
from hybrid_depth.engine.runner import trusted_checkpoint_loading  # noqa: E402
from hybrid_depth.geometry.camera import transform_points  # noqa: E402
from hybrid_depth.visualization import (  # noqa: E402
    GT_COLOUR,
    PRED_COLOUR,
    bev_panel,
    box_corners,
    camera_grid,
    depth_stack,
    draw_wireframes,
    pinhole_projector,
    project_box_edges,
    resize_to_width,
    scale_pixels,
    write_png,
)
from projects.BEVDet.bevdet.frames import cam2keyego, lidar_to_ego_boxes  # noqa: E402
from projects.BEVDet.bevdet.transforms import NUSCENES_CAMERAS  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--out-dir', required=True, help='folder for the PNGs')
    p.add_argument('--num-samples', type=int, default=8, help='first N test samples')
    p.add_argument('--score-thr', type=float, default=0.3, help='predicted boxes below this score are not drawn')
    p.add_argument('--cam-width', type=int, default=480, help='width of each camera tile, pixels')
    p.add_argument('--bev-extent', type=float, default=51.2, help='half-width of the BEV panel, metres')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override settings of the config (xxx=yyy), checked against its keys')
    return p.parse_args(argv)


def ground_truth(dataset: BaseDataset, info: dict) -> tuple[np.ndarray, np.ndarray]:
    """GT boxes of a sample as the dataset parses them.

    mmdet3d's nuScenes infos store gravity centres (``instances[*]['bbox_3d']``); the dataset's
    ``parse_ann_info`` converts them to bottom centres (``origin=(0.5, 0.5, 0.5)``), which is used here.

    Returns:
        (M, 7) LiDAR-frame boxes (bottom centre) and (M,) labels (-1: class not in the config).
    """
    ann = dataset.parse_ann_info(info)
    boxes = ann['gt_bboxes_3d']
    boxes = boxes.tensor.numpy() if hasattr(boxes, 'tensor') else np.asarray(boxes)
    return boxes.reshape(-1, boxes.shape[-1] if boxes.size else 7)[:, :7].astype(np.float64), \
        np.asarray(ann['gt_labels_3d'], dtype=np.int64).reshape(-1)


def load_lidar_points(info: dict) -> np.ndarray:
    """(P, 3) LiDAR-frame points of the sample's ``.pcd.bin`` (``num_pts_feats`` floats per point).

    Raises:
        FileNotFoundError / ValueError: a missing or malformed file, naming it and the sample.
    """
    lidar = info['lidar_points']
    path = lidar.get('lidar_path', info.get('lidar_path'))
    dim = int(lidar.get('num_pts_feats', info.get('num_pts_feats', 5)))
    return read_points(path, dim, f'sample {info.get("token", info.get("sample_idx"))}')[:, :3].astype(np.float64)


def lidar_to_ego(points: np.ndarray, boxes: np.ndarray, lidar2ego: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P, 3) points and (M, 7+) boxes, LiDAR frame -> (P, 3) and (M, 7) in the ego frame."""
    T = torch.as_tensor(np.asarray(lidar2ego, dtype=np.float64))
    pts = transform_points(torch.as_tensor(points, dtype=torch.float64).T[None], T[None])[0].T.numpy()
    boxes = torch.as_tensor(np.asarray(boxes, dtype=np.float64).reshape(-1, np.shape(boxes)[-1])[:, :7])
    ego_boxes = lidar_to_ego_boxes(LiDARInstance3DBoxes(boxes, box_dim=7), T)
    return pts, ego_boxes.tensor.numpy()


def detection_figure(info: dict, gt_boxes: np.ndarray, gt_labels: np.ndarray, pred_boxes: np.ndarray,
                     pred_labels: np.ndarray, classes: list[str], cam_width: int = 480, bev_extent: float = 51.2,
                     cameras: tuple[str, ...] = NUSCENES_CAMERAS) -> np.ndarray:
    """One sample's detection figure.

    Args:
        info: Dataset info (``dataset.get_data_info``): ``images[cam]`` with ``img_path``, ``cam2img`` and
            ``lidar2cam``; ``lidar_points`` with ``lidar_path`` and ``lidar2ego``. Boxes are drawn in the key
            ego frame and projected with :func:`cam2keyego` (each camera at its own capture time).
        gt_boxes: (M, 7+) ground-truth boxes, LiDAR frame, bottom centre (:func:`ground_truth`).
        gt_labels: (M,) class indices.
        pred_boxes: (K, 7+) predicted boxes, LiDAR frame (already filtered by score).
        pred_labels: (K,) class indices.
        classes: Class names.
        cam_width: Width of each camera tile.
        bev_extent: Half-width of the BEV panel, metres.
        cameras: Camera names in grid order.

    Returns:
        (2 h, 3 cam_width + 2 h, 3) uint8 RGB, ``h`` the tile height: the camera grid, then the BEV panel
        (ego frame) to its right.
    """
    name = lambda k: classes[k] if 0 <= k < len(classes) else str(k)  # noqa: E731
    token = info.get('token', info.get('sample_idx'))
    lidar2ego = info['lidar_points']['lidar2ego']
    points, gt_ego = lidar_to_ego(load_lidar_points(info), gt_boxes, lidar2ego)
    _, pred_ego = lidar_to_ego(np.zeros((0, 3)), pred_boxes, lidar2ego)
    groups = [(box_corners(gt_ego), [name(k) for k in gt_labels], GT_COLOUR),
              (box_corners(pred_ego), [name(k) for k in pred_labels], PRED_COLOUR)]
    tiles = []
    for cam in cameras:
        cam_info = info['images'][cam]
        img = read_image(cam_info['img_path'], f'sample {token}: camera {cam}', channel_order='rgb')
        tile, scale = resize_to_width(img, cam_width)
        # key-ego boxes into the image through the camera's own capture-time pose (ego-motion compensated)
        ego2cam = np.linalg.inv(cam2keyego(cam_info['lidar2cam'], lidar2ego))
        to_image = pinhole_projector(cam_info['cam2img'], ego2cam)
        for corners, labels, colour in groups:
            segments, visible = project_box_edges(corners, to_image)
            tile = draw_wireframes(tile, scale_pixels(segments, scale), visible, colour, labels)
        tiles.append(tile)
    grid = camera_grid(tiles, cameras)
    bev = bev_panel(grid.shape[0], bev_extent, points, [(gt_ego, GT_COLOUR), (pred_ego, PRED_COLOUR)])
    return np.concatenate([grid, bev], axis=1)


def depth_figure(output: dict) -> np.ndarray:
    """Input image above the coloured predicted disparity (and GT disparity) of one depth prediction.

    Args:
        output: A depth estimator's prediction dict: ``img_path``, ``pred_disp`` (1, h, w), optional ``gt_depth``
            ((H, W) or (1, H, W) metres, 0 = none).
    """
    img = mmcv.imread(output['img_path'], channel_order='rgb')
    gt = output.get('gt_depth')
    gt = None if gt is None else np.asarray(torch.as_tensor(gt).squeeze().cpu())
    return depth_stack(img, np.asarray(torch.as_tensor(output['pred_disp']).squeeze(0).cpu()), gt)


def _dataset_index(dataset: BaseDataset, token: str | None, expected: int) -> int:
    """Index of the sample with ``token`` (test loaders are sequential, so normally ``expected``)."""
    if token is None or dataset.get_data_info(expected).get('token') == token:
        return expected
    for i in range(len(dataset)):
        if dataset.get_data_info(i).get('token') == token:
            return i
    raise KeyError(f'sample {token} not found in the test dataset')


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        print(f'error: checkpoint not found: {args.checkpoint}', file=sys.stderr)
        return 2
    try:
        cfg: Config = load_config(args.config, args.cfg_options)
    except ConfigError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    from mmengine.registry import MODELS
    model = MODELS.build(cfg.model).to(args.device).eval()
    with trusted_checkpoint_loading():
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    loader = Runner.build_dataloader(cfg.test_dataloader)
    dataset = loader.dataset
    classes = list(dataset.metainfo.get('classes', ()))
    total = min(args.num_samples, len(dataset))
    bar = ProgressBar(total)
    done = 0
    with torch.no_grad():
        for batch in loader:
            for out in model.test_step(batch):
                if done >= total:
                    break
                if isinstance(out, dict) and 'pred_disp' in out:
                    name = f"{out.get('sample_idx', done)}_{osp.splitext(osp.basename(out['img_path']))[0]}"
                    figure = depth_figure(out)
                elif hasattr(out, 'pred_instances_3d'):
                    token = out.metainfo.get('token')
                    info = dataset.get_data_info(_dataset_index(dataset, token, done))
                    pred = out.pred_instances_3d
                    keep = (pred.scores_3d >= args.score_thr).cpu().numpy()
                    boxes = pred.bboxes_3d.tensor.detach().cpu().numpy()[keep]
                    labels = pred.labels_3d.cpu().numpy()[keep]
                    gt_boxes, gt_labels = ground_truth(dataset, info)
                    figure = detection_figure(info, gt_boxes, gt_labels, boxes, labels, classes, args.cam_width,
                                              args.bev_extent)
                    name = info.get('token', str(done))
                else:
                    print(f'\nerror: {args.config}: test_step returned {type(out).__name__} without '
                          'pred_instances_3d or pred_disp; nothing to draw', file=sys.stderr)
                    return 2
                write_png(osp.join(args.out_dir, f'{name}.png'), figure)
                done += 1
                bar.update()
            if done >= total:
                break
    print(f'\nwrote {done} PNGs to {osp.abspath(args.out_dir)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
