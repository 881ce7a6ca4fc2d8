#!/usr/bin/env python
"""Create mmdet3d 1.x info files for camera-only detection (wraps mmdet3d's own nuScenes converter).

    python tools/create_data.py nuscenes --root-path data/nuscenes --out-dir data/nuscenes --version v1.0-trainval
    python tools/create_data.py nuscenes --root-path data/synthetic/nuscenes --out-dir data/synthetic/nuscenes \
        --version v1.0-mini

Writes ``<out-dir>/<extra-tag>_infos_{train,val}.pkl`` in mmdet3d's v2 info format (the converter writes them
into the root first, then they are moved). Runs the converter shipped inside the installed mmdet3d package
(:func:`hybrid_depth.datasets.synthetic.mmdet3d_infos.create_mmdet3d_nuscenes_infos`), with no hard-coded
``./data/nuscenes``; the LiDAR ground-truth database is not created (camera-only detectors do not use it).
Before converting, every table and every keyframe's camera and LiDAR records are checked: a missing, empty,
truncated or non-JSON table, a missing image or ``calibrated_sensor`` record stops with one error naming the file
(and the sample token), exit code 2. The infos are written under temporary names and renamed, so an
interrupted run leaves no partial info file under a final name. A rerun starts over (it does not resume; an info
file already in place is replaced) and names the temporary files an interrupted run left to delete
(``.<name>.tmp-XXXX.pkl``) in one ``note:`` line.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hybrid_depth.datasets.synthetic.mmdet3d_infos import create_mmdet3d_nuscenes_infos  # noqa: E402
from hybrid_depth.utils.atomic import atomic_write, stale_note  # noqa: E402

VERSIONS = ('v1.0-mini', 'v1.0-trainval')


class NuScenesIntegrityError(RuntimeError):
    """A sample references a file or record that is missing."""


def check_nuscenes(root: Path, version: str) -> int:
    """Check that every keyframe sensor record of ``version`` has its file and calibration.

    Args:
        root: nuScenes dataroot.
        version: Table folder name.

    Returns:
        Number of samples checked.

    Raises:
        NuScenesIntegrityError: naming the sample token and the missing file (an image, a LiDAR sweep, or
            ``<version>/calibrated_sensor.json`` for a missing record).
    """
    tables = root / version
    if not (tables / 'sample.json').is_file():
        raise NuScenesIntegrityError(f'nuScenes table not found: {tables / "sample.json"} (no tables of {version})')

    def load(name: str) -> list[dict]:
        path = tables / f'{name}.json'
        if not path.is_file():
            raise NuScenesIntegrityError(f'nuScenes table not found: {path}')
        try:
            table = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise NuScenesIntegrityError(f'nuScenes table is not valid JSON (empty, truncated or garbage, '
                                         f'{path.stat().st_size} bytes): {path}: {err}') from err
        if not isinstance(table, list) or not all(isinstance(r, dict) and 'token' in r for r in table[:1]):
            raise NuScenesIntegrityError(f'nuScenes table is not a list of records with a "token": {path}')
        return table

    samples = load('sample')
    calibrated = {r['token'] for r in load('calibrated_sensor')}
    for record in load('sample_data'):
        if not record.get('is_key_frame', False):
            continue
        if record['calibrated_sensor_token'] not in calibrated:
            raise NuScenesIntegrityError(
                f'sample {record["sample_token"]}: calibrated_sensor record {record["calibrated_sensor_token"]} '
                f'of {record["filename"]} is missing from {tables / "calibrated_sensor.json"}')
        if not (root / record['filename']).is_file():
            raise NuScenesIntegrityError(
                f'sample {record["sample_token"]}: file not found: {root / record["filename"]}')
    return len(samples)


def create_nuscenes(root_path: str, out_dir: str, version: str, extra_tag: str = 'nuscenes',
                    max_sweeps: int = 10) -> dict[str, Path]:
    """Check the dataroot, run mmdet3d's converter and place the infos in ``out_dir``.

    Returns:
        ``{'train': path, 'val': path}``.
    """
    root, out = Path(root_path).absolute(), Path(out_dir).absolute()
    check_nuscenes(root, version)
    warn_stale_partials([out / f'{extra_tag}_infos_{s}.pkl' for s in ('train', 'val')]
                        + [root / f'{extra_tag}_infos_{s}.pkl' for s in ('train', 'val')])
    written = create_mmdet3d_nuscenes_infos(root, extra_tag, version=version, max_sweeps=max_sweeps)
    out.mkdir(parents=True, exist_ok=True)
    placed = {}
    for split, path in written.items():
        target = out / path.name
        if path.resolve() != target.resolve():
            with atomic_write(target) as part:  # never a half-copied info file under the final name
                shutil.copyfile(path, part)
            path.unlink()
        placed[split] = target
    return placed


def warn_stale_partials(targets: list[Path]) -> None:
    """Say which temporary files an interrupted earlier run left (they are never read; delete them)."""
    note = stale_note(targets)
    if note:
        print(note, file=sys.stderr)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('dataset', choices=['nuscenes'], help='dataset name')
    parser.add_argument('--root-path', required=True, help='dataset root')
    parser.add_argument('--out-dir', required=True, help='where the info files go')
    parser.add_argument('--version', default='v1.0-trainval', choices=VERSIONS)
    parser.add_argument('--extra-tag', default='nuscenes', help='info file prefix')
    parser.add_argument('--max-sweeps', type=int, default=10, help='LiDAR sweeps kept per sample')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        paths = create_nuscenes(args.root_path, args.out_dir, args.version, args.extra_tag, args.max_sweeps)
    except (NuScenesIntegrityError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    for split, path in paths.items():
        print(f'{split}: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
