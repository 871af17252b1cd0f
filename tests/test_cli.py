"""The console script as a user runs it."""
import subprocess, sys
import pytest

def run(*args, **kw):
    return subprocess.run(['structflow', *args], capture_output=True, text=True, timeout=600, **kw)

def test_help_lists_every_command():
    from structflow.cli import COMMANDS
    r = run('--help')
    assert r.returncode == 0, r.stderr
    for name in COMMANDS: assert name in r.stdout

def test_unknown_command_fails():
    r = run('frobnicate')
    assert r.returncode == 2 and 'unknown command' in r.stderr

def test_every_command_has_help():
    "Each command's module exists and answers --help."
    from structflow.cli import COMMANDS
    for name in COMMANDS:
        r = run(name, '--help')
        assert r.returncode == 0, f'structflow {name} --help failed:\n{r.stderr[-2000:]}'
        assert 'usage' in r.stdout.lower()

@pytest.mark.parametrize('args, why', [
    (['export', '--checkpoint', 'no-such-model', '--out', '{tmp}/hub'], 'does not exist'),
    (['export', '--checkpoint', 'synthetic-128x64', '--out', '{tmp}/afile'], 'is a file'),
])
def test_export_bad_input_is_one_line(tmp_path, args, why):
    (tmp_path / 'afile').write_text('mine')
    r = run(*[a.replace('{tmp}', str(tmp_path)) for a in args])
    assert r.returncode == 2 and why in r.stderr and r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr, r.stderr
    assert (tmp_path / 'afile').read_text() == 'mine'
