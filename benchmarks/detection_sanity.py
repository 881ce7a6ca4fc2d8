#!/usr/bin/env python
"""Detection sanity check: can the demo detectors memorise a handful of samples, and how fast do they generalise?

**Overfit check** (``--train-split val``, the default): trains a demo detector (``configs/demo/bevdet_hybrid_demo.py``
or ``configs/demo/fbbev_hybrid_demo.py``, or their R50 stand-ins) on the synthetic nuScenes val split and evaluates
it with nuscenes-devkit **on the same samples** every ``--eval-every`` iterations, iteration 0 (the untrained model)
included. The devkit scores whole splits, so the handful is the val split of a short world: ``--data-root`` a
world made with ``tools/make_synthetic.py --preset small --nuscenes-keyframes 4`` (2 val scenes x 4 = 8 samples).
A healthy pipeline nearly memorises them (car AP@2m towards 1); a flat curve points at the data, frames, targets
or optimisation, not at generalisation.

**Held-out curve** (``--train-split train``): the same, trained on the config's train split (``small``: 320
samples) and scored on the val split (80 held-out samples): how many iterations a demo detector needs.

Variants (``--aug``): ``on`` = the demo config's augmentation (image resize/rotate/flip, BEV rotate/scale/flip);
``off`` = the same pipelines with every augmentation range set to identity. Everything else is the demo config;
``--cfg-options`` changes it further (the levers: ``optim_wrapper.optimizer.lr=...``, a depth export as
``model.img_backbone.checkpoint`` / ``model.img_view_transformer.depth_net.checkpoint``, ...). The schedule is
the demo's shape in iterations: linear warm-up over 30 iterations, then cosine to ``--max-iters``.

Usage::

    python tools/make_synthetic.py --out-dir data/synthetic_k4 --preset small --nuscenes-keyframes 4 \
        --formats nuscenes --mmdet3d-infos --force
    python benchmarks/detection_sanity.py --detector bevdet --aug off on --seeds 0 --max-iters 480 --eval-every 120 \
        --data-root data/synthetic_k4/nuscenes
    python benchmarks/detection_sanity.py --train-split train --aug on --max-iters 1200 --eval-every 300
    python benchmarks/detection_sanity.py --report work_dirs/detection_sanity/results.jsonl

Each run is a fresh process (mmengine Runner, ``randomness.seed`` set); results are appended to ``--out`` as JSON
lines (detector, train_split, aug, seed, options, curve = [(iteration, metrics)], seconds), and a table prints the curve
(mean +- sd over the seeds at each iteration).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = {'bevdet': 'configs/demo/bevdet_hybrid_demo.py', 'fbbev': 'configs/demo/fbbev_hybrid_demo.py',
           'bevdet_r50': 'configs/demo/bevdet_r50_demo.py', 'fbbev_r50': 'configs/demo/fbbev_r50_demo.py'}
PREFIX = 'NuScenes metric/pred_instances_3d_NuScenes/'
# (key suffix in the metric dict, column name)
COLUMNS = (('mAP', 'mAP'), ('NDS', 'NDS'), ('car_AP_dist_0.5', 'car AP@0.5m'), ('car_AP_dist_1.0', 'car AP@1m'),
           ('car_AP_dist_2.0', 'car AP@2m'), ('car_AP_dist_4.0', 'car AP@4m'))
# the augmentation arguments of the demo pipelines and their identity values
IDENTITY_AUG = {
    'BEVDetLoadMultiViewImages': dict(resize_lim=(0.0, 0.0), rot_lim=(0.0, 0.0), flip=False),
    'BEVDetBEVAugmentation': dict(rot_lim=(0.0, 0.0), scale_lim=(1.0, 1.0), flip_dx_ratio=0.0, flip_dy_ratio=0.0),
}


def headline(metrics: dict) -> dict[str, float]:
    """The table's columns from a NuScenesMetric result dict (keys end with the column's suffix)."""
    out = {}
    for suffix, name in COLUMNS:
        found = [float(v) for k, v in metrics.items() if k.endswith('/' + suffix)]
        if found:
            out[name] = found[0]
    return out


def sanity_config(detector: str, aug: str, seed: int, max_iters: int, eval_every: int, work_dir: str,
                  options: dict | None = None, data_root: str | None = None, train_split: str = 'val'):
    """The demo config, changed only to train on ``train_split`` and evaluate on the val split with the given budget.

    ``train_split``: ``'val'`` (the overfit check: train and score the same samples) or ``'train'`` (the held-out
    curve: the config's own training set). ``data_root``: another synthetic nuScenes root (with
    ``nuscenes_infos_{train,val}.pkl``) than the config's.
    """
    from hybrid_depth.engine.cli import load_config

    cfg = load_config(str(ROOT / CONFIGS[detector]))
    train_set = cfg.train_dataloader.dataset
    if data_root is not None:
        root = str(data_root).rstrip('/') + '/'
        for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
            loader.dataset.data_root = root
        for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
            evaluator.update(data_root=root, ann_file=root + 'nuscenes_infos_val.pkl')
    if train_set.get('type') == 'CBGSDataset':
        raise ValueError(f'{CONFIGS[detector]}: the sanity check expects a plain (not CBGS) training set')
    if train_split not in ('val', 'train'):
        raise ValueError(f"train_split must be 'val' or 'train', got {train_split!r}")
    train_set.ann_file = f'nuscenes_infos_{train_split}.pkl'
    if aug == 'off':
        for step in train_set.pipeline:
            if step['type'] in IDENTITY_AUG and step.get('is_train', False):
                step.update(IDENTITY_AUG[step['type']])
    elif aug != 'on':
        raise ValueError(f"aug must be 'on' or 'off', got {aug!r}")
    warmup = min(30, max_iters // 4)
    cfg.merge_from_dict({
        'randomness': dict(seed=seed, deterministic=False),
        'work_dir': work_dir,
        'train_cfg': dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=eval_every),
        # mmengine's sampler for iteration loops: no worker restart every len(dataset) / batch iterations
        'train_dataloader.sampler': dict(_delete_=True, type='InfiniteSampler', shuffle=True),
        'param_scheduler': [
            dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup),
            dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup, end=max_iters, T_max=max_iters - warmup,
                 eta_min=1e-5)],
        'default_hooks.checkpoint': dict(type='CheckpointHook', interval=max_iters, by_epoch=False,
                                         save_last=False, max_keep_ckpts=1),
        'default_hooks.logger.interval': 10,
        'log_processor.by_epoch': False,
        'custom_hooks': [],
    })
    if options:
        cfg.merge_from_dict(options)
    return cfg


def run_one(detector: str, aug: str, seed: int, max_iters: int, eval_every: int, work_dir: str,
            options: dict | None = None, data_root: str | None = None,
            train_split: str = 'val') -> list[tuple[int, dict]]:
    """Train one run in this process; returns ``[(iteration, metrics)]`` including iteration 0."""
    from mmengine.hooks import Hook

    from hybrid_depth.engine.cli import build_runner

    cfg = sanity_config(detector, aug, seed, max_iters, eval_every, work_dir, options, data_root, train_split)
    curve: list[tuple[int, dict]] = []

    class _Record(Hook):
        priority = 'LOWEST'

        def before_train(self, runner) -> None:  # the untrained model: the baseline of the curve
            curve.append((0, runner.val_loop.run()))

        def after_val_epoch(self, runner, metrics=None) -> None:
            if runner.iter > 0 and metrics:
                curve.append((runner.iter, dict(metrics)))

    runner = build_runner(cfg)
    runner.register_hook(_Record())
    runner.train()
    return [(it, {k: float(v) for k, v in m.items() if isinstance(v, (int, float))}) for it, m in curve]


def table(rows: list[dict]) -> str:
    """Markdown table: one line per (detector, trained on, aug, options, iteration), mean +- sd over seeds.

    ``trained on``: ``val`` (the overfit check, scored on the samples it trained on) or ``train`` (held out).
    """
    lines = ['| detector | trained on | aug | options | iteration | seeds | '
             + ' | '.join(n for _, n in COLUMNS) + ' |',
             '|---|---|---|---|---:|---|' + '---:|' * len(COLUMNS)]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r['detector'], r.get('train_split', 'val'), r['aug'],
               json.dumps(r.get('options') or {}, sort_keys=True))
        groups.setdefault(key, []).append(r)
    for (detector, split, aug, opts), runs in groups.items():
        iters = sorted({it for r in runs for it, _ in r['curve']})
        for it in iters:
            points = [headline(m) for r in runs for i, m in r['curve'] if i == it]
            cells = []
            for _, name in COLUMNS:
                vals = [p[name] for p in points if name in p]
                if not vals:
                    cells.append('n/a')
                elif len(vals) == 1:
                    cells.append(f'{vals[0]:.3f}')
                else:
                    cells.append(f'{statistics.mean(vals):.3f} +- {statistics.stdev(vals):.3f}')
            seeds = ','.join(str(r['seed']) for r in runs if any(i == it for i, _ in r['curve']))
            lines.append(f'| {detector} | {split} | {aug} | {opts if opts != "{}" else "demo"} | {it} | {seeds} | '
                         + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def parse_options(pairs: list[str]) -> dict:
    """``key=value`` pairs parsed as ``tools/train.py --cfg-options`` parses them (mmengine's ``DictAction``)."""
    from mmengine.config import DictAction

    bad = [pair for pair in pairs if '=' not in pair]
    if bad:
        raise SystemExit(f'error: --cfg-options expects key=value, got {bad[0]!r}')
    namespace = argparse.Namespace(options=None)
    DictAction(option_strings=[], dest='options')(argparse.ArgumentParser(), namespace, pairs)
    return dict(namespace.options or {})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--detector', choices=sorted(CONFIGS), default='bevdet')
    p.add_argument('--aug', nargs='+', choices=('on', 'off'), default=['off', 'on'])
    p.add_argument('--train-split', choices=('val', 'train'), default='val',
                   help="'val': the overfit check (train on the val samples); 'train': the held-out curve")
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--max-iters', type=int, default=480)
    p.add_argument('--eval-every', type=int, default=120)
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE', help='further config changes')
    p.add_argument('--data-root', default=None, help='synthetic nuScenes root (default: the config\'s)')
    p.add_argument('--out', default='work_dirs/detection_sanity/results.jsonl')
    p.add_argument('--report', help='only print the table of a results file')
    p.add_argument('--single', nargs=3, metavar=('DETECTOR', 'AUG', 'SEED'), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    options = parse_options(args.cfg_options)
    if args.report:
        rows = [json.loads(line) for line in Path(args.report).read_text().splitlines() if line.strip()]
        print(table(rows))
        return 0
    out = Path(args.out)
    if args.single:  # child process: one run, the curve as the last stdout line
        detector, aug, seed = args.single[0], args.single[1], int(args.single[2])
        digest = abs(hash(json.dumps(options, sort_keys=True))) % 10**6
        tag = f'{detector}_{args.train_split}_aug-{aug}_s{seed}_{digest:06d}'
        curve = run_one(detector, aug, seed, args.max_iters, args.eval_every, str(out.parent / tag), options,
                        args.data_root, args.train_split)
        print('CURVE ' + json.dumps(curve))
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for aug in args.aug:
        for seed in args.seeds:
            t0 = time.time()
            cmd = [sys.executable, __file__, '--single', args.detector, aug, str(seed), '--max-iters',
                   str(args.max_iters), '--eval-every', str(args.eval_every), '--out', str(out),
                   '--train-split', args.train_split]
            if args.data_root:
                cmd += ['--data-root', args.data_root]
            if args.cfg_options:
                cmd += ['--cfg-options', *args.cfg_options]
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('CURVE ')]
            if proc.returncode or not lines:
                print(f'{args.detector}/aug {aug}/seed {seed} failed:\n{proc.stderr[-3000:]}', file=sys.stderr)
                return 1
            row = {'detector': args.detector, 'train_split': args.train_split, 'aug': aug, 'seed': seed,
                   'options': options,
                   'max_iters': args.max_iters, 'curve': json.loads(lines[-1][len('CURVE '):]),
                   'seconds': round(time.time() - t0, 1)}
            with open(out, 'a') as f:
                f.write(json.dumps(row) + '\n')
            last = headline(row['curve'][-1][1])
            print(f'{args.detector} aug {aug} seed {seed}: {last} ({row["seconds"]} s)', flush=True)
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    print(table(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
