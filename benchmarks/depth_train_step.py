#!/usr/bin/env python
"""Train-step time and peak memory of the Hybrid-depth fine stage against the Monodepth2-R18 baseline.

Both models are built from their configs (``configs/hybrid_depth/fine_kitti.py``, ``monodepth2_kitti.py``) with
random initialisation (no weights needed) and trained on the same random frame triplets at the same
resolution: one step = forward with the full self-supervised loss (3 frames, 4 scales, 2 poses), backward,
AdamW update. The fine stage trains its configured subset (CLIP tower, last DINOv2 block, tokens, decoder,
PoseNet); Monodepth2 trains everything.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` during the timed steps; on CPU the peak resident-set
growth (``ru_maxrss``) of a fresh interpreter per model, from just before the model is built to the end of the
steps (weights, optimizer state and activations). Both are measured in the same run and printed as ratios.

Usage::

    python benchmarks/depth_train_step.py [--height 224 --width 672] [--batch 2] [--steps 3] [--device cpu|cuda]
    python benchmarks/depth_train_step.py --tiny      # the demo's tiny fine model instead of RN50 + ViT-B/14
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = {'fine': ROOT / 'configs/hybrid_depth/fine_kitti.py',
           'monodepth2': ROOT / 'configs/hybrid_depth/monodepth2_kitti.py',
           'fine_tiny': ROOT / 'configs/demo/depth_fine_kitti.py'}


def build_model(name: str):
    """The model of a config with every pretrained weight switched to random init."""
    from mmdet3d.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import hybrid_depth.models.estimators  # noqa: F401  (registers the estimators)
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(CONFIGS[name]).model
    for sub in ('encoder', 'prompt_bank'):
        if sub in cfg:
            for key in ('clip_pretrained', 'dino_pretrained', 'pretrained'):
                if key in cfg[sub]:
                    cfg[sub][key] = None
    cfg.pose_net.pretrained = None
    return MODELS.build(cfg)


def measure(name: str, height: int, width: int, batch: int, steps: int, device: str) -> dict:
    """Seconds per train step (after one warm-up step) and peak memory in MiB of one model."""
    import torch
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    torch.manual_seed(0)
    model = build_model(name).to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    imgs = torch.rand(batch, 3, 3, height, width, device=device)
    K = torch.tensor([[0.58 * width, 0, 0.5 * width], [0, 1.92 * height, 0.5 * height], [0, 0, 1]])
    cam2img = torch.stack([K * torch.tensor([[0.5 ** s], [0.5 ** s], [1.0]]) for s in range(4)])
    inputs = {'imgs': imgs, 'imgs_raw': imgs.clone(), 'cam2img': cam2img.expand(batch, 4, 3, 3).to(device)}

    def step() -> None:
        losses = model(inputs, mode='loss')
        loss = sum(v for k, v in losses.items() if k.startswith('loss'))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up (allocator, optimizer state)
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    if device == 'cuda':
        peak = torch.cuda.max_memory_allocated() / 2 ** 20
    else:
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024  # ru_maxrss is in KiB on Linux
    return {'model': name, 'step_s': sorted(times)[len(times) // 2], 'peak_mib': peak,
            'trainable_m': sum(p.numel() for p in params) / 1e6,
            'total_m': sum(p.numel() for p in model.parameters()) / 1e6}


def run_child(name: str, args: argparse.Namespace) -> dict:
    """Measure one model in a fresh interpreter (its own peak RSS on CPU)."""
    cmd = [sys.executable, __file__, '--child', name, '--height', str(args.height), '--width', str(args.width),
           '--batch', str(args.batch), '--steps', str(args.steps), '--device', args.device]
    res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if res.returncode != 0:
        raise RuntimeError(f'{name} benchmark failed:\n{res.stderr[-3000:]}')
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--height', type=int, default=224)
    p.add_argument('--width', type=int, default=672)
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--steps', type=int, default=3, help='timed steps (median reported)')
    p.add_argument('--device', default='cuda' if _cuda() else 'cpu', choices=['cpu', 'cuda'])
    p.add_argument('--tiny', action='store_true', help="the demo's tiny fine model (CPU-sized)")
    p.add_argument('--child', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.height, args.width, args.batch, args.steps, args.device)))
        return 0
    fine = 'fine_tiny' if args.tiny else 'fine'
    print(f'train step, {args.batch} x 3 frames x {args.height}x{args.width}, device {args.device}, '
          f'median of {args.steps} steps')
    rows = [run_child(name, args) for name in ('monodepth2', fine)]
    for r in rows:
        print(f"{r['model']:>12}: {r['step_s'] * 1000:9.1f} ms/step  peak {r['peak_mib']:8.1f} MiB  "
              f"params {r['trainable_m']:.2f} M trainable / {r['total_m']:.2f} M")
    base, ours = rows
    print(f'ratio {ours["model"]} / monodepth2: time x{ours["step_s"] / base["step_s"]:.2f}, '
          f'peak memory x{ours["peak_mib"] / base["peak_mib"]:.2f}')
    return 0


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


if __name__ == '__main__':
    sys.exit(main())
