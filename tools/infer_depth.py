"""Depth of single images or a folder (the official ``Stage2/test_simple.py``).

For every image: ``<name>_disp.png`` (the disparity in the official colour map at the image's size) and
``<name>_depth.npy`` ((h, w) float32 depth at the model's input size, metres up to the monocular scale, times
``--metric-scale``). Works with checkpoints of this project and with converted official weights
(``tools/convert_official_checkpoint.py``); the config's test pipeline reads and resizes the image.

Examples:
    python tools/infer_depth.py configs/hybrid_depth/fine_kitti.py fine.pth assets/frame.png
    python tools/infer_depth.py configs/demo/depth_fine_kitti.py CKPT data/synthetic/kitti_raw/2011_09_26/\\
        2011_09_26_drive_0001_sync/image_02/data --ext png --out-dir work_dirs/infer
"""
from __future__ import annotations

import argparse
import glob
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # repo root: projects/ and configs

from mmengine.config import DictAction  # noqa: E402

from hybrid_depth.engine.cli import DATA_ERRORS, ConfigError, data_error_line, load_config  # noqa: E402

OUTPUT_SUFFIXES = ('_disp.png', '_disp.jpeg', '_disp.jpg')  # our outputs and the official script's


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', help='a fine-stage or Monodepth2 config')
    p.add_argument('checkpoint', help='its checkpoint (ours or converted official weights)')
    p.add_argument('image_path', help='an image file or a folder of images')
    p.add_argument('--ext', default='jpg', help='image extension to look for in a folder (default: jpg)')
    p.add_argument('--out-dir', default=None, help='where to write the outputs (default: beside each image)')
    p.add_argument('--metric-scale', type=float, default=1.0,
                   help='multiply the saved depth by this (the official stereo factor is 5.4; default 1: '
                        'up to the monocular scale)')
    p.add_argument('--device', default='cpu', help='torch device (default: cpu)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return p.parse_args(argv)


def find_images(path: str, ext: str) -> list[str]:
    """``path`` itself, or the ``*.ext`` files of the folder ``path`` (sorted, our outputs skipped)."""
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'image or folder not found: {path}')
    paths = sorted(p for p in glob.glob(osp.join(path, f'*.{ext.lstrip(".")}')) if not p.endswith(OUTPUT_SUFFIXES))
    if not paths:
        raise FileNotFoundError(f'no *.{ext.lstrip(".")} images in {path} (choose the extension with --ext)')
    return paths


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.metric_scale <= 0:
        print(f'error: --metric-scale must be positive, got {args.metric_scale}', file=sys.stderr)
        return 2
    try:
        cfg = load_config(args.config, args.cfg_options)
    except ConfigError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    import numpy as np
    from PIL import Image
    from tqdm import tqdm

    from hybrid_depth.apis import colorize_disparity, infer_depth, init_depth_model
    from hybrid_depth.utils.atomic import atomic_write

    try:
        paths = find_images(args.image_path, args.ext)
        model, pipeline = init_depth_model(cfg, args.checkpoint, args.device)
        if args.out_dir:
            os.makedirs(args.out_dir, exist_ok=True)
        for path in tqdm(paths, desc='depth', unit='image', disable=len(paths) == 1, file=sys.stderr):
            out = infer_depth(model, pipeline, path)
            stem = osp.join(args.out_dir or osp.dirname(path), osp.splitext(osp.basename(path))[0])
            with atomic_write(f'{stem}_depth.npy') as tmp:
                np.save(tmp, out['depth'] * np.float32(args.metric_scale))
            with atomic_write(f'{stem}_disp.png') as tmp:
                Image.fromarray(colorize_disparity(out['disp'], out['image_size'])).save(tmp)
    except (ValueError, *DATA_ERRORS) as err:  # a bad image, checkpoint or config: one line naming it
        print(f'error: {data_error_line(err)}', file=sys.stderr)
        return 2
    where = args.out_dir or "the images' folders"
    print(f'wrote {len(paths)} x (_depth.npy, _disp.png) to {where}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
