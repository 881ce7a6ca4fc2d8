"""The main job end to end on CPU: synthetic world -> depth pretraining -> export -> BEVDet-hybrid -> test -> PNGs.

Run by ``make demo``. Every stage is a call of one of the project's own tools (the commands a user would
type), so the demo exercises exactly what the README documents. A stage that finished leaves a stamp in
``<work-dir>/.stamps`` and is skipped on a rerun; ``--force`` reruns everything. A stage whose config or
tool does not exist in this checkout yet is reported as unavailable and skipped (with the stages that need
its output).

Usage::

    python tools/demo.py [--work-dir work_dirs/demo] [--preset small] [--force] [--only STAGE ...] [--fbbev]

``--fbbev`` adds FB-BEV-hybrid (train, test with the FRPN mask IoU, pictures) from the same export.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Stage:
    """One step of the demo: a command, the repo files it needs, and the stages whose output it reads."""

    name: str
    title: str
    command: Callable[[argparse.Namespace], list[str]]
    needs_files: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    optional: bool = False  # run only with --fbbev (keeps the default demo under 25 minutes)


def _py(*args: str) -> list[str]:
    return [sys.executable, *args]


def _last_checkpoint(work_dir: Path) -> str:
    """The checkpoint mmengine recorded as the last one of a run (``<work_dir>/last_checkpoint``)."""
    marker = work_dir / 'last_checkpoint'
    if not marker.is_file():
        raise FileNotFoundError(f'no checkpoint recorded in {marker}')
    return marker.read_text().strip()


def build_stages() -> list[Stage]:
    """The demo's stages in order: the commands of the README, on the synthetic world at ``data/synthetic``.

    The demo configs read ``data/synthetic/...`` (their default data root), so the world is generated there.
    """
    w = lambda a, name: str(a.work_dir / name)  # noqa: E731
    return [
        Stage('data', 'generate the synthetic world (nuScenes v1.0-mini + mmdet3d infos, KITTI raw, TuSimple)',
              lambda a: _py('tools/make_synthetic.py', '--out-dir', 'data/synthetic', '--preset', a.preset,
                            '--seed', str(a.seed), '--mmdet3d-infos', '--force'),
              needs_files=['tools/make_synthetic.py']),
        Stage('depth_coarse', 'coarse depth pretraining (language-guided lane ordering, TuSimple)',
              lambda a: _py('tools/train.py', 'configs/demo/depth_coarse_tusimple.py',
                            '--work-dir', w(a, 'depth_coarse'), '--cfg-options', f'randomness.seed={a.seed}'),
              needs_files=['configs/demo/depth_coarse_tusimple.py'], after=['data']),
        Stage('depth_fine', 'fine depth pretraining (self-supervised, KITTI raw), from the coarse checkpoint',
              lambda a: _py('tools/train.py', 'configs/demo/depth_fine_kitti.py', '--work-dir', w(a, 'depth_fine'),
                            '--cfg-options', f'load_from={_last_checkpoint(a.work_dir / "depth_coarse")}',
                            # 20 of the config's 35 epochs keep the whole demo under 25 minutes on 2 cores
                            'train_cfg.max_epochs=20', 'train_cfg.val_interval=20', f'randomness.seed={a.seed}'),
              needs_files=['configs/demo/depth_fine_kitti.py'], after=['depth_coarse']),
        Stage('depth_baseline', "KITTI Eigen depth metrics of the fine model's start point (coarse checkpoint)",
              lambda a: _py('tools/test.py', 'configs/demo/depth_fine_kitti.py',
                            _last_checkpoint(a.work_dir / 'depth_coarse'), '--work-dir', w(a, 'depth_baseline'),
                            '--partial-checkpoint',  # the coarse model has no fine decoder: it stays at init
                            '--cfg-options', f'randomness.seed={a.seed}'),
              needs_files=['configs/demo/depth_fine_kitti.py'], after=['depth_coarse']),
        Stage('depth_test', 'KITTI Eigen depth metrics of the fine model (and disparity PNGs)',
              lambda a: _py('tools/test.py', 'configs/demo/depth_fine_kitti.py',
                            _last_checkpoint(a.work_dir / 'depth_fine'), '--work-dir', w(a, 'depth_test'),
                            '--show-dir', w(a, 'depth_test/disparity'), '--task', 'depth'),
              needs_files=['configs/demo/depth_fine_kitti.py'], after=['depth_fine']),
        Stage('export', 'export the fine encoder as HybridDepthBackbone weights',
              lambda a: _py('tools/export_backbone.py', _last_checkpoint(a.work_dir / 'depth_fine'),
                            w(a, 'export/hybrid_depth_backbone.pth')),
              needs_files=['tools/export_backbone.py'], after=['depth_fine']),
        Stage('bevdet', 'fine-tune BEVDet-hybrid on the synthetic nuScenes from the exported encoder and depth branch',
              lambda a: _py('tools/train.py', 'configs/demo/bevdet_hybrid_demo.py', '--work-dir', w(a, 'bevdet'),
                            '--cfg-options',
                            f'model.img_backbone.checkpoint={w(a, "export/hybrid_depth_backbone.pth")}',
                            'model.img_view_transformer.depth_net.checkpoint='
                            f'{w(a, "export/hybrid_depth_backbone.pth")}', f'randomness.seed={a.seed}',
                            # the bevdet_test stage scores the final model: no second validation at the end
                            # (a minute on 80 val samples); the one before training stays (the baseline)
                            'train_cfg.val_interval=1000'),
              needs_files=['configs/demo/bevdet_hybrid_demo.py'], after=['data', 'export']),
        Stage('bevdet_test', 'mAP / NDS of BEVDet-hybrid with nuscenes-devkit',
              lambda a: _py('tools/test.py', 'configs/demo/bevdet_hybrid_demo.py',
                            _last_checkpoint(a.work_dir / 'bevdet'), '--work-dir', w(a, 'bevdet_test')),
              needs_files=['configs/demo/bevdet_hybrid_demo.py'], after=['bevdet']),
        Stage('visualize', 'draw BEVDet-hybrid predictions and GT boxes (6 cameras + BEV) as PNGs',
              lambda a: _py('tools/visualize.py', 'configs/demo/bevdet_hybrid_demo.py',
                            _last_checkpoint(a.work_dir / 'bevdet'), '--out-dir', w(a, 'vis'), '--num-samples', '4'),
              needs_files=['tools/visualize.py', 'configs/demo/bevdet_hybrid_demo.py'], after=['bevdet']),
        # with --fbbev: FB-BEV-hybrid from the same export (320 more iterations and a test: ~15-20 min on 2 cores)
        Stage('fbbev', 'fine-tune FB-BEV-hybrid on the synthetic nuScenes from the same export',
              lambda a: _py('tools/train.py', 'configs/demo/fbbev_hybrid_demo.py', '--work-dir', w(a, 'fbbev'),
                            '--cfg-options',
                            f'model.img_backbone.checkpoint={w(a, "export/hybrid_depth_backbone.pth")}',
                            'model.img_view_transformer.depth_net.checkpoint='
                            f'{w(a, "export/hybrid_depth_backbone.pth")}', f'randomness.seed={a.seed}',
                            'train_cfg.val_interval=1000'),  # as the bevdet stage
              needs_files=['configs/demo/fbbev_hybrid_demo.py'], after=['data', 'export'], optional=True),
        Stage('fbbev_test', 'mAP / NDS and FRPN mask IoU of FB-BEV-hybrid',
              lambda a: _py('tools/test.py', 'configs/demo/fbbev_hybrid_demo.py',
                            _last_checkpoint(a.work_dir / 'fbbev'), '--work-dir', w(a, 'fbbev_test')),
              needs_files=['configs/demo/fbbev_hybrid_demo.py'], after=['fbbev'], optional=True),
        Stage('fbbev_visualize', 'draw FB-BEV-hybrid predictions and GT boxes as PNGs',
              lambda a: _py('tools/visualize.py', 'configs/demo/fbbev_hybrid_demo.py',
                            _last_checkpoint(a.work_dir / 'fbbev'), '--out-dir', w(a, 'vis_fbbev'),
                            '--num-samples', '4'),
              needs_files=['tools/visualize.py', 'configs/demo/fbbev_hybrid_demo.py'], after=['fbbev'],
              optional=True),
    ]

# Folders of PNGs written by the stages (printed at the end of the demo when they exist).
PICTURES = (('disparity maps', 'depth_test/disparity'), ('detections', 'vis'), ('FB-BEV detections', 'vis_fbbev'))


def _stamp(work_dir: Path, name: str) -> Path:
    return work_dir / '.stamps' / f'{name}.done'


def run_stage(stage: Stage, args: argparse.Namespace) -> float:
    """Run one stage's command with live output; write its stamp atomically when it succeeds."""
    cmd = stage.command(args)
    print(f'\n==> [{stage.name}] {stage.title}\n    $ {shlex.join(cmd)}', flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    stamp = _stamp(args.work_dir, stage.name)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    tmp = stamp.with_suffix('.tmp')
    tmp.write_text(f'{time.perf_counter() - start:.1f}\n')
    tmp.rename(stamp)
    return time.perf_counter() - start


# (label, trained: test stage, untrained: (stage, log) of the baseline, [(metric key suffix, printed name)]).
# The baseline of the fine depth model is its start point (the coarse checkpoint in the fine config, tested on
# the same Eigen split: stage depth_baseline); that of a detector is the validation its train stage runs before
# the first iteration (ValidateBeforeTrainHook in the demo configs: the export loaded, nothing trained).
METRICS = [
    ('KITTI Eigen (fine depth)', 'depth_test', 'depth_baseline',
     [('abs_rel', 'abs_rel'), ('sq_rel', 'sq_rel'), ('/rmse', 'rmse'), ('/a1', 'a1')]),
    ('nuScenes val (BEVDet-hybrid)', 'bevdet_test', 'bevdet',
     [('/mAP', 'mAP'), ('/NDS', 'NDS'), ('car_AP_dist_1.0', 'car AP@1m'), ('car_AP_dist_2.0', 'car AP@2m'),
      ('car_AP_dist_4.0', 'car AP@4m')]),
    ('nuScenes val (FB-BEV-hybrid)', 'fbbev_test', 'fbbev',
     [('/mAP', 'mAP'), ('/NDS', 'NDS'), ('car_AP_dist_2.0', 'car AP@2m'), ('car_AP_dist_4.0', 'car AP@4m'),
      ('frpn_mask_iou', 'FRPN mask IoU')]),
]


def _records(stage_dir: Path) -> list[dict]:
    """The JSON records of the newest mmengine run in a stage's work dir.

    mmengine writes a test run's records to ``<timestamp>/<timestamp>.json`` and a training run's to
    ``<timestamp>/vis_data/<timestamp>.json`` (next to ``scalars.json``); the newest timestamp wins.
    """
    runs = sorted(p for p in stage_dir.glob('*') if p.is_dir())
    for run in reversed(runs):
        for log in (run / f'{run.name}.json', run / 'vis_data' / f'{run.name}.json'):
            if log.is_file():
                return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return []


def _pick(record: dict | None, suffix: str) -> float | None:
    found = [v for k, v in (record or {}).items() if k.endswith(suffix)]
    return float(found[0]) if found else None


def metric_summary(work_dir: Path) -> list[str]:
    """One line per test stage: ``name untrained -> trained`` for its headline metrics.

    The trained values are the last record of the test stage's newest JSON log; the untrained ones the first
    record with the same metrics in the baseline stage's newest log (missing: the trained value alone).
    """
    lines = []
    for label, stage, baseline, keys in METRICS:
        records = _records(work_dir / stage)
        if not records:
            continue
        trained = records[-1]
        first_key = keys[0][0]
        before = next((r for r in _records(work_dir / baseline) if _pick(r, first_key) is not None), None)
        values = []
        for suffix, name in keys:
            after = _pick(trained, suffix)
            if after is None:
                continue
            start = _pick(before, suffix)
            values.append(f'{name} {after:.4f}' if start is None else f'{name} {start:.4f} -> {after:.4f}')
        note = ' (untrained -> trained)' if before is not None else ''
        lines.append(f'{label}: ' + ', '.join(values) + note)
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--work-dir', type=Path, default=Path('work_dirs/demo'))
    p.add_argument('--preset', default='small', help='synthetic world preset (tiny for a smoke run)')
    p.add_argument('--seed', type=int, default=0, help='seed of the world and of every training stage')
    p.add_argument('--force', action='store_true', help='rerun stages that already finished')
    p.add_argument('--only', nargs='+', default=None, help='run only these stages')
    p.add_argument('--fbbev', action='store_true', help='also train, test and draw FB-BEV-hybrid')
    args = p.parse_args(argv)
    args.work_dir = args.work_dir.resolve()
    stages = build_stages()
    known = {s.name for s in stages}
    if not args.fbbev and not (args.only and any(s.optional and s.name in args.only for s in stages)):
        stages = [s for s in stages if not s.optional]
    if args.only and not set(args.only) <= known:
        p.error(f'unknown stage(s) {sorted(set(args.only) - known)}; stages: {[s.name for s in stages]}')

    done, skipped, timings = set(), [], {}
    for stage in stages:
        if args.only and stage.name not in args.only:
            if _stamp(args.work_dir, stage.name).exists():
                done.add(stage.name)
            continue
        missing = [f for f in stage.needs_files if not (ROOT / f).exists()]
        blocked = [s for s in stage.after if s not in done]
        if missing or blocked:
            why = f'missing {missing}' if missing else f'needs stage(s) {blocked}'
            print(f'\n==> [{stage.name}] unavailable in this checkout ({why}); skipped')
            skipped.append(stage.name)
            continue
        if _stamp(args.work_dir, stage.name).exists() and not args.force:
            print(f'\n==> [{stage.name}] already done ({_stamp(args.work_dir, stage.name)}); skipped')
            done.add(stage.name)
            continue
        try:
            timings[stage.name] = run_stage(stage, args)
        except subprocess.CalledProcessError as err:
            print(f'\ndemo: stage {stage.name!r} failed (exit {err.returncode})', file=sys.stderr)
            return 1
        done.add(stage.name)

    print(f'\n==> demo summary (seed {args.seed}; {sum(timings.values()) / 60:.1f} min in this call)')
    for stage in stages:
        state = f'{timings[stage.name]:.0f} s' if stage.name in timings else (
            'skipped (unavailable)' if stage.name in skipped else 'done earlier')
        print(f'    {stage.name:<16} {state}')
    for line in metric_summary(args.work_dir):
        print(f'    {line}')
    for what, folder in PICTURES:
        pngs = sorted((args.work_dir / folder).glob('*.png'))
        if pngs:
            print(f'    {what}: {len(pngs)} PNGs in {args.work_dir / folder}')
    print(f'    everything else (logs, checkpoints, the export) under {args.work_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
