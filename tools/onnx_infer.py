"""Run an exported BEVDet (``tools/export_onnx.py``) with onnxruntime on the config's test split and score it.

Per sample: the config's test pipeline and data preprocessor, the camera inputs (computed from the sample's
calibration by ``camera_inputs``, or one fixed file with ``--cameras``), onnxruntime, then the head's own decode
and Scale-NMS in Python and the config's test evaluator (nuscenes-devkit through ``BEVDetNuScenesMetric``) on
the same ``Det3DDataSample`` fields ``tools/test.py`` fills, so both print the same metric keys. The devkit's
result file is kept under ``--work-dir`` (``results_nusc.json``).

Examples:
    python tools/onnx_infer.py configs/demo/bevdet_hybrid_demo.py work_dirs/onnx/bevdet_hybrid_demo.onnx
    python tools/onnx_infer.py CONFIG model.onnx --cameras model.cameras.npz --threads 2
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # repo root: projects/ and configs

import numpy as np  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from hybrid_depth.engine.cli import DATA_ERRORS, ConfigError, build_runner, data_error_line, load_config  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate an exported BEVDet ONNX model with onnxruntime')
    parser.add_argument('config', help='the config the model was exported from')
    parser.add_argument('onnx', help='.onnx file from tools/export_onnx.py')
    parser.add_argument('--cameras', help='fixed camera inputs (<stem>.cameras.npz) for every sample; default: '
                        "computed from each sample's calibration")
    parser.add_argument('--work-dir', help='where the devkit results go (default ./work_dirs/<config>_onnx)')
    parser.add_argument('--threads', type=int, default=0, help='onnxruntime intra-op threads (0: its default)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings (xxx=yyy)')
    return parser.parse_args(argv)


def load_cameras(path: str) -> dict[str, np.ndarray]:
    """The camera inputs written by ``tools/export_onnx.py``; one line naming the file or key when unusable."""
    from projects.BEVDet.bevdet.onnx_export import CAMERA_INPUTS, ExportError
    if not osp.isfile(path):
        raise ExportError(f'camera-input file not found: {path}')
    with np.load(path) as npz:
        missing = [k for k in CAMERA_INPUTS if k not in npz]
        if missing:
            raise ExportError(f'{path}: lacks {", ".join(missing)} (not a tools/export_onnx.py camera file?)')
        return {k: npz[k] for k in CAMERA_INPUTS}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import onnxruntime as ort
    import torch

    from projects.BEVDet.bevdet.onnx_export import (
        CAMERA_INPUTS,
        ExportError,
        camera_inputs,
        check_exportable,
        decode_dense_outputs,
        output_names,
    )
    try:
        if not osp.isfile(args.onnx):
            raise ExportError(f'ONNX model not found: {args.onnx}')
        fixed = load_cameras(args.cameras) if args.cameras else None
        cfg = load_config(args.config, args.cfg_options)
        cfg.work_dir = args.work_dir or osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0] + '_onnx')
        cfg.test_evaluator.jsonfile_prefix = osp.join(cfg.work_dir, 'results')
        runner = build_runner(cfg)
        model = runner.model.eval()
        check_exportable(model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(args.onnx, options, providers=['CPUExecutionProvider'])
        names = [o.name for o in session.get_outputs()]
        if sorted(names) != sorted(output_names(model.pts_bbox_head)):
            raise ExportError(f'{args.onnx}: outputs {names} are not the head maps of {args.config}')
        expected = tuple(session.get_inputs()[0].shape)  # (N, 3, H, W)
        loop = runner.test_loop
        for batch in loop.dataloader:
            data = model.data_preprocessor(batch, False)
            results = []
            for imgs, sample in zip(data['inputs']['imgs'], data['data_samples']):
                if tuple(imgs.shape) != expected:
                    raise ExportError(f'sample {sample.metainfo.get("token")}: images {tuple(imgs.shape)} but '
                                      f'{args.onnx} takes {expected} (export with --image-size H W)')
                if fixed is None:
                    cams = model.camera_tensors([sample], torch.device('cpu'))
                    cameras = camera_inputs(model.img_view_transformer, *(
                        cams[k][0].numpy() for k in ('cam2img', 'cam2ego', 'post_rots', 'post_trans', 'bda')))
                else:
                    cameras = fixed
                feed = dict(imgs=imgs.numpy(), **{k: cameras[k] for k in CAMERA_INPUTS})
                outputs = dict(zip(names, session.run(names, feed)))
                results.append(decode_dense_outputs(model.pts_bbox_head, outputs, sample.metainfo))
            samples = model.add_pred_to_datasample(data['data_samples'], data_instances_3d=results)
            loop.evaluator.process(data_samples=samples, data_batch=batch)
        metrics = loop.evaluator.evaluate(len(loop.dataloader.dataset))
    except (ConfigError, ExportError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    except DATA_ERRORS as err:
        print(f'error: {data_error_line(err)}', file=sys.stderr)
        return 2
    for key, value in metrics.items():
        print(f'{key}: {value:.4f}' if isinstance(value, float) else f'{key}: {value}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
