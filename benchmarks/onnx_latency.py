"""onnxruntime vs PyTorch CPU latency of the exported BEVDet, per sample, in the same run.

Both run the same thing on the same input: one sample's images and camera inputs -> the head's dense maps
(PyTorch: the detector's sub-modules with the CSR ``bev_pool``; onnxruntime: the exported graph with the
pooling indices as inputs). Camera-input preparation (``camera_inputs``, done once per calibration) and the
Python decode are outside both timings. The two are interleaved, one call each per round, with the same thread
count, and the load average is printed beside the ratio (absolute times on a shared CPU are noise).

Examples:
    python benchmarks/onnx_latency.py --iters 10 --warmup 2 --threads 2
    python benchmarks/onnx_latency.py --config configs/demo/bevdet_hybrid_demo.py --checkpoint CKPT
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import statistics
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import hybrid_depth  # noqa: E402,F401  (registration; sets OMP_WAIT_POLICY before torch loads)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='configs/demo/bevdet_hybrid_demo.py')
    parser.add_argument('--checkpoint', help='weights (default: random init; latency does not depend on them)')
    parser.add_argument('--iters', type=int, default=10, help='timed rounds (one call of each backend per round)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2, help='torch threads = onnxruntime intra-op threads')
    parser.add_argument('--cameras', type=int, default=6)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np
    import onnxruntime as ort
    import torch
    from mmdet3d.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    from hybrid_depth.engine.runner import trusted_checkpoint_loading
    from projects.BEVDet.bevdet.onnx_export import (
        CAMERA_INPUTS,
        camera_inputs,
        export_onnx,
        pytorch_dense_outputs,
        ring_rig,
    )

    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model = MODELS.build(Config.fromfile(args.config).model)
    model.init_weights()
    if args.checkpoint:
        with trusted_checkpoint_loading():
            load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    vt = model.img_view_transformer
    rig = ring_rig(args.cameras, vt.input_size)
    cameras = camera_inputs(vt, **rig)
    cams = {k: torch.as_tensor(v)[None] for k, v in rig.items()}
    imgs = torch.rand(args.cameras, 3, *vt.input_size, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'model.onnx')
        names = export_onnx(model, imgs, cameras, path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    feed = dict(imgs=imgs.numpy(), **{k: cameras[k] for k in CAMERA_INPUTS})

    def run_torch():
        return pytorch_dense_outputs(model, imgs, cams)

    def run_ort():
        return dict(zip(names, session.run(names, feed)))

    times = {'pytorch': [], 'onnxruntime': []}
    for i in range(args.warmup + args.iters):
        for name, fn in (('pytorch', run_torch), ('onnxruntime', run_ort)):
            start = time.perf_counter()
            out = fn()
            if i >= args.warmup:
                times[name].append(time.perf_counter() - start)
    diff = max(float(np.abs(out[n] - run_torch()[n]).max()) for n in names)
    load = os.getloadavg()
    print(f'{args.config}: {args.cameras} cameras x {vt.input_size[0]}x{vt.input_size[1]}, '
          f'{len(cameras["point_index"])} points pooled into {len(cameras["voxel_index"])} voxels, '
          f'{args.threads} threads, {args.iters} rounds '
          f'(warm-up {args.warmup}); load average {load[0]:.1f} / {load[1]:.1f} (1 / 5 min) on {os.cpu_count()} CPUs')
    ref = statistics.median(times['pytorch'])
    print(f'{"backend":<12} {"median ms":>10} {"min ms":>8} {"ratio":>7}')
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f'{name:<12} {1e3 * med:>10.1f} {1e3 * min(ts):>8.1f} {ref / med:>6.2f}x')
    print(f'ratio pytorch / onnxruntime: {ref / statistics.median(times["onnxruntime"]):.2f}x '
          f'(max abs diff of the outputs {diff:.1e})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
