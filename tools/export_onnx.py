"""Export a BEVDet detector to ONNX: images -> the head's dense maps (heatmaps and regression maps per task).

The view transformer's camera-dependent pooling indices are graph inputs, computed outside the graph by
``projects.BEVDet.bevdet.onnx_export.camera_inputs`` (see that module for what is in the graph and what is
not). The export traces one test sample (``--sample``); its camera inputs are written beside the model
(``model.cameras.npz``: a fixed rig reuses them, ``tools/onnx_infer.py --cameras``), and the exported model is
checked against PyTorch with onnxruntime on that sample: the maximum absolute difference per output is printed.

Examples:
    python tools/export_onnx.py configs/demo/bevdet_hybrid_demo.py work_dirs/bevdet_hybrid_demo/epoch_2.pth \
        --out work_dirs/onnx/bevdet_hybrid_demo.onnx
    python tools/export_onnx.py CONFIG CKPT --out model.onnx --opset 18 --image-size 256 704
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
import tempfile

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # repo root: projects/ and configs

import numpy as np  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from hybrid_depth.engine.cli import DATA_ERRORS, ConfigError, build_runner, data_error_line, load_config  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a BEVDet detector to ONNX (images -> dense head maps)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='output .onnx file; its camera inputs go to <stem>.cameras.npz')
    parser.add_argument('--opset', type=int, default=18, help='ONNX opset (>= 14: CumSum on fp64)')
    parser.add_argument('--image-size', type=int, nargs=2, metavar=('H', 'W'),
                        help="network input size (default: the config's view transformer input_size)")
    parser.add_argument('--sample', type=int, default=0, help='test-split sample whose calibration is traced')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings (xxx=yyy)')
    return parser.parse_args(argv)


def cameras_path(onnx_path: str) -> str:
    """``model.onnx`` -> ``model.cameras.npz`` (the camera inputs written beside the model)."""
    return osp.splitext(onnx_path)[0] + '.cameras.npz'


def set_image_size(cfg, size: tuple[int, int]) -> None:
    """Point the view transformer and every test-pipeline image loader at ``size`` ``(H, W)``."""
    if size[0] <= 0 or size[1] <= 0:
        raise ConfigError(f'--image-size {size[0]} {size[1]}: both sides must be positive')
    cfg.model.img_view_transformer.input_size = tuple(size)
    for step in cfg.test_dataloader.dataset.pipeline:
        if 'final_size' in step:
            step['final_size'] = tuple(size)


def load_sample(runner, index: int):
    """``(imgs (N, 3, H, W), data_sample)`` of test sample ``index`` after the model's data preprocessor."""
    from mmengine.dataset import pseudo_collate
    dataset = runner.test_dataloader.dataset
    if not 0 <= index < len(dataset):
        raise ConfigError(f'--sample {index}: the test split has {len(dataset)} samples')
    data = runner.model.data_preprocessor(pseudo_collate([dataset[index]]), False)
    return data['inputs']['imgs'][0], data['data_samples'][0]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        print(f'error: checkpoint not found: {args.checkpoint}', file=sys.stderr)
        return 2
    import onnxruntime as ort

    from projects.BEVDet.bevdet.onnx_export import (
        CAMERA_INPUTS,
        ExportError,
        camera_inputs,
        check_exportable,
        export_onnx,
        pytorch_dense_outputs,
    )
    try:
        cfg = load_config(args.config, args.cfg_options)
        if args.image_size:
            set_image_size(cfg, tuple(args.image_size))
        cfg.work_dir = tempfile.mkdtemp(prefix='export_onnx_')
        runner = build_runner(cfg)
        model = runner.model.eval()
        check_exportable(model)
        runner.load_checkpoint(args.checkpoint)
        imgs, sample = load_sample(runner, args.sample)
        vt = model.img_view_transformer
        if tuple(imgs.shape[-2:]) != vt.input_size:
            raise ExportError(f'images are {imgs.shape[-2]}x{imgs.shape[-1]} but the view transformer expects '
                              f'input_size {vt.input_size}')
        cams = model.camera_tensors([sample], imgs.device)
        cameras = camera_inputs(vt, *(cams[k][0].numpy() for k in ('cam2img', 'cam2ego', 'post_rots', 'post_trans',
                                                                   'bda')))
        reference = pytorch_dense_outputs(model, imgs, cams)  # also where a wrong image size fails, by its value
    except (ConfigError, ExportError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    except DATA_ERRORS as err:
        print(f'error: {data_error_line(err)}', file=sys.stderr)
        return 2
    except ValueError as err:  # the model's own shape checks (feature map vs input_size)
        print(f'error: --image-size {args.image_size or vt.input_size}: {err}', file=sys.stderr)
        return 2

    from hybrid_depth.utils.atomic import atomic_write
    try:  # both files under temporary names beside the targets, renamed when complete
        with atomic_write(args.out) as tmp:
            names = export_onnx(model, imgs, cameras, str(tmp), args.opset)
    except ExportError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    with atomic_write(cameras_path(args.out)) as tmp, open(tmp, 'wb') as f:
        np.savez(f, **cameras, image_size=np.asarray(vt.input_size), token=np.asarray(sample.metainfo.get('token', '')))
    session = ort.InferenceSession(args.out, providers=['CPUExecutionProvider'])
    feed = dict(imgs=imgs.numpy(), **{k: cameras[k] for k in CAMERA_INPUTS})
    outputs = dict(zip(names, session.run(names, feed)))
    print(f'exported {args.out} (opset {args.opset}; camera inputs of sample {args.sample}: '
          f'{cameras_path(args.out)}: {len(cameras["point_index"])} points pooled into '
          f'{len(cameras["voxel_index"])} voxels)')
    print('parity on that sample, onnxruntime vs PyTorch (max abs diff, max |PyTorch|):')
    worst = 0.0
    for name in names:
        diff = float(np.abs(outputs[name] - reference[name]).max())
        worst = max(worst, diff)
        print(f'    {name:<16} {diff:.2e}  {float(np.abs(reference[name]).max()):.3g}')
    print(f'max abs diff {worst:.2e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
