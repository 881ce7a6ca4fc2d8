"""Plot loss and metric curves from mmengine's ``vis_data/scalars.json`` logs to a PNG.

Examples::

    python tools/analyze_logs.py plot_curve work_dirs/bevdet_hybrid --keys loss loss_depth --out curves.png
    python tools/analyze_logs.py plot_curve RUN_A RUN_B --keys loss --legend baseline hybrid --out cmp.png
    python tools/analyze_logs.py cal_train_time work_dirs/bevdet_hybrid

A run folder may hold several timestamped sub-folders (an interrupted run and its resume); their records
are merged in time order. Training records are plotted against the iteration, evaluation records (keys
such as ``NuScenes metric/pred_instances_3d_NuScenes/mAP`` or ``kitti/abs_rel``) against the epoch or step
at which they were logged.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def find_scalar_files(run: Path) -> list[Path]:
    """``scalars.json`` files of a run folder (or the file itself), oldest first."""
    if run.is_file():
        return [run]
    files = sorted(run.glob('*/vis_data/scalars.json')) + sorted(run.glob('vis_data/scalars.json'))
    if not files:
        raise FileNotFoundError(f'no vis_data/scalars.json under {run}')
    return files


def load_records(run: Path) -> tuple[list[dict], list[dict]]:
    """Split a run's records into training records (with ``iter``) and evaluation records (without)."""
    train, val = [], []
    for f in find_scalar_files(run):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f'{f}:{n}: not a JSON record ({err})') from err
            (train if 'lr' in rec or 'loss' in rec else val).append(rec)
    return train, val


def plot_curve(runs: list[Path], keys: list[str], out: Path, legend: list[str] | None, title: str | None) -> Path:
    """Draw one subplot per key, one line per run; write ``out`` atomically."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    legend = legend or [r.name for r in runs]
    if len(legend) != len(runs):
        raise ValueError(f'--legend has {len(legend)} names for {len(runs)} runs')
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 3 * len(keys)), squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        plotted = False
        for run, name in zip(runs, legend):
            train, val = load_records(run)
            for recs, x_key, style in ((train, 'iter', '-'), (val, 'step', 'o-')):
                pts = [(r.get(x_key, r.get('epoch', i)), r[key]) for i, r in enumerate(recs) if key in r]
                if pts:
                    xs, ys = zip(*pts)
                    ax.plot(xs, ys, style, label=name, markersize=3)
                    plotted = True
        if not plotted:
            raise KeyError(f"key '{key}' is in none of the logs of {[str(r) for r in runs]}")
        ax.set_title(key)
        ax.set_xlabel('iteration' if any(key in r for r in load_records(runs[0])[0]) else 'epoch / step')
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f'.{out.stem}.tmp.png')
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.rename(out)
    return out


def cal_train_time(run: Path) -> dict[str, float]:
    """Average and slowest iteration time of a run (seconds), from the logged ``time``."""
    times = [r['time'] for r in load_records(run)[0] if 'time' in r]
    if not times:
        raise KeyError(f'no iteration times logged under {run}')
    return dict(mean=sum(times) / len(times), slowest=max(times), iters=len(times))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='task', required=True)
    pc = sub.add_parser('plot_curve', help='plot curves of some keys to a PNG')
    pc.add_argument('runs', type=Path, nargs='+', help='work dirs (or scalars.json files)')
    pc.add_argument('--keys', nargs='+', default=['loss'])
    pc.add_argument('--legend', nargs='+', default=None)
    pc.add_argument('--title', default=None)
    pc.add_argument('--out', type=Path, required=True, help='output PNG')
    ct = sub.add_parser('cal_train_time', help='average iteration time')
    ct.add_argument('runs', type=Path, nargs='+')
    args = p.parse_args(argv)
    try:
        if args.task == 'plot_curve':
            print(f'wrote {plot_curve(args.runs, args.keys, args.out, args.legend, args.title)}')
        else:
            for run in args.runs:
                t = cal_train_time(run)
                print(f'{run}: {t["iters"]} iterations, {t["mean"]:.4f} s/iter on average, '
                      f'slowest {t["slowest"]:.4f} s')
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
