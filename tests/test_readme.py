"""The README is the user's manual: every command in it must exist, parse, and be exercised somewhere.

For each command line of the README's ``bash`` blocks (continuation lines joined, comments dropped):

- ``python <script> ARGS``: the script exists and its own argparse accepts ARGS (the parser runs for real; the
  script is stopped right after parsing, before it does any work);
- ``bash <script> ...``: the script exists and ``bash -n`` finds no syntax error;
- ``make <target>``: the Makefile has the target;
- every ``configs/...py`` named anywhere in the README loads with ``Config.fromfile``.

And every script the README shows is exercised by a test or by the demo: :data:`EXERCISED_BY` names, per
script, the test functions (``file::function``, checked to exist) or demo stages (``demo:<stage>``, checked
against ``tools/demo.py``) that run it.
"""
from __future__ import annotations

import argparse
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'

EXERCISED_BY: dict[str, list[str]] = {
    'tools/train.py': ['tests/tools/test_train_tools.py::test_resume_continues_iteration_optimizer_and_schedule',
                       'tests/projects/bevdet/test_train_test_tools.py::test_demo_config_trains_and_tests',
                       'demo:bevdet'],
    'tools/test.py': ['tests/projects/bevdet/test_train_test_tools.py::test_demo_config_trains_and_tests',
                      'demo:depth_test', 'demo:bevdet_test'],
    'tools/dist_train.sh': ['tests/tools/test_train_tools.py::test_dist_train_two_gloo_processes'],
    'tools/gpu_check.sh': ['tests/tools/test_gpu_check.py::test_gpu_check_cpu_prints_a_passing_table'],
    'tools/dist_test.sh': ['tests/tools/test_launch_scripts.py::test_dist_test_two_gloo_workers'],
    'tools/slurm_train.sh': ['tests/tools/test_launch_scripts.py::test_slurm_scripts_launch_through_srun'],
    'tools/slurm_test.sh': ['tests/tools/test_launch_scripts.py::test_slurm_scripts_launch_through_srun'],
    'tools/make_synthetic.py': ['tests/datasets/synthetic/test_generate.py::test_cli_refuses_then_forces',
                                'demo:data'],
    'tools/create_data.py': ['tests/tools/test_create_data.py::test_create_data_writes_infos_to_out_dir'],
    'tools/export_backbone.py': [
        'tests/tools/test_export_backbone.py::test_unmapped_keys_are_listed_and_strict_refuses', 'demo:export'],
    'tools/benchmark.py': ['tests/tools/test_train_tools.py::test_benchmark_tool_reports_latency_fps_memory'],
    'tools/analyze_logs.py': ['tests/tools/test_train_tools.py::test_analyze_logs_plots_curves_of_a_run'],
    'tools/visualize.py': ['tests/tools/test_visualize.py::test_visualize_detection_writes_one_png_per_sample',
                           'demo:visualize'],
    'tools/browse_dataset.py': ['tests/tools/test_browse_dataset.py::test_browse_dataset_writes_augmented_pngs'],
    'tools/demo.py': ['demo:data'],
    'benchmarks/bev_pool.py': ['tests/benchmarks/test_benchmark_scripts.py::test_bev_pool_benchmark_runs'],
    'benchmarks/depth_train_step.py': [
        'tests/benchmarks/test_benchmark_scripts.py::test_depth_train_step_benchmark_runs'],
    'benchmarks/detector_step.py': ['tests/benchmarks/test_benchmark_scripts.py::test_detector_step_benchmark_runs'],
    'benchmarks/backbone_latency.py': [
        'tests/benchmarks/test_backbone_latency.py::test_backbone_latency_ablation_runs_and_prints_ratios'],
    'benchmarks/hybrid_depth_ablation.py': [
        'tests/benchmarks/test_hybrid_depth_ablation.py::test_ablation_one_run_and_report'],
    'benchmarks/detection_sanity.py': [
        'tests/benchmarks/test_detection_sanity.py::test_demo_detector_learns_its_training_samples'],
    'benchmarks/paper_tables.py': [
        'tests/benchmarks/test_paper_tables.py::test_dry_run_lists_three_seeds_of_every_row_and_the_same_seeds_export'],
    'tools/infer_depth.py': ['tests/tools/test_infer_depth.py::test_folder_outputs_equal_the_model_forward'],
    'benchmarks/omp_wait_policy.py': [
        'tests/benchmarks/test_benchmark_scripts.py::test_omp_wait_policy_benchmark_runs'],
    'tools/export_onnx.py': ['tests/projects/bevdet/test_onnx_export.py::test_onnx_infer_scores_like_test_py'],
    'tools/onnx_infer.py': ['tests/projects/bevdet/test_onnx_export.py::test_onnx_infer_scores_like_test_py'],
    'benchmarks/onnx_latency.py': ['tests/benchmarks/test_benchmark_scripts.py::test_onnx_latency_benchmark_runs'],
    'tools/convert_official_checkpoint.py': [
        'tests/tools/test_convert_official_checkpoint.py::test_convert_stage2_and_stage1'],
}


def readme_commands() -> list[str]:
    """Command lines of the README's ``bash`` blocks, continuation lines joined, comments removed."""
    text = README.read_text()
    commands = []
    for block in re.findall(r'```bash\n(.*?)```', text, flags=re.S):
        block = block.replace('\\\n', ' ')
        for line in block.splitlines():
            line = re.sub(r'\s+#.*$', '', line).strip()
            if line and not line.startswith('#'):
                commands.append(line)
    return commands


def _drop_optional(command: str) -> str:
    """A synopsis line's ``[optional ...]`` groups (nested ones included) and ``...`` removed."""
    previous = None
    while previous != command:
        previous, command = command, re.sub(r'\[[^\[\]]*\]', '', command)
    return command.replace('...', '')


def _split(command: str) -> tuple[str, str, list[str]]:
    """``(kind, script, args)``: kind is python / bash / make / other; leading ``VAR=value`` are dropped."""
    words = shlex.split(_drop_optional(command))
    while words and re.fullmatch(r'[A-Z_]+=\S*', words[0]):
        words.pop(0)
    if not words:
        return 'other', '', []
    if words[0] in ('python', '.venv/bin/python') and len(words) > 1 and words[1].endswith('.py'):
        return 'python', words[1], words[2:]
    if words[0] == 'bash' and len(words) > 1:
        return 'bash', words[1], words[2:]
    if words[0] == 'make':
        return 'make', 'Makefile', words[1:]
    return 'other', words[0], words[1:]


COMMANDS = readme_commands()


def test_readme_has_commands():
    kinds = {_split(c)[0] for c in COMMANDS}
    assert {'python', 'bash', 'make'} <= kinds


class _Parsed(Exception):
    """Raised in place of running a script once its arguments parsed."""


@pytest.mark.parametrize('command', [c for c in COMMANDS if _split(c)[0] == 'python'])
def test_python_command_parses(command, monkeypatch):
    _, script, args = _split(command)
    path = ROOT / script
    assert path.is_file(), f'README names {script}, which does not exist'
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args_=None, namespace=None):
        raise _Parsed(original(self, args_, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', parse_then_stop)
    monkeypatch.setattr(sys, 'argv', [str(path), *args])
    monkeypatch.chdir(ROOT)
    with pytest.raises(_Parsed):
        runpy.run_path(str(path), run_name='__main__')


@pytest.mark.parametrize('command', [c for c in COMMANDS if _split(c)[0] == 'bash'])
def test_shell_command_exists_and_parses(command):
    _, script, _ = _split(command)
    assert (ROOT / script).is_file(), f'README names {script}, which does not exist'
    subprocess.run(['bash', '-n', str(ROOT / script)], check=True)


def test_make_targets_exist():
    makefile = (ROOT / 'Makefile').read_text()
    targets = set(re.findall(r'^([a-z][\w-]*):', makefile, flags=re.M))
    used = {a for c in COMMANDS if _split(c)[0] == 'make' for a in _split(c)[2] if '=' not in a}
    assert used and used <= targets, f'README uses make targets {sorted(used - targets)} that the Makefile lacks'


def test_configs_named_in_readme_load():
    names = sorted(set(re.findall(r'\bconfigs/[\w/]+\.py\b', README.read_text())))
    assert len(names) >= 5
    for name in names:
        assert (ROOT / name).is_file(), f'README names {name}, which does not exist'
        Config.fromfile(str(ROOT / name))


def _demo_stages() -> set[str]:
    return set(re.findall(r"Stage\('(\w+)'", (ROOT / 'tools' / 'demo.py').read_text()))


def test_every_readme_script_is_exercised():
    scripts = {_split(c)[1] for c in COMMANDS if _split(c)[0] in ('python', 'bash')}
    scripts.discard('-c')
    missing = sorted(s for s in scripts if s not in EXERCISED_BY)
    assert not missing, f'README scripts with no test or demo stage exercising them: {missing}'
    stages = _demo_stages()
    for script, users in EXERCISED_BY.items():
        assert (ROOT / script).is_file(), script
        for user in users:
            if user.startswith('demo:'):
                assert user[5:] in stages, f'{script}: demo stage {user[5:]!r} not in tools/demo.py'
                continue
            file, func = user.split('::')
            assert re.search(rf'^def {func}\(', (ROOT / file).read_text(), flags=re.M), \
                f'{script}: {user} does not exist'
