#!/usr/bin/env python
"""Official Hybrid-depth defaults vs each of our options, on the synthetic world, 3 seeds, same budget.

Stage 1 (coarse, ``configs/demo/depth_coarse_tusimple.py``): pair-ordering accuracy (``ordering/pair_acc``) on the
synthetic TuSimple lanes. Stage 2 (fine, ``configs/demo/depth_fine_kitti.py``): KITTI Eigen abs_rel, rmse and a1
on the synthetic KITTI test split. Every run is a fresh process (``tools/train.py``-equivalent: mmengine Runner,
train then test) with ``randomness.seed`` set; a variant changes only the named options, everything else
(budget, data, model size) is the demo config with ``--epochs`` epochs.

Variants (each "ours" option alone, on top of the official defaults):

- coarse: ``official``; ``learned_projection`` (``prompt_bank.channel_reduction='linear'``); ``cosine_text``
  (``text_norm='rows'``: logit scale 100 instead of 100/sqrt(7)); ``mean_losses`` (losses averaged over pairs);
  ``per_tower_norm`` (CLIP / ImageNet statistics per tower); ``bf16`` (towers under bf16 autocast).
- fine: ``official``; ``sigmoid_4_scales`` (four sigmoid heads, loss averaged over 4 scales); ``per_tower_norm``;
  ``bf16``; ``cosine_text``; ``frozen_text`` (align convs and the text side frozen: our former trainable set).

Usage::

    python benchmarks/hybrid_depth_ablation.py --data-root data/synthetic --stage coarse --seeds 0 1 2 --epochs 20
    python benchmarks/hybrid_depth_ablation.py --data-root data/synthetic --stage fine --seeds 0 1 2 --epochs 4
    python benchmarks/hybrid_depth_ablation.py --report work_dirs/ablation/results.json   # print the table again

Results are appended to ``--out`` (JSON lines: stage, variant, seed, metrics, seconds) as runs finish, so an
interrupted sweep keeps what it measured; the table prints mean +- sd (sample sd, n = number of seeds) per row.
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

CONFIGS = {'coarse': 'configs/demo/depth_coarse_tusimple.py', 'fine': 'configs/demo/depth_fine_kitti.py'}
VARIANTS = {
    'coarse': {
        'official': {},
        'learned_projection': {'model.prompt_bank.channel_reduction': 'linear'},
        'cosine_text': {'model.prompt_bank.text_norm': 'rows'},
        'mean_losses': {'model.rank_loss.reduction': 'mean', 'model.repulsion_loss.reduction': 'mean'},
        'per_tower_norm': {'model.encoder.normalize': 'per_tower'},
        'bf16': {'model.encoder.autocast': 'bf16'},
    },
    'fine': {
        'official': {},
        'sigmoid_4_scales': {'model.decoder.head': 'sigmoid', 'model.decoder.num_scales': 4},
        'per_tower_norm': {'model.encoder.normalize': 'per_tower'},
        'frozen_text': {'model.trainable': 'fine_frozen_text'},
        'bf16': {'model.encoder.autocast': 'bf16'},
        'cosine_text': {'model.prompt_bank.text_norm': 'rows'},
    },
}
# applied before every variant: the official setting, whatever the demo config chooses for its own run
BASE = {'coarse': {}, 'fine': {'model.decoder.head': 'official', 'model.decoder.num_scales': 1}}
METRICS = {'coarse': ('ordering/pair_acc',), 'fine': ('kitti_eigen/abs_rel', 'kitti_eigen/rmse', 'kitti_eigen/a1')}


def run_one(stage: str, variant: str, seed: int, epochs: int, data_root: str, work_dir: str) -> dict:
    """Train and test one (stage, variant, seed) in this process; returns the test metrics."""
    from mmengine.config import Config

    from hybrid_depth.engine.cli import build_runner

    cfg = Config.fromfile(ROOT / CONFIGS[stage])
    options = {**BASE[stage], **VARIANTS[stage][variant]}
    options.update({'randomness': {'seed': seed, 'deterministic': False}, 'work_dir': work_dir,
                    'default_hooks.checkpoint.interval': epochs, 'default_hooks.visualization.draw': False})
    if stage == 'coarse':
        root = f'{data_root}/tusimple/'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            options[f'{loader}.dataset.data_root'] = root
        warm = max(1, round(0.3 * epochs))  # momentum phase boundary in whole epochs (>= 1 iteration)
        options.update({'train_cfg.max_epochs': epochs, 'train_cfg.val_interval': epochs,
                        'param_scheduler.0.total_steps': epochs, 'param_scheduler.1.end': warm,
                        'param_scheduler.2.begin': warm, 'param_scheduler.2.end': epochs})
    else:
        root = f'{data_root}/kitti_raw/'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            options[f'{loader}.dataset.data_root'] = root
        options.update({'train_cfg.max_epochs': epochs, 'train_cfg.val_interval': epochs,
                        'param_scheduler.0.step_size': max(epochs - 1, 1)})
    cfg.merge_from_dict(options)
    runner = build_runner(cfg)
    runner.train()
    return runner.test()


def table(rows: list[dict], stage: str) -> str:
    keys = METRICS[stage]
    lines = [f'| {stage} variant | seeds | ' + ' | '.join(keys) + ' |', '|---|---|' + '---:|' * len(keys)]
    for variant in VARIANTS[stage]:
        runs = [r for r in rows if r['stage'] == stage and r['variant'] == variant]
        if not runs:
            continue
        cells = []
        for k in keys:
            vals = [r['metrics'][k] for r in runs if k in r['metrics']]
            sd = statistics.stdev(vals) if len(vals) > 1 else float('nan')
            cells.append(f'{statistics.mean(vals):.4f} +- {sd:.4f}' if vals else 'n/a')
        seeds = ','.join(str(r['seed']) for r in runs)
        lines.append(f'| {variant} | {seeds} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--stage', choices=sorted(CONFIGS), default='coarse')
    p.add_argument('--data-root', default='data/synthetic', help='tools/make_synthetic.py output')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--epochs', type=int, default=20)
    p.add_argument('--variants', nargs='+', default=None, help='subset of the variants (default: all)')
    p.add_argument('--out', default='work_dirs/ablation/results.jsonl')
    p.add_argument('--report', help='only print the tables of a results file')
    p.add_argument('--single', nargs=3, metavar=('STAGE', 'VARIANT', 'SEED'), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.single:  # child process: one run, metrics as the last stdout line
        stage, variant, seed = args.single[0], args.single[1], int(args.single[2])
        work = str(Path(args.out).parent / f'{stage}_{variant}_s{seed}')
        metrics = run_one(stage, variant, seed, args.epochs, args.data_root, work)
        print('METRICS ' + json.dumps({k: float(v) for k, v in metrics.items()}))
        return 0
    if args.report:
        rows = [json.loads(line) for line in Path(args.report).read_text().splitlines() if line.strip()]
        for stage in CONFIGS:
            if any(r['stage'] == stage for r in rows):
                print(table(rows, stage))
        return 0
    variants = args.variants or list(VARIANTS[args.stage])
    unknown = [v for v in variants if v not in VARIANTS[args.stage]]
    if unknown:
        print(f'error: unknown {args.stage} variants {unknown}; choose from {list(VARIANTS[args.stage])}',
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
    for variant in variants:  # variant-major: an interrupted sweep leaves complete rows
        for seed in args.seeds:
            t0 = time.time()
            proc = subprocess.run([sys.executable, __file__, '--single', args.stage, variant, str(seed),
                                   '--epochs', str(args.epochs), '--data-root', args.data_root, '--out', str(out)],
                                  cwd=ROOT, env=env, capture_output=True, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('METRICS ')]
            if proc.returncode or not lines:
                print(f'{args.stage}/{variant}/seed {seed} failed:\n{proc.stderr[-3000:]}', file=sys.stderr)
                return 1
            row = {'stage': args.stage, 'variant': variant, 'seed': seed, 'epochs': args.epochs,
                   'metrics': json.loads(lines[-1][len('METRICS '):]), 'seconds': round(time.time() - t0, 1)}
            with open(out, 'a') as f:
                f.write(json.dumps(row) + '\n')
            print(f'{args.stage} {variant} seed {seed}: {row["metrics"]} ({row["seconds"]} s)', flush=True)
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    print(table([r for r in rows if r['epochs'] == args.epochs], args.stage))
    return 0


if __name__ == '__main__':
    sys.exit(main())
