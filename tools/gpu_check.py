#!/usr/bin/env python
"""The prepared device check behind ``tools/gpu_check.sh`` (see there for the environment variables).

(a) ``bev_pool`` and FB-BEV's backward projection on DEV (fp32) against the CPU fp64 run of the same inputs,
    values and gradients; (b) training iterations of BEVDet-hybrid and FB-BEV-hybrid, fp32 and ``--amp``, through
    ``tools/dist_train.sh`` (NCCL on CUDA, gloo on CPU); (c) ``tools/test.py`` on each fp32 result (rotated NMS +
    nuscenes-devkit); (d) one table: config, precision, samples/s, peak memory, pass/fail.

DEV=cuda: full-size configs (random-init towers), batch 8 per GPU, 4 iterations. DEV=cpu: the demo configs,
batch 1, 2 iterations, one process (keeps CI under a few minutes).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def check_bev_pool(device: torch.device) -> str:
    from projects.BEVDet.bevdet.bev_pool import bev_pool, bev_pool_reference, plan_bev_pool, voxel_ranks
    g = torch.Generator().manual_seed(0)
    b, n, d, h, w = 1, 2, 6, 4, 5
    points = torch.rand(b, n, d, h, w, 3, generator=g) * torch.tensor([6.0, 6.0, 2.0]) - torch.tensor([3.0, 3, 1])
    ranks = voxel_ranks(points, torch.tensor([-2.0, -2, -1]), torch.tensor([1.0, 1, 1]), torch.tensor([4, 4, 2]))
    f, r = b * n * h * w, b * 32
    depth = torch.rand(f, d, generator=g, dtype=torch.float64).softmax(-1)
    feat = torch.randn(f, 5, generator=g, dtype=torch.float64)
    grad = torch.randn(r, 5, generator=g, dtype=torch.float64)
    a, c = depth.clone().requires_grad_(), feat.clone().requires_grad_()
    ref = bev_pool_reference(a, c, ranks, r)
    ref.backward(grad)
    plan = plan_bev_pool(ranks.to(device), f, d, r)
    a2, c2 = depth.float().to(device).requires_grad_(), feat.float().to(device).requires_grad_()
    out = bev_pool(a2, c2, plan)
    out.backward(grad.float().to(device))
    for got, want in ((out, ref), (a2.grad, a.grad), (c2.grad, c.grad)):
        torch.testing.assert_close(got.double().cpu(), want.detach(), rtol=1e-4, atol=1e-5)
    return 'pass'


def check_backward_projection(device: torch.device) -> str:
    from projects.FBBEV.fbbev.depth_aware_backward_projection import DepthAwareBackwardProjection
    g = torch.Generator().manual_seed(0)
    grid = dict(x=(-16.0, 16.0, 2.0), y=(-16.0, 16.0, 2.0), z=(-3.0, 3.0, 6.0), depth=(1.0, 33.0, 1.0))
    cams = 4
    cam2ego = torch.eye(4).repeat(1, cams, 1, 1)
    fwd = torch.tensor([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    for i in range(cams):
        a = 2 * math.pi * i / cams
        yaw = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
        cam2ego[0, i, :3, :3] = yaw @ fwd
        cam2ego[0, i, :3, 3] = torch.tensor([0.3 * math.cos(a), 0.3 * math.sin(a), 1.5])
    inputs = dict(bev=torch.randn(1, 16, 16, 16, generator=g), img_feats=torch.randn(1, cams, 8, 4, 8, generator=g),
                  depth_prob=torch.randn(1, cams, 32, 4, 8, generator=g).softmax(2),
                  cam2img=torch.tensor([[60.0, 0.0, 31.5], [0.0, 60.0, 15.5], [0.0, 0.0, 1.0]]).repeat(1, cams, 1, 1),
                  cam2ego=cam2ego, post_rots=torch.eye(3).repeat(1, cams, 1, 1), post_trans=torch.zeros(1, cams, 3),
                  bda=torch.eye(3).view(1, 3, 3))
    torch.manual_seed(0)
    module = DepthAwareBackwardProjection(in_channels=8, embed_dims=16, grid_config=grid, feature_stride=8,
                                          num_heights=2, num_heads=2, num_points=4, ffn_channels=32).eval()
    with torch.no_grad():
        module.attention_weights.weight.normal_(0, 0.5)
        module.sampling_offsets.weight.normal_(0, 0.1)
    results = []
    for dev, dtype in ((torch.device('cpu'), torch.float64), (device, torch.float32)):
        m = module.to(dev, dtype)
        x = {k: v.to(dev, dtype).requires_grad_(k in ('bev', 'img_feats')) for k, v in inputs.items()}
        out = m(**x)
        out.square().sum().backward()
        results.append([out.detach(), x['bev'].grad, x['img_feats'].grad, m.value_proj.weight.grad])
        m.zero_grad()
    for got, want in zip(results[1], results[0]):
        torch.testing.assert_close(got.double().cpu(), want, rtol=1e-3, atol=1e-4)
    return 'pass'


def _train_options(dev: str, root: Path, batch: int, iters: int, demo: bool) -> list[str]:
    r = f'{root}/'
    train = 'train_dataloader.dataset' if demo else 'train_dataloader.dataset.dataset'
    opts = [f'{train}.data_root={r}', f'{train}.metainfo.version=v1.0-mini', f'val_dataloader.dataset.data_root={r}',
            'val_dataloader.dataset.metainfo.version=v1.0-mini', f'test_dataloader.dataset.data_root={r}',
            'test_dataloader.dataset.metainfo.version=v1.0-mini', f'val_evaluator.data_root={r}',
            f'val_evaluator.ann_file={r}nuscenes_infos_val.pkl', f'test_evaluator.data_root={r}',
            f'test_evaluator.ann_file={r}nuscenes_infos_val.pkl', f'train_dataloader.batch_size={batch}',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
            'train_cfg.max_epochs=1', 'train_cfg.val_begin=2', 'custom_hooks=[]', 'default_hooks.logger.interval=1',
            'default_hooks.checkpoint.interval=1', 'randomness.seed=0']
    if demo:
        opts.append(f'train_dataloader.dataset.indices={batch * iters}')
    else:  # CBGS needs many samples: repeat one sample instead; towers from random init (no CLIP/DINOv2 files)
        opts += ['train_dataloader.dataset.type=RepeatDataset', f'train_dataloader.dataset.times={batch * iters}',
                 'train_dataloader.dataset.dataset.indices=1', 'model.img_backbone.encoder.clip_pretrained=None',
                 'model.img_backbone.encoder.dino_pretrained=None',
                 'model.img_view_transformer.depth_net.prompt_bank.clip_pretrained=None']
    return opts


def _run(cmd: list[str], env: dict[str, str], log: Path) -> tuple[int, float]:
    """Run ``cmd``; returns (exit code, peak RSS in MiB of the largest process of its tree)."""
    with open(log, 'w') as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024


def train_and_test(name: str, config: str, amp: bool, args: argparse.Namespace, work: Path) -> dict:
    demo = args.dev == 'cpu'
    opts = _train_options(args.dev, args.world, args.batch, args.iters, demo)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHON=sys.executable, PORT=str(args.port))
    precision = ('fp16' if args.dev == 'cuda' else 'bf16') if amp else 'fp32'
    run_dir = work / f'{name}_{precision}'
    cmd = ['bash', 'tools/dist_train.sh', config, str(args.nproc), '--work-dir', str(run_dir)]
    code, rss = _run(cmd + (['--amp'] if amp else []) + ['--cfg-options', *opts], env, work / f'{run_dir.name}.log')
    row = dict(config=name, precision=precision, samples_s=float('nan'), memory='-', train='FAIL', test='-')
    if code != 0:
        return row
    records = [json.loads(line) for f in run_dir.glob('*/vis_data/scalars.json') for line in f.read_text().splitlines()]
    records = [rec for rec in records if 'loss' in rec]
    finite = len(records) == args.iters and all(math.isfinite(rec['loss']) for rec in records)
    times = [rec['time'] for rec in records[1:]] or [rec['time'] for rec in records]
    row['samples_s'] = args.batch * args.nproc / statistics.median(times)
    gpu_mb = [rec['memory'] for rec in records if 'memory' in rec]
    row['memory'] = f'{max(gpu_mb) / 1024:.1f} GiB GPU' if gpu_mb else f'{rss / 1024:.1f} GiB RSS'
    row['train'] = 'pass' if finite else 'FAIL'
    if not amp:
        ckpt = run_dir / 'epoch_1.pth'
        test_opts = [o for o in opts if o.startswith(('val_', 'test_', 'model.', 'randomness'))]  # whole val split
        code, _ = _run([sys.executable, 'tools/test.py', config, str(ckpt), '--work-dir', str(run_dir / 'test'),
                        '--cfg-options', *test_opts], env, work / f'{run_dir.name}_test.log')
        text = (work / f'{run_dir.name}_test.log').read_text()
        row['test'] = 'pass' if code == 0 and 'NDS' in text else 'FAIL'
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dev', choices=['cuda', 'cpu'], default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--world', type=Path, required=True, help='synthetic nuScenes root with mmdet3d infos')
    parser.add_argument('--work-dir', type=Path, required=True)
    parser.add_argument('--nproc', type=int, default=1)
    parser.add_argument('--batch', type=int, default=None, help='per process (default: cuda 8, cpu 1)')
    parser.add_argument('--iters', type=int, default=None, help='training iterations (default: cuda 4, cpu 2)')
    parser.add_argument('--port', type=int, default=29517)
    args = parser.parse_args(argv)
    if args.dev == 'cuda' and not torch.cuda.is_available():
        print('error: DEV=cuda but torch.cuda.is_available() is False', file=sys.stderr)
        return 2
    args.batch = args.batch or (8 if args.dev == 'cuda' else 1)
    args.iters = args.iters or (4 if args.dev == 'cuda' else 2)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.dev)
    start = time.perf_counter()
    print(f'gpu_check: DEV={args.dev} torch {torch.__version__} (CUDA {torch.version.cuda})'
          + (f', {torch.cuda.get_device_name(0)}' if args.dev == 'cuda' else ''), flush=True)
    checks = {}
    for name, fn in (('bev_pool', check_bev_pool), ('backward projection', check_backward_projection)):
        try:
            checks[name] = fn(device)
        except AssertionError as err:
            checks[name] = 'FAIL'
            print(f'{name}: {str(err).splitlines()[0]}', flush=True)
    print('fp64 reference checks (a): ' + ', '.join(f'{k} {v}' for k, v in checks.items()), flush=True)
    configs = ([('bevdet_hybrid_demo', 'configs/demo/bevdet_hybrid_demo.py'),
                ('fbbev_hybrid_demo', 'configs/demo/fbbev_hybrid_demo.py')] if args.dev == 'cpu' else
               [('bevdet_hybrid', 'configs/bevdet_hybrid.py'), ('fbbev_hybrid', 'configs/fbbev_hybrid.py')])
    rows = [train_and_test(name, cfg, amp, args, args.work_dir) for name, cfg in configs for amp in (False, True)]
    ref = 'pass' if all(v == 'pass' for v in checks.values()) else 'FAIL'
    print(f'{"config":<22}{"precision":<11}{"samples/s":>10}  {"peak memory":<16}{"train":<7}{"test":<6}'
          f'{"fp64 checks":<11}')
    for row in rows:
        print(f'{row["config"]:<22}{row["precision"]:<11}{row["samples_s"]:>10.2f}  {row["memory"]:<16}'
              f'{row["train"]:<7}{row["test"]:<6}{ref:<11}')
    ok = ref == 'pass' and all(r['train'] == 'pass' and r['test'] in ('pass', '-') for r in rows)
    print(f'gpu_check: {"PASS" if ok else "FAIL"} in {time.perf_counter() - start:.0f} s (logs: {args.work_dir})')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
