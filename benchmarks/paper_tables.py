#!/usr/bin/env python
"""The paper's two claims as tables on the synthetic world: 3 seeds per row, the same budget per row.

**Table 1 analog** (self-supervised monocular depth; synthetic KITTI Eigen test split; abs_rel, sq_rel, rmse, a1 from
``runner.test()``):

- ``monodepth2_r18``: ``configs/demo/depth_monodepth2_kitti.py`` (random-init ResNet-18 Monodepth2).
- ``hybrid_depth_official``: the coarse stage (``configs/demo/depth_coarse_tusimple.py``), then the fine stage
  (``configs/demo/depth_fine_kitti.py``, ``load_from`` = the coarse checkpoint) with the official decoder defaults
  (``model.decoder.head='official'``, ``model.decoder.num_scales=1``: ``BASE['fine']`` of
  ``benchmarks/hybrid_depth_ablation.py``).
- ``hybrid_depth_demo``: the same chain with the fine config as it ships (our sigmoid-head option, 4 scales), i.e.
  the depth stages of ``make demo``.

**Table 8 analog** (camera-only 3D detection; synthetic nuScenes val split; mAP, NDS, car AP@2m):

- ``bevdet_r50`` (``configs/demo/bevdet_r50_demo.py``: the demo's random-init ResNet-18 stand-in for R50),
- ``bevdet_hybrid`` (``configs/demo/bevdet_hybrid_demo.py`` from the export of that seed's ``hybrid_depth_demo``
  fine checkpoint: image encoder and depth branch),
- ``bevdet_hybrid_no_depth_pretraining`` (the same config, random init: what the depth pretraining adds),
- ``fbbev_r50`` (``configs/demo/fbbev_r50_demo.py``), ``fbbev_hybrid`` (``configs/demo/fbbev_hybrid_demo.py`` from the
  same export).

Budget: every Table-1 row trains ``--depth-epochs`` fine epochs (default 20, what ``make demo`` uses); the hybrid
rows first train the coarse stage for ``--coarse-epochs`` (default: the coarse config's own), once per seed and
shared by both hybrid rows (its pair-ordering accuracy is printed as a pre-stage table). Each depth config keeps its
own optimiser and StepLR (``--depth-lr-step N`` puts every depth row's one x0.1 step at epoch N instead). Every
Table-8 row trains ``--det-epochs`` epochs (default 2, the demo configs' schedule on the ``small`` world's 320
train samples: 320 iterations, 30 of warm-up, then a per-iteration cosine over the epochs; ``train_cfg.max_epochs``
and the cosine's ``end`` / ``T_max`` are all set to it; no validation while training: the test run scores it).
Every run has ``randomness=dict(seed=seed, deterministic=False)``, its own work dir under
``--work-dir`` and no visualisation, and runs in a fresh child process (train, then test).

Dependencies: a fine hybrid run loads the checkpoint its seed's coarse run recorded; the Table-8 hybrid rows use
``<work dir of that seed's hybrid_depth_demo run>/export/hybrid_depth_backbone.pth``, written once per seed by
``tools/export_backbone.py`` (a subprocess) from the checkpoint recorded in the depth run's JSON line. Selecting a row
selects what it depends on (``--tables 8`` alone also trains the coarse and ``hybrid_depth_demo`` runs it needs).

Results are appended to ``--out`` as JSON lines (table, row, seed, budget, metrics, seconds, checkpoint, machine) as
each run finishes, so an interrupted sweep keeps its rows; a rerun skips every (table, row, seed) with the same budget
already in the file (``--force`` reruns them; the report then uses the newest line).

Usage::

    python benchmarks/paper_tables.py --data-root data/synthetic --seeds 0 1 2            # both tables, full run
    python benchmarks/paper_tables.py --dry-run                                           # what it would run
    python benchmarks/paper_tables.py --tables 1 --rows monodepth2_r18 --seeds 0 --depth-epochs 1   # a smoke run
    python benchmarks/paper_tables.py --report work_dirs/paper_tables/results.jsonl       # print the tables again

Runtime (this 2-core CPU, 1 Dec 2026, shared with other trainings): Table 1 with 3 seeds took 98 min of run time
(coarse 18 min, Monodepth2 22 min, the two fine rows 58 min); Table 8 is 15 detector runs of about 13-14 min
(320 iterations at 2.2-2.4 s, then the test on 80 samples) plus 3 exports, about 3.5 h alone, so about 5 h for both
tables.

Caveat: every tower here is a random-init tiny model (a tiny CLIP, a 4-block DINOv2-style ViT, a ResNet-18 instead
of ImageNet weights) trained on a small synthetic world, so the tables show whether the pipelines learn and how they
compare at this scale; they cannot show what the real CLIP / DINOv2 weights (the paper's setting) would give.
"""
from __future__ import annotations

import argparse
import ast
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.detection_sanity import headline  # noqa: E402
from benchmarks.hybrid_depth_ablation import BASE  # noqa: E402
from benchmarks.hybrid_depth_ablation import CONFIGS as DEPTH_STAGES  # noqa: E402

COARSE = 'coarse'  # the table name of the coarse pre-stage runs (one per seed, shared by the hybrid depth rows)
COARSE_ROW = 'hybrid_coarse'
EXPORT_NAME = 'export/hybrid_depth_backbone.pth'
ROWS = {
    '1': {'monodepth2_r18': 'configs/demo/depth_monodepth2_kitti.py',
          'hybrid_depth_official': DEPTH_STAGES['fine'],
          'hybrid_depth_demo': DEPTH_STAGES['fine']},
    '8': {'bevdet_r50': 'configs/demo/bevdet_r50_demo.py',
          'bevdet_hybrid': 'configs/demo/bevdet_hybrid_demo.py',
          'bevdet_hybrid_no_depth_pretraining': 'configs/demo/bevdet_hybrid_demo.py',
          'fbbev_r50': 'configs/demo/fbbev_r50_demo.py',
          'fbbev_hybrid': 'configs/demo/fbbev_hybrid_demo.py'},
}
HYBRID_DEPTH_ROWS = ('hybrid_depth_official', 'hybrid_depth_demo')  # coarse first, then fine from its checkpoint
FINE_OPTIONS = {'hybrid_depth_official': dict(BASE['fine']), 'hybrid_depth_demo': {}}
EXPORT_SOURCE = ('1', 'hybrid_depth_demo')  # the depth run whose export the Table-8 hybrid rows load
EXPORT_ROWS = ('bevdet_hybrid', 'fbbev_hybrid')
TITLES = {
    '1': 'Table 1 analog: self-supervised monocular depth, synthetic KITTI Eigen test split',
    '8': 'Table 8 analog: camera-only 3D detection, synthetic nuScenes val split',
    COARSE: 'Pre-stage of the hybrid depth rows: coarse stage (language-guided lane ordering), synthetic TuSimple',
}
# the columns of each table (depth and coarse: metric keys ending in the name; detection: headline()'s names)
DEPTH_COLUMNS = ('abs_rel', 'sq_rel', 'rmse', 'a1')
DET_COLUMNS = ('mAP', 'NDS', 'car AP@2m')  # names of benchmarks/detection_sanity.py's headline()
COARSE_COLUMNS = ('pair_acc',)


class Run:
    """One training + test run in a child process, and what it needs from earlier runs.

    (A plain class, not a dataclass: the tests load this script by file path, outside ``sys.modules``.)
    """

    def __init__(self, table: str, row: str, seed: int, config: str, work_dir: str, options: dict,
                 budget: dict) -> None:
        self.table, self.row, self.seed, self.config = table, row, seed, config
        self.work_dir, self.options, self.budget = work_dir, options, budget
        self.load_from_run: tuple | None = None  # (table, row, seed, budget) whose checkpoint becomes load_from
        self.export_of: tuple | None = None  # (table, row, seed, budget) whose checkpoint is exported for this run
        self.export: str | None = None  # the export file this run loads (model.*.checkpoint)
        self.dependency = False  # not selected itself: a selected row needs it

    def __repr__(self) -> str:
        return f'Run({self.table!r}, {self.row!r}, seed={self.seed}, budget={self.budget})'

    @property
    def key(self) -> tuple:
        return run_key(self.table, self.row, self.seed, self.budget)


def run_key(table: str, row: str, seed: int, budget: dict) -> tuple:
    """What a rerun compares to decide that a run is already in the results file."""
    return str(table), row, int(seed), json.dumps(budget, sort_keys=True)


def machine() -> str:
    """This machine in words: processor and core count."""
    return f'{platform.processor() or platform.machine() or "unknown cpu"}, {os.cpu_count()} cores'


def config_max_epochs(config: str) -> int:
    """The top-level ``max_epochs = N`` of a config file (read without mmengine, so a dry run stays instant)."""
    tree = ast.parse((ROOT / config).read_text())
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == 'max_epochs' and isinstance(node.value, ast.Constant)):
            return int(node.value.value)
    raise ValueError(f'{config}: no top-level max_epochs = N; pass --coarse-epochs')


def _common(seed: int, work_dir: str) -> dict:
    return {'randomness': dict(seed=seed, deterministic=False), 'work_dir': work_dir,
            'default_hooks.visualization.draw': False}


def _loaders(root: str) -> dict:
    return {f'{loader}.dataset.data_root': root for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')}


def coarse_run(seed: int, epochs: int, data_root: str, work_dir: str) -> Run:
    """The coarse stage of one seed (the ablation's coarse schedule, rescaled to ``epochs``)."""
    wd = f'{work_dir}/coarse_s{seed}_e{epochs}'
    warm = max(1, round(0.3 * epochs))  # the momentum phase boundary of the config, in whole epochs
    options = {**_common(seed, wd), **_loaders(f'{data_root}/tusimple/'),
               'train_cfg.max_epochs': epochs, 'train_cfg.val_interval': epochs,
               'default_hooks.checkpoint.interval': epochs,
               'param_scheduler.0.total_steps': epochs, 'param_scheduler.1.end': warm,
               'param_scheduler.2.begin': warm, 'param_scheduler.2.end': epochs}
    return Run(COARSE, COARSE_ROW, seed, DEPTH_STAGES['coarse'], wd, options, {'coarse_epochs': epochs})


def depth_run(row: str, seed: int, epochs: int, coarse_epochs: int, data_root: str, work_dir: str,
              lr_step: int | None) -> Run:
    """A Table-1 run; the hybrid rows load the checkpoint of their seed's coarse run."""
    budget = {'depth_epochs': epochs, 'depth_lr_step': lr_step}
    tag = f'e{epochs}' + (f'_lr{lr_step}' if lr_step else '')
    if row in HYBRID_DEPTH_ROWS:
        budget['coarse_epochs'] = coarse_epochs
        tag += f'_c{coarse_epochs}'
    wd = f'{work_dir}/t1_{row}_s{seed}_{tag}'
    options = {**_common(seed, wd), **_loaders(f'{data_root}/kitti_raw/'),
               'train_cfg.max_epochs': epochs, 'train_cfg.val_interval': epochs,
               'default_hooks.checkpoint.interval': epochs}
    if lr_step:
        options['param_scheduler.0.step_size'] = lr_step
    run = Run('1', row, seed, ROWS['1'][row], wd, options, budget)
    if row in HYBRID_DEPTH_ROWS:
        coarse = coarse_run(seed, coarse_epochs, data_root, work_dir)
        options.update(FINE_OPTIONS[row])
        # predicted here; replaced at run time by the checkpoint the coarse run recorded
        options['load_from'] = f'{coarse.work_dir}/epoch_{coarse_epochs}.pth'
        run.load_from_run = coarse.key
    return run


def det_run(row: str, seed: int, epochs: int, export_source: Run | None, data_root: str, work_dir: str) -> Run:
    """A Table-8 run; ``export_source`` is the seed's ``hybrid_depth_demo`` run for the rows that load its export."""
    budget: dict = {'det_epochs': epochs}
    tag = f'e{epochs}'
    if export_source is not None:
        budget.update(export_source.budget)  # the depth pretraining is part of the row's budget
        tag += '_from_' + Path(export_source.work_dir).name
    wd = f'{work_dir}/t8_{row}_s{seed}_{tag}'
    nus = f'{data_root}/nuscenes/'
    options = {**_common(seed, wd), **_loaders(nus),
               # no validation while training (the validation before training and after the last epoch cost a
               # minute each on 80 val samples): the test run scores the final model
               'train_cfg.max_epochs': epochs, 'train_cfg.val_interval': epochs + 1, 'custom_hooks': [],
               'param_scheduler.1.end': epochs, 'param_scheduler.1.T_max': epochs,
               'default_hooks.checkpoint.interval': epochs,
               'val_evaluator.data_root': nus, 'val_evaluator.ann_file': nus + 'nuscenes_infos_val.pkl',
               'test_evaluator.data_root': nus, 'test_evaluator.ann_file': nus + 'nuscenes_infos_val.pkl'}
    run = Run('8', row, seed, ROWS['8'][row], wd, options, budget)
    if export_source is not None:
        export = f'{export_source.work_dir}/{EXPORT_NAME}'
        options['model.img_backbone.checkpoint'] = export
        options['model.img_view_transformer.depth_net.checkpoint'] = export
        run.export, run.export_of = export, export_source.key
    return run


def plan(tables: list[str], rows: list[str] | None, seeds: list[int], depth_epochs: int, coarse_epochs: int,
         det_epochs: int, data_root: str, work_dir: str, depth_lr_step: int | None = None) -> list[Run]:
    """Every run of the sweep in execution order, dependencies included and marked.

    Order: the coarse runs, then Table 1 row by row (all seeds of a row before the next row, so an interrupted sweep
    leaves complete rows), then Table 8 row by row.
    """
    data_root = data_root.rstrip('/')
    wanted = [(t, r) for t in ('1', '8') if t in tables for r in ROWS[t] if rows is None or r in rows]
    depth = {(r, s): depth_run(r, s, depth_epochs, coarse_epochs, data_root, work_dir, depth_lr_step)
             for r in ROWS['1'] for s in seeds}
    selected: list[Run] = []
    needed_depth: set[tuple] = set()
    for table, row in wanted:
        for seed in seeds:
            if table == '1':
                selected.append(depth[(row, seed)])
                continue
            source = depth[(EXPORT_SOURCE[1], seed)] if row in EXPORT_ROWS else None
            if source is not None:
                needed_depth.add((EXPORT_SOURCE[1], seed))
            selected.append(det_run(row, seed, det_epochs, source, data_root, work_dir))
    in_table1 = {(r.row, r.seed) for r in selected if r.table == '1'}
    extra = [depth[k] for k in sorted(needed_depth, key=lambda k: k[1]) if k not in in_table1]
    for run in extra:
        run.dependency = True
    table1 = [r for r in selected if r.table == '1'] + extra
    coarse_seeds = sorted({r.seed for r in table1 if r.row in HYBRID_DEPTH_ROWS})
    coarse = [coarse_run(s, coarse_epochs, data_root, work_dir) for s in coarse_seeds]
    for run in coarse:
        run.dependency = True
    return coarse + table1 + [r for r in selected if r.table == '8']


def load_results(path: str | Path) -> list[dict]:
    """The JSON lines of a results file (none if it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def recorded(results: list[dict]) -> dict[tuple, dict]:
    """The newest line of every (table, row, seed, budget)."""
    out = {}
    for r in results:
        out[run_key(r['table'], r['row'], r['seed'], r.get('budget', {}))] = r
    return out


def pending(runs: list[Run], results: list[dict], force: bool = False) -> list[Run]:
    """The runs still to do: all of them with ``force``, else those without a line of the same key and budget."""
    done = recorded(results)
    return list(runs) if force else [r for r in runs if r.key not in done]


def child_command(run: Run) -> list[str]:
    spec = {'config': run.config, 'options': run.options, 'table': run.table}
    return [sys.executable, str(Path(__file__).relative_to(ROOT)), '--single', json.dumps(spec)]


def export_command(checkpoint: str, out: str) -> list[str]:
    return [sys.executable, 'tools/export_backbone.py', checkpoint, out]


# --------------------------------------------------------------------------------------------------- child process
def run_single(spec: dict) -> tuple[dict, str | None]:
    """Train and test one run in this process; returns the numeric test metrics and the last checkpoint."""
    from hybrid_depth.engine.cli import build_runner, load_config

    cfg = load_config(str(ROOT / spec['config']), spec['options'])
    if spec.get('table') == '8':
        scheduler = cfg.param_scheduler[1]['type']
        if scheduler != 'CosineAnnealingLR':
            raise ValueError(f"{spec['config']}: param_scheduler[1] is {scheduler}, expected CosineAnnealingLR")
    runner = build_runner(cfg)
    runner.train()
    metrics = runner.test()
    marker = Path(cfg.work_dir) / 'last_checkpoint'
    checkpoint = marker.read_text().strip() if marker.is_file() else None
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}, checkpoint


# ------------------------------------------------------------------------------------------------------------ tables
def columns(table: str, metrics: dict) -> dict[str, float]:
    """A run's table columns from its test metrics."""
    if table == '8':
        return headline(metrics)
    names = DEPTH_COLUMNS if table == '1' else COARSE_COLUMNS
    out = {}
    for name in names:
        found = [float(v) for k, v in metrics.items() if k == name or k.endswith('/' + name)]
        if found:
            out[name] = found[0]
    return out


def mean_sd(values: list[float]) -> str:
    """``mean +- sample sd`` (sd ``nan`` for a single value)."""
    if not values:
        return 'n/a'
    sd = statistics.stdev(values) if len(values) > 1 else math.nan
    return f'{statistics.mean(values):.4f} +- {sd:.4f}'


def budget_text(budget: dict) -> str:
    parts = [f'coarse {budget["coarse_epochs"]} ep' if 'coarse_epochs' in budget else None,
             f'depth {budget["depth_epochs"]} ep' if 'depth_epochs' in budget else None,
             f'LR step {budget["depth_lr_step"]}' if budget.get('depth_lr_step') else None,
             f'det {budget["det_epochs"]} ep' if 'det_epochs' in budget else None]
    return ' + '.join(p for p in parts if p)


def table(results: list[dict], which: str) -> str:
    """Markdown table of one table id: a line per (row, budget), mean +- sample sd over the seeds."""
    names = {'1': DEPTH_COLUMNS, '8': DET_COLUMNS, COARSE: COARSE_COLUMNS}[which]
    runs = [r for r in recorded(results).values() if str(r['table']) == which]
    machines = sorted({r['machine'] for r in runs if r.get('machine')}) or [machine() + ' (this machine)']
    needs = {'1': '; the hybrid rows also need the coarse pre-stage (its own table)',
             '8': '; the hybrid rows also need their seed\'s coarse and hybrid_depth_demo runs (not counted here)'}
    lines = [TITLES[which],
             f'machine: {"; ".join(machines)}. Cells: mean +- sample sd over the n seeds named; '
             f'total s: wall seconds of the row\'s own runs, all seeds (train + test){needs.get(which, "")}.',
             '',
             '| row | seeds | ' + ' | '.join(names) + ' | budget | total s |',
             '|---|---|' + '---:|' * len(names) + '---|---:|']
    order = list(ROWS.get(which, {COARSE_ROW: None}))
    groups: dict[tuple, list[dict]] = {}
    for r in sorted(runs, key=lambda r: (order.index(r['row']) if r['row'] in order else len(order), r['seed'])):
        groups.setdefault((r['row'], json.dumps(r.get('budget', {}), sort_keys=True)), []).append(r)
    for (row, budget), group in groups.items():
        cols = [columns(which, r['metrics']) for r in group]
        cells = [mean_sd([c[n] for c in cols if n in c]) for n in names]
        seeds = ','.join(str(r['seed']) for r in group) + f' (n={len(group)})'
        total = sum(float(r.get('seconds', 0.0)) for r in group)
        lines.append(f'| {row} | {seeds} | ' + ' | '.join(cells) + f' | {budget_text(json.loads(budget))} | '
                     f'{total:.0f} |')
    return '\n'.join(lines)


def report(results: list[dict], tables: list[str]) -> str:
    """The tables present in the results (pre-stage after Table 1), separated by blank lines."""
    present = {str(r['table']) for r in results}
    order = [t for t in ('1', COARSE, '8') if t in present and (t in tables or t == COARSE)]
    return '\n\n'.join(table(results, t) for t in order)


# ------------------------------------------------------------------------------------------------------------- sweep
def describe(run: Run, skip: bool) -> str:
    what = 'dependency' if run.dependency else 'row'
    head = f'[table {run.table}] {run.row} seed {run.seed} ({what}{"; in --out already, skipped" if skip else ""})'
    lines = [head, f'    config: {run.config}', f'    work_dir: {run.work_dir}',
             f'    overrides: {json.dumps(run.options)}']
    if run.load_from_run:
        lines.append(f'    load_from: the checkpoint recorded by {run.load_from_run[1]} seed {run.load_from_run[2]}')
    if run.export:
        lines.append(f'    export: {run.export} (of {run.export_of[1]} seed {run.export_of[2]})')
    lines.append(f'    $ {shlex.join(child_command(run))}')
    return '\n'.join(lines)


def ensure_export(checkpoint: str, out: str, env: dict) -> None:
    """Export a depth checkpoint for the detectors unless an export newer than the checkpoint is there."""
    target, source = ROOT / out, ROOT / checkpoint
    if target.is_file() and source.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return
    cmd = export_command(checkpoint, out)
    print(f'export: $ {shlex.join(cmd)}', flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f'export failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}')


def sweep(runs: list[Run], out: Path, force: bool) -> int:
    """Run what is pending, appending a JSON line per finished run; 1 if any run failed."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out.parent.mkdir(parents=True, exist_ok=True)
    todo = {r.key for r in pending(runs, load_results(out), force)}
    failed: set[tuple] = set()
    for run in runs:
        done = recorded(load_results(out))
        if run.key not in todo:
            print(f'{run.table}/{run.row}/seed {run.seed}: in {out} already, skipped', flush=True)
            continue
        missing = [k for k in (run.load_from_run, run.export_of) if k and (k not in done or k in failed)]
        if missing:
            print(f'{run.table}/{run.row}/seed {run.seed}: skipped, its dependency {missing[0][:3]} did not finish',
                  file=sys.stderr)
            failed.add(run.key)
            continue
        try:
            if run.load_from_run:
                run.options['load_from'] = done[run.load_from_run]['checkpoint']
            if run.export_of:
                ensure_export(done[run.export_of]['checkpoint'], run.export, env)
        except (KeyError, TypeError, RuntimeError) as err:
            print(f'{run.table}/{run.row}/seed {run.seed}: dependency unusable: {err}', file=sys.stderr)
            failed.add(run.key)
            continue
        t0 = time.time()
        proc = subprocess.run(child_command(run), cwd=ROOT, env=env, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT ')]
        if proc.returncode or not lines:
            print(f'{run.table}/{run.row}/seed {run.seed} failed (work dir {run.work_dir}):\n{proc.stderr[-3000:]}',
                  file=sys.stderr)
            failed.add(run.key)
            continue
        result = json.loads(lines[-1][len('RESULT '):])
        row = {'table': run.table, 'row': run.row, 'seed': run.seed, 'budget': run.budget,
               'metrics': result['metrics'], 'seconds': round(time.time() - t0, 1),
               'checkpoint': result['checkpoint'], 'work_dir': run.work_dir, 'config': run.config,
               'options': run.options, 'export': run.export, 'machine': machine()}
        with open(out, 'a') as f:
            f.write(json.dumps(row) + '\n')
        print(f'{run.table}/{run.row}/seed {run.seed}: {columns(run.table, row["metrics"])} ({row["seconds"]} s)',
              flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--tables', nargs='+', choices=('1', '8'), default=['1', '8'])
    p.add_argument('--rows', nargs='+', default=None, help='subset of the rows (default: every row of the tables)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--depth-epochs', type=int, default=20, help='fine epochs of every Table-1 row')
    p.add_argument('--coarse-epochs', type=int, default=None, help='default: the coarse config\'s max_epochs')
    p.add_argument('--depth-lr-step', type=int, default=None,
                   help='StepLR step (epochs) of every depth row (default: each config\'s own)')
    p.add_argument('--det-epochs', type=int, default=2, help='epochs of every Table-8 row')
    p.add_argument('--data-root', default='data/synthetic',
                   help='tools/make_synthetic.py output (a relative path is read from the repository root)')
    p.add_argument('--work-dir', default='work_dirs/paper_tables',
                   help='a work dir per run under it (a relative path is read from the repository root)')
    p.add_argument('--out', default='work_dirs/paper_tables/results.jsonl')
    p.add_argument('--force', action='store_true', help='rerun runs already in --out')
    p.add_argument('--dry-run', action='store_true', help='print every run (overrides, commands); train nothing')
    p.add_argument('--report', metavar='FILE', help='only print the tables of a results file')
    p.add_argument('--single', metavar='SPEC', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.single:  # child process: one run; its metrics and checkpoint as the last stdout line
        metrics, checkpoint = run_single(json.loads(args.single))
        print('RESULT ' + json.dumps({'metrics': metrics, 'checkpoint': checkpoint}), flush=True)
        return 0
    if args.report:
        print(report(load_results(args.report), args.tables))
        return 0
    known = {r: t for t in ROWS for r in ROWS[t]}
    if args.rows:
        bad = [r for r in args.rows if known.get(r) not in args.tables]
        if bad:
            print(f'error: rows {bad} are not rows of tables {args.tables}; rows: '
                  f'{ {t: list(ROWS[t]) for t in args.tables} }', file=sys.stderr)
            return 2
    coarse_epochs = args.coarse_epochs or config_max_epochs(DEPTH_STAGES['coarse'])
    runs = plan(args.tables, args.rows, args.seeds, args.depth_epochs, coarse_epochs, args.det_epochs,
                args.data_root, args.work_dir, args.depth_lr_step)
    out = Path(args.out)
    if args.dry_run:
        todo = {r.key for r in pending(runs, load_results(out), args.force)}
        exported: set[tuple] = set()
        for run in runs:
            if run.export_of and run.export_of not in exported:
                exported.add(run.export_of)
                source = f'<checkpoint recorded by {run.export_of[1]} seed {run.export_of[2]}>'
                print(f'[export] seed {run.seed}: $ {shlex.join(export_command(source, run.export))}')
            print(describe(run, run.key not in todo))
        print(f'{len(runs)} runs, {len(todo)} to do; machine: {machine()}')
        return 0
    status = sweep(runs, out, args.force)
    print()
    print(report(load_results(out), args.tables))
    return status


if __name__ == '__main__':
    sys.exit(main())
