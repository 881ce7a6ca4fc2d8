#!/usr/bin/env python
"""Seconds per training iteration of a demo detector, before and after the speed levers, in one run.

Each variant trains the config's own model on the config's own train loader (its workers, augmentation and
depth targets) in a fresh interpreter, exactly as ``tools/train.py`` builds them (mmengine's Runner), and
times ``model.train_step`` wall-clock per iteration *including the wait for the loader*: the figure
``tools/train.py`` logs as ``time``. Variants:

- ``before``: the lever off: the depth branch decodes at the input resolution (``depth_net.decode_pixels=None``);
- ``after``: the config as committed (the demo configs: ``decode_pixels=4``).

(The other lever the issue named, LiDAR depth targets precomputed at info time, was not built: the loader
profile in the README shows they cost 17 ms of a sample's 58 ms of loading on the demo world.)

Peak memory: the training process's peak resident set (``ru_maxrss``, loader workers not included), or
``torch.cuda.max_memory_allocated`` on CUDA. The median over the timed iterations is reported, and the ratio.

Usage::

    python benchmarks/detector_step.py [--config configs/demo/bevdet_hybrid_demo.py] [--iters 20 --warmup 3]
    python benchmarks/detector_step.py --variants after --iters 5        # one variant
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_CONFIG = 'configs/demo/bevdet_hybrid_demo.py'


def variant_cfg(config: str, variant: str, work_dir: str, cfg_options: dict | None = None):
    """The config of one variant (see the module docstring)."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(ROOT / config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.work_dir = work_dir
    cfg.custom_hooks = []  # no validation before training
    if variant == 'before':
        cfg.model.img_view_transformer.depth_net.decode_pixels = None
    elif variant != 'after':
        raise ValueError(f"variant must be 'before' or 'after', got {variant!r}")
    return cfg


def measure(config: str, variant: str, iters: int, warmup: int, cfg_options: dict | None) -> dict:
    """Median seconds per training iteration (loader wait included) and peak memory of one variant."""
    import torch
    from mmengine.runner import Runner

    with tempfile.TemporaryDirectory() as work_dir:
        cfg = variant_cfg(config, variant, work_dir, cfg_options)
        runner = Runner.from_cfg(cfg)
        model = runner.model
        model.train()
        optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
        loader = runner.build_dataloader(cfg.train_dataloader)
        cuda = next(model.parameters()).is_cuda
        times = []
        it = iter(loader)
        t0 = time.perf_counter()
        for i in range(warmup + iters):
            try:
                data = next(it)
            except StopIteration:
                it = iter(loader)
                data = next(it)
            model.train_step(data, optim_wrapper)
            if cuda:
                torch.cuda.synchronize()
            t1 = time.perf_counter()
            if i == warmup - 1 and cuda:
                torch.cuda.reset_peak_memory_stats()
            if i >= warmup:
                times.append(t1 - t0)
            t0 = t1
    peak = (torch.cuda.max_memory_allocated() / 2 ** 20 if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux
    times.sort()
    return {'variant': variant, 'config': config, 'iters': iters, 'median_s': times[len(times) // 2],
            'mean_s': sum(times) / len(times), 'peak_mib': peak, 'device': 'cuda' if cuda else 'cpu',
            'batch': cfg.train_dataloader.batch_size}


def prior_agreement(config: str, export: str, decode_pixels: list[int], num_samples: int = 8) -> list[dict]:
    """How closely the decoder depth per cell decoded at ``k`` pixels per cell follows the full decode.

    The detector is built from ``config`` with ``export`` (``tools/export_backbone.py``) loaded into its image
    backbone and depth branch, and run on the first ``num_samples`` samples of the config's val loader (every
    camera). Per feature cell: the depth the prior is centred on (decoder depth, before the metric scale) from a
    decode at the input resolution and from one at ``k`` pixels per cell.

    Returns:
        One dict per ``k``: median / 95th percentile / max of ``|log(d_k / d_full)|`` over all cells, and the share of
        cells whose LSS bin (after median scaling of the full decode to 20 m) is the same.
    """
    import torch
    from mmdet3d.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    init_default_scope('mmdet3d')
    cfg = Config.fromfile(str(ROOT / config))
    cfg.model.img_backbone.checkpoint = export
    cfg.model.img_view_transformer.depth_net.checkpoint = export
    model = MODELS.build(cfg.model).eval()
    net = model.img_view_transformer.depth_net
    loader = Runner.build_dataloader(cfg.val_dataloader)
    full, cells = [], {k: [] for k in decode_pixels}
    seen = 0
    with torch.no_grad():
        for data in loader:
            data = model.data_preprocessor(data, False)
            imgs = data['inputs']['imgs'].flatten(0, 1)  # (BN, 3, H, W)
            levels = net.prompt_bank(model.extract_img_feat(data['inputs']['imgs']))
            size = tuple(imgs.shape[-2:])
            net.decode_pixels = None
            full.append(net.decoder_depth(levels, size).flatten())
            for k in decode_pixels:
                net.decode_pixels = k
                cells[k].append(net.decoder_depth(levels, size).flatten())
            seen += len(data['data_samples'])
            if seen >= num_samples:
                break
    d_full = torch.cat(full)
    scale = 20.0 / d_full.median()
    d_min, _, step = cfg.model.img_view_transformer.grid_config['depth']
    bins = lambda d: ((d * scale - d_min) / step).floor()  # noqa: E731
    rows = []
    for k in decode_pixels:
        d_k = torch.cat(cells[k])
        err = (d_k / d_full).log().abs()
        rows.append({'decode_pixels': k, 'cells': int(err.numel()), 'median_abs_log': float(err.median()),
                     'p95_abs_log': float(err.quantile(0.95)), 'max_abs_log': float(err.max()),
                     'same_bin': float((bins(d_k) == bins(d_full)).float().mean())})
    return rows


def run_child(args: argparse.Namespace, variant: str) -> dict:
    cmd = [sys.executable, __file__, '--child', variant, '--config', args.config, '--iters', str(args.iters),
           '--warmup', str(args.warmup)]
    if args.cfg_options:
        cmd += ['--cfg-options', json.dumps(args.cfg_options)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if res.returncode != 0:
        raise RuntimeError(f'variant {variant} failed:\n{res.stderr[-3000:]}')
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default=DEFAULT_CONFIG)
    p.add_argument('--variants', nargs='+', default=['before', 'after'], choices=['before', 'after'])
    p.add_argument('--iters', type=int, default=20, help='timed iterations (median reported)')
    p.add_argument('--warmup', type=int, default=3, help='untimed iterations first (loader start, allocator)')
    p.add_argument('--cfg-options', type=json.loads, default=None,
                   help='JSON dict merged into the config of every variant (e.g. a data root)')
    p.add_argument('--out', help='append the result lines (JSON) to this file')
    p.add_argument('--agreement', metavar='EXPORT',
                   help='instead: compare the prior decoded at --decode-pixels with the full decode, with this '
                        'export (tools/export_backbone.py) loaded, on val samples')
    p.add_argument('--decode-pixels', type=int, nargs='+', default=[7, 4, 2, 1])
    p.add_argument('--child', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.agreement:
        rows = prior_agreement(args.config, args.agreement, args.decode_pixels)
        print(f'{args.config}: decoder depth per cell decoded at k pixels per cell vs the full decode '
              f'({rows[0]["cells"]} cells)')
        for r in rows:
            print(f"  k={r['decode_pixels']:>2}: |log ratio| median {r['median_abs_log']:.4f}, p95 "
                  f"{r['p95_abs_log']:.4f}, max {r['max_abs_log']:.4f}; same 2 m bin {100 * r['same_bin']:.1f} %")
        return 0
    if args.child:
        print(json.dumps(measure(args.config, args.child, args.iters, args.warmup, args.cfg_options)))
        return 0
    rows = [run_child(args, v) for v in args.variants]
    print(f'{args.config}: seconds per training iteration (median of {args.iters}, after {args.warmup} warm-up; '
          f'loader wait included), peak memory of the training process')
    for r in rows:
        print(f"  {r['variant']:>6}: {r['median_s']:.3f} s/it (mean {r['mean_s']:.3f})  peak {r['peak_mib']:.0f} MiB"
              f"  [{r['device']}, batch {r['batch']}]")
    if len(rows) == 2:
        print(f"  ratio before / after: {rows[0]['median_s'] / rows[1]['median_s']:.2f}x time, "
              f"{rows[0]['peak_mib'] / rows[1]['peak_mib']:.2f}x memory")
    if args.out:
        with open(args.out, 'a') as f:
            for r in rows:
                f.write(json.dumps(dict(r, date=time.strftime('%Y-%m-%d'))) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
