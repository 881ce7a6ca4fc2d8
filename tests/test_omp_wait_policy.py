"""``hybrid_depth`` sets ``OMP_WAIT_POLICY=PASSIVE`` before torch loads libgomp (see ``hybrid_depth/__init__.py``).

libgomp reads the variable once, when torch is imported, so what matters is its value at that moment. Each case
runs a tool in a fresh interpreter with an import hook that records the variable when ``torch`` is first imported.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r'''
import importlib.abc, os, runpy, sys
seen = []
class Probe(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == 'torch' and not seen:
            seen.append(os.environ.get('OMP_WAIT_POLICY', '<unset>'))
        return None
sys.meta_path.insert(0, Probe())
sys.argv = [sys.argv[1], '--help']
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
except SystemExit:
    pass
print('AT_TORCH_IMPORT', seen[0] if seen else '<torch not imported>')
'''


def _policy_at_torch_import(script: str, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != 'OMP_WAIT_POLICY'}
    proc = subprocess.run([sys.executable, '-c', PROBE, script], cwd=ROOT, capture_output=True, text=True,
                          env={**base, 'PYTHONPATH': str(ROOT), **env}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split('AT_TORCH_IMPORT ')[-1].strip()


def test_tools_load_torch_with_the_passive_policy():
    assert _policy_at_torch_import('tools/train.py') == 'PASSIVE'


def test_a_policy_set_by_the_user_wins():
    assert _policy_at_torch_import('tools/test.py', OMP_WAIT_POLICY='ACTIVE') == 'ACTIVE'
