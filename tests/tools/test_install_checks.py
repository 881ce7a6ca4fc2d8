"""tools/install.sh stops early with one clear line naming what is missing (issue 12).

``install.sh --check`` runs the same checks the install runs before each step (interpreter and venv module,
free disk, a C++20 compiler, Python headers, the package index) and installs nothing; each test takes one piece
away for real (a compiler that is not there or rejects C++20, an index nobody listens on, a disk requirement
larger than the disk, an interpreter that does not exist) and expects exit 1 with exactly one line on stderr.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / 'tools/install.sh'


def _check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = dict(os.environ, VENV=str(tmp_path / 'venv'), PYTHON=sys.executable,
                PIP_INDEX_URL=f'file://{tmp_path}')  # a local folder: no network needed for the passing case
    base.update(env)
    return subprocess.run(['bash', str(INSTALL), '--check'], env=base, capture_output=True, text=True, timeout=120)


def _one_error_line(res: subprocess.CompletedProcess, *words: str) -> str:
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith('install.sh: ')
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_checks_pass_on_this_machine(tmp_path: Path):
    res = _check(tmp_path)
    assert res.returncode == 0, res.stderr
    assert 'checks passed' in res.stdout
    assert not (tmp_path / 'venv').exists(), '--check must not create anything'


def test_missing_compiler(tmp_path: Path):
    _one_error_line(_check(tmp_path, CXX=str(tmp_path / 'no-such-c++')), 'no C++ compiler', 'no-such-c++')


def test_compiler_without_cxx20(tmp_path: Path):
    old = tmp_path / 'old-c++'
    old.write_text('#!/bin/sh\necho "error: unrecognized command-line option -std=c++20" >&2\nexit 1\n')
    old.chmod(0o755)
    _one_error_line(_check(tmp_path, CXX=str(old)), 'cannot compile C++20', str(old))


def test_unreachable_index(tmp_path: Path):
    line = _one_error_line(_check(tmp_path, PIP_INDEX_URL='http://127.0.0.1:9/simple'),
                           'package index http://127.0.0.1:9/simple is unreachable')
    assert 'refused' in line.lower()


def test_disk_full(tmp_path: Path):
    _one_error_line(_check(tmp_path, HDB_VENV_GIB='1000000'), 'not enough disk', 'need 1000000 GiB')


def test_missing_interpreter(tmp_path: Path):
    _one_error_line(_check(tmp_path, PYTHON='python-that-does-not-exist'), "no Python interpreter 'python-that")


@pytest.mark.parametrize('arg', ['--frobnicate'])
def test_unknown_argument(tmp_path: Path, arg: str):
    res = subprocess.run(['bash', str(INSTALL), arg], capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and 'usage' in res.stderr
