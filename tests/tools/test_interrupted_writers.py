"""Killed writers leave no partial file under a final name; the rerun starts over and names the leftovers.

Each tool runs as a real subprocess (its own process group) and is SIGKILLed at 3 seeded random points of its
writing: when the bytes written into its output folder (temporary files included) first reach a seeded fraction
``u`` of what the complete run writes. After each kill every final-named file must equal the complete run's
(byte for byte, or loaded in full and equal) and everything else must be named as a temporary
(:func:`~hybrid_depth.utils.atomic.is_partial`). Then a rerun must succeed, name every leftover in its ``note:``
line, and write the complete output. The complete outputs come from the shared session fixtures (the tiny world,
its infos) or, for the export, from the input checkpoint itself.

With the atomic writes removed (``atomic_write`` yielding the target itself, ``atomic_directory`` the target
folder) the make_synthetic and export cases fail: a kill mid-write leaves a partial final-named world / ``.pth``
(the export's input is 128 MB so that its write lasts long enough to be hit). create_data's infos (~1 MB) are
copied in well under a millisecond, so its kills land between or after the writes: that case checks the rerun.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hybrid_depth.utils.atomic import is_partial

ROOT = Path(__file__).resolve().parents[2]
SEED = 28
FRACTIONS = [round(random.Random(SEED + i).uniform(0.05, 0.95), 3) for i in range(3)]

pytestmark = pytest.mark.slow  # 4 subprocess runs per tool, each paying the torch / mmdet3d imports


def _files(folder: Path) -> dict[Path, tuple[int, int]]:
    """``{file: (mtime_ns, size)}`` under ``folder`` (files renamed or removed while we look are skipped)."""
    out = {}
    for p in folder.rglob('*'):
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if p.is_file():
            out[p] = (st.st_mtime_ns, st.st_size)
    return out


def _bytes_written(folder: Path, before: dict[Path, tuple[int, int]]) -> int:
    """Bytes of the files under ``folder`` that are new or changed since ``before`` (not earlier leftovers)."""
    return sum(size for p, (mtime, size) in _files(folder).items() if before.get(p, (None,))[0] != mtime)


def run_tool(argv: list[str], watch: Path, kill_at: int | None, poll_s: float = 0.002) -> tuple[int, bool, str]:
    """Run ``tools/<argv>``; SIGKILL its process group once it has written ``kill_at`` bytes under ``watch``.

    Returns:
        ``(exit status, whether it was killed, stderr)``.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    err = watch.parent / f'stderr-{time.monotonic_ns()}.txt'
    before = _files(watch) if watch.is_dir() else {}
    with open(err, 'w') as fh:
        proc = subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=fh,
                                start_new_session=True)
        killed = False
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            if kill_at is not None and watch.is_dir() and _bytes_written(watch, before) >= kill_at:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(poll_s)
        if proc.poll() is None and not killed:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode, killed, err.read_text()


def final_and_partial(folder: Path) -> tuple[dict[str, Path], list[Path]]:
    """Final-named files under ``folder`` (relative name -> path) and the temporaries (not descended into)."""
    finals, partials = {}, []
    stack = [folder]
    while stack:
        for p in sorted(stack.pop().iterdir()):
            if is_partial(p):
                partials.append(p)
            elif p.is_dir():
                stack.append(p)
            else:
                finals[str(p.relative_to(folder))] = p
    return finals, partials


def check_after_kill(folder: Path, expected: dict[str, bytes | None], what: str, whole: bool = False) -> list[Path]:
    """Assert every final-named file under ``folder`` equals ``expected[name]`` (None: checked by the caller) and,
    if ``whole``, that there are none or all of them (a world is one unit); returns the temporaries."""
    finals, partials = final_and_partial(folder)
    print(f'{what}: {len(finals)} final-named, {len(partials)} temporary: {[p.name for p in partials]}')
    if whole and finals:
        assert sorted(finals) == sorted(expected), f'{what}: a partial world, {len(finals)} of {len(expected)} files'
    for name, path in finals.items():
        assert name in expected, f'{what}: unexpected final-named file {path}'
        if expected[name] is not None:
            assert path.read_bytes() == expected[name], f'{what}: {path} is partial ({path.stat().st_size} bytes)'
    return partials


def check_rerun(code: int, stderr: str, leftovers: list[Path], what: str) -> None:
    assert code == 0, f'{what}: rerun failed: {stderr[-2000:]}'
    note = [line for line in stderr.splitlines() if line.startswith('note: ')]
    for p in leftovers:
        assert note and str(p) in note[0], f'{what}: rerun does not name the leftover {p}: {note}'


def test_make_synthetic_killed(synthetic_world, tmp_path):
    ref = synthetic_world.tusimple
    expected = {f'tusimple/{p.relative_to(ref)}': p.read_bytes() for p in ref.rglob('*') if p.is_file()}
    expected['synthetic_meta.json'] = None  # its format list differs from the fixture's; parsed below
    total = sum(len(b) for b in expected.values() if b is not None)
    parent = tmp_path / 'worlds'
    parent.mkdir()
    argv = ['tools/make_synthetic.py', '--out-dir', str(parent / 'world'), '--preset', 'tiny', '--seed', '0',
            '--formats', 'tusimple', '--workers', '1', '--no-progress', '--force']
    for u in FRACTIONS:
        code, killed, err = run_tool(argv, parent, int(u * total), poll_s=0.01)
        assert killed or code == 0, err[-2000:]
        check_after_kill(parent, {f'world/{k}': v for k, v in expected.items()}, f'make_synthetic u={u} {killed=}',
                         whole=True)
    leftovers = final_and_partial(parent)[1]
    check_rerun(*run_tool(argv, parent, None)[::2], leftovers, 'make_synthetic')
    finals, partials = final_and_partial(parent / 'world')
    assert sorted(finals) == sorted(expected)
    check_after_kill(parent / 'world', expected, 'make_synthetic rerun')
    assert json.loads(finals['synthetic_meta.json'].read_text())['formats'] == ['tusimple']
    assert partials == [] and final_and_partial(parent)[1] == leftovers  # leftovers are the user's to delete


def test_create_data_killed(synthetic_world, synthetic_nuscenes_infos, tmp_path):
    root = tmp_path / 'nuscenes'
    root.mkdir()
    for entry in synthetic_world.nuscenes.iterdir():  # the world linked, without its infos
        if not entry.name.endswith('.pkl'):
            os.symlink(entry, root / entry.name)
    expected = {p.name: p.read_bytes() for p in synthetic_nuscenes_infos.values()}
    total = sum(len(b) for b in expected.values())
    out = tmp_path / 'infos'
    out.mkdir()
    argv = ['tools/create_data.py', 'nuscenes', '--root-path', str(root), '--out-dir', str(out),
            '--version', 'v1.0-mini']
    for u in FRACTIONS:
        code, killed, err = run_tool(argv, out, int(u * total))
        assert killed or code == 0, err[-2000:]
        check_after_kill(out, expected, f'create_data u={u} {killed=}')
        for name in expected:  # the converter writes into the root first, then moves
            if (root / name).exists():
                assert (root / name).read_bytes() == expected[name], f'create_data u={u}: {root / name} partial'
    leftovers = final_and_partial(out)[1] + [p for p in root.iterdir() if is_partial(p)]
    check_rerun(*run_tool(argv, out, None)[::2], leftovers, 'create_data')
    for name, data in expected.items():
        assert (out / name).read_bytes() == data


def test_export_backbone_killed(tmp_path):
    torch.manual_seed(0)
    state = {'encoder.w': torch.randn(32 << 20), 'decoder.w': torch.randn(1000), 'pose_net.w': torch.zeros(3)}
    ckpt = tmp_path / 'depth.pth'
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    folder = tmp_path / 'export'
    folder.mkdir()
    out = folder / 'bev_backbone.pth'
    argv = ['tools/export_backbone.py', str(ckpt), str(out)]

    def complete() -> None:
        sd = torch.load(out, map_location='cpu', weights_only=True)['state_dict']  # raises if partial
        assert sorted(sd) == ['backbone.w', 'depth_branch.decoder.w']
        assert torch.equal(sd['backbone.w'], state['encoder.w'])

    for u in FRACTIONS:
        code, killed, err = run_tool(argv, folder, int(u * ckpt.stat().st_size))
        assert killed or code == 0, err[-2000:]
        partials = check_after_kill(folder, {out.name: None}, f'export u={u} {killed=}')
        if out.exists():
            complete()
        assert all(p.name.startswith('.bev_backbone.tmp-') for p in partials)
    leftovers = final_and_partial(folder)[1]
    check_rerun(*run_tool(argv, folder, None)[::2], leftovers, 'export_backbone')
    complete()
    assert final_and_partial(folder)[1] == leftovers

