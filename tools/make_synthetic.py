#!/usr/bin/env python
"""Generate the procedural driving world as nuScenes v1.0-mini, KITTI raw and TuSimple data.

Examples::

    python tools/make_synthetic.py --out-dir data/synthetic --preset tiny
    python tools/make_synthetic.py --out-dir data/synthetic --preset small --mmdet3d-infos --force
    python tools/make_synthetic.py --out-dir data/synthetic --preset full --nuscenes-keyframes 40 --force
    python tools/make_synthetic.py --out-dir data/synthetic_depth --preset depth --formats kitti --workers 16
    python tools/make_synthetic.py --contact-sheet docs/images/synthetic_contact_sheet.png

Interrupted runs: the world is written into a temporary folder ``.<out-dir name>.tmp-XXXX`` beside ``--out-dir`` and
renamed when complete, so a killed run leaves no ``--out-dir`` (or, with ``--force``, the previous world intact).
A rerun starts over (it does not resume) and names the leftover temporary folders to delete in one ``note:`` line.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hybrid_depth.datasets.synthetic import FORMATS, PRESETS, generate_synthetic, get_preset  # noqa: E402
from hybrid_depth.datasets.synthetic.contact_sheet import make_contact_sheet  # noqa: E402
from hybrid_depth.utils.atomic import stale_note  # noqa: E402

OVERRIDES = (('nuscenes_keyframes', int), ('nuscenes_cam_sweeps', int), ('nuscenes_lidar_azimuth', int),
             ('kitti_drives', int), ('kitti_frames', int), ('kitti_test_drives', int), ('kitti_test_frames', int),
             ('tusimple_clips', int), ('tusimple_frames', int))


def _positive_int(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {n}')
    return n


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out-dir', type=Path, help='output folder (created atomically)')
    p.add_argument('--preset', default='tiny', choices=sorted(PRESETS), help='size preset (default: tiny)')
    p.add_argument('--seed', type=int, default=0, help='world seed (same seed -> identical files)')
    p.add_argument('--formats', nargs='+', default=list(FORMATS), choices=FORMATS, help='formats to write')
    p.add_argument('--scale', type=float, default=None, help='image scale for every format (preset default)')
    p.add_argument('--force', action='store_true', help='replace a non-empty --out-dir')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    p.add_argument('--workers', type=_positive_int, default=min(os.cpu_count() or 1, 10),
                   help='processes rendering the 10 nuScenes scenes or the KITTI drives in parallel and updating '
                        'the mmdet3d infos (1: serial; the same world for any value; default: min(CPU count, 10))')
    p.add_argument('--mmdet3d-infos', action='store_true',
                   help="also write mmdet3d's nuscenes_infos_{train,val}.pkl into the nuScenes root")
    p.add_argument('--contact-sheet', type=Path, default=None,
                   help='also (or only) render a contact-sheet PNG')
    for name, typ in OVERRIDES:
        p.add_argument('--' + name.replace('_', '-'), type=typ, default=None,
                       help=f'override the preset {name}')
    args = p.parse_args(argv)
    if args.out_dir is None and args.contact_sheet is None:
        p.error('give --out-dir and/or --contact-sheet')
    if args.scale is not None and not 0.05 <= args.scale <= 2.0:
        p.error(f'--scale must be in [0.05, 2], got {args.scale}')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.contact_sheet is not None:
        print(f'contact sheet: {make_contact_sheet(args.contact_sheet, seed=args.seed)}')
    if args.out_dir is None:
        return 0
    preset = get_preset(args.preset, scale=args.scale, **{n: getattr(args, n) for n, _ in OVERRIDES})
    note = stale_note([args.out_dir.absolute()])  # what an interrupted earlier run left (never read)
    if note:
        print(note, file=sys.stderr)
    start = time.perf_counter()
    try:
        paths = generate_synthetic(args.out_dir, preset, seed=args.seed, formats=args.formats,
                                   force=args.force, progress=not args.no_progress,
                                   mmdet3d_infos=args.mmdet3d_infos, workers=args.workers)
    except FileExistsError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'wrote {paths.root} in {time.perf_counter() - start:.1f} s')
    for name in ('nuscenes', 'kitti', 'kitti_odom', 'tusimple'):
        if getattr(paths, name) is not None:
            print(f'  {name}: {getattr(paths, name)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
