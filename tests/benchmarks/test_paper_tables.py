"""benchmarks/paper_tables.py: the run plan (dry run), the report (mean +- sample sd), skipping what is done, and
the dependency chain coarse -> fine -> export -> detector (child processes faked: nothing trains here)."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'benchmarks/paper_tables.py'
PREFIX = 'NuScenes metric/pred_instances_3d_NuScenes/'


def _module():
    spec = importlib.util.spec_from_file_location('paper_tables', SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _dry_runs(text: str) -> list[dict]:
    """The runs a dry run printed: header fields plus work_dir, overrides and export lines."""
    runs = []
    for line in text.splitlines():
        head = re.match(r'^\[table (\S+)\] (\S+) seed (\d+) \((\w+)', line)
        if head:
            runs.append({'table': head.group(1), 'row': head.group(2), 'seed': int(head.group(3)),
                         'kind': head.group(4), 'skipped': 'skipped' in line})
        elif runs and line.startswith('    work_dir: '):
            runs[-1]['work_dir'] = line.split(': ', 1)[1]
        elif runs and line.startswith('    overrides: '):
            runs[-1]['options'] = json.loads(line.split(': ', 1)[1])
    return runs


def test_dry_run_lists_three_seeds_of_every_row_and_the_same_seeds_export(capsys, tmp_path: Path) -> None:
    mod = _module()
    assert mod.main(['--dry-run', '--out', str(tmp_path / 'results.jsonl'), '--work-dir', 'wd']) == 0
    text = capsys.readouterr().out
    runs = _dry_runs(text)
    rows = {}
    for r in runs:
        rows.setdefault((r['table'], r['row']), []).append(r['seed'])
        assert r['options']['randomness'] == {'seed': r['seed'], 'deterministic': False}
        assert r['options']['default_hooks.visualization.draw'] is False
        assert r['options']['work_dir'] == r['work_dir'] and r['work_dir'].startswith('wd/')
    expected = {(t, row): [0, 1, 2] for t in ('1', '8') for row in mod.ROWS[t]}
    expected[('coarse', 'hybrid_coarse')] = [0, 1, 2]  # the shared pre-stage of the hybrid depth rows
    assert rows == expected
    assert len({r['work_dir'] for r in runs}) == len(runs)  # a work dir per run
    by = {(r['table'], r['row'], r['seed']): r for r in runs}
    for seed in (0, 1, 2):
        for row in ('hybrid_depth_official', 'hybrid_depth_demo'):  # fine from the same seed's coarse run
            assert by[('1', row, seed)]['options']['load_from'].startswith(by[('coarse', 'hybrid_coarse', seed)]
                                                                           ['work_dir'] + '/')
        export = by[('1', 'hybrid_depth_demo', seed)]['work_dir'] + '/export/hybrid_depth_backbone.pth'
        assert f'[export] seed {seed}: ' in text and export in text
        for row in ('bevdet_hybrid', 'fbbev_hybrid'):
            opts = by[('8', row, seed)]['options']
            assert opts['model.img_backbone.checkpoint'] == export
            assert opts['model.img_view_transformer.depth_net.checkpoint'] == export
        for row in ('bevdet_r50', 'bevdet_hybrid_no_depth_pretraining', 'fbbev_r50'):
            assert not any(k.endswith('.checkpoint') for k in by[('8', row, seed)]['options'])
    assert by[('1', 'hybrid_depth_official', 0)]['options']['model.decoder.head'] == 'official'
    assert 'model.decoder.head' not in by[('1', 'hybrid_depth_demo', 0)]['options']  # as the config ships
    for table, key, value in (('1', 'train_cfg.max_epochs', 20), ('8', 'train_cfg.max_epochs', 2),
                              ('8', 'param_scheduler.1.T_max', 2), ('8', 'param_scheduler.1.end', 2),
                              ('8', 'custom_hooks', ())):
        # same budget per row; the detectors are not validated while training (the test run scores them)
        assert {tuple(v) if isinstance(v := r['options'][key], list) else v
                for r in runs if r['table'] == table} == {value}
    assert all(r['options']['train_cfg.val_interval'] > r['options']['train_cfg.max_epochs']
               for r in runs if r['table'] == '8')


def test_a_selected_row_brings_its_dependencies(capsys, tmp_path: Path) -> None:
    mod = _module()
    assert mod.main(['--dry-run', '--tables', '8', '--rows', 'fbbev_hybrid', '--seeds', '5', '--out',
                     str(tmp_path / 'r.jsonl'), '--det-epochs', '3', '--depth-epochs', '2',
                     '--coarse-epochs', '4']) == 0
    runs = _dry_runs(capsys.readouterr().out)
    assert [(r['table'], r['row'], r['seed'], r['kind']) for r in runs] == [
        ('coarse', 'hybrid_coarse', 5, 'dependency'), ('1', 'hybrid_depth_demo', 5, 'dependency'),
        ('8', 'fbbev_hybrid', 5, 'row')]
    assert [r['options']['train_cfg.max_epochs'] for r in runs] == [4, 2, 3]
    assert mod.main(['--dry-run', '--tables', '1', '--rows', 'bevdet_r50']) == 2  # not a row of table 1


def _line(table: str, row: str, seed: int, metrics: dict, budget: dict, seconds: float = 10.0) -> str:
    return json.dumps({'table': table, 'row': row, 'seed': seed, 'budget': budget, 'metrics': metrics,
                       'seconds': seconds, 'machine': 'testcpu, 2 cores'})


def test_report_prints_mean_and_sample_sd_with_the_seeds(capsys, tmp_path: Path) -> None:
    mod = _module()
    depth = {'depth_epochs': 20, 'depth_lr_step': None}
    lines = [_line('1', 'monodepth2_r18', 2, {'kitti_eigen/abs_rel': 0.9}, depth)]  # replaced by a newer line
    lines += [_line('1', 'monodepth2_r18', s, {'kitti_eigen/abs_rel': v, 'kitti_eigen/sq_rel': 1.0,
                                                'kitti_eigen/rmse': 5.0, 'kitti_eigen/rmse_log': 9.0,
                                                'kitti_eigen/a1': 0.5}, depth, seconds=10.0 * (s + 1))
              for s, v in ((0, 0.1), (1, 0.2), (2, 0.3))]
    lines += [_line('8', 'bevdet_r50', s, {PREFIX + 'mAP': v, PREFIX + 'NDS': 2 * v, PREFIX + 'car_AP_dist_2.0': 0.5},
                    {'det_epochs': 24}) for s, v in ((0, 0.01), (1, 0.03))]
    path = tmp_path / 'results.jsonl'
    path.write_text('\n'.join(lines) + '\n')
    assert mod.main(['--report', str(path)]) == 0
    out = capsys.readouterr().out
    assert ('| monodepth2_r18 | 0,1,2 (n=3) | 0.2000 +- 0.1000 | 1.0000 +- 0.0000 | 5.0000 +- 0.0000 | '
            '0.5000 +- 0.0000 | depth 20 ep | 60 |') in out
    assert '| bevdet_r50 | 0,1 (n=2) | 0.0200 +- 0.0141 | 0.0400 +- 0.0283 | 0.5000 +- 0.0000 | det 24 ep | 20 |' in out
    assert 'machine: testcpu, 2 cores' in out and 'sample sd' in out
    assert out.index('Table 1 analog') < out.index('Table 8 analog')
    assert mod.main(['--report', str(path), '--tables', '8']) == 0
    assert 'Table 1 analog' not in capsys.readouterr().out


def test_runs_already_in_the_results_are_skipped_unless_forced(capsys, tmp_path: Path) -> None:
    mod = _module()
    runs = mod.plan(['1'], ['monodepth2_r18'], [0, 1], 20, 60, 24, 'data/synthetic', str(tmp_path))
    path = tmp_path / 'results.jsonl'
    path.write_text(_line('1', 'monodepth2_r18', 0, {}, runs[0].budget) + '\n'
                    + _line('1', 'monodepth2_r18', 1, {}, {'depth_epochs': 5, 'depth_lr_step': None}) + '\n')
    results = mod.load_results(path)
    assert [r.seed for r in mod.pending(runs, results)] == [1]  # seed 1's line has another budget
    assert [r.seed for r in mod.pending(runs, results, force=True)] == [0, 1]
    assert mod.main(['--dry-run', '--tables', '1', '--rows', 'monodepth2_r18', '--seeds', '0', '1',
                     '--work-dir', str(tmp_path), '--out', str(path)]) == 0
    assert [r['skipped'] for r in _dry_runs(capsys.readouterr().out)] == [True, False]


def test_sweep_chains_coarse_fine_export_detector_and_skips_on_rerun(monkeypatch, tmp_path: Path) -> None:
    """The children are faked: each 'run' writes a checkpoint and reports it; the export writes its file."""
    mod = _module()
    calls = []

    def fake_run(cmd, **kwargs):
        if cmd[1] == 'tools/export_backbone.py':
            calls.append(('export', cmd[2], cmd[3]))
            Path(cmd[3]).parent.mkdir(parents=True, exist_ok=True)
            Path(cmd[3]).write_text('weights')
            return subprocess.CompletedProcess(cmd, 0, '', '')
        spec = json.loads(cmd[cmd.index('--single') + 1])
        opts = spec['options']
        ckpt = Path(opts['work_dir']) / 'epoch_1.pth'
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        ckpt.write_text('ckpt')
        calls.append(('run', opts['work_dir'], opts.get('load_from'), opts.get('model.img_backbone.checkpoint')))
        metrics = {'kitti_eigen/abs_rel': 0.3, PREFIX + 'mAP': 0.01}
        return subprocess.CompletedProcess(cmd, 0, 'RESULT ' + json.dumps({'metrics': metrics, 'checkpoint':
                                                                            str(ckpt)}) + '\n', '')

    monkeypatch.setattr(mod.subprocess, 'run', fake_run)
    runs = mod.plan(['8'], ['bevdet_hybrid'], [0, 1], 2, 3, 4, 'data/synthetic', str(tmp_path / 'wd'))
    out = tmp_path / 'results.jsonl'
    assert mod.sweep(runs, out, force=False) == 0
    wd = {(r.table, r.row, r.seed): r.work_dir for r in runs}
    ckpt = {k: f'{v}/epoch_1.pth' for k, v in wd.items()}
    export = {s: f'{wd[("1", "hybrid_depth_demo", s)]}/export/hybrid_depth_backbone.pth' for s in (0, 1)}
    assert calls == [
        ('run', wd[('coarse', 'hybrid_coarse', 0)], None, None),
        ('run', wd[('coarse', 'hybrid_coarse', 1)], None, None),
        ('run', wd[('1', 'hybrid_depth_demo', 0)], ckpt[('coarse', 'hybrid_coarse', 0)], None),
        ('run', wd[('1', 'hybrid_depth_demo', 1)], ckpt[('coarse', 'hybrid_coarse', 1)], None),
        ('export', ckpt[('1', 'hybrid_depth_demo', 0)], export[0]),
        ('run', wd[('8', 'bevdet_hybrid', 0)], None, export[0]),
        ('export', ckpt[('1', 'hybrid_depth_demo', 1)], export[1]),
        ('run', wd[('8', 'bevdet_hybrid', 1)], None, export[1]),
    ]
    rows = mod.load_results(out)
    assert [(r['table'], r['row'], r['seed']) for r in rows] == [
        ('coarse', 'hybrid_coarse', 0), ('coarse', 'hybrid_coarse', 1), ('1', 'hybrid_depth_demo', 0),
        ('1', 'hybrid_depth_demo', 1), ('8', 'bevdet_hybrid', 0), ('8', 'bevdet_hybrid', 1)]
    assert rows[2]['checkpoint'] == ckpt[('1', 'hybrid_depth_demo', 0)] and rows[4]['export'] == export[0]
    calls.clear()
    again = mod.plan(['8'], ['bevdet_hybrid'], [0, 1], 2, 3, 4, 'data/synthetic', str(tmp_path / 'wd'))
    assert mod.sweep(again, out, force=False) == 0 and calls == []  # everything is in the file already
    assert len(mod.load_results(out)) == 6
